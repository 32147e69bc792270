"""The identity service through HTTP on the embedded portal, with helpers to read the sealed SMS and e-mails.

Provisioning goes through identity's own back-office endpoint or a ContractRegistered event appended
to the contracts store (the published schema is the contract between the services).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import httpx
import pytest
from fastapi import Depends, FastAPI
from nacl.public import PrivateKey

from libs.events import NewEvent, RecordedEvent
from libs.events.access import Principal
from libs.events.envelope import EventContext
from libs.events.schemas.contracts import ContactPerson, ContractRegistered, LeasedAsset, Party
from libs.events.sealed import NOTIFICATIONS_SEALING_KEY, NotificationRequest, SealedMessage, unseal_notification
from libs.events.service.access import require_scope
from libs.events.service.problems import install_problem_handlers
from libs.events.service.runtime import ServiceRuntime
from libs.events.warsaw import WARSAW
from services.gateway.embedded import EmbeddedPortal, PortalSettings, backoffice_token
from services.identity.domain import account_id_for
from tests.helpers import eventually

PASSWORD = "Zielony kot 2026 na dachu"
CLIENT = ("CL-1001", "Transport Nowak Sp. z o.o.")
OTHER_CLIENT = ("CL-2002", "Budimex Leasing Test S.A.")


def warsaw(text: str) -> datetime:
    """A Warsaw wall-clock time ("2026-03-29 23:59:59") as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=WARSAW).astimezone(UTC)


@dataclass
class Zone:
    http: httpx.AsyncClient
    portal: EmbeddedPortal
    backoffice: dict[str, str]
    data_dir: Path

    @property
    def runtime(self) -> ServiceRuntime:
        return self.portal.runtimes["identity"]

    def freeze(self, moment: datetime) -> None:
        self.runtime.clock = lambda: moment

    async def events(self, *types: str, service: str = "identity") -> list[RecordedEvent]:
        """The service's events as it reads them: personal fields opened (stored sealed, libs/events/pii.py)."""
        store = self.portal.runtimes[service].events
        found: list[RecordedEvent] = []
        after: int | None = None
        while batch := await store.read_all(after=after):
            found.extend(batch)
            after = batch[-1].global_position
        return [event for event in found if not types or event.type in types]

    def unseal(self, event: RecordedEvent) -> NotificationRequest:
        key = PrivateKey(_b64(self.data_dir / "secrets" / NOTIFICATIONS_SEALING_KEY))
        return unseal_notification(SealedMessage.model_validate(event.data["notification"]), key)

    async def provision(
        self, email: str, client: tuple[str, str] = CLIENT, phone: str = "601 234 567", **extra: Any
    ) -> str:
        body = {
            "client_id": client[0],
            "client_name": client[1],
            "first_name": "Zofia",
            "last_name": "Żółkiewska",
            "email": email,
            "phone": phone,
            **extra,
        }
        response = await self.http.post("/api/identity/backoffice/accounts", json=body, headers=self.backoffice)
        assert response.status_code == 201, response.text
        account_id: str = response.json()["account_id"]
        return account_id

    async def register_contract(
        self, number: str, client: tuple[str, str], persons: list[tuple[str, str]], event_id: str | None = None
    ) -> RecordedEvent:
        """Appends ContractRegistered to the contracts store, as the contracts service would."""
        contract_id = f"C-{number}"
        event = ContractRegistered(
            contract_id=contract_id,
            contract_number=number,
            client=Party(client_id=client[0], name=client[1], nip="5260250274"),
            contract_type="operating",
            start_date=date(2026, 1, 15),
            end_date=date(2029, 1, 15),
            net_value=Decimal("185000.00"),
            currency="PLN",
            asset=LeasedAsset(kind="samochód osobowy", make="Škoda", model="Superb"),
            contact_persons=tuple(
                ContactPerson(first_name="Jan", last_name="Kowalski", email=email, phone=phone)
                for email, phone in persons
            ),
        )
        new = NewEvent.from_domain(event, EventContext(client_id=client[0], actor="backoffice:test"))
        if event_id is not None:
            new = new.model_copy(update={"event_id": event_id})
        store = self.portal.platform.event_stores["contracts"]
        await store.append(f"contracts-contract-{contract_id}", [new], expected_version=None)
        (recorded,) = [e for e in await self.events(service="contracts") if e.event_id == new.event_id]
        return recorded

    async def account_events(self, email: str, *types: str) -> list[RecordedEvent]:
        stream = f"identity-account-{account_id_for(email)}"
        return [e for e in await self.events(*types) if e.stream_id == stream]

    async def wait_provisioned(self, email: str, grants: int = 1) -> None:
        async def ready() -> bool:
            return len(await self.account_events(email, "ClientAccessGranted")) >= grants

        await eventually(ready, what=f"{grants} grant(s) for {email}")

    async def start(self, email: str) -> httpx.Response:
        return await self.http.post("/api/identity/activation/start", json={"email": email})

    async def last_sms(self, email: str) -> NotificationRequest:
        issued = await self.account_events(email, "ActivationCodeIssued")
        return self.unseal(issued[-1])

    async def verify(self, email: str, code: str) -> httpx.Response:
        return await self.http.post("/api/identity/activation/verify", json={"email": email, "code": code})

    async def last_mail(self, email: str, kind: str = "ActivationLinkIssued") -> NotificationRequest:
        issued = await self.account_events(email, kind)
        return self.unseal(issued[-1])

    async def last_token(self, email: str) -> str:
        """The token of the last activation link: in its fragment (`/aktywacja#token=`), never in the query."""
        link = urlparse((await self.last_mail(email)).params["link"])
        assert (link.path, link.query) == ("/aktywacja", "")
        return parse_qs(link.fragment)["token"][0]

    async def complete(self, token: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post("/api/identity/activation/complete", json={"token": token, "password": password})

    async def activate(self, email: str, password: str = PASSWORD) -> None:
        assert (await self.start(email)).status_code == 202
        code = (await self.last_sms(email)).params["code"]
        assert (await self.verify(email, code)).status_code == 200
        response = await self.complete(await self.last_token(email), password)
        assert response.status_code == 200, response.text

    async def login(self, email: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
        return await self.http.post("/api/identity/login", json={"email": email, "password": password, **extra})

    async def session(self, email: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        response = await self.login(email, password, refresh_token_in_body=True, **extra)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def active_user(self, email: str, client: tuple[str, str] = CLIENT) -> dict[str, Any]:
        """A provisioned, activated, logged-in person: its token answer."""
        await self.provision(email, client)
        await self.activate(email)
        return await self.session(email)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(path: Path) -> bytes:
    return base64.b64decode(path.read_bytes())


@pytest.fixture
async def zone(tmp_path: Path) -> AsyncIterator[Zone]:
    settings = PortalSettings(data_dir=tmp_path / "data", dev_mode=True)
    embedded = EmbeddedPortal(settings)
    await embedded.start()
    transport = httpx.ASGITransport(app=embedded.app(), client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="https://portal.test") as http:
        token = backoffice_token(settings.data_dir)
        yield Zone(http, embedded, {"Authorization": f"Bearer {token}"}, settings.data_dir)
    await embedded.stop()


def new_email(prefix: str = "osoba") -> str:
    return f"{prefix}.{uuid4().hex[:8]}@firma.pl"


def other_service(zone: Zone) -> httpx.AsyncClient:
    """A tiny app on the contracts service's runtime (its JWKS, its own `_access` read model): how any
    other service checks the caller with libs.events.service.access."""
    app = FastAPI()
    app.state.runtime = zone.portal.runtimes["contracts"]
    install_problem_handlers(app)

    @app.get("/invoices")
    async def invoices(principal: Annotated[Principal, Depends(require_scope("invoices:read"))]) -> dict[str, Any]:
        return _seen(principal)

    @app.get("/contracts")
    async def contracts(principal: Annotated[Principal, Depends(require_scope("contracts:read"))]) -> dict[str, Any]:
        return _seen(principal)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://contracts.test")


def _seen(principal: Principal) -> dict[str, Any]:
    contract_ids = sorted(principal.contract_ids) if principal.contract_ids is not None else None
    return {"client_id": principal.client_id, "scopes": sorted(principal.scopes), "contract_ids": contract_ids}
