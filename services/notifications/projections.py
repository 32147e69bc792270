"""Read models of the notifications service: pure folds. The audit trail holds masked recipients only."""

from __future__ import annotations

from libs.events import Collection, Document, DomainEvent, Index, Projection, RecordedEvent
from libs.events.schemas.notifications import NotificationFailed, NotificationSent

NOTIFICATION_LOG = Collection(
    "notification_log", (Index.on("status"), Index.on("cause_event_id"), Index.on("settled_at"))
)


def _fold(doc: Document | None, event: DomainEvent, recorded: RecordedEvent) -> Document:
    match event:
        case NotificationSent():
            return {
                **event.model_dump(mode="json", exclude={"sent_at"}),
                "status": "sent",
                "reason": None,
                "error": None,
                "client_id": recorded.client_id,
                "settled_at": event.sent_at.isoformat(timespec="microseconds"),
            }
        case NotificationFailed():
            return {
                **event.model_dump(mode="json", exclude={"failed_at"}),
                "status": "failed",
                "provider_message_id": None,
                "client_id": recorded.client_id,
                "settled_at": event.failed_at.isoformat(timespec="microseconds"),
            }
    return doc or {}


def _keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
    if isinstance(event, NotificationSent | NotificationFailed):
        return [str(event.notification_id)]
    return []


notification_log = Projection(
    name="notification_log",
    collection=NOTIFICATION_LOG,
    sources=("notifications",),
    handles=frozenset({NotificationSent.event_type, NotificationFailed.event_type}),
    keys=_keys,
    fold=_fold,
)
