"""The bare baseline of the HTTP figures: a Starlette app answering stored JSON, served like the portal.

`uvicorn bench.bare:app` with `BENCH_BARE_BODIES` naming a JSON file `{"/path": <document>, ...}`: each
path answers its document with `JSONResponse`, so the baseline serializes and sends the same bytes as
the portal's endpoint did, with no platform code (no auth, no read models, no middleware).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _endpoint(document: Any) -> Any:
    async def answer(_: Request) -> JSONResponse:
        return JSONResponse(document)

    return answer


def create_app(bodies: dict[str, Any]) -> Starlette:
    return Starlette(routes=[Route(path, _endpoint(document)) for path, document in bodies.items()])


_BODIES = os.environ.get("BENCH_BARE_BODIES")
app = create_app(json.loads(Path(_BODIES).read_text()) if _BODIES else {"/": {"status": "ok"}})
