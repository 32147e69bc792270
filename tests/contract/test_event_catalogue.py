"""The event catalogue under docs/events: up to date, a valid AsyncAPI 3.0 document of what is really on
the topics, and the published contract that no event model may break.

Every committed schema file is a published version: its model must still be registered and compatible
with it (a change that breaks it needs a new schema version and an upcaster). Nothing here needs Kafka.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker, SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from typer.testing import CliRunner

from libs.events import schemas as published_schemas
from libs.events.catalogue import (
    ENVELOPE_FIELDS,
    EVENT_HEADERS,
    KAFKA,
    advice,
    app,
    compatibility_breaks,
    event_schema,
    example_event,
    message_id,
    minimal_data,
    owner,
    published_models,
    schema_path,
)
from libs.events.envelope import DomainEvent, NewEvent, RecordedEvent
from libs.events.kafka import event_headers
from libs.events.pii import PersonalData, personal_fields
from libs.events.registry import UnknownEventType, registry
from libs.events.vault import SqliteKeyVault

with warnings.catch_warnings():  # its models name a field "schema", which pydantic warns about
    warnings.simplefilter("ignore", UserWarning)
    from asyncapi3 import AsyncAPI3  # type: ignore[import-untyped]

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "events"
COMMITTED_SCHEMAS = sorted(path.relative_to(CATALOGUE).as_posix() for path in (CATALOGUE / "schemas").rglob("*.json"))
MODELS = published_models(registry.models())
DOCUMENT_URI = "urn:strefa-klienta:asyncapi"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CATALOGUE / "asyncapi.yaml").read_text(encoding="utf-8"))
    return loaded


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


# ------------------------------------------------------------------------------- the published contract


def test_the_committed_catalogue_is_up_to_date() -> None:
    code, output = run("--check", "--out", str(CATALOGUE))
    assert code == 0, output


@pytest.mark.parametrize("committed", COMMITTED_SCHEMAS)
def test_every_published_version_still_has_a_compatible_model(committed: str) -> None:
    published = json.loads((CATALOGUE / committed).read_text(encoding="utf-8"))
    service, file_name = committed.split("/")[1:]
    event_type, version = file_name.removesuffix(".json").rsplit(".v", 1)
    try:
        model = registry.model(event_type, int(version))
    except UnknownEventType:
        pytest.fail(
            f"{committed} is published but no model of {event_type} v{version} is registered: its events stay "
            f"on the topic and in the stores. Keep the model registered (renamed, e.g. {event_type}V{version}) "
            "with an upcaster to the next version."
        )
    assert owner(model) == service, f"{event_type} moved from {service} to {owner(model)}: its topic would change"
    problems = compatibility_breaks(published, event_schema(model))
    assert not problems, advice(PurePosixPath(committed), problems)


def test_every_event_model_is_published() -> None:
    assert sorted(str(schema_path(model)) for model in MODELS) == COMMITTED_SCHEMAS
    assert {owner(model) for model in MODELS} == set(published_schemas.__all__)


@pytest.mark.parametrize("model", MODELS, ids=message_id)
def test_every_published_version_decodes_into_the_latest_model(model: type[DomainEvent]) -> None:
    """Old versions stay readable: an upcaster chain leads from each to the latest."""
    event, data = example_event(model), minimal_data(model)
    assert event is not None, f"no minimal example of {message_id(model)} could be made"
    decoded = registry.decode(event.model_copy(update={"data": data}))  # as consumers read it: opened
    assert type(decoded) is registry.model(model.event_type)


# ---------------------------------------------------------------------------------- the AsyncAPI document


def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    parsed = AsyncAPI3.model_validate(document)
    assert parsed.asyncapi == "3.0.0"


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                yield item
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def pointer(document: dict[str, Any], ref: str) -> Any:
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = set(references(document))
    assert refs, "the document should share its schemas through references"
    unresolved = []
    for ref in sorted(refs):
        try:
            pointer(document, ref)
        except (KeyError, TypeError):
            unresolved.append(ref)
    assert unresolved == []


def test_one_channel_per_service_topic_and_the_dead_letters(document: dict[str, Any]) -> None:
    services = sorted({owner(model) for model in MODELS})
    channels = document["channels"]
    assert sorted(channels) == sorted([*services, "deadLetters"])
    for service in services:
        assert channels[service]["address"] == KAFKA.topic(service) == f"leasing.{service}.events"
        assert channels[service]["bindings"]["kafka"]["topic"] == KAFKA.topic(service)
        owned = sorted(message_id(model) for model in MODELS if owner(model) == service)
        assert sorted(channels[service]["messages"]) == owned
    assert channels["deadLetters"]["address"] == KAFKA.dead_letter_topic == "leasing.deadletters"
    assert document["servers"]["kafka"]["protocol"] == "kafka"


def test_consumers_receive_each_channel_and_only_its_messages(document: dict[str, Any]) -> None:
    operations = document["operations"]
    assert {operation["action"] for operation in operations.values()} == {"receive"}
    received = {operation["channel"]["$ref"].removeprefix("#/channels/") for operation in operations.values()}
    assert received == set(document["channels"])
    for name, operation in operations.items():
        channel_ref = operation["channel"]["$ref"]
        channel = pointer(document, channel_ref)
        listed = [message["$ref"] for message in operation["messages"]]
        assert all(ref.startswith(f"{channel_ref}/messages/") for ref in listed), name
        assert len(listed) == len(channel["messages"]), f"{name} should receive every message of its channel"


def test_each_message_describes_one_type_and_version(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for model in MODELS:
        message = messages[message_id(model)]
        assert message["name"] == model.event_type
        payload, headers = message["payload"]["properties"], message["headers"]["properties"]
        assert payload["type"] == {"const": model.event_type}
        assert payload["version"] == {"const": model.schema_version}
        assert headers["ce_type"] == {"const": model.event_type}
        assert headers["ce_schemaversion"] == {"const": str(model.schema_version)}
        assert headers["ce_source"] == {"const": f"/{owner(model)}"}
        assert message["x-json-schema"] == str(schema_path(model))
        assert (CATALOGUE / message["x-json-schema"]).is_file()
        assert message["bindings"] == {"$ref": "#/components/messageBindings/streamKey"}


def test_the_schemas_in_the_document_are_valid_schemas(document: dict[str, Any]) -> None:
    """AsyncAPI's default schema format is a superset of JSON Schema draft 07; headers are objects."""
    schemas = dict(document["components"]["schemas"])
    for name, message in document["components"]["messages"].items():
        schemas[f"{name} headers"], schemas[f"{name} payload"] = message["headers"], message["payload"]
    invalid = []
    for name, schema in schemas.items():
        try:
            Draft7Validator.check_schema(schema)
        except SchemaError as error:
            invalid.append(f"{name}: {error.message}")
    assert invalid == []
    for name, message in document["components"]["messages"].items():
        assert _resolved(document, message["headers"]).get("type") == "object", name


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = pointer(document, schema["$ref"])
    return schema


def validator_for(document: dict[str, Any], ref: str) -> Draft202012Validator:
    resources = Registry().with_resource(DOCUMENT_URI, Resource.from_contents(document, DRAFT202012))
    return Draft202012Validator({"$ref": f"{DOCUMENT_URI}{ref}"}, registry=resources, format_checker=FormatChecker())


@pytest.mark.parametrize("model", MODELS, ids=message_id)
def test_what_the_relay_publishes_matches_the_document(document: dict[str, Any], model: type[DomainEvent]) -> None:
    """The record's value (`RecordedEvent.to_json`) and headers (`kafka.event_headers`), as the relay sends them."""
    event = example_event(model)
    assert event is not None
    key = message_id(model)
    value = json.loads(event.to_json())
    headers = {name: raw.decode() for name, raw in event_headers(event, owner(model))}
    validator_for(document, f"#/components/messages/{key}/payload").validate(value)
    validator_for(document, f"#/components/messages/{key}/headers").validate(headers)
    validator_for(document, "#/components/messages/DeadLetter/payload").validate(value)
    assert document["components"]["messages"][key]["examples"][0] == {
        "name": "minimal",
        "summary": "Required fields only, as the relay publishes it.",
        "headers": headers,
        "payload": value,
    }

    published = json.loads((CATALOGUE / schema_path(model)).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(published)
    Draft202012Validator(published, format_checker=FormatChecker()).validate(value["data"])


def test_a_message_rejects_another_type_and_data_missing_a_required_field(document: dict[str, Any]) -> None:
    model, other = MODELS[0], MODELS[-1]
    event = example_event(model)
    assert event is not None
    payload = validator_for(document, f"#/components/messages/{message_id(model)}/payload")
    value = json.loads(event.to_json())
    assert payload.is_valid(value)
    assert not payload.is_valid(value | {"type": other.event_type})
    assert not payload.is_valid(value | {"version": model.schema_version + 1})
    required = event_schema(model)["required"][0]
    assert not payload.is_valid(value | {"data": {k: v for k, v in value["data"].items() if k != required}})


PERSONAL = [model for model in MODELS if personal_fields(model) is not None]


@pytest.mark.parametrize("model", PERSONAL, ids=message_id)
async def test_really_sealed_personal_data_matches_the_published_schema(
    document: dict[str, Any], model: type[DomainEvent], tmp_path: Path
) -> None:
    data = minimal_data(model, complete=True)
    assert data is not None
    vault = await SqliteKeyVault(tmp_path / "keys.db").open()
    try:
        (sealed,) = await PersonalData(vault, registry).seal(
            [NewEvent(type=model.event_type, version=model.schema_version, data=data)]
        )
    finally:
        await vault.close()
    assert sealed.data != data, "the example should hold personal values to seal"
    published = json.loads((CATALOGUE / schema_path(model)).read_text(encoding="utf-8"))
    Draft202012Validator(published, format_checker=FormatChecker()).validate(sealed.data)
    validator_for(document, f"#/components/schemas/{message_id(model)}").validate(sealed.data)
    validator_for(document, f"#/components/schemas/{message_id(model)}").validate(data)  # older events: plain


def test_the_headers_schema_names_what_event_headers_writes() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    event = RecordedEvent(
        type="ContractRegistered", version=1, data={}, stream_id="contracts-contract-1", stream_version=0,
        global_position=1, trace_context={"traceparent": traceparent, "tracestate": "vendor=1"},
    )  # fmt: skip
    bare = event.model_copy(update={"trace_context": {}})
    assert {name for name, _ in event_headers(event, "contracts")} == set(EVENT_HEADERS["properties"])
    assert [name for name, _ in event_headers(bare, "contracts")] == EVENT_HEADERS["required"]


def test_every_envelope_field_is_described_for_consumers(document: dict[str, Any]) -> None:
    assert set(ENVELOPE_FIELDS) == set(RecordedEvent.model_fields)
    envelope = document["components"]["schemas"]["Envelope"]
    assert set(envelope["required"]) == set(RecordedEvent.model_fields)


# ------------------------------------------------------------------------------------------ the CLI


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "events"
    shutil.copytree(CATALOGUE, copy)
    return copy


def test_check_names_a_stale_file_and_writing_brings_it_up_to_date(catalogue_copy: Path) -> None:
    (catalogue_copy / "asyncapi.yaml").unlink()
    schema = catalogue_copy / "schemas" / "billing" / "InvoiceIssued.v1.json"
    schema.write_text(schema.read_text(encoding="utf-8").replace('"title": "InvoiceIssued"', '"title": "Old"'))

    code, output = run("--check", "--out", str(catalogue_copy))
    assert code == 1
    assert "stale: " in output
    assert "asyncapi.yaml" in output
    assert "InvoiceIssued.v1.json" in output
    assert "make events-catalogue" in output
    assert not (catalogue_copy / "asyncapi.yaml").exists(), "--check writes nothing"

    code, output = run("--out", str(catalogue_copy))
    assert code == 0, output
    assert run("--check", "--out", str(catalogue_copy))[0] == 0
    assert (catalogue_copy / "asyncapi.yaml").read_bytes() == (CATALOGUE / "asyncapi.yaml").read_bytes()


def test_a_model_that_breaks_a_published_version_is_refused(catalogue_copy: Path) -> None:
    """As if InvoiceIssued v1 had been published with a field the model no longer has."""
    path = catalogue_copy / "schemas" / "billing" / "InvoiceIssued.v1.json"
    published = json.loads(path.read_text(encoding="utf-8"))
    published["properties"]["legacy_reference"] = {"type": "string"}
    published["required"].append("legacy_reference")
    path.write_text(json.dumps(published), encoding="utf-8")
    (catalogue_copy / "asyncapi.yaml").unlink()

    for args in (["--check"], []):
        code, output = run(*args, "--out", str(catalogue_copy))
        assert code == 1
        assert "InvoiceIssued v1" in output
        assert "field 'legacy_reference' removed" in output
        assert "schema_version = 2" in output
        assert "@registry.upcaster('InvoiceIssued', from_version=1)" in output
    assert json.loads(path.read_text(encoding="utf-8")) == published, "nothing is overwritten"
    assert not (catalogue_copy / "asyncapi.yaml").exists()


def test_a_published_version_without_a_model_is_refused(catalogue_copy: Path) -> None:
    orphan = catalogue_copy / "schemas" / "billing" / "InvoiceVanished.v1.json"
    orphan.write_text(json.dumps({"type": "object", "properties": {}}), encoding="utf-8")
    code, output = run("--check", "--out", str(catalogue_copy))
    assert code == 1
    assert "InvoiceVanished" in output
    assert "no model" in output
