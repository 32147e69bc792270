"""One JSON codec for events and documents: orjson, with Decimal kept exact as a string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, utc_as_z: bool = False) -> bytes:
    """`utc_as_z`: a UTC datetime ends in `Z` (as pydantic's JSON mode writes it), not `+00:00`."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_UTC_Z if utc_as_z else None)


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(raw)
