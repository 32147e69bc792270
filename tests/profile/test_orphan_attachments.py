"""Request attachments stored by a filing that died before RequestSubmitted was appended: swept once older
than the grace period (the sweeper's clock injected); a filed request's attachments never."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from libs.events.envelope import utc_now
from services.profile.domain.attachments import check_file
from services.profile.filing import attachment_files, orphan_sweeper, store_files
from services.profile.settings import ProfileSettings
from tests.profile.conftest import PDF, PNG, World

GRACE = timedelta(seconds=ProfileSettings().orphan_blob_grace_seconds)


def _at(moment: datetime) -> Any:
    return lambda: moment


async def _filed_with(world: World, content: bytes) -> str:
    form = {
        "contract_id": world.contract_ids["UL/2026/0002"],
        "insurer": "PZU SA",
        "policy_number": "POL/2026/778899",
        "valid_from": "2026-01-15",
        "valid_to": "2027-01-14",
    }
    response = await world.http.post(
        "/api/profile/requests",
        data={"type": "insurance_policy_upload", "data": json.dumps(form)},
        files=[("attachments", ("polisa.pdf", content, "application/pdf"))],
        headers=world.headers(),
    )
    assert response.status_code == 201, response.text
    request_id: str = response.json()["request_id"]
    return request_id


async def test_attachments_of_a_filing_cut_short_are_swept_after_the_grace_and_a_filed_request_keeps_its_own(
    world: World,
) -> None:
    request_id = await _filed_with(world, PDF)
    blobs = attachment_files(world.runtime)
    # The process died after storing the files and before appending RequestSubmitted.
    crashed = uuid4().hex
    await store_files(blobs, crashed, [check_file(0, "skan.png", PNG, 1024), check_file(1, "skan.pdf", PDF, 1024)])
    assert len(world.blob_files()) == 3

    now = utc_now()
    assert await orphan_sweeper(world.runtime, _at(now + GRACE - timedelta(minutes=1))).sweep() == []
    assert len(world.blob_files()) == 3
    swept = await orphan_sweeper(world.runtime, _at(now + GRACE + timedelta(seconds=1))).sweep()
    assert sorted(blob.key for blob in swept) == [f"requests/{crashed}/0-png", f"requests/{crashed}/1-pdf"]

    assert await orphan_sweeper(world.runtime, _at(now + timedelta(days=3650))).sweep() == []
    (kept,) = world.blob_files()
    assert kept.read_bytes() == PDF
    await world.settled()
    download = await world.http.get(f"/api/profile/requests/{request_id}/attachments/0", headers=world.headers())
    assert download.status_code == 200
    assert download.content == PDF
