"""Domain errors: raised by pure domain code, turned into problem+json answers by the service layer."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A refused command or query. `code` is machine-readable; `field` names the input at fault."""

    status = 400
    headers: ClassVar[dict[str, str] | None] = None

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


class Unauthenticated(DomainError):
    status = 401
    headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": "Bearer"}


class Invalid(DomainError):
    status = 422


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


class TooManyRequests(DomainError):
    """Throttled: answered 429 with a Retry-After header (whole seconds)."""

    status = 429

    def __init__(self, code: str, detail: str, retry_after: int) -> None:
        super().__init__(code, detail)
        self.retry_after = max(1, retry_after)


class Unavailable(DomainError):
    status = 503
