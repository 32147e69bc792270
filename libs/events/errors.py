"""Domain errors: raised by pure domain code, turned into problem+json answers by the service layer; and
`describe`, any error as a failure reason safe to record."""

from __future__ import annotations

from typing import ClassVar

from libs.events.docstore import StoreUnavailable
from libs.events.eventlog import LogUnavailable
from libs.events.registry import InvalidEventData, UnknownEventType


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


SAFE_MESSAGES: tuple[type[BaseException], ...] = (UnknownEventType, InvalidEventData, StoreUnavailable, LogUnavailable)
"""Our own errors whose messages are built never to quote an event's values nor a driver's message: event
types, versions, field names, the operation that failed and the type of the error under it."""


def describe(error: BaseException) -> str:
    """An error as a failure reason (dead letters, the dead-letter topic, status, logs, spans): its type,
    with a domain error's code or the message of a `SAFE_MESSAGES` error. Never the message of any other
    exception: a KeyError or ValueError raised while folding may quote a personal value of the event, a
    driver's error the hosts, addresses or URI of its server."""
    name = type(error).__name__
    if isinstance(error, DomainError):
        return f"{name}: {error.code}"
    if isinstance(error, SAFE_MESSAGES):
        return f"{name}: {error}"
    return name
