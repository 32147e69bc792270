"""The profile service over HTTP on the embedded portal, with contracts registered through the contracts
service's back-office API, persons provisioned as identity records them, and real access tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from libs.events import RecordedEvent
from libs.events.access import ALL_SCOPES
from libs.events.sealed import NOTIFICATIONS_SEALING_KEY, NotificationRequest, SealedMessage, unseal_notification
from libs.events.sealed import load_or_create_private_key as load_private_key
from libs.events.service.runtime import ServiceRuntime
from services.identity.domain import account_id_for
from services.profile.projections import CONTRACTS, PERSONS
from tests.api.conftest import Portal
from tests.api.conftest import portal as portal  # the fixture, re-exported
from tests.auth import bearer, mint_access_token
from tests.helpers import eventually

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64

Person = tuple[str, str, str, str]


@dataclass
class World:
    portal: Portal
    contract_ids: dict[str, str]

    @property
    def http(self) -> Any:
        return self.portal.http

    @property
    def runtime(self) -> ServiceRuntime:
        return self.portal.portal.runtimes["profile"]

    @property
    def data_dir(self) -> Path:
        return self.portal.portal.settings.data_dir

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "profile" / "blobs"

    def blob_files(self) -> list[Path]:
        return sorted(path for path in self.blob_dir.rglob("*") if path.is_file()) if self.blob_dir.exists() else []

    def headers(
        self,
        client_id: str = "CL-1001",
        account_id: str | None = None,
        scopes: Sequence[str] = ALL_SCOPES,
        contract_ids: tuple[str, ...] | None = None,
    ) -> dict[str, str]:
        token = mint_access_token(
            self.data_dir / "secrets",
            client_id,
            tuple(scopes),
            account_id=account_id or ZOFIA_ID,
            contract_ids=contract_ids,
        )
        return bearer(token)

    async def register_contract(
        self, number: str, client_id: str, client_name: str, nip: str, persons: Sequence[Person]
    ) -> str:
        body = {
            "contract_number": number,
            "client": {"client_id": client_id, "name": client_name, "nip": nip},
            "contract_type": "operating",
            "start_date": "2026-01-15",
            "end_date": "2029-01-15",
            "net_value": "185000.00",
            "asset": {"kind": "samochód osobowy", "make": "Škoda", "model": "Superb", "registration_number": "WX1234A"},
            "contact_persons": [
                {"first_name": first, "last_name": last, "email": email, "phone": phone}
                for first, last, email, phone in persons
            ],
        }
        backoffice = self.portal.backoffice
        response = await self.http.post("/api/contracts/backoffice/contracts", json=body, headers=backoffice)
        assert response.status_code == 201, response.text
        contract_id: str = response.json()["contract_id"]
        self.contract_ids[number] = contract_id
        return contract_id

    async def events(self, *types: str) -> list[RecordedEvent]:
        """Profile's events as it reads them: personal fields opened (stored sealed, libs/events/pii.py)."""
        recorded = await self.runtime.events.read_all()
        return [event for event in recorded if not types or event.type in types]

    async def settled(self) -> None:
        """Waits until every consumer of the profile service has caught up with every source."""

        async def caught_up() -> bool:
            for runner in self.runtime.runners:
                if any(lag for lag in (await runner.consumer.lag()).values()):
                    return False
            return True

        await eventually(caught_up, what="the profile read models catching up")

    def unseal(self, sealed: dict[str, Any] | SealedMessage) -> NotificationRequest:
        key = load_private_key(self.data_dir / "secrets" / NOTIFICATIONS_SEALING_KEY)
        message = sealed if isinstance(sealed, SealedMessage) else SealedMessage.model_validate(sealed)
        return unseal_notification(message, key)

    def freeze(self, moment: datetime) -> None:
        self.runtime.clock = lambda: moment


ZOFIA: Person = ("Zofia", "Żółkiewska", "zofia@nowak.pl", "601 234 567")
PIOTR: Person = ("Piotr", "Nowak", "piotr@nowak.pl", "602 345 678")
EWA: Person = ("Ewa", "Budna", "ewa@budmax.pl", "603 456 789")
ZOFIA_ID = account_id_for(ZOFIA[2])
PIOTR_ID = account_id_for(PIOTR[2])
EWA_ID = account_id_for(EWA[2])


@pytest.fixture
async def world(portal: Portal) -> World:
    """Two clients: Transport Nowak (CL-1001, two contracts; Zofia and Piotr) and Budmax (CL-2002, one
    contract; Ewa). Identity provisions the contracts' contact persons; profile learns of them from it."""
    found = World(portal, {})
    nowak = ("CL-1001", "Transport Nowak Sp. z o.o.", "5260250274")
    await found.register_contract("UL/2026/0001", *nowak, [ZOFIA])
    await found.register_contract("UL/2026/0002", *nowak, [ZOFIA, PIOTR])
    await found.register_contract("UL/2026/0100", "CL-2002", "Budmax S.A.", "7740001454", [EWA])

    async def known() -> bool:
        people = await found.runtime.documents.get_many(PERSONS, [ZOFIA_ID, PIOTR_ID, EWA_ID])
        contracts = await found.runtime.documents.get_many(CONTRACTS, list(found.contract_ids.values()))
        return len(people) == 3 and len(contracts) == 3

    await eventually(known, what="profile knowing the persons and contracts")
    await found.settled()
    return found
