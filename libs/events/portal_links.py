"""Links into the portal that carry a one-time token (activation, confirmations)."""

from __future__ import annotations

from urllib.parse import quote


def link_with_token(portal_url: str, path: str, token: str) -> str:
    """The token travels in the fragment: browsers never send a fragment to a server (no access or proxy
    log, no Referer, no span attribute); the portal's page reads it and posts it to the API."""
    return f"{portal_url.rstrip('/')}{path}#token={quote(token, safe='')}"
