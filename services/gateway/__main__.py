"""`python -m services.gateway`: run the portal on the embedded default."""

from __future__ import annotations

import os

import typer
import uvicorn

cli = typer.Typer(add_completion=False, help="Strefa Klienta on the embedded default (SQLite files, one process).")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(int(os.environ.get("PORT", "8000")), help="Port (PORT overrides the default)."),
    data_dir: str = typer.Option(os.environ.get("PORTAL_DATA_DIR", "data"), help="Folder for the SQLite files."),
) -> None:
    """Serve every service under /api/<service>/ on one port."""
    os.environ["PORTAL_DATA_DIR"] = data_dir
    uvicorn.run("services.gateway.embedded:create_app", factory=True, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    cli()
