"""libs.events: the platform every service stands on (see docs/architecture.md)."""

from libs.events.aggregate import Aggregate, CommandHandler, Decision
from libs.events.docstore import Collection, Document, DocumentStore, Index
from libs.events.envelope import DomainEvent, EventContext, NewEvent, RecordedEvent
from libs.events.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from libs.events.projection import Projection, Reactor
from libs.events.registry import EventRegistry, UnknownEventType, registry
from libs.events.store import ANY_VERSION, NO_STREAM, EventStore, WrongExpectedVersion

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "Aggregate",
    "Collection",
    "CommandHandler",
    "Conflict",
    "Decision",
    "Document",
    "DocumentStore",
    "DomainError",
    "DomainEvent",
    "EventContext",
    "EventRegistry",
    "EventStore",
    "Forbidden",
    "Index",
    "Invalid",
    "NewEvent",
    "NotFound",
    "Projection",
    "Reactor",
    "RecordedEvent",
    "UnknownEventType",
    "WrongExpectedVersion",
    "registry",
]
