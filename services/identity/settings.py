from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from libs.events.service.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    """IDENTITY_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Where the portal is reached: activation links point there."
    )
    access_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    retired_key_grace_seconds: int = Field(
        default=600,
        ge=0,
        description="A retired signing key stays published this long past the access-token lifetime: for "
        "replicas that see a rotation late, and clock skew.",
    )
    refresh_idle_seconds: int = Field(
        default=1800, ge=60, description="Inactivity timeout: a refresh token unused this long is dead."
    )
    session_max_seconds: int = Field(default=12 * 3600, ge=300, description="Absolute session lifetime.")
    refresh_cookie_name: str = "__Secure-sk_refresh"
    refresh_cookie_path: str = "/api/identity"

    activation_code_minutes: int | None = Field(
        default=None, ge=1, description="Shorter code lifetime; None: until midnight (Warsaw) of the day of issue."
    )
    activation_codes_per_day: int = Field(default=5, ge=1, description="Codes per account per Warsaw day.")

    argon2_memory_kib: int = Field(default=19456, ge=19456, description="OWASP minimum: 19 MiB with t=2, p=1.")
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)

    login_free_failures: int = Field(default=5, ge=1, description="Failed logins per account before backoff.")
    login_backoff_base_seconds: int = 1
    login_backoff_max_seconds: int = 900
    ip_free_failures: int = Field(default=50, ge=1, description="Failed logins per client address before backoff.")
    login_email_failure_memory_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=60,
        description="Failed logins per e-mail address are forgotten after this long without one (an account's own "
        "count lasts until a successful login; this mirrors it closely enough not to tell the two apart).",
    )
    ip_failure_memory_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="Failed logins from one client address are forgotten after this long without one.",
    )
    login_queue_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait of a login behind other logins to the same address in this process; past it 429.",
    )
    rate_limit_sweep_seconds: float = Field(
        default=600.0, ge=0, description="How often the worker deletes expired rate-limit counters (0: never)."
    )

    activation_start_per_email: tuple[int, int] = (5, 3600)
    """(requests, per seconds)."""
    activation_start_per_ip: tuple[int, int] = (30, 3600)
    activation_verify_per_email: tuple[int, int] = (10, 900)
    activation_verify_per_ip: tuple[int, int] = (50, 900)
    activation_complete_per_ip: tuple[int, int] = (30, 900)
    login_per_ip: tuple[int, int] = (100, 60)
    refresh_per_ip: tuple[int, int] = (120, 60)

    trusted_proxies: list[str] = Field(
        default_factory=list, description="Peers whose X-Forwarded-For names the client (the gateway)."
    )

    @property
    def retired_key_lifetime(self) -> timedelta:
        """How long `rotate-signing-key` keeps a retired key: every access token it signed has expired by
        then. Refresh tokens are random strings checked against their stored hash: no key signs them."""
        return timedelta(seconds=self.access_token_ttl_seconds + self.retired_key_grace_seconds)
