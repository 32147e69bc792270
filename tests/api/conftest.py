from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token


@dataclass
class Portal:
    http: httpx.AsyncClient
    portal: EmbeddedPortal
    backoffice: dict[str, str]


@pytest.fixture
async def portal(tmp_path: Path) -> AsyncIterator[Portal]:
    settings = PortalSettings(data_dir=tmp_path / "data", dev_mode=True)
    embedded = EmbeddedPortal(settings)
    await embedded.start()
    transport = httpx.ASGITransport(app=embedded.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
        token = backoffice_token(settings.data_dir)
        yield Portal(http, embedded, {"Authorization": f"Bearer {token}"})
    await embedded.stop()
