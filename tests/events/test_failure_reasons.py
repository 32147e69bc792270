"""Failure reasons (dead letters, the dead-letter sink, status, logs) name the error's type and the
event, never the message of an arbitrary exception: it may quote a personal value of the event."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import structlog
from pydantic import ValidationError

from libs.events import Collection, Document, DomainEvent, EventRegistry, Projection, RecordedEvent
from libs.events.envelope import NewEvent
from libs.events.errors import Conflict, describe
from libs.events.eventlog import EmbeddedEventLog
from libs.events.projection import DEAD_LETTERS, ConsumerRunner, ProjectionRunner, Reactor, ReactorRunner
from libs.events.registry import InvalidEventData, UnknownEventType
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION

EMAIL = "zofia.zolkiewska@nowak.pl"

registry = EventRegistry()


@registry.register
class ContactChanged(DomainEvent):
    event_type = "TestContactChanged"
    client_id: str
    email: str


CONTACTS = Collection("contacts")


def fold(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
    assert isinstance(event, ContactChanged)
    raise ValueError(f"bad {event.email}")


contacts = Projection(
    name="contacts",
    collection=CONTACTS,
    sources=("profile",),
    handles=frozenset({"TestContactChanged"}),
    keys=lambda event, _: [getattr(event, "client_id")],  # noqa: B009
    fold=fold,
)


class Platform:
    def __init__(self, events: SqliteEventStore, documents: SqliteDocumentStore) -> None:
        self.events = events
        self.documents = documents
        self.told: list[str] = []

    async def sink(self, consumer: str, failed: Sequence[tuple[RecordedEvent, str]]) -> None:
        self.told.extend(reason for _, reason in failed)

    def consumer(self, group: str) -> Any:
        return EmbeddedEventLog({"profile": self.events}, self.documents).consumer(group, ["profile"])

    def projection_runner(self, projection: Projection) -> ProjectionRunner:
        consumer = self.consumer(projection.name)
        return ProjectionRunner(
            projection, consumer, self.documents, registry, service="profile", personal=None, dead_letter_sink=self.sink
        )

    def reactor_runner(self, reactor: Reactor) -> ReactorRunner:
        consumer = self.consumer(reactor.name)
        runner = ReactorRunner(
            reactor, consumer, self.documents, registry, service="profile", personal=None, dead_letter_sink=self.sink
        )
        runner.retry_delay = 0
        return runner

    async def change(self, email: str) -> UUID:
        """Appends a contact change; its event id."""
        event = NewEvent(type="TestContactChanged", version=1, data={"client_id": "CL-1", "email": email})
        await self.events.append("profile-contact-CL-1", [event], ANY_VERSION)
        return event.event_id

    async def dead_letter(self, runner: ConsumerRunner) -> tuple[Document, str]:
        """Runs one batch; the one dead letter and what the logs said meanwhile."""
        await runner.load_status()
        with structlog.testing.capture_logs() as logs:
            assert await runner.run_once() == 1
        (letter,) = await self.documents.find(DEAD_LETTERS, {"consumer": runner.name})
        return letter, str(logs)


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    events = await SqliteEventStore(tmp_path / "profile.db", "profile").open()
    documents = await SqliteDocumentStore(tmp_path / "readmodels.db").open()
    yield Platform(events, documents)
    await events.close()
    await documents.close()


async def test_a_fold_quoting_an_email_is_dead_lettered_by_its_type_and_event_without_the_email(
    platform: Platform,
) -> None:
    event_id = await platform.change(EMAIL)
    runner = platform.projection_runner(contacts)
    letter, logs = await platform.dead_letter(runner)
    assert letter["event_id"] == str(event_id)
    assert "ValueError" in letter["reason"]
    assert str(event_id) in letter["reason"]
    assert [letter["reason"]] == platform.told == [runner.status.last_error]
    for said in (letter["reason"], logs, *platform.told):
        assert EMAIL not in said
        assert "zofia" not in said


async def test_a_failing_reaction_keeps_a_domain_errors_code_but_not_its_detail(platform: Platform) -> None:
    event_id = await platform.change(EMAIL)

    async def react(event: DomainEvent, _: RecordedEvent) -> None:
        raise Conflict("contact_locked", f"{getattr(event, 'email')} is locked")  # noqa: B009

    reactor = Reactor("mailer", ("profile",), frozenset({"TestContactChanged"}), react)
    letter, logs = await platform.dead_letter(platform.reactor_runner(reactor))
    assert letter["reason"] == f"reaction failed on event {event_id}: Conflict: contact_locked"
    assert platform.told == [letter["reason"]]
    assert EMAIL not in logs


async def test_keys_that_fail_on_a_personal_value_are_dead_lettered_without_it(platform: Platform) -> None:
    await platform.change(EMAIL)

    def keys(event: DomainEvent, _: RecordedEvent) -> list[str]:
        return [{"CL-2": "x"}[getattr(event, "email")]]  # noqa: B009  (KeyError quoting the e-mail)

    projection = Projection("by_email", CONTACTS, ("profile",), contacts.handles, keys, fold)
    letter, _ = await platform.dead_letter(platform.projection_runner(projection))
    assert letter["reason"].startswith("keys failed on event ")
    assert letter["reason"].endswith(": KeyError")
    assert EMAIL not in letter["reason"]


def test_only_our_own_messages_made_to_be_safe_are_kept() -> None:
    assert describe(ValueError(f"bad {EMAIL}")) == "ValueError"
    assert describe(KeyError(EMAIL)) == "KeyError"
    assert describe(Conflict("contact_locked", f"{EMAIL} is locked")) == "Conflict: contact_locked"
    unknown = UnknownEventType("TestContactChanged", 9)
    assert describe(unknown) == "UnknownEventType: unknown event type 'TestContactChanged' version 9"
    with pytest.raises(ValidationError) as refused:
        ContactChanged.model_validate({"client_id": "CL-1", "email": [EMAIL]})
    invalid = describe(InvalidEventData("TestContactChanged", 1, refused.value))
    assert invalid.startswith("InvalidEventData: ")
    assert "email" in invalid  # the field at fault, never its value
    assert EMAIL not in invalid
