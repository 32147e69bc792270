"""No SMS code, link token or password in any Kafka message the relays publish: value, key or header."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from libs.events.kafka import KafkaConfig
from libs.events.relay import FileCheckpoint, Relay
from tests.helpers import eventually
from tests.identity.conftest import PASSWORD, Zone, new_email
from tests.servers import KAFKA_SKIP, delete_namespace, server_setting

SERVICES = ("identity", "notifications")
WRONG_PASSWORD = "Pomylka w hasle na Kafce 7"
"""ASCII, like PASSWORD: a JSON escape of a Polish letter could not hide it from the search."""
_NOISE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?"  # timestamps (microseconds are six digits too)
    r"|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"  # uuids
    r"|[0-9a-f]{32,}"  # hashes
)


def _message_text(record: ConsumerRecord[bytes, bytes]) -> str:
    """Everything a consumer of the topic can read of one message."""
    parts = [record.key or b"", record.value or b""]
    for name, value in record.headers:
        parts.extend((name.encode(), value or b""))
    return "\n".join(part.decode(errors="replace") for part in parts)


async def _activate_and_log_in(zone: Zone) -> dict[str, str]:
    """Activation (SMS code, e-mailed link, own password), a wrong and a right login; the secrets seen."""
    email = new_email("kafka")
    await zone.provision(email)
    assert (await zone.start(email)).status_code == 202
    code = (await zone.last_sms(email)).params["code"]
    assert (await zone.verify(email, code)).status_code == 200
    token = await zone.last_token(email)
    assert (await zone.complete(token)).status_code == 200
    assert (await zone.login(email, WRONG_PASSWORD)).status_code == 401
    assert (await zone.login(email)).status_code == 200

    async def both_sent() -> bool:
        return len(await zone.events("NotificationSent", service="notifications")) >= 2

    await eventually(both_sent, what="the SMS and the e-mail sent")
    return {
        "code": code,
        "link_token": token,
        "link_token_random_part": token.split(".", 1)[1],
        "password": PASSWORD,
        "wrong_password": WRONG_PASSWORD,
    }


async def _relay_and_consume(zone: Zone, config: KafkaConfig, checkpoints: Path) -> list[ConsumerRecord[bytes, bytes]]:
    records: list[ConsumerRecord[bytes, bytes]] = []
    for service in SERVICES:
        store = zone.portal.platform.event_stores[service]
        relay = Relay(service, store, config, FileCheckpoint(checkpoints / f"{service}-relay-checkpoint.json"))
        consumer = AIOKafkaConsumer(
            config.topic(service),
            bootstrap_servers=config.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        try:
            published = await relay.publish_pending()
            assert published > 0, service
            await consumer.start()
            consumed: list[ConsumerRecord[bytes, bytes]] = []
            while len(consumed) < published:
                fetched = await consumer.getmany(timeout_ms=5000)
                consumed.extend(record for batch in fetched.values() for record in batch)
            records.extend(consumed)
        finally:
            await consumer.stop()
            await relay.stop()
    return records


async def test_kafka_messages_hold_no_code_link_token_or_password(zone: Zone, tmp_path: Path) -> None:
    bootstrap = server_setting("KAFKA_BOOTSTRAP")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    secrets = await _activate_and_log_in(zone)
    config = KafkaConfig(bootstrap, namespace=f"nosecrets-{uuid4().hex[:12]}")
    try:
        records = await _relay_and_consume(zone, config, tmp_path)
    finally:
        await delete_namespace(config)

    texts = [_message_text(record) for record in records]
    joined = "\n".join(texts)
    for event_type in ("ActivationCodeIssued", "ActivationLinkIssued", "AccountActivated", "LoginFailed"):
        assert event_type in joined, event_type  # the messages that would carry the secrets were consumed
    assert "NotificationSent" in joined
    assert all(record.headers for record in records)  # the headers were read too

    code = re.compile(rf"(?<!\d){secrets['code']}(?!\d)")
    assert not [text for text in texts if code.search(_NOISE.sub(" ", text))], "the SMS code"
    for name, secret in secrets.items():
        if name != "code":
            assert secret not in joined, name
