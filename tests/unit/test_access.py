"""The access check every service runs: token verification and what the `_access` read model changes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Depends

from libs.events.access import ACCESS, Principal
from libs.events.envelope import EventContext, NewEvent
from libs.events.schemas.identity import (
    AccountDeactivated,
    ClientAccessChanged,
    ClientAccessGranted,
    ClientAccessRevoked,
    SessionRevoked,
)
from libs.events.service.access import Authenticated, require_scope
from libs.events.service.runtime import ServiceDefinition
from libs.events.store import ANY_VERSION
from libs.events.tokens import AUDIENCE, ISSUER, AccessClaims, load_or_create_signing_key, sign
from services.gateway.embedded import SERVICES, EmbeddedPortal, PortalSettings
from tests.auth import bearer, mint_access_token
from tests.helpers import eventually

probe = APIRouter()


@probe.get("/probe/whoami")
async def whoami(principal: Authenticated) -> dict[str, Any]:
    return {"client_id": principal.client_id, "scopes": sorted(principal.scopes)}


@probe.get("/probe/invoices")
async def invoices(principal: Annotated[Principal, Depends(require_scope("invoices:read"))]) -> dict[str, str]:
    return {"client_id": principal.client_id}


class Harness:
    def __init__(self, portal: EmbeddedPortal, http: httpx.AsyncClient, secrets: Path) -> None:
        self.portal = portal
        self.http = http
        self.secrets = secrets

    def token(self, **kwargs: Any) -> str:
        return mint_access_token(self.secrets, **kwargs)

    async def identity_event(self, *events: Any) -> None:
        store = self.portal.platform.event_stores["identity"]
        for event in events:
            await store.append("identity-test-1", [NewEvent.from_domain(event, EventContext())], ANY_VERSION)

    async def projected(self, doc_id: str) -> bool:
        documents = self.portal.runtimes["billing"].documents
        return await documents.get(ACCESS, doc_id) is not None


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    # The probe routes stand in for any service's endpoint: they are mounted on a copy of billing.
    billing = next(s for s in SERVICES if s.name == "billing")
    probed = ServiceDefinition(
        name="billing",
        title=billing.title,
        routers=[*billing.routers, probe],
        projections=billing.projections,
        reactors=billing.reactors,
        settings=billing.settings,
    )
    services = [probed if s.name == "billing" else s for s in SERVICES]
    portal = EmbeddedPortal(PortalSettings(data_dir=tmp_path / "data"), services)
    await portal.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=portal.app()), base_url="http://t") as http:
        yield Harness(portal, http, tmp_path / "data" / "secrets")
    await portal.stop()


async def test_a_valid_token_names_the_client_and_scopes(harness: Harness) -> None:
    token = harness.token(client_id="CL-1", scopes=("invoices:read", "documents:read"))
    response = await harness.http.get("/api/billing/probe/whoami", headers=bearer(token))
    assert response.json() == {"client_id": "CL-1", "scopes": ["documents:read", "invoices:read"]}


async def test_no_token_is_401_with_a_bearer_challenge(harness: Harness) -> None:
    response = await harness.http.get("/api/billing/probe/whoami")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "authentication_required"


async def test_a_missing_scope_is_403(harness: Harness) -> None:
    token = harness.token(client_id="CL-1", scopes=("documents:read",))
    response = await harness.http.get("/api/billing/probe/invoices", headers=bearer(token))
    assert response.status_code == 403
    assert response.json()["code"] == "scope_required"


def _forge(payload: dict[str, Any], key: Any, algorithm: str, kid: str | None = None) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = AccessClaims(sub="acc-1", sid="s-1", cid="CL-1", scp=("invoices:read",)).model_dump()
    return {**base, "iat": now, "exp": now + 300, "iss": ISSUER, "aud": AUDIENCE, **overrides}


def _part(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _unsigned(payload: dict[str, Any]) -> str:
    return f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(payload)}."


def _hs256(payload: dict[str, Any], secret: bytes, kid: str) -> str:
    """Key confusion: an HMAC "signed" with the public key, which any attacker has."""
    signing_input = f"{_part({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_part(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "attack",
    [
        "alg_none",
        "hs256_with_public_key",
        "wrong_audience",
        "wrong_issuer",
        "expired",
        "tampered",
        "foreign_key",
        "not_access",
        "garbage",
    ],
)
async def test_forged_or_stale_tokens_are_refused(harness: Harness, attack: str) -> None:
    key = load_or_create_signing_key(harness.secrets / "identity-signing-key.pem")
    harness.token(client_id="CL-1")  # publishes the real key in the JWKS
    kid = jwt.get_unverified_header(harness.token(client_id="CL-1"))["kid"]
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forgers: dict[str, Callable[[], str]] = {
        "alg_none": lambda: _unsigned(_claims()),
        "hs256_with_public_key": lambda: _hs256(_claims(), public_pem, kid),
        "wrong_audience": lambda: _forge(_claims(aud="someone-else"), key, "EdDSA", kid),
        "wrong_issuer": lambda: _forge(_claims(iss="evil"), key, "EdDSA", kid),
        "expired": lambda: _forge(_claims(exp=int(time.time()) - 5), key, "EdDSA", kid),
        "tampered": lambda: _tamper(sign(AccessClaims(sub="a", sid="s", cid="CL-1"), key, 300)),
        "foreign_key": lambda: _forge(_claims(), Ed25519PrivateKey.generate(), "EdDSA", kid),
        "not_access": lambda: _forge(_claims(typ="refresh"), key, "EdDSA", kid),
        "garbage": lambda: "not.a.jwt",
    }
    forged = forgers[attack]()
    response = await harness.http.get("/api/billing/probe/whoami", headers=bearer(forged))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["cid"] = "CL-OTHER"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def test_a_revoked_session_is_refused_on_the_next_request(harness: Harness) -> None:
    token = harness.token(client_id="CL-1", account_id="acc-1", session_id="sess-1")
    assert (await harness.http.get("/api/billing/probe/whoami", headers=bearer(token))).status_code == 200
    await harness.identity_event(SessionRevoked(session_id="sess-1", account_id="acc-1", reason="logout"))
    await eventually(lambda: harness.projected("session:sess-1"), what="the revocation reaching billing")
    response = await harness.http.get("/api/billing/probe/whoami", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "session_ended"


async def test_a_deactivated_account_is_refused(harness: Harness) -> None:
    token = harness.token(client_id="CL-1", account_id="acc-2")
    await harness.identity_event(AccountDeactivated(account_id="acc-2", deactivated_by="acc-1"))
    await eventually(lambda: harness.projected("account:acc-2"), what="the deactivation reaching billing")
    response = await harness.http.get("/api/billing/probe/whoami", headers=bearer(token))
    assert response.json()["code"] == "account_deactivated"


async def test_narrowed_scopes_and_withdrawn_access_apply_to_tokens_already_issued(harness: Harness) -> None:
    token = harness.token(client_id="CL-1", account_id="acc-3", scopes=("invoices:read", "documents:read"))
    grant = "grant:acc-3:CL-1"
    await harness.identity_event(
        ClientAccessGranted(
            account_id="acc-3", client_id="CL-1", client_name="Firma", scopes=("invoices:read", "documents:read")
        ),
        ClientAccessChanged(account_id="acc-3", client_id="CL-1", scopes=("documents:read",), changed_by="acc-1"),
    )
    await eventually(lambda: _scopes_are(harness, grant, ["documents:read"]), what="the narrowed scopes")
    assert (await harness.http.get("/api/billing/probe/invoices", headers=bearer(token))).status_code == 403
    await harness.identity_event(ClientAccessRevoked(account_id="acc-3", client_id="CL-1", revoked_by="acc-1"))
    await eventually(lambda: _scopes_are(harness, grant, []), what="the revoked access")
    response = await harness.http.get("/api/billing/probe/whoami", headers=bearer(token))
    assert response.json()["code"] == "access_revoked"


async def _scopes_are(harness: Harness, doc_id: str, scopes: list[str]) -> bool:
    doc = await harness.portal.runtimes["billing"].documents.get(ACCESS, doc_id)
    return doc is not None and doc["scopes"] == scopes


def test_a_principal_owns_only_its_clients_documents() -> None:
    from libs.events.errors import NotFound

    principal = Principal("acc", "s", "CL-1", frozenset(), frozenset({"K-1"}))
    assert principal.owned({"client_id": "CL-1", "contract_id": "K-1"})
    for doc in ({"client_id": "CL-2", "contract_id": "K-1"}, {"client_id": "CL-1", "contract_id": "K-2"}, None):
        with pytest.raises(NotFound):
            principal.owned(doc)
