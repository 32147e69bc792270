"""One JSON codec for events and documents: orjson, with Decimal kept exact as a string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(raw)
