"""Secrets made at start on a shared writable secrets folder: the local cluster starts several identity
replicas and a worker at once. Whichever process makes a secret first wins; every other one uses the
winner's file, never a key or pepper of its own that nobody else has."""

from __future__ import annotations

import base64
import errno
import multiprocessing
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from libs.events.cluster import prepare_secrets
from libs.events.sealed import load_or_create_private_key, load_public_key
from libs.events.tokens import (
    NEXT_SIGNING_KEY_FILE,
    SIGNING_KEY_FILE,
    SigningKeyring,
    create_secret_file,
    key_id,
    load_or_create_signing_key,
    load_signing_key,
    private_key_to_pem,
)
from services.identity.credentials import CodeHasher, load_or_create_pepper

STARTING_TOGETHER = 12
T = TypeVar("T")


def _all_at_once(start: Callable[[], T], count: int = STARTING_TOGETHER) -> list[T]:
    """`start` called by `count` threads released together, as replicas starting at the same moment."""
    barrier = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            result = start()
        except BaseException as error:
            with lock:
                errors.append(error)
            raise
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.endswith(".tmp")]


def _signing_kid(path: Path) -> str:
    return key_id(load_signing_key(path).public_key())


def test_identity_replicas_starting_together_hash_codes_with_one_pepper(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "identity-code-pepper"

    peppers = _all_at_once(lambda: load_or_create_pepper(path))

    assert len(set(peppers)) == 1
    assert peppers[0] == base64.b64decode(path.read_bytes())
    assert len(peppers[0]) == 32
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert _leftovers(tmp_path) == []
    # An activation code hashed by one replica is accepted by any other, or by one started later.
    code_hash = CodeHasher(peppers[0]).hash("account-1", "123456")
    assert CodeHasher(load_or_create_pepper(path)).hash("account-1", "123456") == code_hash


def test_identity_replicas_starting_together_sign_with_one_key_and_publish_one_ahead(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"

    started = _all_at_once(lambda: SigningKeyring(secrets).load(create=True))

    assert {keys.kid for keys in started} == {_signing_kid(secrets / SIGNING_KEY_FILE)}
    upcoming = {key_id(keys.upcoming.public_key()) for keys in started if keys.upcoming is not None}
    assert upcoming == {_signing_kid(secrets / NEXT_SIGNING_KEY_FILE)}
    assert len(started[0].published()) == 2
    for name in (SIGNING_KEY_FILE, NEXT_SIGNING_KEY_FILE):
        assert _mode(secrets / name) == 0o600, name
    assert _leftovers(tmp_path) == []


def test_signing_keys_made_together_are_the_one_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / SIGNING_KEY_FILE

    keys = _all_at_once(lambda: load_or_create_signing_key(path))

    assert {key_id(key.public_key()) for key in keys} == {_signing_kid(path)}
    assert _mode(path) == 0o600


def test_notifications_sealing_key_made_together_is_one_pair(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "notifications-sealing-key"

    keys = _all_at_once(lambda: load_or_create_private_key(path))

    assert {bytes(key) for key in keys} == {base64.b64decode(path.read_bytes())}
    assert load_public_key(path.with_suffix(".pub")) == keys[0].public_key
    assert _mode(path) == 0o600
    assert _leftovers(tmp_path) == []


def test_the_local_cluster_prepared_twice_at_once_has_one_backoffice_token(tmp_path: Path) -> None:
    tokens = _all_at_once(lambda: prepare_secrets(tmp_path), count=4)

    assert set(tokens) == {(tmp_path / "secrets" / "backoffice-token").read_text().strip()}
    assert _mode(tmp_path / "secrets" / "backoffice-token") == 0o600


def _start_identity_process(barrier: Any, secrets: str, results: Any) -> None:
    barrier.wait()
    folder = Path(secrets)
    pepper = load_or_create_pepper(folder / "identity-code-pepper")
    results.put((pepper, SigningKeyring(folder).load(create=True).kid))


def test_identity_processes_starting_together_share_the_pepper_and_the_signing_key(tmp_path: Path) -> None:
    """The local cluster's replicas are processes: the same, with each of them on its own core."""
    context = multiprocessing.get_context("fork")
    count = 4
    barrier, results = context.Barrier(count), context.Queue()
    processes = [
        context.Process(target=_start_identity_process, args=(barrier, str(tmp_path / "secrets"), results))
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    started = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    assert set(started) == {
        (
            load_or_create_pepper(tmp_path / "secrets" / "identity-code-pepper"),
            _signing_kid(tmp_path / "secrets" / SIGNING_KEY_FILE),
        )
    }


def test_an_existing_secret_is_never_overwritten(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    pepper = secrets / "identity-code-pepper"
    pepper.write_bytes(base64.b64encode(b"p" * 32))
    current = secrets / SIGNING_KEY_FILE
    load_or_create_signing_key(current)
    before = {path: (path.read_bytes(), path.stat().st_ino) for path in (pepper, current)}

    assert load_or_create_pepper(pepper) == b"p" * 32
    keys = SigningKeyring(secrets).load(create=True)
    assert create_secret_file(pepper, b"another") is False

    assert {path: (path.read_bytes(), path.stat().st_ino) for path in (pepper, current)} == before
    assert keys.kid == _signing_kid(current)
    assert keys.upcoming is not None  # the missing one is made, beside the kept one


def test_a_folder_holding_every_secret_is_not_written_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kubernetes mounts the secrets as a read-only Secret: starting there only reads."""
    secrets = tmp_path / "secrets"
    SigningKeyring(secrets).load(create=True)
    load_or_create_pepper(secrets / "identity-code-pepper")
    load_or_create_private_key(secrets / "notifications-sealing-key")
    _refuse_new_files(monkeypatch)

    SigningKeyring(secrets).load(create=True)
    load_or_create_pepper(secrets / "identity-code-pepper")
    load_or_create_private_key(secrets / "notifications-sealing-key")


def test_a_read_only_folder_without_an_upcoming_key_keeps_signing_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    current = load_or_create_signing_key(secrets / SIGNING_KEY_FILE)
    _refuse_new_files(monkeypatch)

    keys = SigningKeyring(secrets).load(create=True)

    assert keys.kid == key_id(current.public_key())
    assert keys.upcoming is None
    assert not (secrets / NEXT_SIGNING_KEY_FILE).exists()


def test_a_missing_pepper_in_a_read_only_folder_is_an_error_not_a_pepper_nobody_else_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    _refuse_new_files(monkeypatch)

    with pytest.raises(OSError, match="Read-only file system"):
        load_or_create_pepper(tmp_path / "secrets" / "identity-code-pepper")
    assert list((tmp_path / "secrets").iterdir()) == []


def test_a_secret_made_by_another_process_meanwhile_wins_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / SIGNING_KEY_FILE
    winner = private_key_to_pem(load_or_create_signing_key(tmp_path / "elsewhere.pem"))

    original_exists = Path.exists

    def made_by_another_process_after_the_check(self: Path) -> bool:
        found = original_exists(self)
        if self == path and not found:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(winner)
        return found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "exists", made_by_another_process_after_the_check)
        key = load_or_create_signing_key(path)

    assert private_key_to_pem(key) == winner
    assert path.read_bytes() == winner
    assert _leftovers(tmp_path) == []


def _refuse_new_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is read-only: no new file can be made in it."""
    original_open = os.open

    def refuse_creating(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return original_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_creating)


def test_a_sealing_key_whose_public_half_is_missing_gets_it_back(tmp_path: Path) -> None:
    """The process that made the private key stopped before writing the public half."""
    path = tmp_path / "notifications-sealing-key"
    key = load_or_create_private_key(path)
    path.with_suffix(".pub").unlink()

    again = load_or_create_private_key(path)

    assert bytes(again) == bytes(key)
    assert load_public_key(path.with_suffix(".pub")) == key.public_key
