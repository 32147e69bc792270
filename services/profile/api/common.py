"""What the profile routers share: input base, scope dependencies, the blob store, view helpers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict

from libs.events import Document
from libs.events.access import Principal
from libs.events.blobs import BlobStore
from libs.events.projection import public
from libs.events.service.access import require_scope
from libs.events.service.deps import Runtime
from services.profile.domain.requests import STATUS_LABELS
from services.profile.filing import attachment_files


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


ProfileReader = Annotated[Principal, Depends(require_scope("profile:read"))]
ProfileEditor = Annotated[Principal, Depends(require_scope("profile:edit"))]
RequestReader = Annotated[Principal, Depends(require_scope("requests:read"))]
RequestFiler = Annotated[Principal, Depends(require_scope("requests:create"))]


async def get_blobs(runtime: Runtime) -> BlobStore:
    return attachment_files(runtime)


Blobs = Annotated[BlobStore, Depends(get_blobs)]


def shown_actor(actor: str | None) -> str | None:
    """Actors as a client may see them: its people by account, the leasing company as "backoffice"."""
    if actor is None or actor.startswith("account:"):
        return actor
    return "backoffice"


def request_view(doc: Document, for_client: bool = True) -> dict[str, Any]:
    view = public(doc)
    status = view.get("status", "submitted")
    view["status_label"] = {"pl": STATUS_LABELS[status][0], "en": STATUS_LABELS[status][1]}
    view["attachments"] = [
        {key: value for key, value in item.items() if key != "key"} for item in view.get("attachments", [])
    ]
    if for_client:
        view["history"] = [{**entry, "by": shown_actor(entry.get("by"))} for entry in view.get("history", [])]
    return view
