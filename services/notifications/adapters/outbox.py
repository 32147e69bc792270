"""The dev mailbox: messages "sent" in dev mode land in the service's document store.

It is the local SMS phone and e-mail inbox of `make dev` and of the tests, shown by
GET /api/notifications/dev/outbox. By design it holds the whole text, codes and links included:
it is the mailbox itself, which is why it is refused outside dev mode (see service.py) and is the
one read model where a plain code may appear.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import uuid4

from libs.events.docstore import Collection, DocumentStore, Index
from services.notifications.ports import OutgoingMessage

DEV_OUTBOX = Collection("dev_outbox", (Index.on("to"), Index.on("sent_at")))


def outbox_address(channel: str, to: str) -> str:
    """How the outbox files a recipient: e-mail addresses in lower case, numbers as given (E.164)."""
    return to.strip().lower() if channel == "email" else to.strip()


class OutboxSender:
    name = "outbox"

    def __init__(self, documents: DocumentStore, clock: Callable[[], datetime]) -> None:
        self._documents = documents
        self._clock = clock

    async def send(self, message: OutgoingMessage) -> str | None:
        # A new entry per send, like a real mailbox: a message sent twice shows twice.
        entry_id = str(uuid4())
        await self._documents.upsert_many(
            DEV_OUTBOX,
            [
                {
                    "_id": entry_id,
                    "notification_id": str(message.notification_id),
                    "channel": message.channel,
                    "to": outbox_address(message.channel, message.to),
                    "template": message.template,
                    "locale": message.locale,
                    "subject": message.subject,
                    "text": message.text,
                    "html": message.html,
                    "sent_at": self._clock().isoformat(timespec="microseconds"),
                }
            ],
        )
        return f"outbox:{entry_id}"
