"""JWT attacks against protected endpoints of identity and of another service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from libs.events.tokens import AUDIENCE, ISSUER, key_id, load_or_create_signing_key
from tests.identity.conftest import Zone, bearer, new_email, other_service


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_key(zone: Zone) -> Ed25519PrivateKey:
    return load_or_create_signing_key(zone.data_dir / "secrets" / "identity-signing-key.pem")


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _sign(zone: Zone, claims: dict[str, Any], key: Ed25519PrivateKey | None = None) -> str:
    key = key or _signing_key(zone)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_id(key.public_key())})


def alg_none(zone: Zone, valid: str) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": key_id(_signing_key(zone).public_key())}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(valid)).encode())}."


def key_confusion(zone: Zone, valid: str) -> str:
    """HS256 'signed' with the public key as the HMAC secret (the classic RS/HS confusion)."""
    public = _signing_key(zone).public_key()
    header = {"alg": "HS256", "typ": "JWT", "kid": key_id(public)}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(valid)).encode())}"
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def key_confusion_raw(zone: Zone, valid: str) -> str:
    public = _signing_key(zone).public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = {"alg": "HS256", "typ": "JWT", "kid": key_id(public)}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(valid)).encode())}"
    return f"{signing_input}.{_b64(hmac.new(raw, signing_input.encode(), hashlib.sha256).digest())}"


def wrong_audience(zone: Zone, valid: str) -> str:
    return _sign(zone, {**_claims(valid), "aud": "another-portal"})


def wrong_issuer(zone: Zone, valid: str) -> str:
    return _sign(zone, {**_claims(valid), "iss": "https://evil.example"})


def expired(zone: Zone, valid: str) -> str:
    now = int(time.time())
    return _sign(zone, {**_claims(valid), "iat": now - 3600, "exp": now - 60})


def tampered(zone: Zone, valid: str) -> str:
    header, _, signature = valid.split(".")
    payload = {**_claims(valid), "cid": "CL-2002", "scp": ["subaccounts:manage", "invoices:read"]}
    return f"{header}.{_b64(json.dumps(payload).encode())}.{signature}"


def unknown_kid(zone: Zone, valid: str) -> str:
    return _sign(zone, _claims(valid), Ed25519PrivateKey.generate())


def other_key_known_kid(zone: Zone, valid: str) -> str:
    header = {"kid": key_id(_signing_key(zone).public_key())}
    return jwt.encode(_claims(valid), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=header)


def not_an_access_token(zone: Zone, valid: str) -> str:
    return _sign(zone, {**_claims(valid), "typ": "refresh"})


def without_session(zone: Zone, valid: str) -> str:
    claims = _claims(valid)
    del claims["sid"]
    return _sign(zone, claims)


def garbage(zone: Zone, valid: str) -> str:
    return "eyJhbGciOiJFZERTQSJ9.e30.AAAA"


ATTACKS: dict[str, Callable[[Zone, str], str]] = {
    "alg none": alg_none,
    "HS256 with the public key (PEM)": key_confusion,
    "HS256 with the public key (raw)": key_confusion_raw,
    "wrong audience": wrong_audience,
    "wrong issuer": wrong_issuer,
    "expired": expired,
    "tampered payload": tampered,
    "unknown kid": unknown_kid,
    "another key under the real kid": other_key_known_kid,
    "typ refresh": not_an_access_token,
    "no session id": without_session,
    "garbage": garbage,
}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_a_forged_token_is_refused_by_identity_and_by_another_service(zone: Zone, attack: str) -> None:
    session = await zone.active_user(new_email())
    valid = session["access_token"]
    assert _claims(valid)["iss"] == ISSUER
    assert _claims(valid)["aud"] == AUDIENCE
    forged = ATTACKS[attack](zone, valid)
    async with other_service(zone) as service:
        assert (await service.get("/invoices", headers=bearer(valid))).status_code == 200
        answers = [
            await zone.http.get("/api/identity/me", headers=bearer(forged)),
            await service.get("/invoices", headers=bearer(forged)),
        ]
    for answer in answers:
        assert answer.status_code == 401, attack
        assert answer.json()["code"] == "invalid_token"
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_a_refresh_token_is_no_access_token(zone: Zone) -> None:
    session = await zone.active_user(new_email())
    async with other_service(zone) as service:
        answers = [
            await zone.http.get("/api/identity/me", headers=bearer(session["refresh_token"])),
            await service.get("/invoices", headers=bearer(session["refresh_token"])),
        ]
    assert [answer.status_code for answer in answers] == [401, 401]


async def test_no_token_at_all_is_a_401(zone: Zone) -> None:
    answer = await zone.http.get("/api/identity/me")
    assert (answer.status_code, answer.json()["code"]) == (401, "authentication_required")
