"""`python -m services.identity rotate-signing-key | prune-signing-keys | signing-keys`: identity's keyring.

Run where the key files are made (the folder the Secret or the docker secrets are made from, or the
embedded portal's data/secrets). A running identity notices the changed files by itself: it publishes
the new JWKS before signing with the new key, and nobody is logged out (see libs/events/tokens.py).
Exit codes: 0 done, 1 a key file is damaged or unreadable, 2 no keyring in the folder given.
Key ids only are printed, never key material.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from libs.events.envelope import utc_now
from libs.events.tokens import NoSigningKey, SigningKeyError, SigningKeyring, key_id
from services.identity.settings import IdentitySettings

COMMANDS = frozenset({"rotate-signing-key", "prune-signing-keys", "signing-keys"})

app = typer.Typer(help="Identity's access-token signing keys.", no_args_is_help=True, add_completion=False)

SecretsDir = Annotated[
    Path | None,
    typer.Option(help="The folder of identity's key files; default IDENTITY_SECRETS_DIR, else data/secrets."),
]


def _settings(secrets_dir: Path | None) -> IdentitySettings:
    settings = IdentitySettings()
    return settings.model_copy(update={"secrets_dir": secrets_dir}) if secrets_dir else settings


def _fail(error: SigningKeyError) -> NoReturn:
    if isinstance(error, NoSigningKey):
        typer.echo(f"error: {error}: identity makes its first key at its first start; check --secrets-dir", err=True)
        raise typer.Exit(2)
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)


@app.command("rotate-signing-key")
def rotate_signing_key(
    secrets_dir: SecretsDir = None,
    compromised: Annotated[
        bool,
        typer.Option(
            help="The keys may have leaked: replace the current and the upcoming key with fresh ones and drop every "
            "retired key now, so every token signed so far is refused (clients renew with their refresh token)."
        ),
    ] = False,
) -> None:
    """A new key signs from now on; the old one stays published until the tokens it signed have expired.

    The new key is the one published ahead; a keyring without one only gets one, and rotates next time."""
    settings = _settings(secrets_dir)
    try:
        rotation = SigningKeyring(settings.secrets_dir).rotate(utc_now(), settings.retired_key_lifetime, compromised)
    except SigningKeyError as error:
        _fail(error)
    if not rotation.rotated:
        typer.echo(
            f"nothing rotated: the keyring had no key published ahead; made {rotation.upcoming}, still signing with "
            f"{rotation.current}. Hand the files to identity (every replica), then run rotate-signing-key again."
        )
        return
    if rotation.retired is not None:
        kept = int(settings.retired_key_lifetime.total_seconds())
        typer.echo(f"retired {rotation.retired}: published {kept} s more, then pruned (prune-signing-keys)")
    typer.echo(f"signing with {rotation.current}; published ahead for the next rotation: {rotation.upcoming}")
    typer.echo(f"pruned: {', '.join(rotation.pruned) or 'none'}")


@app.command("prune-signing-keys")
def prune_signing_keys(secrets_dir: SecretsDir = None) -> None:
    """Deletes the retired keys every token of which has expired."""
    settings = _settings(secrets_dir)
    keyring = SigningKeyring(settings.secrets_dir)
    try:
        keyring.load(create=False)
        pruned = keyring.prune(utc_now(), settings.retired_key_lifetime)
    except SigningKeyError as error:
        _fail(error)
    typer.echo(f"pruned: {', '.join(pruned) or 'none'}")


@app.command("signing-keys")
def list_signing_keys(secrets_dir: SecretsDir = None) -> None:
    """The key ids of the keyring and what each one does."""
    settings = _settings(secrets_dir)
    try:
        keys = SigningKeyring(settings.secrets_dir).load(create=False)
    except SigningKeyError as error:
        _fail(error)
    typer.echo(f"current   {keys.kid}")
    if keys.upcoming is not None:
        typer.echo(f"upcoming  {key_id(keys.upcoming.public_key())}")
    for retired in keys.retired:
        prune_after = (retired.retired_at + settings.retired_key_lifetime).isoformat(timespec="seconds")
        typer.echo(f"retired   {retired.kid}  prunable after {prune_after}")
