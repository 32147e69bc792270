"""A portal with the contracts service (and identity's event store, which its access model follows)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.events.access import ALL_SCOPES
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from services.contracts.service import definition as contracts
from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from tests.auth import bearer, mint_access_token
from tests.helpers import eventually

IDENTITY_EVENTS = ServiceDefinition(name="identity", title="identity (its event store only)")
"""Contracts' access projection follows identity's events; these tests need its store, not its code."""


@dataclass
class Zone:
    http: httpx.AsyncClient
    portal: EmbeddedPortal
    backoffice: dict[str, str]
    secrets: Path

    @property
    def runtime(self) -> ServiceRuntime:
        return self.portal.runtimes["contracts"]

    def client(
        self, client_id: str, scopes: tuple[str, ...] = ALL_SCOPES, contract_ids: Sequence[str] | None = None
    ) -> dict[str, str]:
        """Headers of a person of `client_id` holding `scopes` (limited to `contract_ids` if given)."""
        limited = tuple(contract_ids) if contract_ids is not None else None
        return bearer(mint_access_token(self.secrets, client_id, scopes, contract_ids=limited))

    async def post(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {**self.backoffice, **({"Idempotency-Key": key} if key else {})}
        return await self.http.post(f"/api/contracts/backoffice{path}", json=body, headers=headers)

    async def put(self, path: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {**self.backoffice, **({"Idempotency-Key": key} if key else {})}
        return await self.http.put(f"/api/contracts/backoffice{path}", json=body, headers=headers)

    async def register(self, body: dict[str, Any]) -> str:
        response = await self.post("/contracts", body)
        assert response.status_code == 201, response.text
        contract_id: str = response.json()["contract_id"]
        return contract_id

    async def caught_up(self) -> None:
        """Waits until every projection of the service has folded every event."""

        async def done() -> bool:
            for runner in self.runtime.runners:
                if any((await runner.consumer.lag()).values()):
                    return False
            return True

        await eventually(done, what="the contracts projections catching up")

    async def events(self) -> list[Any]:
        return await self.portal.platform.event_stores["contracts"].read_all()


@pytest.fixture
async def zone(tmp_path: Path) -> AsyncIterator[Zone]:
    settings = PortalSettings(data_dir=tmp_path / "data", dev_mode=True)
    embedded = EmbeddedPortal(settings, services=(IDENTITY_EVENTS, contracts))
    secrets = settings.data_dir / "secrets"
    mint_access_token(secrets, "warm-up")  # publishes the signing key before the first request
    await embedded.start()
    transport = httpx.ASGITransport(app=embedded.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
        token = backoffice_token(settings.data_dir)
        yield Zone(http, embedded, {"Authorization": f"Bearer {token}"}, secrets)
    await embedded.stop()
