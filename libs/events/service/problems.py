"""One error format for every 4xx and 5xx: RFC 9457 problem+json with a machine-readable code."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.events.docstore import StoreUnavailable
from libs.events.errors import DomainError, TooManyRequests
from libs.events.store import WrongExpectedVersion
from libs.events.vault import SubjectErased

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str,
    request: Request | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:strefa:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(part) for part in location)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _field_name(tuple(item.get("loc", ()))),
                "message": item.get("msg", ""),
                "code": item.get("type", ""),
            }
            for item in error.errors()
        ]
        fields = ", ".join(e["field"] for e in errors)
        return problem(422, "validation_failed", f"invalid fields: {fields}", request, errors)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        errors = [{"field": error.field, "message": error.detail, "code": error.code}] if error.field else None
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else error.headers
        return problem(error.status, error.code, error.detail, request, errors, headers=headers)

    @app.exception_handler(WrongExpectedVersion)
    async def _conflict(request: Request, error: WrongExpectedVersion) -> JSONResponse:
        return problem(409, "concurrent_modification", "the object was changed meanwhile; try again", request)

    @app.exception_handler(SubjectErased)
    async def _erased(request: Request, error: SubjectErased) -> JSONResponse:
        # What an erased account answers to its own commands: a 410 would tell anyone probing ids that
        # the person existed and was erased.
        return problem(404, "account_not_found", "no such account", request)

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(request: Request, error: StoreUnavailable) -> JSONResponse:
        log.warning("store_unavailable", error=str(error))
        return problem(
            503,
            "temporarily_unavailable",
            "the service is temporarily unavailable",
            request,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = str(error.detail).lower().replace(" ", "_") if error.status_code in _TITLES else "http_error"
        return problem(error.status_code, code, str(error.detail), request, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem(500, "internal_error", "an unexpected error occurred", request)
