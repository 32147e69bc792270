"""No code, link token, password or refresh token in any stored event, read model or log line."""

from __future__ import annotations

import io
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from libs.events import jsonutil
from libs.events.service.logs import configure_logging
from tests.helpers import eventually
from tests.identity.conftest import CLIENT, PASSWORD, Zone, bearer, new_email

NEW_PASSWORD = "Całkiem nowe hasło 2026!"
WRONG_PASSWORD = "Pomyłka w haśle 2026 ?"
DEV_MAILBOX = "rm_dev_outbox"
"""The notifications' dev mailbox: by design it holds what was sent (dev mode only), like an SMTP inbox."""
_HASHLIKE = re.compile(r"^((sha256|hmac-sha256):)?[0-9a-f]{32,64}$|^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?")
_UUID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _is_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _holds_code(values: list[str], code: str) -> bool:
    pattern = re.compile(rf"(?<!\d){code}(?!\d)")
    return any(pattern.search(v) for v in values if not _is_timestamp(v) and not _HASHLIKE.match(v))


def _read_models(data_dir: Path) -> list[Any]:
    docs: list[Any] = []
    for path in sorted(data_dir.glob("*/readmodels.db")):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                if table == DEV_MAILBOX or not table.startswith("rm_"):
                    continue
                docs.extend(jsonutil.loads(row[0]) for row in db.execute(f'SELECT doc FROM "{table}"'))  # noqa: S608
    return docs


def _raw_files(data_dir: Path) -> bytes:
    """Every byte the services wrote, but the key files and the notifications' dev mailbox database."""
    kept = [
        path
        for path in data_dir.rglob("*")
        if path.is_file()
        and "secrets" not in path.parts
        and not (path.parent.name == "notifications" and path.name.startswith("readmodels.db"))
    ]
    return b"".join(path.read_bytes() for path in kept)


async def test_secrets_appear_nowhere_at_rest_nor_in_logs(zone: Zone) -> None:
    saved = structlog.get_config()
    captured = io.StringIO()
    configure_logging("json", "DEBUG")
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(captured))
    try:
        secrets = await _exercise(zone)
        await eventually(_projections_idle(zone), what="the projections catching up")
    finally:
        structlog.configure(**saved)
    log_text = captured.getvalue()
    assert "session_started" in log_text  # the logs were captured at DEBUG
    events = [
        event.model_dump(mode="json")
        for service in zone.portal.platform.event_stores
        for event in await zone.events(service=service)
    ]
    docs = _read_models(zone.data_dir)
    raw = _raw_files(zone.data_dir)
    assert docs
    assert raw
    values = [*_strings(events), *_strings(docs)]
    scrubbed_logs = _UUID.sub("", _TIMESTAMP.sub("", log_text))

    for name, secret in secrets.items():
        if name.startswith("code"):
            assert not _holds_code(values, secret), name
            assert not re.search(rf"(?<!\d){secret}(?!\d)", scrubbed_logs), name
        else:
            assert all(secret not in value for value in values), name
            assert secret not in log_text, name
            assert secret.encode() not in raw, name


def _projections_idle(zone: Zone) -> Any:
    async def check() -> bool:
        statuses = [await runner.current_status() for runner in zone.runtime.runners]
        return all(sum(status.lag.values()) == 0 for status in statuses)

    return check


async def _exercise(zone: Zone) -> dict[str, str]:
    """Activation, login, refresh, password change, a sub-account and its activation; the secrets seen."""
    secrets: dict[str, str] = {"password": PASSWORD, "new_password": NEW_PASSWORD, "wrong_password": WRONG_PASSWORD}
    email = new_email("tajny")
    await zone.provision(email)
    await zone.start(new_email("nieznany"))
    await zone.start(email)
    secrets["code"] = (await zone.last_sms(email)).params["code"]
    await zone.verify(email, secrets["code"])
    secrets["link_token"] = await zone.last_token(email)
    assert (await zone.complete(secrets["link_token"])).status_code == 200
    assert (await zone.login(email, WRONG_PASSWORD)).status_code == 401
    first = await zone.session(email)
    secrets["refresh_token"] = first["refresh_token"]
    secrets["access_token"] = first["access_token"]
    refreshed = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": first["refresh_token"]})
    secrets["rotated_refresh_token"] = refreshed.json()["refresh_token"]
    token = refreshed.json()["access_token"]
    changed = await zone.http.post(
        "/api/identity/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert changed.status_code == 204
    sub = new_email("sub")
    body = {"first_name": "Ewa", "last_name": "Lis", "email": sub, "phone": "602345678", "scopes": ["invoices:read"]}
    assert (await zone.http.post("/api/identity/subaccounts", json=body, headers=bearer(token))).status_code == 201
    await zone.start(sub)
    secrets["code_subaccount"] = (await zone.last_sms(sub)).params["code"]
    await zone.verify(sub, secrets["code_subaccount"])
    secrets["link_token_subaccount"] = await zone.last_token(sub)
    assert (await zone.complete(secrets["link_token_subaccount"], "Hasło subkonta jest długie")).status_code == 200
    secrets["subaccount_password"] = "Hasło subkonta jest długie"
    assert CLIENT[0] in str(await zone.events("ClientAccessGranted"))
    return secrets
