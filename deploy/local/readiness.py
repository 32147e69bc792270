"""Readiness probes for the local infrastructure started by deploy/local/infra.sh.

    python deploy/local/readiness.py kafka   --bootstrap 127.0.0.1:19092 --timeout 90 [--pid N]
    python deploy/local/readiness.py mongo   --uri mongodb://127.0.0.1:27018/ --timeout 60 [--pid N]

kafka: creates the `_readiness` topic if needed, produces a unique message (acks=all),
       reads it back and commits its offset with group `_readiness` (so the group
       coordinator / __consumer_offsets are warmed up as well).
mongo: runs a real `ping` and an upsert + find on `_readiness.ping`.

Retries until the deadline; exits 0 when ready, 1 on timeout (with the last error),
2 if the server process (--pid) died meanwhile, 3 if the client library is missing.
Never waits longer than --timeout (plus a few seconds for cleanup).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from typing import Any

TOPIC = "_readiness"


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (dead, not yet reaped) counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _err(msg: str) -> None:
    sys.stderr.write(msg + "\n")


async def _kafka_once(bootstrap: str, attempt_timeout: float) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    timeout_ms = int(attempt_timeout * 1000)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        if TOPIC not in await admin.list_topics():
            resp = await admin.create_topics(
                [NewTopic(TOPIC, num_partitions=1, replication_factor=1)], timeout_ms=timeout_ms
            )
            for err in getattr(resp, "topic_errors", []):
                code = err[1]
                if code not in (0, 36):  # 36 = TOPIC_ALREADY_EXISTS
                    raise RuntimeError(f"create_topics({TOPIC}) failed: {err}")
    finally:
        await admin.close()

    payload = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=timeout_ms)
    await producer.start()
    try:
        md = await producer.send_and_wait(TOPIC, payload, partition=0)
    finally:
        await producer.stop()

    tp = TopicPartition(TOPIC, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=TOPIC,
        enable_auto_commit=False,
        request_timeout_ms=timeout_ms,
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, md.offset)
        deadline = time.monotonic() + attempt_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("produced message not consumed in time")
            batch = await consumer.getmany(tp, timeout_ms=int(min(left, 2) * 1000))
            if any(m.value == payload for m in batch.get(tp, [])):
                break
        await consumer.commit({tp: md.offset + 1})
    finally:
        await consumer.stop()


def _mongo_once(uri: str, attempt_timeout: float) -> None:
    from pymongo import MongoClient

    ms = int(attempt_timeout * 1000)
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
        token = uuid.uuid4().hex
        coll = client["_readiness"]["ping"]
        coll.update_one({"_id": "probe"}, {"$set": {"token": token}}, upsert=True)
        doc = coll.find_one({"_id": "probe"})
        if not doc or doc.get("token") != token:
            raise RuntimeError(f"read back mismatch: {doc!r}")
    finally:
        client.close()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["kafka", "mongo"])
    p.add_argument("--bootstrap", default="127.0.0.1:19092")
    p.add_argument("--uri", default="mongodb://127.0.0.1:27018/")
    p.add_argument("--timeout", type=float, default=90.0)
    p.add_argument("--pid", type=int, default=None)
    args = p.parse_args()

    import logging

    try:  # fail fast (instead of retrying until the deadline) when the interpreter lacks the client
        __import__("aiokafka" if args.what == "kafka" else "pymongo")
    except ImportError as e:
        _err(f"readiness({args.what}): {e} in {sys.executable}; set PYTHON to a venv with aiokafka and pymongo")
        return 3

    # aiokafka logs connection errors at ERROR while the broker is still starting.
    logging.basicConfig(level=logging.CRITICAL)

    deadline = time.monotonic() + args.timeout
    attempt = 0
    while True:
        if not _pid_alive(args.pid):
            return 2
        left = deadline - time.monotonic()
        if left <= 0:
            break
        attempt += 1
        per_try = max(1.0, min(15.0, left))
        try:
            if args.what == "kafka":
                asyncio.run(asyncio.wait_for(_kafka_once(args.bootstrap, per_try), per_try + 5))
            else:
                _mongo_once(args.uri, min(per_try, 5.0))
            return 0
        except Exception:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    return 1


if __name__ == "__main__":
    sys.exit(main())
