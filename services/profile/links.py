"""Confirmation link tokens: random, single use, stored only as their SHA-256.

A token names its client (base64url, not secret) before a dot, then 256 random bits; so the confirming
request finds the client's stream at once, with no read model in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

from libs.events.portal_links import link_with_token


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
    """The link in the e-mail; the client zone posts its token to /api/profile/einvoice/confirmations."""
    return link_with_token(portal_url, "/profil/e-faktura/potwierdzenie", token)
