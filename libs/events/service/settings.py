from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.events.service.metrics import parse_listen


class ServiceSettings(BaseSettings):
    """Settings every service has. Each service subclasses it with its own env prefix (CONTRACTS_...)."""

    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    data_dir: Path = Path("data")
    dev_mode: bool = False
    log_format: Literal["json", "console"] = "json"
    log_level: str = "INFO"
    backoffice_token_sha256: list[str] = Field(
        default_factory=list,
        description="SHA-256 (hex) of each back-office credential accepted; the tokens themselves are never stored.",
    )
    secrets_dir: Path = Field(
        default=Path("data/secrets"),
        description="Keys made at first start (mode 0600), never committed: signing and sealing keys.",
    )
    jwks_location: str = Field(
        default="data/secrets/jwks.json",
        description="Identity's public keys: a JWKS file (embedded) or URL (cluster).",
    )
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint for traces and metrics, e.g. http://127.0.0.1:4318"
    )
    metrics_listen: str | None = Field(
        default=None,
        description="host:port of this process's Prometheus scrape endpoint (GET /metrics), e.g. 0.0.0.0:9464; "
        "unset: none. A port of its own, never behind the gateway.",
    )
    consumers: bool = Field(
        default=True,
        description="Run the service's projections, reactors and background loop in this process. Off in the "
        "API replicas of a deployment with more than one: exactly one worker process per service runs them "
        "(deploy/README.md, single-active consumers).",
    )
    lag_sample_interval: float = Field(
        default=15.0, ge=0, description="Seconds between readings of each consumer's lag for the metrics; 0: none."
    )

    @field_validator("metrics_listen")
    @classmethod
    def _listen_address(cls, value: str | None) -> str | None:
        if value:
            parse_listen(value)
        return value or None
