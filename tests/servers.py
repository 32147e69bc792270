"""Where the real servers are: from the environment, else from `.infra/env` written by deploy/local/infra.sh."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from libs.events.kafka import KafkaConfig

ROOT = Path(__file__).resolve().parent.parent
INFRA_ENV = ROOT / ".infra" / "env"
INFRA_SH = ROOT / "deploy" / "local" / "infra.sh"


@cache
def infra_env() -> dict[str, str]:
    if not INFRA_ENV.is_file():
        return {}
    settings: dict[str, str] = {}
    for line in INFRA_ENV.read_text().splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            settings[name.strip()] = value.strip().strip("'\"")
    return settings


def server_setting(name: str) -> str | None:
    """`KAFKA_BOOTSTRAP`, `MONGO_URI` or `EVENTSTORE_URI`: the environment wins over .infra/env."""
    return os.environ.get(name) or infra_env().get(name) or None


KAFKA_SKIP = "no Kafka broker configured: set KAFKA_BOOTSTRAP or run deploy/local/infra.sh up (writes .infra/env)"
MONGO_SKIP = "no MongoDB-wire server configured: set MONGO_URI or run deploy/local/infra.sh up (writes .infra/env)"
EVENTSTORE_SKIP = "no EventStoreDB server could be run on this machine; set EVENTSTORE_URI"
FAULT_SKIP = "fault test needs servers it may restart"
NGINX_SKIP = "nginx is not installed (apt-get install -y nginx)"

REQUIRED_IN_CI = (KAFKA_SKIP, MONGO_SKIP, FAULT_SKIP, NGINX_SKIP)
"""Skip reasons (prefixes) that fail a test when CI=true (tests/conftest.py): CI has the servers (`make
test` starts Kafka and FerretDB with deploy/local/infra.sh, .ci/run installs nginx), so a skip there
would hide a test that never ran. EVENTSTORE_SKIP is not one: no EventStoreDB server can run here."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def required_in_ci(reason: str) -> bool:
    """Whether a skip with this reason is a failure here (CI=true and a reason of REQUIRED_IN_CI)."""
    return in_ci() and reason.startswith(REQUIRED_IN_CI)


async def delete_namespace(config: KafkaConfig) -> None:
    """Removes every topic of a test's namespace (`<namespace>.*`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap, request_timeout_ms=config.request_timeout_ms)
    await admin.start()
    try:
        topics = [topic for topic in await admin.list_topics() if topic.startswith(f"{config.namespace}.")]
        if topics:
            await admin.delete_topics(topics)
    finally:
        await admin.close()
