"""Event type registry: one pydantic model per (type, schema version), upcasters for old versions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from libs.events.envelope import DomainEvent, RecordedEvent

E = TypeVar("E", bound=type[DomainEvent])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(LookupError):
    """An event whose type or version this process does not know: never silently dropped."""

    def __init__(self, event_type: str, version: int) -> None:
        super().__init__(f"unknown event type {event_type!r} version {version}")
        self.event_type = event_type
        self.version = version


class MissingUpcaster(UnknownEventType):
    """A stored version whose model is known but which cannot be brought to the latest version: the
    upcaster of one step on the way is not registered."""

    def __init__(self, event_type: str, version: int, missing_from: int, latest: int) -> None:
        LookupError.__init__(
            self,
            f"event {event_type!r} version {version} cannot be upcast to version {latest}: "
            f"no upcaster from version {missing_from} to {missing_from + 1}",
        )
        self.event_type = event_type
        self.version = version
        self.missing_from = missing_from
        self.latest = latest


class InvalidEventData(ValueError):
    """Data its model refuses. The message names each field at fault and why, never its value: it goes
    to dead letters, logs, spans and the dead-letter topic, and the value may be an opened personal one."""

    def __init__(self, event_type: str, version: int, error: ValidationError) -> None:
        faults = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(root)'}: {item['msg']}"
            for item in error.errors(include_input=False, include_url=False)
        )
        super().__init__(f"event {event_type!r} version {version} has invalid data: {faults}")
        self.event_type = event_type
        self.version = version


class EventRegistry:
    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._latest: dict[str, int] = {}

    def register(self, model: E) -> E:
        """Class decorator: `@registry.register` on a DomainEvent subclass."""
        key = (model.event_type, model.schema_version)
        if key in self._models and self._models[key] is not model:
            raise ValueError(f"event {key[0]!r} version {key[1]} registered twice")
        self._models[key] = model
        self._latest[model.event_type] = max(self._latest.get(model.event_type, 0), model.schema_version)
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator for a function turning data of `from_version` into data of `from_version + 1`."""

        def decorator(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorator

    def latest_version(self, event_type: str) -> int:
        try:
            return self._latest[event_type]
        except KeyError:
            raise UnknownEventType(event_type, 0) from None

    def model(self, event_type: str, version: int | None = None) -> type[DomainEvent]:
        version = version or self.latest_version(event_type)
        try:
            return self._models[(event_type, version)]
        except KeyError:
            raise UnknownEventType(event_type, version) from None

    def knows(self, event_type: str) -> bool:
        return event_type in self._latest

    def models(self) -> Iterator[type[DomainEvent]]:
        return iter(self._models.values())

    def upcast(self, event_type: str, version: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Data of any known version, brought up to the latest schema version."""
        if (event_type, version) not in self._models:
            raise UnknownEventType(event_type, version)
        latest = self.latest_version(event_type)
        upcasted = dict(data)
        for step_from in range(version, latest):
            step = self._upcasters.get((event_type, step_from))
            if step is None:
                raise MissingUpcaster(event_type, version, step_from, latest)
            upcasted = step(upcasted)
        return upcasted

    def decode(self, event: RecordedEvent) -> DomainEvent:
        """The event's data as the model of the latest schema version of its type."""
        data = self.upcast(event.type, event.version, event.data)
        model = self.model(event.type)
        try:
            return model.model_validate(data)
        except ValidationError as error:  # not chained: a logged traceback would quote the values
            raise InvalidEventData(event.type, event.version, error) from None


registry = EventRegistry()
"""The process-wide registry; libs.events.schemas registers every published event type in it."""
