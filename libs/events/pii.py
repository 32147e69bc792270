"""Personal data in events: marked on the models, sealed with a key per person, erased with the key.

Crypto-shredding for the right to erasure (GDPR Art. 17). A field holding a natural person's name,
e-mail or phone is annotated `Personal`, and the model (or one enclosing it) names whose data it
holds with `data_subject`:

    class AccountProvisioned(DomainEvent):
        data_subject: ClassVar[Subject] = Subject("account_id")
        email: Annotated[EmailStr, Personal]

A model nested in an event (a contract's contact persons, a SealedMessage to the person) names its own
subject or takes the enclosing model's.

A service's event store is wrapped in a `PersonalDataStore`: `append` seals each personal value with
its subject's key from the KeyVault (libs/events/vault.py, made on first use), and reads open them.
So the stored events, and everything that follows the store (the relay, Kafka, dead letters), hold
`pii:v1:<key id>:<base64url>` (a libsodium secretbox) where the value was. Consumers open the events
of a batch before decoding them (libs/events/projection.py). Once a subject's keys are deleted, its
values open as ERASED, which every Personal field accepts besides its own type: aggregates and
projections replay an erased person's events as before, and read "[erased]".

Events stored before this existed hold plain values: they still read as they are, but deleting a key
cannot erase them. A sealed value that reaches a model unopened (no vault given) is refused, never
taken for the data.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, TypeVar, get_args
from uuid import NAMESPACE_URL, uuid5

import structlog
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidatorFunctionWrapHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from libs.events.envelope import NewEvent, RecordedEvent
from libs.events.registry import EventRegistry, UnknownEventType
from libs.events.store import AppendResult, EventStore
from libs.events.vault import KeyVault, SubjectKey

ERASED: Final = "[erased]"
"""What a personal field reads once its subject's key is deleted."""

SEALED_PREFIX: Final = "pii:v1:"

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=NewEvent)


def is_erased(value: object) -> bool:
    return value == ERASED


def _erased_or_valid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if value == ERASED:
        return value
    if isinstance(value, str) and value.startswith(SEALED_PREFIX):
        raise ValueError("personal data still sealed: no key vault opened the event, or the value is damaged")
    return handler(value)


class _Personal:
    """The marker of a personal field: `Annotated[EmailStr, Personal]`. The field also accepts ERASED;
    its JSON Schema is the type's own plus `"x-personal": true` (published events carry it sealed)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_wrap_validator_function(_erased_or_valid, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "x-personal": True}

    def __repr__(self) -> str:
        return "Personal"


Personal: Final = _Personal()


@dataclass(frozen=True)
class Subject:
    """Whose personal data a model holds: the value of its field `field`, mapped by `derive` if given;
    None when the field is empty (then the model must hold no personal value to seal)."""

    field: str
    derive: Callable[[str], str] | None = None

    def of(self, data: Mapping[str, Any]) -> str | None:
        if data.get(self.field) is None:
            return None
        value = str(data[self.field])
        return self.derive(value) if self.derive is not None else value


def contact_subject(email: str) -> str:
    """The subject of a person known only by an address (a contract's contact person). Derived from
    the address, so erasing the account that logs in with it can delete this key too.

    Unkeyed, like the account id (uuid5 of the first address): whoever holds a candidate address can
    tell whether it is the subject of a key or an erasure. A keyed hash would not help while the
    account ids stay derivable from addresses (see docs/architecture.md, "Personal data and erasure")."""
    return str(uuid5(NAMESPACE_URL, f"urn:strefa:contact:{email.strip().lower()}"))


# --- where a model holds personal data ------------------------------------------------------------


@dataclass(frozen=True)
class PersonalFields:
    """The personal fields of a model, and of the models nested in it (alone, optional or in a list)."""

    subject: Subject | None
    fields: tuple[str, ...]
    nested: tuple[tuple[str, PersonalFields], ...]

    def subjects_declared(self, inherited: bool = False) -> bool:
        """Whether every personal field has a subject (its model's, or an enclosing model's)."""
        named = inherited or self.subject is not None
        return (named or not self.fields) and all(inner.subjects_declared(named) for _, inner in self.nested)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if get_args(annotation):
        for arg in get_args(annotation):
            yield from _models_in(arg)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation


@cache
def personal_fields(model: type[BaseModel]) -> PersonalFields | None:
    """Where `model` holds personal data; None when nowhere."""
    fields: list[str] = []
    nested: list[tuple[str, PersonalFields]] = []
    for name, info in model.model_fields.items():
        if any(meta is Personal for meta in info.metadata):
            fields.append(name)
            continue
        nested.extend((name, inner) for m in _models_in(info.annotation) if (inner := personal_fields(m)) is not None)
    if not fields and not nested:
        return None
    return PersonalFields(getattr(model, "data_subject", None), tuple(fields), tuple(nested))


Slot = tuple[dict[str, Any], str, str | None]
"""A personal value in event data: the dict holding it, its key there, and whose it is."""


def _slots(data: dict[str, Any], where: PersonalFields, subject: str | None, with_subjects: bool) -> Iterator[Slot]:
    if with_subjects and where.subject is not None:
        subject = where.subject.of(data)
    for name in where.fields:
        if isinstance(data.get(name), str):
            yield data, name, subject
    for name, inner in where.nested:
        value = data.get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                yield from _slots(item, inner, subject, with_subjects)


# --- sealing and opening --------------------------------------------------------------------------


def _seal(value: str, key: SubjectKey) -> str:
    box = SecretBox(key.secret).encrypt(value.encode())
    return f"{SEALED_PREFIX}{key.key_id}:{base64.urlsafe_b64encode(bytes(box)).decode()}"


def _key_id(value: str) -> str | None:
    return value[len(SEALED_PREFIX) :].partition(":")[0] if value.startswith(SEALED_PREFIX) else None


def _open(value: str, secrets: Mapping[str, bytes]) -> str:
    """The plain value; ERASED when its key is gone; the value unchanged (still sealed, so decoding
    refuses the event) when the key cannot open it."""
    key_id, _, sealed = value[len(SEALED_PREFIX) :].partition(":")
    secret = secrets.get(key_id)
    if secret is None:
        return ERASED
    try:
        return SecretBox(secret).decrypt(base64.urlsafe_b64decode(sealed)).decode()
    except (CryptoError, binascii.Error, UnicodeDecodeError):
        log.warning("personal_value_damaged", key_id=key_id)
        return value


class PersonalData:
    """Seals and opens the personal fields of events with their subjects' keys."""

    def __init__(self, vault: KeyVault, registry: EventRegistry) -> None:
        self.vault = vault
        self._registry = registry

    async def seal(self, events: Sequence[E]) -> list[E]:
        """Copies of `events` with every personal value sealed. Raises SubjectErased for an erased subject."""
        copies, found = self._copies(events, with_subjects=True)
        slots = [(data, name, subject) for data, name, subject in found if data[name] != ERASED]
        if not slots:
            return list(events)
        subjects: set[str] = set()
        for _, name, subject in slots:
            if subject is None:
                raise TypeError(
                    f"personal field {name!r} has no data subject: declare `data_subject` on its model (or an "
                    "enclosing one) and fill the field it names"
                )
            subjects.add(subject)
        keys = await self.vault.keys_for(subjects)
        for data, name, subject in slots:
            data[name] = _seal(data[name], keys[str(subject)])
        return _with_data(events, copies)

    async def open(self, events: Sequence[E]) -> list[E]:
        """Copies of `events` with every sealed value opened, or ERASED where the key is gone."""
        copies, slots = self._copies(events, with_subjects=False)
        sealed = [(data, name, key_id) for data, name, _ in slots if (key_id := _key_id(data[name])) is not None]
        if not sealed:
            return list(events)
        secrets = await self.vault.find({key_id for _, _, key_id in sealed})
        for data, name, _ in sealed:
            data[name] = _open(data[name], secrets)
        return _with_data(events, copies)

    def _copies(self, events: Sequence[E], with_subjects: bool) -> tuple[list[dict[str, Any] | None], list[Slot]]:
        copies: list[dict[str, Any] | None] = []
        slots: list[Slot] = []
        for event in events:
            where = self._personal_fields(event)
            data = copy.deepcopy(dict(event.data)) if where is not None else None
            copies.append(data)
            if data is not None and where is not None:
                slots.extend(_slots(data, where, None, with_subjects))
        return copies, slots

    def _personal_fields(self, event: NewEvent) -> PersonalFields | None:
        try:
            model = self._registry.model(event.type, event.version)
        except UnknownEventType:
            return None  # decoding it will say so
        return personal_fields(model)


def _with_data(events: Sequence[E], copies: Sequence[dict[str, Any] | None]) -> list[E]:
    return [
        event if data is None else event.model_copy(update={"data": data})
        for event, data in zip(events, copies, strict=True)
    ]


class PersonalDataStore:
    """A service's event store as its command handlers see it: personal values sealed on append and
    opened on read. The store inside, and the relay and event log following it, hold them sealed."""

    def __init__(self, store: EventStore, personal: PersonalData) -> None:
        self.inner = store
        self.name = store.name
        self.personal = personal

    async def append(self, stream_id: str, events: Sequence[NewEvent], expected_version: int | None) -> AppendResult:
        return await self.inner.append(stream_id, await self.personal.seal(events), expected_version)

    async def read_stream(self, stream_id: str, from_version: int = 0) -> list[RecordedEvent]:
        return await self.personal.open(await self.inner.read_stream(stream_id, from_version))

    async def read_all(self, after: int | None = None, limit: int = 1000) -> list[RecordedEvent]:
        return await self.personal.open(await self.inner.read_all(after, limit))

    async def head_position(self) -> int | None:
        return await self.inner.head_position()

    async def subscribe(self, after: int | None = None) -> AsyncGenerator[RecordedEvent, None]:
        async for event in self.inner.subscribe(after):
            (opened,) = await self.personal.open([event])
            yield opened

    async def ping(self) -> None:
        await self.inner.ping()

    async def close(self) -> None:
        await self.inner.close()
