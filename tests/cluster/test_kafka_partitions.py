"""KAFKA_PARTITIONS: the partitions of the topics a cluster process creates, read by the entry points
(`ClusterInfra.from_env`); default 3, a whole number of at least 1, anything else a startup error."""

from __future__ import annotations

import contextlib
from pathlib import Path
from uuid import uuid4

import pytest

from libs.events.cluster import ClusterConfigError, ClusterInfra
from libs.events.kafka import topic_partitions
from libs.events.relay import Relay
from libs.events.sqlite_store import SqliteEventStore
from tests.servers import KAFKA_SKIP, delete_namespace, server_setting

SERVERS = {"KAFKA_BOOTSTRAP": "kafka:9092", "MONGO_URI": "mongodb://mongo:27017/"}


def test_topics_get_three_partitions_unless_kafka_partitions_says_otherwise() -> None:
    assert ClusterInfra.from_env(SERVERS).kafka.partitions == 3
    assert ClusterInfra.from_env({**SERVERS, "KAFKA_PARTITIONS": ""}).kafka.partitions == 3
    assert ClusterInfra.from_env({**SERVERS, "KAFKA_PARTITIONS": " 12 "}).kafka.partitions == 12


@pytest.mark.parametrize("value", ["0", "-3", "three", "2.5"])
def test_a_kafka_partitions_that_is_no_positive_whole_number_stops_the_start(value: str) -> None:
    expected = rf"KAFKA_PARTITIONS must be a whole number of at least 1, not '{value}'"
    with pytest.raises(ClusterConfigError, match=expected):
        ClusterInfra.from_env({**SERVERS, "KAFKA_PARTITIONS": value})


def test_a_bad_replication_factor_is_named_too() -> None:
    with pytest.raises(ClusterConfigError, match="KAFKA_REPLICATION_FACTOR must be a whole number"):
        ClusterInfra.from_env({**SERVERS, "KAFKA_REPLICATION_FACTOR": "0"})


@pytest.mark.cluster
async def test_the_relay_creates_its_topic_with_the_configured_partitions(tmp_path: Path) -> None:
    bootstrap = server_setting("KAFKA_BOOTSTRAP")
    if bootstrap is None:
        pytest.skip(KAFKA_SKIP)
    environ = {**SERVERS, "KAFKA_BOOTSTRAP": bootstrap, "STREFA_NAMESPACE": f"parts{uuid4().hex[:10]}"}
    infra = ClusterInfra.from_env({**environ, "KAFKA_PARTITIONS": "2"})
    store = await SqliteEventStore(tmp_path / "billing" / "events.db", "billing").open()
    relay = Relay.next_to(tmp_path / "billing", "billing", store, infra.kafka)
    try:
        await relay.start()
        topic = infra.kafka.topic("billing")
        assert await topic_partitions(bootstrap, [topic], "test") == {topic: 2}
    finally:
        await relay.stop()
        await store.close()
        with contextlib.suppress(Exception):
            await delete_namespace(infra.kafka)
