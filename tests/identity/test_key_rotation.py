"""Rotating identity's signing key with `python -m services.identity rotate-signing-key` on a running portal:
tokens signed before keep working at other services until their key is pruned, and nobody logs in again."""

from __future__ import annotations

import asyncio
import base64
import errno
import io
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner, Result

from libs.events.service.logs import configure_logging
from libs.events.tokens import (
    SigningKeyError,
    SigningKeyring,
    key_id,
    load_or_create_signing_key,
    public_keys_from_jwks,
    verify,
)
from services.gateway.embedded import EmbeddedPortal, PortalSettings
from services.identity.settings import IdentitySettings
from services.identity.signing_keys import app
from tests.helpers import eventually
from tests.identity.conftest import Zone, bearer, new_email

cli = CliRunner()
RETIRED_KEY_LIFETIME = IdentitySettings().retired_key_lifetime


def _secrets(zone: Zone) -> Path:
    return zone.data_dir / "secrets"


def _run(secrets: Path, command: str, *options: str) -> Result:
    return cli.invoke(app, [command, "--secrets-dir", str(secrets), *options])


def _keys_command(zone: Zone, command: str, *options: str) -> str:
    result = _run(_secrets(zone), command, *options)
    assert result.exit_code == 0, result.output
    return result.output


@contextmanager
def _logs() -> Iterator[list[dict[str, Any]]]:
    """The log lines written meanwhile, as the services write them (JSON, from DEBUG up)."""
    saved = structlog.get_config()
    captured = io.StringIO()
    lines: list[dict[str, Any]] = []
    configure_logging("json", "DEBUG")
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(captured))
    try:
        yield lines
    finally:
        structlog.configure(**saved)
        lines.extend(json.loads(line) for line in captured.getvalue().splitlines())


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _current_kid(zone: Zone) -> str:
    return SigningKeyring(_secrets(zone)).load(create=False).kid


def _upcoming_kid(zone: Zone) -> str:
    upcoming = SigningKeyring(_secrets(zone)).load(create=False).upcoming
    assert upcoming is not None
    return key_id(upcoming.public_key())


async def _published(zone: Zone) -> list[str]:
    response = await zone.http.get("/api/identity/.well-known/jwks.json")
    assert response.status_code == 200
    return sorted(key["kid"] for key in response.json()["keys"])


async def _contracts_status(zone: Zone, token: str) -> int:
    """Another service than identity, through the portal: the client's contracts."""
    return (await zone.http.get("/api/contracts/contracts", headers=bearer(token))).status_code


async def _identity_status(zone: Zone, token: str) -> int:
    return (await zone.http.get("/api/identity/sessions", headers=bearer(token))).status_code


def _verifiers_reread_the_jwks_soon(zone: Zone) -> None:
    """Verifiers re-read the JWKS every 30 s (at once for an unknown kid); here within 0.2 s of a change."""
    for name in ("identity", "contracts"):
        zone.portal.runtimes[name].jwks.refresh_seconds = 0.2


def _retired_long_ago(zone: Zone, kid: str) -> None:
    """The key was retired an access-token lifetime and the grace ago: its file's time says when."""
    path = _secrets(zone) / "identity-signing-keys" / f"{kid}.pem"
    retired_at = path.stat().st_mtime - RETIRED_KEY_LIFETIME.total_seconds() - 1
    os.utime(path, (retired_at, retired_at))


async def _refused_everywhere(zone: Zone, token: str) -> None:
    async def refused() -> bool:
        return await _contracts_status(zone, token) == 401 and await _identity_status(zone, token) == 401

    await eventually(refused, what="the token refused once its key is gone")


async def _accepted_by_contracts(zone: Zone, token: str) -> None:
    async def accepted() -> bool:
        return await _contracts_status(zone, token) == 200

    await eventually(accepted, what="contracts accepting the token")


async def test_a_token_signed_before_a_rotation_works_at_another_service_until_its_key_is_pruned(zone: Zone) -> None:
    _verifiers_reread_the_jwks_soon(zone)
    email = new_email()
    await zone.active_user(email)
    session = await zone.session(email)
    before = session["access_token"]
    old_kid, published_ahead = _kid(before), _upcoming_kid(zone)
    assert await _contracts_status(zone, before) == 200
    assert await _published(zone) == sorted([old_kid, published_ahead])

    output = _keys_command(zone, "rotate-signing-key")
    current, upcoming = _current_kid(zone), _upcoming_kid(zone)
    assert f"retired {old_kid}" in output
    assert f"signing with {current}" in output
    assert current == published_ahead
    assert len({old_kid, current, upcoming}) == 3

    refreshed = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    after = refreshed.json()["access_token"]
    assert _kid(after) == current
    assert await _published(zone) == sorted([old_kid, current, upcoming])
    await _accepted_by_contracts(zone, after)
    assert await _contracts_status(zone, before) == 200
    assert await _identity_status(zone, before) == 200

    assert "pruned: none" in _keys_command(zone, "prune-signing-keys")
    assert await _contracts_status(zone, before) == 200
    _retired_long_ago(zone, old_kid)
    assert f"pruned: {old_kid}" in _keys_command(zone, "prune-signing-keys")
    assert await _published(zone) == sorted([current, upcoming])
    await _refused_everywhere(zone, before)
    assert await _contracts_status(zone, after) == 200


async def test_the_next_rotation_signs_with_the_key_published_ahead_and_prunes_expired_retired_keys(
    zone: Zone,
) -> None:
    email = new_email()
    first = _kid((await zone.active_user(email))["access_token"])
    _keys_command(zone, "rotate-signing-key")
    second, published_ahead = _current_kid(zone), _upcoming_kid(zone)
    assert published_ahead in await _published(zone)
    _retired_long_ago(zone, first)

    output = _keys_command(zone, "rotate-signing-key")
    assert f"retired {second}" in output
    assert f"pruned: {first}" in output
    assert _current_kid(zone) == published_ahead
    assert await _published(zone) == sorted([published_ahead, _upcoming_kid(zone), second])
    assert _kid((await zone.session(email))["access_token"]) == published_ahead


async def test_a_compromised_key_is_dropped_at_once_and_the_refresh_token_renews_access(zone: Zone) -> None:
    _verifiers_reread_the_jwks_soon(zone)
    email = new_email()
    await zone.active_user(email)
    _keys_command(zone, "rotate-signing-key")
    session = await zone.session(email)
    before, exposed = session["access_token"], await _published(zone)

    output = _keys_command(zone, "rotate-signing-key", "--compromised")
    assert "retired" not in output
    published = await _published(zone)
    assert published == sorted([_current_kid(zone), _upcoming_kid(zone)])
    assert not set(published) & set(exposed)
    await _refused_everywhere(zone, before)

    refreshed = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    await _accepted_by_contracts(zone, refreshed.json()["access_token"])


async def test_key_files_are_private_and_no_key_material_reaches_the_logs_or_the_output(zone: Zone) -> None:
    email = new_email()
    await zone.active_user(email)
    with _logs() as logs:
        output = _keys_command(zone, "rotate-signing-key")
        output += _keys_command(zone, "signing-keys")
        await zone.session(email)
        await _published(zone)
    assert "signing_keys_loaded" in {entry["event"] for entry in logs}

    secrets = _secrets(zone)
    retired_dir = secrets / "identity-signing-keys"
    files = [secrets / "identity-signing-key.pem", secrets / "identity-signing-key.next.pem", *retired_dir.iterdir()]
    assert len(files) == 3
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(retired_dir.stat().st_mode) == 0o700

    said = output + repr(logs)
    for path in files:
        body = "".join(line for line in path.read_text().splitlines() if not line.startswith("-----"))
        assert body not in said, path
    keys = SigningKeyring(secrets).load(create=False)
    for key in (keys.current, keys.upcoming):
        assert key is not None
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        for form in (raw.hex(), base64.urlsafe_b64encode(raw).decode().rstrip("="), base64.b64encode(raw).decode()):
            assert form not in said


async def test_a_keyring_damaged_while_identity_runs_keeps_the_last_good_keys(zone: Zone) -> None:
    email = new_email()
    kid = _kid((await zone.active_user(email))["access_token"])
    published = await _published(zone)
    (_secrets(zone) / "identity-signing-key.pem").write_text("not a key\n")
    with _logs() as logs:
        assert _kid((await zone.session(email))["access_token"]) == kid
        assert await _published(zone) == published
    (unreadable,) = [entry for entry in logs if entry["event"] == "signing_keys_unreadable"]
    assert "identity-signing-key.pem is damaged or not a PEM key file" in unreadable["error"]
    assert "not a key" not in repr(logs)


async def test_the_first_rotation_signs_with_a_key_every_verifier_fetched_before_it(zone: Zone) -> None:
    """A verifier that read the JWKS before the keyring's first rotation and not since (another service
    between two refreshes, a replica that sees the new files late) accepts the tokens signed after it."""
    email = new_email()
    session = await zone.active_user(email)
    assert not (_secrets(zone) / "identity-signing-keys").exists()  # no rotation yet
    fetched_before = await zone.http.get("/api/identity/.well-known/jwks.json")
    verifier = public_keys_from_jwks(fetched_before.json())

    _keys_command(zone, "rotate-signing-key")
    refreshed = await zone.http.post("/api/identity/token/refresh", json={"refresh_token": session["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    after = refreshed.json()["access_token"]
    assert _kid(after) != _kid(session["access_token"])
    assert verify(after, verifier).sub == verify(session["access_token"], verifier).sub


async def test_identity_starting_on_a_keyring_without_an_upcoming_key_publishes_one(tmp_path: Path) -> None:
    """A keyring made before identity kept a key published ahead: the next start makes one (the folder
    is writable; a read-only one gets it from `rotate-signing-key`, below), and nothing else changes."""
    secrets = tmp_path / "data" / "secrets"
    signing = key_id(load_or_create_signing_key(secrets / "identity-signing-key.pem").public_key())
    portal = EmbeddedPortal(PortalSettings(data_dir=tmp_path / "data", dev_mode=True))
    try:
        await portal.start()
        keys = SigningKeyring(secrets).load()
        assert keys.upcoming is not None
        assert keys.kid == signing
        published = {key["kid"] for key in json.loads((secrets / "jwks.json").read_text())["keys"]}
        assert published == {signing, key_id(keys.upcoming.public_key())}
    finally:
        await portal.stop()


def test_rotating_a_keyring_without_an_upcoming_key_publishes_one_first(tmp_path: Path) -> None:
    """No token is ever signed with a key no verifier has seen: the rotation of a keyring without a key
    published ahead only makes that key; the next rotation signs with it."""
    secrets = tmp_path / "secrets"
    signing = key_id(load_or_create_signing_key(secrets / "identity-signing-key.pem").public_key())

    first = _run(secrets, "rotate-signing-key")
    assert first.exit_code == 0, first.output
    keys = SigningKeyring(secrets).load()
    assert keys.upcoming is not None
    published_ahead = key_id(keys.upcoming.public_key())
    assert (keys.kid, keys.retired) == (signing, ())
    assert "nothing rotated" in first.output
    assert f"made {published_ahead}, still signing with {signing}" in first.output

    second = _run(secrets, "rotate-signing-key")
    assert second.exit_code == 0, second.output
    assert f"retired {signing}" in second.output
    assert SigningKeyring(secrets).load().kid == published_ahead


@pytest.mark.parametrize("breakage", ["removed", "a symlink loop"])
async def test_a_signing_key_file_gone_while_identity_runs_is_not_replaced(zone: Zone, breakage: str) -> None:
    """The current key's file vanished (a Secret remounted, an operator's mistake) or cannot even be looked
    at: identity goes on signing with its last good key, makes no key nobody has seen, and says which
    file is wrong."""
    email = new_email()
    kid = _kid((await zone.active_user(email))["access_token"])
    published = await _published(zone)
    key_file = _secrets(zone) / "identity-signing-key.pem"
    key_file.unlink()
    if breakage == "a symlink loop":
        key_file.symlink_to(key_file.name)
    with _logs() as logs:
        assert _kid((await zone.session(email))["access_token"]) == kid
        assert await _published(zone) == published
        assert _kid((await zone.session(email))["access_token"]) == kid
    assert key_file.is_symlink() if breakage == "a symlink loop" else not key_file.exists()
    (unreadable,) = [entry for entry in logs if entry["event"] == "signing_keys_unreadable"]
    assert str(key_file) in unreadable["error"]
    assert unreadable["signing_kid"] == kid


def _stall_readers(fifo: Path, reading: threading.Event, release: threading.Event) -> None:
    """A mount that hangs: once identity opens the key file (a FIFO), its read waits for data until
    `release`. Released after 30 s anyway, so that a read blocking the event loop fails the test (the
    test cannot run meanwhile) rather than hanging it."""
    deadline = time.monotonic() + 30
    while True:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as error:
            if error.errno != errno.ENXIO or time.monotonic() > deadline:  # ENXIO: nobody reads yet
                return
            time.sleep(0.01)
    reading.set()
    release.wait(30)
    os.write(writer, b"not a key\n")
    os.close(writer)


async def test_a_stalled_key_file_holds_up_one_token_not_the_portal(zone: Zone) -> None:
    """Identity reads its key files off the event loop: while one read hangs, other people log in (with
    the last good key) and other services answer."""
    stalled_email, other_email = new_email(), new_email()
    stalled_session = await zone.active_user(stalled_email)
    await zone.active_user(other_email)
    kid = _kid(stalled_session["access_token"])
    key_file = _secrets(zone) / "identity-signing-key.pem"
    key_file.unlink()
    os.mkfifo(key_file, 0o600)
    reading, release = threading.Event(), threading.Event()
    mount = threading.Thread(target=_stall_readers, args=(key_file, reading, release))
    mount.start()
    refresh = asyncio.create_task(
        zone.http.post("/api/identity/token/refresh", json={"refresh_token": stalled_session["refresh_token"]})
    )
    try:
        assert await asyncio.to_thread(reading.wait, 30), "identity never read its key file"
        meanwhile = await zone.session(other_email)
        contracts_meanwhile = await _contracts_status(zone, meanwhile["access_token"])
        refresh_was_waiting = not refresh.done()
    finally:
        release.set()
        await asyncio.to_thread(mount.join)
    assert refresh_was_waiting
    assert _kid(meanwhile["access_token"]) == kid
    assert contracts_meanwhile == 200
    refreshed = await refresh
    assert refreshed.status_code == 200, refreshed.text
    assert _kid(refreshed.json()["access_token"]) == kid


@pytest.mark.parametrize(
    "damaged",
    ["identity-signing-key.pem", "identity-signing-key.next.pem", "identity-signing-keys/0011223344556677.pem"],
)
def test_a_damaged_key_file_is_named_and_nothing_is_rotated(tmp_path: Path, damaged: str) -> None:
    secrets = tmp_path / "secrets"
    SigningKeyring(secrets).load(create=True)
    assert _run(secrets, "rotate-signing-key").exit_code == 0
    (secrets / damaged).parent.mkdir(exist_ok=True)
    (secrets / damaged).write_text("-----BEGIN PRIVATE KEY-----\nzepsuty\n-----END PRIVATE KEY-----\n")
    files_before = {path: path.read_bytes() for path in secrets.rglob("*") if path.is_file()}

    for command in ("rotate-signing-key", "prune-signing-keys", "signing-keys"):
        result = _run(secrets, command)
        assert result.exit_code == 1, command
        assert f"error: {secrets / damaged} is damaged or not a PEM key file" in result.stderr
        assert "zepsuty" not in result.output
    assert {path: path.read_bytes() for path in secrets.rglob("*") if path.is_file()} == files_before


def test_a_folder_without_a_keyring_is_refused_not_filled(tmp_path: Path) -> None:
    result = _run(tmp_path / "literowka", "rotate-signing-key")
    assert result.exit_code == 2
    assert "no key file" in result.stderr
    assert "--secrets-dir" in result.stderr
    assert not (tmp_path / "literowka").exists()


async def test_identity_does_not_start_on_a_damaged_signing_key(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "secrets" / "identity-signing-key.pem"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("-----BEGIN PRIVATE KEY-----\nzepsuty\n-----END PRIVATE KEY-----\n")
    portal = EmbeddedPortal(PortalSettings(data_dir=tmp_path / "data", dev_mode=True))
    try:
        with pytest.raises(SigningKeyError, match=f"{key_file} is damaged or not a PEM key file"):
            await portal.start()
    finally:
        await portal.stop()
