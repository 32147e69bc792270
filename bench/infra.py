"""The running Kafka and MongoDB-wire server (FerretDB): where they are, their versions, and clean-up.

Every run works in its own namespace (`bench<run id><4 hex>`: topics `<namespace>.<service>.events`, consumer
groups `<namespace>.<group>`, databases `<namespace>_<service>`) and removes it at the end, so it never
touches what `make cluster` or the tests use.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from libs.events.kafka import KafkaConfig

ROOT = Path(__file__).resolve().parent.parent
INFRA_ENV = ROOT / ".infra" / "env"


class InfraMissing(RuntimeError):
    """Kafka or the MongoDB-wire server is not configured: `make infra-up` (or `make bench`) starts them."""


def _infra_env() -> dict[str, str]:
    if not INFRA_ENV.is_file():
        return {}
    found: dict[str, str] = {}
    for line in INFRA_ENV.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            found[name.strip()] = value.strip().strip("'\"")
    return found


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    mongo_uri: str
    namespace: str

    @classmethod
    def locate(cls, run_id: str) -> Infra:
        """KAFKA_BOOTSTRAP and MONGO_URI from the environment, else from `.infra/env` (deploy/local/infra.sh)."""
        saved = _infra_env()
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or saved.get("KAFKA_BOOTSTRAP")
        mongo_uri = os.environ.get("MONGO_URI") or saved.get("MONGO_URI")
        if not bootstrap or not mongo_uri:
            raise InfraMissing(
                "KAFKA_BOOTSTRAP and MONGO_URI are not set and .infra/env is missing: run `make infra-up` "
                "(make bench does it) or set them"
            )
        return cls(bootstrap, mongo_uri, f"bench{run_id}{secrets.token_hex(2)}")

    def kafka(self, namespace: str | None = None) -> KafkaConfig:
        return KafkaConfig(self.kafka_bootstrap, namespace=namespace or self.namespace)

    def database(self, service: str, namespace: str | None = None) -> str:
        """The database a cluster-mode service of this namespace uses (libs/events/cluster.py)."""
        return f"{namespace or self.namespace}_{service}"

    async def cleanup(self) -> None:
        """Deletes every topic and database this run made (all named after its namespace)."""
        prefix = self.namespace
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka_bootstrap, request_timeout_ms=30_000)
        with contextlib.suppress(Exception):
            await admin.start()
            try:
                topics = [topic for topic in await admin.list_topics() if topic.startswith(prefix)]
                if topics:
                    await admin.delete_topics(topics)
            finally:
                await admin.close()
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(self.mongo_uri, serverSelectionTimeoutMS=5000)
        try:
            with contextlib.suppress(Exception):
                for name in await client.list_database_names():
                    if name.startswith(prefix):
                        await client.drop_database(name)
        finally:
            await client.close()


async def kafka_version(bootstrap: str) -> str:
    """The broker's version as its jar names it under .infra/kafka (aiokafka cannot ask a broker for it)."""
    for jar in sorted((ROOT / ".infra" / "kafka" / "libs").glob("kafka-clients-*.jar")):
        match = re.match(r"kafka-clients-(.+)\.jar", jar.name)
        if match:
            return match.group(1)
    return f"unknown (not started by deploy/local/infra.sh, broker {bootstrap})"


async def ferretdb_version(mongo_uri: str) -> str:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        info = await client.admin.command("buildInfo")
        if info.get("ferretdbVersion"):
            return f"FerretDB {info['ferretdbVersion']} (reports MongoDB {info.get('version')})"
        return f"MongoDB {info.get('version')}"
    except Exception as error:
        return f"unknown ({error!r})"
    finally:
        await client.close()
