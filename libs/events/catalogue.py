"""The event catalogue: what the Kafka topics carry, published for consumers outside the services.

Built from the registered models alone (pure: models in, documents out) and written under docs/events/:
an AsyncAPI 3.0 document of the topics (`asyncapi.yaml`) and one JSON Schema (2020-12) of the `data`
of each event type and schema version (`schemas/<service>/<EventType>.v<N>.json`). A model belongs to
the service whose module in libs/events/schemas defines it; its events go onto that service's topic.

The committed schema files are the published contract: a version once published must stay readable by
its consumers, and its events stay on the topics for good (retention is unlimited). `compatibility_breaks`
names what a change would break (a field removed or retyped, an optional field made required, a value
of an enum removed); adding an optional field is fine. Writing refuses a breaking change, and `--check`
(the contract tests) fails on it and on anything out of date:

    python -m libs.events.catalogue [--check] [--out docs/events]
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from uuid import NAMESPACE_URL, uuid5

import typer
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema
from rich.console import Console
from rich.markup import escape

from libs.events import schemas as published_schemas
from libs.events.envelope import DomainEvent, RecordedEvent
from libs.events.kafka import KafkaConfig, event_headers
from libs.events.pii import SEALED_PREFIX
from libs.events.registry import registry

SCHEMAS_PACKAGE = published_schemas.__name__
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = PurePosixPath("asyncapi.yaml")
SCHEMAS_DIR = PurePosixPath("schemas")
KAFKA = KafkaConfig(bootstrap="{bootstrap}")
"""Topic names and partitions as the services create them (kafka.py)."""
TOPIC_CONFIGURATION = {"retention.ms": -1, "retention.bytes": -1}
"""As `ensure_topics` creates every topic: the topics are the integration log, kept for good."""
KAFKA_BINDING_VERSION = "0.5.0"

_SCHEMA_FILE = re.compile(r"^(?P<type>[A-Za-z0-9]+)\.v(?P<version>[1-9][0-9]*)\.json$")
_EXAMPLE_TIME = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
_EXAMPLE_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
_FORMAT_EXAMPLES = {
    "date": "2026-01-15",
    "date-time": "2026-01-15T08:30:00Z",
    "decimal": "100.00",
    "email": "jan.kowalski@example.com",
    "uri": "https://example.com/",
    "uuid": "3f2b8c1e-5d4a-4e6f-9b7c-2a1d0e9f8c7b",
}
_STRING_EXAMPLES = ("string", "PLN", "100.00", "1")
"""Tried in turn against a `pattern`; an example needing none of them is left out."""

ENVELOPE_FIELDS = {
    "event_id": "Unique id of the event, also in the `ce_id` header. Delivery is at least once: skip an id "
    "already processed.",
    "type": "The event type; `data` follows the schema of this type and `version`.",
    "version": "The schema version of `data`.",
    "data": "The event's data: the JSON Schema of its type and version.",
    "occurred_at": "When the event was recorded (UTC).",
    "correlation_id": "The conversation it belongs to: every event a request caused carries the same id.",
    "causation_id": "The event (or command) that caused this one, if any.",
    "client_id": "The leasing client (tenant) the event concerns, if any.",
    "actor": "Who caused it: `account:<account id>` for a person in the portal, else the back office or a "
    "process of the portal.",
    "trace_context": "The W3C trace context (`traceparent`, `tracestate`) the event was recorded in.",
    "stream_id": "`<service>-<aggregate>-<id>`: the stream (aggregate instance); also the record key.",
    "stream_version": "Position of the event in its stream, from 0: orders the events of one stream.",
    "global_position": "Position in the producing service's event store, increasing in append order.",
}
"""The envelope's fields as consumers should read them (a test keeps this in step with RecordedEvent)."""

EVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "Kafka record headers: CloudEvents attributes (Kafka protocol binding, binary mode, `ce_` "
    "prefix) and the W3C trace context. Values are UTF-8 strings.",
    "required": [
        "ce_specversion",
        "ce_id",
        "ce_type",
        "ce_source",
        "ce_subject",
        "ce_time",
        "ce_schemaversion",
        "ce_correlationid",
        "content-type",
    ],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "format": "uuid", "description": "The envelope's `event_id`."},
        "ce_type": {"type": "string", "description": "The envelope's `type`."},
        "ce_source": {"type": "string", "description": "`/<service>`: the service that recorded the event."},
        "ce_subject": {"type": "string", "description": "The envelope's `stream_id` (also the record key)."},
        "ce_time": {"type": "string", "format": "date-time", "description": "The envelope's `occurred_at`."},
        "ce_schemaversion": {"type": "string", "description": "The envelope's `version`, in decimal."},
        "ce_correlationid": {"type": "string", "format": "uuid", "description": "The envelope's `correlation_id`."},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context to continue, when there is one."},
        "tracestate": {"type": "string", "description": "W3C trace state, when there is one."},
    },
}
"""What `kafka.event_headers` writes (a test keeps the two in step)."""

SEALED_VALUE_NAME = "SealedPersonalValue"
SEALED_VALUE = {
    "type": "string",
    "pattern": f"^{re.escape(SEALED_PREFIX)}[0-9a-f]+:[A-Za-z0-9_-]+=*$",
    "description": f"Personal data, sealed: `{SEALED_PREFIX}<key id>:<base64url>`, a libsodium secretbox with the "
    "person's key, which only the portal holds (and deletes when it erases the person).",
}
"""How a field marked `x-personal` travels (libs/events/pii.py); events older than sealing carry it plain."""
_EXAMPLE_SEALED = f"{SEALED_PREFIX}5f0e3c9a2b7d4e8196a1c0d2e3f4a5b6:c2VhbGVkIHBlcnNvbmFsIGRhdGEgKGV4YW1wbGUp"

DEAD_LETTER_HEADERS = {
    "dlq_consumer": "The consumer (projection or reactor) that could not apply the event.",
    "dlq_error": "Why, as text (at most 8 KiB).",
    "dlq_recorded_at": "When it was dead-lettered (ISO 8601, UTC).",
}
UNREADABLE_RECORD_HEADERS = {
    "dlq_consumer_group": "The consumer group that could not read the record.",
    "dlq_source_topic": "The topic the record was read from.",
    "dlq_source_partition": "Its partition.",
    "dlq_source_offset": "Its offset in that partition.",
    "dlq_error": "Why it is no event envelope (the error's type; never the record's content).",
    "dlq_recorded_at": "When it was dead-lettered (ISO 8601, UTC).",
}


# ------------------------------------------------------------------------------------------ the models


def owner(model: type[DomainEvent]) -> str:
    """The service publishing `model`: the name of its module in libs/events/schemas."""
    package, _, service = model.__module__.rpartition(".")
    if package != SCHEMAS_PACKAGE:
        raise ValueError(f"{model.__qualname__} is not a published event: it is not defined in {SCHEMAS_PACKAGE}")
    return service


def published_models(models: Iterable[type[DomainEvent]]) -> list[type[DomainEvent]]:
    """The models defined in libs/events/schemas, by service, type and version; others (tests') are left out."""
    published = [model for model in models if model.__module__.rpartition(".")[0] == SCHEMAS_PACKAGE]
    services_of: dict[str, set[str]] = {}
    for model in published:
        services_of.setdefault(model.event_type, set()).add(owner(model))
    shared = {event_type: sorted(services) for event_type, services in services_of.items() if len(services) > 1}
    if shared:
        raise ValueError(f"event types published by more than one service: {shared}")
    return sorted(published, key=lambda model: (owner(model), model.event_type, model.schema_version))


def message_id(model: type[DomainEvent]) -> str:
    """The model's key among the AsyncAPI document's messages and schemas (letters, digits and `_` only)."""
    return f"{model.event_type}_v{model.schema_version}"


def schema_path(model: type[DomainEvent]) -> PurePosixPath:
    """Where the model's JSON Schema lives, relative to the catalogue's folder."""
    return SCHEMAS_DIR / owner(model) / f"{model.event_type}.v{model.schema_version}.json"


@cache
def field_docstrings(cls: type) -> dict[str, str]:
    """The docstrings written under a class's field declarations (`amount: Money` then a string)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    definition = ast.parse(source).body[0]
    if not isinstance(definition, ast.ClassDef):
        return {}
    docs: dict[str, str] = {}
    for statement, following in zip(definition.body, definition.body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[statement.target.id] = inspect.cleandoc(following.value.value)
    return docs


def description(model: type[DomainEvent]) -> str:
    own = model.__dict__.get("__doc__")
    if own:
        return inspect.cleandoc(own)
    return f"{model.event_type}, schema version {model.schema_version}, on {KAFKA.topic(owner(model))}."


class WireSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema of what `model_dump(mode="json")` writes, as consumers read it.

    Decimals are strings marked `format: decimal` (never floats). Objects do not forbid other properties:
    a version may gain optional fields, and readers ignore what they do not know. Fields get the
    docstrings written under them."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        json_schema = super().decimal_schema(schema)
        if json_schema.get("type") == "string":
            json_schema["format"] = "decimal"
        return json_schema

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        if json_schema.get("additionalProperties") is False:
            del json_schema["additionalProperties"]
        cls: type[BaseModel] = schema["cls"]
        properties = json_schema.get("properties", {})
        fields = cls.model_fields
        docs: dict[str, str] = {}
        for model in reversed(cls.__mro__):  # inherited fields keep their docstrings, overridden ones get the new
            if issubclass(model, BaseModel) and model is not BaseModel:
                docs.update(field_docstrings(model))
        for name, doc in docs.items():
            key = (fields[name].alias or name) if name in fields else name
            if isinstance(properties.get(key), dict):
                properties[key].setdefault("description", doc)
        return json_schema


_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated", "x-personal"})


def with_sealed_personal_data(value: Any, sealed_ref: str) -> Any:
    """`value` (a JSON Schema) with every `x-personal` value as it travels: sealed (`sealed_ref`, the
    reference to SEALED_VALUE), or plain in events older than sealing."""
    if isinstance(value, list):
        return [with_sealed_personal_data(item, sealed_ref) for item in value]
    if not isinstance(value, dict):
        return value
    schema = {key: with_sealed_personal_data(item, sealed_ref) for key, item in value.items()}
    if isinstance(schema.get("anyOf"), list):
        choices: list[Any] = []
        for choice in schema["anyOf"]:
            if isinstance(choice, dict) and set(choice) == {"anyOf", "x-personal"}:
                choices.extend(choice["anyOf"])  # an optional personal value: one union, not two nested
                schema["x-personal"] = True
            else:
                choices.append(choice)
        schema["anyOf"] = choices
    if schema.get("x-personal") is not True:
        return schema
    sealed = {"$ref": sealed_ref}
    if "anyOf" in schema:  # `Annotated[EmailStr | None, Personal]`
        if sealed not in schema["anyOf"]:
            schema["anyOf"] = [sealed, *schema["anyOf"]]
        return schema
    plain = {key: item for key, item in schema.items() if key not in _ANNOTATIONS}
    return {**{key: item for key, item in schema.items() if key in _ANNOTATIONS}, "anyOf": [sealed, plain]}


def _pydantic_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="serialization", schema_generator=WireSchema)


def wire_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of the model's data as it is written (`WireSchema`, personal values sealed),
    nested models in `$defs`."""
    sealed_ref = f"#/$defs/{SEALED_VALUE_NAME}"
    schema: dict[str, Any] = with_sealed_personal_data(_pydantic_schema(model), sealed_ref)
    if sealed_ref in _references(schema):
        schema.setdefault("$defs", {})[SEALED_VALUE_NAME] = SEALED_VALUE
    return schema


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {value["$ref"]} if "$ref" in value else set().union(*map(_references, value.values()))
    if isinstance(value, list):
        return set().union(*map(_references, value))
    return set()


def event_schema(model: type[DomainEvent]) -> dict[str, Any]:
    """The published JSON Schema (2020-12) of the model's data: self-contained, with `$id` and title."""
    wire = wire_schema(model)
    wire.pop("title", None)
    wire.pop("description", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:strefa-klienta:event:{owner(model)}:{model.event_type}:v{model.schema_version}",
        "title": model.event_type,
        "description": description(model),
        **wire,
    }


# ---------------------------------------------------------------------------------------------- examples


def _example_value(schema: Mapping[str, Any], defs: Mapping[str, Any], complete: bool = False) -> Any:
    """The smallest value `schema` describes: required properties only, the first choice of each union.
    `complete`: every property, and one item in every list."""
    if "$ref" in schema:
        return _example_value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, complete)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            choices = [choice for choice in schema[union] if choice.get("type") != "null"]
            return _example_value(choices[0], defs, complete) if choices else None
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        names = properties if complete else schema.get("required", [])
        return {name: _example_value(properties.get(name, {}), defs, complete) for name in names}
    if kind == "array":
        count = max(schema.get("minItems", 0), 1 if complete else 0)
        return [_example_value(schema.get("items", {}), defs, complete) for _ in range(count)]
    if kind == "string":
        if schema.get("format") in _FORMAT_EXAMPLES:
            return _FORMAT_EXAMPLES[schema["format"]]
        pattern = schema.get("pattern")
        return next((text for text in _STRING_EXAMPLES if pattern is None or re.search(pattern, text)), "string")
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
    if kind == "boolean":
        return False
    return None


def minimal_data(model: type[DomainEvent], complete: bool = False) -> dict[str, Any] | None:
    """A minimal valid instance of the model, as JSON (`complete`: every field given, every list with an
    item); None when none could be made up."""
    schema = _pydantic_schema(model)
    candidate = _example_value(schema, schema.get("$defs", {}), complete)
    try:
        instance = model.model_validate_json(json.dumps(candidate))
    except ValidationError:
        return None
    return instance.model_dump(mode="json")


def _sealed_example(value: Any, schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    """`value` with its personal values replaced by a sealed-looking one (real ones are random)."""
    if "$ref" in schema:
        return _sealed_example(value, defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if schema.get("x-personal") is True and isinstance(value, str):
        return _EXAMPLE_SEALED
    if isinstance(value, dict):
        choices = [schema, *schema.get("anyOf", [])]
        for choice in choices:
            choice = defs[choice["$ref"].rsplit("/", 1)[-1]] if "$ref" in choice else choice
            if "properties" in choice:
                properties = choice["properties"]
                return {key: _sealed_example(item, properties.get(key, {}), defs) for key, item in value.items()}
    if isinstance(value, list):
        items: Mapping[str, Any] = next(
            (choice["items"] for choice in [schema, *schema.get("anyOf", [])] if "items" in choice), {}
        )
        return [_sealed_example(item, items, defs) for item in value]
    return value


def example_event(model: type[DomainEvent]) -> RecordedEvent | None:
    """An event of the model's type and version as the relay publishes it (personal values sealed),
    with minimal data."""
    data = minimal_data(model)
    if data is None:
        return None
    schema = wire_schema(model)
    data = _sealed_example(data, schema, schema.get("$defs", {}))
    seed = f"urn:strefa-klienta:catalogue-example:{model.event_type}:{model.schema_version}"
    return RecordedEvent(
        event_id=uuid5(NAMESPACE_URL, seed),
        type=model.event_type,
        version=model.schema_version,
        data=data,
        occurred_at=_EXAMPLE_TIME,
        correlation_id=uuid5(NAMESPACE_URL, f"{seed}:correlation"),
        trace_context={"traceparent": _EXAMPLE_TRACEPARENT},
        stream_id=f"{owner(model)}-example-1",
        stream_version=0,
        global_position=1,
    )


# ---------------------------------------------------------------------------------------- AsyncAPI 3.0


def _rewrite_refs(value: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            key: renamed.get(item, item) if key == "$ref" else _rewrite_refs(item, renamed)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(item, renamed) for item in value]
    return value


def component_schemas(models: Sequence[type[DomainEvent]]) -> dict[str, Any]:
    """Every model's data schema under its message id, nested models under pydantic's (unique) names."""
    template = "#/components/schemas/{model}"
    refs, top = models_json_schema(
        [(model, "serialization") for model in models], ref_template=template, schema_generator=WireSchema
    )
    definitions: dict[str, Any] = top.get("$defs", {})
    renamed = {refs[(model, "serialization")]["$ref"]: template.format(model=message_id(model)) for model in models}
    schemas: dict[str, Any] = {}
    for model in models:
        old_name = refs[(model, "serialization")]["$ref"].rsplit("/", 1)[-1]
        schema = definitions.pop(old_name)
        schema.pop("description", None)
        schema.pop("title", None)
        schemas[message_id(model)] = {"title": model.event_type, "description": description(model), **schema}
        schemas[message_id(model)].pop("$defs", None)
    schemas.update(sorted(definitions.items()))
    schemas[SEALED_VALUE_NAME] = SEALED_VALUE
    return with_sealed_personal_data(  # type: ignore[no-any-return]
        _rewrite_refs(schemas, renamed), template.format(model=SEALED_VALUE_NAME)
    )


def envelope_schema() -> dict[str, Any]:
    schema = RecordedEvent.model_json_schema(mode="serialization")
    for name, text in ENVELOPE_FIELDS.items():
        schema["properties"][name]["description"] = text
    return {
        **schema,
        "title": "Envelope",
        "description": "The Kafka record's value: the event's envelope, `RecordedEvent` as JSON. Every field is "
        "always present (null when it has no value).",
        "required": list(schema["properties"]),
    }


def _message(model: type[DomainEvent], example: RecordedEvent | None) -> dict[str, Any]:
    service, key = owner(model), message_id(model)
    text = description(model)
    summary = text.split("\n\n", 1)[0].replace("\n", " ")
    message: dict[str, Any] = {
        "name": model.event_type,
        "title": f"{model.event_type} v{model.schema_version}",
        **({"summary": summary} if summary != text else {}),
        "description": text,
        "contentType": "application/json",
        "correlationId": {"$ref": "#/components/correlationIds/correlationId"},
        "headers": {
            "type": "object",
            "allOf": [{"$ref": "#/components/schemas/EventHeaders"}],
            "properties": {
                "ce_type": {"const": model.event_type},
                "ce_source": {"const": f"/{service}"},
                "ce_schemaversion": {"const": str(model.schema_version)},
            },
        },
        "payload": {
            "type": "object",
            "allOf": [{"$ref": "#/components/schemas/Envelope"}],
            "properties": {
                "type": {"const": model.event_type},
                "version": {"const": model.schema_version},
                "data": {"$ref": f"#/components/schemas/{key}"},
            },
        },
        "bindings": {"$ref": "#/components/messageBindings/streamKey"},
        "x-json-schema": str(schema_path(model)),
    }
    if example is not None:
        message["examples"] = [
            {
                "name": "minimal",
                "summary": "Required fields only, as the relay publishes it.",
                "headers": {name: value.decode() for name, value in event_headers(example, service)},
                "payload": json.loads(example.to_json()),
            }
        ]
    return message


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "An event a consumer could not apply, with the reason.",
        "description": "The event as it was on its topic (any type and version of any service: its `data` "
        "follows the schema of that type and version), with the event's headers and three more.",
        "contentType": "application/json",
        "correlationId": {"$ref": "#/components/correlationIds/correlationId"},
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"$ref": "#/components/schemas/Envelope"},
        "bindings": {"$ref": "#/components/messageBindings/streamKey"},
    }


def _unreadable_record_message() -> dict[str, Any]:
    return {
        "name": "UnreadableRecord",
        "title": "Unreadable record",
        "summary": "A record on an events topic that is no event envelope at all, as it came.",
        "description": "The record's value, key and headers exactly as they were on their topic (so the payload "
        "may be anything, even not JSON), with six headers naming where it came from and why it was set aside.",
        "headers": {"$ref": "#/components/schemas/UnreadableRecordHeaders"},
        "payload": {"description": "The record's value as it was, unchanged."},
    }


def _channel_bindings(topic: str) -> dict[str, Any]:
    return {
        "kafka": {
            "topic": topic,
            "partitions": KAFKA.partitions,
            "topicConfiguration": TOPIC_CONFIGURATION,
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def asyncapi_document(models: Sequence[type[DomainEvent]], version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the topics: one channel per service, one message per type and version."""
    by_service: dict[str, list[type[DomainEvent]]] = {}
    for model in models:
        by_service.setdefault(owner(model), []).append(model)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for service, owned in by_service.items():
        topic = KAFKA.topic(service)
        channels[service] = {
            "address": topic,
            "title": f"{service} events",
            "description": f"Every event the {service} service records, in the order of each stream.",
            "messages": {message_id(model): {"$ref": f"#/components/messages/{message_id(model)}"} for model in owned},
            "bindings": _channel_bindings(topic),
        }
        operations[f"receive{service.title()}Events"] = {
            "action": "receive",
            "title": f"Consume the {service} events",
            "summary": f"Read {topic} in a consumer group of your own; commit offsets after processing.",
            "channel": {"$ref": f"#/channels/{service}"},
            "messages": [{"$ref": f"#/channels/{service}/messages/{message_id(model)}"} for model in owned],
        }
        messages.update((message_id(model), _message(model, example_event(model))) for model in owned)
    channels["deadLetters"] = {
        "address": KAFKA.dead_letter_topic,
        "title": "Dead letters",
        "description": "Events a projection or reactor of the portal could not apply, and records on an events "
        "topic that are no event at all, for operators and audit.",
        "messages": {
            "DeadLetter": {"$ref": "#/components/messages/DeadLetter"},
            "UnreadableRecord": {"$ref": "#/components/messages/UnreadableRecord"},
        },
        "bindings": _channel_bindings(KAFKA.dead_letter_topic),
    }
    operations["receiveDeadLetters"] = {
        "action": "receive",
        "title": "Consume the dead letters",
        "channel": {"$ref": "#/channels/deadLetters"},
        "messages": [
            {"$ref": "#/channels/deadLetters/messages/DeadLetter"},
            {"$ref": "#/channels/deadLetters/messages/UnreadableRecord"},
        ],
    }
    messages["DeadLetter"] = _dead_letter_message()
    messages["UnreadableRecord"] = _unreadable_record_message()
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Strefa Klienta events",
            "version": version,
            "description": _INFO,
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The portal's Kafka cluster.",
                "variables": {
                    "bootstrap": {
                        "description": "The brokers, as the services' KAFKA_BOOTSTRAP.",
                        "default": "kafka:9092",
                        "examples": ["kafka:9092", "kafka-0.kafka:9092,kafka-1.kafka:9092,kafka-2.kafka:9092"],
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": {
                "Envelope": envelope_schema(),
                "EventHeaders": EVENT_HEADERS,
                "DeadLetterHeaders": {
                    "type": "object",
                    "description": "The headers of the event, and why it was dead-lettered.",
                    "allOf": [{"$ref": "#/components/schemas/EventHeaders"}],
                    "required": list(DEAD_LETTER_HEADERS),
                    "properties": {
                        name: {"type": "string", "description": text} for name, text in DEAD_LETTER_HEADERS.items()
                    },
                },
                "UnreadableRecordHeaders": {
                    "type": "object",
                    "description": "The record's own headers, if any, and where it came from and why it was set aside.",
                    "required": list(UNREADABLE_RECORD_HEADERS),
                    "properties": {
                        name: {"type": "string", "description": text}
                        for name, text in UNREADABLE_RECORD_HEADERS.items()
                    },
                },
                **component_schemas(models),
            },
            "messages": messages,
            "correlationIds": {
                "correlationId": {
                    "description": "The conversation the event belongs to (also the payload's `correlation_id`).",
                    "location": "$message.header#/ce_correlationid",
                }
            },
            "messageBindings": {
                "streamKey": {
                    "kafka": {
                        "key": {
                            "type": "string",
                            "description": "The stream id (`<service>-<aggregate>-<id>`): the events of one "
                            "stream share a partition and keep their order.",
                        },
                        "bindingVersion": KAFKA_BINDING_VERSION,
                    }
                }
            },
        },
    }


_INFO = """\
The events of the client portal's services, as their relays publish them to Kafka: one topic per
service, the record's value the event's envelope as JSON (its `data` per event type and schema
version), its key the stream id, its headers CloudEvents attributes and the W3C trace context.

Reading them:
- Delivery is at least once: an event may come twice; `event_id` identifies it.
- Order holds within a stream (one key, one partition), not across streams or topics.
- Retention is unlimited: a new consumer group reads every event ever published, so every schema
  version listed here may still arrive. A version, once published, never changes incompatibly;
  a new version of a type is a new message here.
- Ignore fields you do not know: a version may gain optional fields.
- Amounts are decimal strings (`format: decimal`), never floats; dates are ISO 8601, times UTC.
- Personal data (names, e-mails, phones of people; marked `x-personal: true`) travels sealed with
  the person's key (`SealedPersonalValue`), which only the portal holds: it reads as opaque text,
  and erasing the person deletes the key. Events recorded before sealing carry the plain value.

The JSON Schema (2020-12) of each type and version is beside this document, under
`schemas/<service>/<EventType>.v<N>.json`.
"""


# --------------------------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so descriptions read as written; no anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render(models: Sequence[type[DomainEvent]], version: str) -> dict[PurePosixPath, str]:
    """Every file of the catalogue (relative path -> content), the same bytes for the same models."""
    files = {
        schema_path(model): json.dumps(event_schema(model), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for model in models
    }
    document = asyncapi_document(models, version)
    files[ASYNCAPI_FILE] = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False
    )
    return files


# ------------------------------------------------------------------------------------------ compatibility


_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """`schema` with its local `$ref` (`#/...`) followed, sibling keywords kept."""
    seen: set[str] = set()
    while "$ref" in schema and schema["$ref"] not in seen:
        ref = schema["$ref"]
        seen.add(ref)
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        schema = {**target, **{key: value for key, value in schema.items() if key != "$ref"}}
    return schema


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(sorted(kind))
    if kind is not None:
        return str(kind)
    if "properties" in schema:
        return "object"
    if "const" in schema or "enum" in schema:
        return "value"
    return "anything"


def _describe(schema: Mapping[str, Any]) -> str:
    if "pattern" in schema:
        return f"{_kind(schema)} matching {schema['pattern']!r}"
    if "format" in schema:
        return f"{_kind(schema)} ({schema['format']})"
    return _kind(schema)


def _values(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _refines(choice: Mapping[str, Any], former: Mapping[str, Any]) -> bool:
    """Whether `choice` is `former` with a pattern added: each of its values is one of `former`'s (a
    published free-text field now also travelling sealed, its plain form kept beside)."""

    def constraints(schema: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in schema.items() if key not in _ANNOTATIONS and key != "pattern"}

    return "pattern" in choice and "pattern" not in former and constraints(choice) == constraints(former)


def _field(path: str) -> str:
    return f"field '{path}'" if path else "the data"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Comparison:
    def __init__(self, published_root: Mapping[str, Any], current_root: Mapping[str, Any]) -> None:
        self.published_root = published_root
        self.current_root = current_root

    def breaks(self, published: Mapping[str, Any], current: Mapping[str, Any], path: str, depth: int = 0) -> list[str]:
        if depth > 50:  # a recursive model: what is above was compared already
            return []
        published = _resolve(published, self.published_root)
        current = _resolve(current, self.current_root)
        if any(union in published or union in current for union in ("anyOf", "oneOf")):
            return self._union(published, current, path, depth)
        return self._single(published, current, path, depth)

    def _union(self, published: Mapping[str, Any], current: Mapping[str, Any], path: str, depth: int) -> list[str]:
        def choices(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
            listed = schema.get("anyOf") or schema.get("oneOf") or [schema]
            return [_resolve(choice, root) for choice in listed]

        old, new = choices(published, self.published_root), choices(current, self.current_root)
        problems: list[str] = []
        answered: set[int] = set()  # current choices compared with an old one: each difference is told once
        for choice in old:
            same_kind = [index for index, candidate in enumerate(new) if _kind(candidate) == _kind(choice)]
            if not same_kind:
                problems.append(f"{_field(path)} can no longer be {_kind(choice)}")
                continue
            found = {index: self.breaks(choice, new[index], path, depth + 1) for index in same_kind}
            fitting = [index for index, breaks in found.items() if not breaks]
            answered.update(fitting or same_kind[:1])
            if not fitting:
                problems.extend(found[same_kind[0]])
        for index, choice in enumerate(new):
            if index in answered or any(_refines(choice, former) for former in old):
                continue
            if all(self.breaks(former, choice, path, depth + 1) for former in old):
                problems.append(f"{_field(path)} may now be {_describe(choice)}")
        return problems

    def _single(self, published: Mapping[str, Any], current: Mapping[str, Any], path: str, depth: int) -> list[str]:
        if _kind(published) != _kind(current):
            return [f"{_field(path)} changed type from {_kind(published)} to {_kind(current)}"]
        problems: list[str] = []
        if published.get("format") != current.get("format"):
            old_format, new_format = published.get("format", "none"), current.get("format", "none")
            problems.append(f"{_field(path)} changed format from {old_format} to {new_format}")
        if published.get("pattern") != current.get("pattern"):
            problems.append(
                f"{_field(path)} changed pattern from {published.get('pattern')!r} to {current.get('pattern')!r}"
            )
        old_values, new_values = _values(published), _values(current)
        if old_values is not None and new_values is None:
            problems.append(f"{_field(path)} is no longer limited to {old_values}")
        elif old_values is None and new_values is not None:
            problems.append(f"{_field(path)} is now limited to {new_values}")
        elif old_values is not None and new_values is not None:
            removed = [value for value in old_values if value not in new_values]
            if removed:
                problems.append(f"{_field(path)} lost the value(s) {', '.join(map(repr, removed))}")
        for bound in _LOWER_BOUNDS:
            if bound in current and current[bound] > published.get(bound, float("-inf")):
                problems.append(f"{_field(path)} narrowed: {bound} {published.get(bound)} -> {current[bound]}")
        for bound in _UPPER_BOUNDS:
            if bound in current and current[bound] < published.get(bound, float("inf")):
                problems.append(f"{_field(path)} narrowed: {bound} {published.get(bound)} -> {current[bound]}")
        problems.extend(self._object(published, current, path, depth))
        if isinstance(published.get("items"), dict) and isinstance(current.get("items"), dict):
            problems.extend(self.breaks(published["items"], current["items"], f"{path}[]", depth + 1))
        old_tuple, new_tuple = published.get("prefixItems", []), current.get("prefixItems", [])
        if len(old_tuple) != len(new_tuple):
            problems.append(f"{_field(path)} changed from {len(old_tuple)} to {len(new_tuple)} positional items")
        for index, (old_item, new_item) in enumerate(zip(old_tuple, new_tuple, strict=False)):
            problems.extend(self.breaks(old_item, new_item, f"{path}[{index}]", depth + 1))
        return problems

    def _object(self, published: Mapping[str, Any], current: Mapping[str, Any], path: str, depth: int) -> list[str]:
        problems: list[str] = []
        old_properties, new_properties = published.get("properties", {}), current.get("properties", {})
        for name, schema in old_properties.items():
            if name not in new_properties:
                problems.append(f"{_field(_join(path, name))} removed")
            else:
                problems.extend(self.breaks(schema, new_properties[name], _join(path, name), depth + 1))
        old_required = set(published.get("required", []))
        for name in current.get("required", []):
            if name in old_required:
                continue
            if name in old_properties:
                problems.append(f"optional {_field(_join(path, name))} made required")
            else:
                problems.append(f"new {_field(_join(path, name))} is required (a new field must have a default)")
        old_extra, new_extra = published.get("additionalProperties"), current.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            problems.extend(self.breaks(old_extra, new_extra, f"{path}{{*}}", depth + 1))
        return problems


def compatibility_breaks(published: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What a consumer of the `published` JSON Schema would trip over in data of the `current` one.

    A break: a field removed, a field's type (or format, pattern, items) changed, a value range
    narrowed, an optional field made required, a new required field, a value of an enum removed.
    Compatible: a new optional field, a new enum value, changed titles and descriptions."""
    return _Comparison(published, current).breaks(published, current, "")


# ------------------------------------------------------------------------------------------------ review


@dataclass(frozen=True)
class Review:
    """The committed catalogue against the one the models make."""

    stale: list[PurePosixPath]
    """Files to write: missing or different."""
    breaks: dict[PurePosixPath, list[str]]
    """Published schema files the current models would break, with what breaks."""

    @property
    def up_to_date(self) -> bool:
        return not self.stale and not self.breaks


def review(rendered: Mapping[PurePosixPath, str], committed: Mapping[PurePosixPath, str]) -> Review:
    stale = sorted(path for path, content in rendered.items() if committed.get(path) != content)
    breaks: dict[PurePosixPath, list[str]] = {}
    for path, content in sorted(committed.items()):
        if path.parts[0] != SCHEMAS_DIR.name:
            continue
        if path not in rendered:
            breaks[path] = [
                "this published version has no model any more: its events stay on the topic and in the event "
                "stores, and registry.decode needs the model to upcast them"
            ]
            continue
        try:
            published = json.loads(content)
        except ValueError as error:
            breaks[path] = [f"not valid JSON ({error}): restore it from version control"]
            continue
        problems = compatibility_breaks(published, json.loads(rendered[path]))
        if problems:
            breaks[path] = problems
    return Review(stale, breaks)


def advice(path: PurePosixPath | Path, problems: Sequence[str]) -> str:
    """What breaks in a published schema file and what the developer should do instead."""
    match = _SCHEMA_FILE.match(path.name)
    event_type, version = (match["type"], int(match["version"])) if match else ("<EventType>", 1)
    listed = "\n".join(f"  - {problem}" for problem in problems)
    return (
        f"{event_type} v{version} ({path}) would break its consumers:\n{listed}\n"
        f"A published version never changes incompatibly. Keep the v{version} model as it was (rename the class, "
        f"e.g. {event_type}V{version}, still @registry.register-ed), put the change in a new model with "
        f"schema_version = {version + 1}, add @registry.upcaster({event_type!r}, from_version={version}) turning "
        f"v{version} data into v{version + 1}, then run `make events-catalogue`."
    )


# ------------------------------------------------------------------------------------------------- files


def read_catalogue(folder: Path) -> dict[PurePosixPath, str]:
    """The committed files of a catalogue folder (the AsyncAPI document and every schema file)."""
    files = [folder / ASYNCAPI_FILE, *sorted((folder / SCHEMAS_DIR).rglob("*.json"))]
    return {
        PurePosixPath(path.relative_to(folder).as_posix()): path.read_text(encoding="utf-8")
        for path in files
        if path.is_file()
    }


def catalogue_version() -> str:
    """The project's version, as the AsyncAPI document's `info.version`."""
    return metadata.version("strefa-klienta")


app = typer.Typer(add_completion=False, help="The event catalogue: AsyncAPI 3.0 and JSON Schemas of every event.")
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@app.command()
def main(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if the committed catalogue is out of date.")
    ] = False,
    out: Annotated[Path, typer.Option(help="The catalogue's folder.")] = Path("docs/events"),
) -> None:
    """Writes the catalogue of the registered events (or checks the committed one)."""
    rendered = render(published_models(registry.models()), catalogue_version())
    result = review(rendered, read_catalogue(out))
    for path, problems in result.breaks.items():
        errors.print(f"[red]incompatible:[/red] {escape(advice(out / path, problems))}", highlight=False)
    if result.breaks:
        raise typer.Exit(1)
    if check:
        for path in result.stale:
            errors.print(f"[red]stale:[/red] {escape(str(out / path))}", highlight=False)
        if result.stale:
            errors.print("The event catalogue is out of date: run `make events-catalogue` and commit the result.")
            raise typer.Exit(1)
        console.print(f"The event catalogue in {out} is up to date.", highlight=False)
        return
    for path in result.stale:
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered[path], encoding="utf-8")
        console.print(f"wrote {target}", highlight=False)
    if not result.stale:
        console.print(f"The event catalogue in {out} is up to date.", highlight=False)


if __name__ == "__main__":
    app(prog_name="python -m libs.events.catalogue")
