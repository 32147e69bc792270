"""`python -m services.gateway_sandbox --port N`: the PayU-compatible gateway sandbox on its own."""

from __future__ import annotations

import typer
import uvicorn

from libs.events.service.logs import configure_logging
from services.gateway_sandbox.app import SandboxConfig, create_app

cli = typer.Typer(add_completion=False, help="A gateway sandbox speaking PayU's REST API v2.1 (dev and tests).")


@cli.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8010, envvar="SANDBOX_PORT", help="Port."),
    pos_id: str = typer.Option("300746", envvar="SANDBOX_POS_ID"),
    client_secret: str = typer.Option("sandbox-client-secret", envvar="SANDBOX_CLIENT_SECRET"),
    second_key: str = typer.Option("sandbox-second-key", envvar="SANDBOX_SECOND_KEY"),
    algorithm: str = typer.Option("MD5", envvar="SANDBOX_ALGORITHM", help="MD5 or SHA-256."),
    public_url: str | None = typer.Option(None, envvar="SANDBOX_PUBLIC_URL", help="Base of redirectUri."),
) -> None:
    """Serve the sandbox (oauth, orders, payment page, signed notifications)."""
    configure_logging("console", "INFO")
    config = SandboxConfig(
        pos_id=pos_id,
        client_id=pos_id,
        client_secret=client_secret,
        second_key=second_key,
        algorithm="SHA-256" if algorithm.upper() in ("SHA-256", "SHA256") else "MD5",
        public_url=public_url,
    )
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    cli()
