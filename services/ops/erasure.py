"""`python -m services.ops erase-person ACCOUNT_ID [--yes]`: erasure of a person (GDPR Art. 17).

What the back office's POST /api/identity/backoffice/accounts/{id}/erasure does (services/identity/
erasure.py), on the portal's data folder. Exit codes: 0 erased (also when it was before), 1 not
confirmed or the backend unreachable, 2 a malformed or unknown account id.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from libs.events import NotFound
from services.identity.erasure import Erasure
from services.identity.erasure import erase_person as erase
from services.ops.backend import BackendError, Mode, open_operations

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def erase_person(
    ctx: typer.Context,
    account_id: Annotated[UUID, typer.Argument(metavar="ACCOUNT_ID", help="The person's identity account id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person's personal data (GDPR Art. 17): its names, e-mails and phones read "[erased]" for
    good and leave the read models; it never logs in again. Its clients' invoices and payments stay."""
    options = ctx.find_root().params  # --data-dir and --mode, given before the command
    if not yes and not typer.confirm(f"Erase the personal data of account {account_id}? This cannot be undone."):
        raise typer.Exit(1)
    try:
        erasure = asyncio.run(_erase(options["data_dir"], options["mode"], str(account_id)))
    except NotFound:
        errors.print(f"[red]error:[/red] no account {account_id}")
        raise typer.Exit(2) from None
    except BackendError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    if erasure.already_erased:
        console.print(f"account {account_id} was erased before; its keys stay deleted")
    else:
        console.print(
            f"[green]erased[/green] account {account_id}: {erasure.keys_deleted} keys deleted; "
            "the read models drop its data as they fold PersonErased"
        )


async def _erase(data_dir: Path, mode: Mode, account_id: str) -> Erasure:
    async with open_operations(data_dir, mode) as ops:
        return await erase(ops.runtimes["identity"], account_id, actor="ops:erase-person")
