from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        default=None, description="OTLP/HTTP endpoint for traces, e.g. http://127.0.0.1:4318"
    )
