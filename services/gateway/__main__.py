"""`python -m services.gateway`: run the portal on the embedded default."""

from __future__ import annotations

import os
from pathlib import Path

import typer
import uvicorn

cli = typer.Typer(add_completion=False, help="Strefa Klienta on the embedded default (SQLite files, one process).")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(int(os.environ.get("PORT", "8000")), help="Port (PORT overrides the default)."),
    data_dir: str = typer.Option(os.environ.get("PORTAL_DATA_DIR", "data"), help="Folder for the SQLite files."),
    seed_demo: bool = typer.Option(
        False, "--seed-demo", help="On the first start (empty data folder) seed demo data; print the demo logins."
    ),
    demo_clients: int = typer.Option(8, min=2, help="How many clients --seed-demo seeds."),
) -> None:
    """Serve every service under /api/<service>/ on one port."""
    os.environ["PORTAL_DATA_DIR"] = data_dir
    if seed_demo:
        from services.gateway.embedded import SERVICES
        from services.seeder.devserver import DemoSeed, serve_with_demo

        config = uvicorn.Config(
            "services.gateway.embedded:create_app", factory=True, host=host, port=port, log_level="warning"
        )
        names = [service.name for service in SERVICES]
        serve_with_demo(config, Path(data_dir), names, DemoSeed(clients=demo_clients))
        return
    uvicorn.run("services.gateway.embedded:create_app", factory=True, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    cli()
