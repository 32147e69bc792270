"""Confirmation link tokens: random, single use, stored only as their SHA-256.

A token names its client (base64url, not secret) before a dot, then 256 random bits; so the confirming
request finds the client's stream at once, with no read model in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from urllib.parse import quote


def new_token(client_id: str) -> str:
    prefix = base64.urlsafe_b64encode(client_id.encode()).decode().rstrip("=")
    return f"{prefix}.{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_of(token: str) -> str | None:
    prefix, dot, secret = token.partition(".")
    if not dot or not prefix or len(secret) < 32:
        return None
    try:
        client_id = base64.b64decode(prefix + "=" * (-len(prefix) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return client_id or None


def confirmation_url(portal_url: str, token: str) -> str:
    """The link in the e-mail. The token travels in the fragment: browsers never send it to a server
    (no access log, no Referer); the client zone posts it to /api/profile/einvoice/confirmations."""
    return f"{portal_url.rstrip('/')}/profil/e-faktura/potwierdzenie#token={quote(token, safe='')}"
