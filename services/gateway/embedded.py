"""The embedded default: all six services in one process, each mounted at /api/<service>/.

This is the composition root: the one place that imports every service (services never import
one another). In the local cluster, nginx plays this part in front of one process per service.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import libs.events.schemas  # noqa: F401  (registers every published event type)
from libs.events.embedded import EmbeddedPlatform
from libs.events.registry import registry
from libs.events.sealed import NOTIFICATIONS_SEALING_KEY, load_or_create_private_key
from libs.events.service.app import create_service_app
from libs.events.service.auth import token_sha256
from libs.events.service.logs import configure_logging
from libs.events.service.metrics import configure_metrics
from libs.events.service.runtime import ServiceDefinition, ServiceRuntime
from libs.events.service.tracing import configure_tracing
from services.billing.service import definition as billing
from services.contracts.service import definition as contracts
from services.identity.service import definition as identity
from services.notifications.service import definition as notifications
from services.payments.service import definition as payments
from services.profile.service import definition as profile

SERVICES: tuple[ServiceDefinition, ...] = (identity, contracts, billing, payments, notifications, profile)

log = structlog.get_logger(__name__)


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    data_dir: Path = Path("data")
    dev_mode: bool = True
    log_format: str = "console"
    log_level: str = "INFO"
    otlp_endpoint: str | None = None
    metrics_listen: str | None = None
    """host:port of the Prometheus scrape endpoint (GET /metrics), e.g. 127.0.0.1:9464; unset: none."""
    web_dist: Path = Path(__file__).resolve().parents[2] / "web" / "dist"
    """The built portal (`make web`), served at / with index.html for every other non-API path."""


def backoffice_token(data_dir: Path) -> str:
    """The dev back-office token: made once, kept in data/secrets (0600), never logged."""
    path = data_dir / "secrets" / "backoffice-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


class EmbeddedPortal:
    def __init__(self, settings: PortalSettings, services: Sequence[ServiceDefinition] = SERVICES) -> None:
        self.settings = settings
        self.platform = EmbeddedPlatform(settings.data_dir, [service.name for service in services])
        token_hash = token_sha256(backoffice_token(settings.data_dir))
        # Notifications' sealing key pair: identity (and others) seal with the public half.
        load_or_create_private_key(settings.data_dir / "secrets" / NOTIFICATIONS_SEALING_KEY)
        self.runtimes: dict[str, ServiceRuntime] = {}
        for service in services:
            service_settings = service.settings().model_copy(
                update={
                    "data_dir": settings.data_dir / service.name,
                    "dev_mode": settings.dev_mode,
                    "backoffice_token_sha256": [token_hash],
                    "secrets_dir": settings.data_dir / "secrets",
                    "jwks_location": str(settings.data_dir / "secrets" / "jwks.json"),
                }
            )
            self.runtimes[service.name] = self.platform.runtime(service, service_settings, registry)

    async def start(self, run_consumers: bool = True) -> None:
        await self.platform.open()
        for runtime in self.runtimes.values():
            await runtime.start(run_consumers)

    async def stop(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.stop()
        await self.platform.close()

    def app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            log.info("portal_ready", data_dir=str(self.settings.data_dir), services=list(self.runtimes))
            try:
                yield
            finally:
                await self.stop()

        root = FastAPI(title="Strefa Klienta", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
        for name, runtime in self.runtimes.items():
            root.mount(f"/api/{name}", create_service_app(runtime))
        serve_web(root, self.settings.web_dist)
        root.add_middleware(SecurityHeaders)
        return root


# --- the web app and the security headers ---------------------------------------------------------

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    (
        "content-security-policy",
        "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; "
        "img-src 'self' data:",
    ),
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
)


class SecurityHeaders:
    """Adds the security headers to every HTTP response (API and web app); a header a handler set
    itself is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.decode("latin-1").lower() for key, _ in headers}
                headers.extend((k.encode(), v.encode()) for k, v in SECURITY_HEADERS if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def serve_web(app: FastAPI, dist: Path) -> None:
    """The single-page app: its files, and index.html for any other path outside /api (client-side
    routes such as /umowy/123). Hashed assets are cached for good; index.html is revalidated."""
    root = dist.resolve()

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def web(path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            return JSONResponse(
                {
                    "type": "urn:strefa:problem:not_found",
                    "title": "Not found",
                    "status": 404,
                    "code": "not_found",
                    "detail": "no such API",
                    "instance": f"/{path}",
                },
                status_code=404,
                media_type="application/problem+json",
            )
        file = (root / path).resolve()
        if path and file.is_file() and file.is_relative_to(root):
            immutable = file.parent == root / "assets"
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(file, headers={"Cache-Control": cache})
        if path.startswith("assets/"):
            return Response("not found", status_code=404, media_type="text/plain")
        index = root / "index.html"
        if not index.is_file():
            return Response("the web app is not built: run `make web`", status_code=503, media_type="text/plain")
        return FileResponse(index, headers={"Cache-Control": "no-cache"})


def create_app() -> FastAPI:
    """uvicorn factory: `uvicorn services.gateway.embedded:create_app --factory`."""
    settings = PortalSettings()
    configure_logging(settings.log_format, settings.log_level)
    configure_tracing("strefa-portal", settings.otlp_endpoint)
    configure_metrics("strefa-portal", settings.otlp_endpoint, settings.metrics_listen)
    return EmbeddedPortal(settings).app()
