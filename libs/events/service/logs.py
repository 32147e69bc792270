"""structlog: JSON lines in services, readable lines in dev; every line carries correlation and trace ids."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace


def _add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event_dict.setdefault("trace_id", format(span.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span.span_id, "016x"))
    return event_dict


def _current_stderr_logger(*_: Any) -> structlog.WriteLogger:
    # sys.stderr looked up at each use, not once: test runners and daemons swap it, and a logger
    # holding on to a closed stream would fail every later log call.
    return structlog.WriteLogger(sys.stderr)


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The standard library's log lines, to whatever sys.stderr is when they are written."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    numeric_level = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_current_stderr_logger,
        cache_logger_on_first_use=False,
    )
    handler = _CurrentStderrHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.basicConfig(level=max(numeric_level, logging.WARNING), handlers=[handler])
