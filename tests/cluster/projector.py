"""A projector process for the fault tests: `python -m tests.cluster.projector ...`.

It runs the totals projection (Kafka -> FerretDB). With `--hang-after-writes N` it stops dead right
after its N-th read-model write, before committing that batch, and writes `--marker`: the test then
kills it with SIGKILL, a projector dying mid-batch with its documents written and its offsets not.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from libs.events.docstore import Collection, Document
from libs.events.kafka import KafkaConfig
from libs.events.mongo_docstore import MongoDocumentStore
from libs.events.service.logs import configure_logging
from tests.cluster.model import TOTALS, projector


class HangAfterWrites(MongoDocumentStore):
    def __init__(self, uri: str, database: str, writes: int, marker: Path) -> None:
        super().__init__(uri, database)
        self._left = writes
        self._marker = marker

    async def upsert_many(self, collection: Collection, docs: Sequence[Document]) -> None:
        await super().upsert_many(collection, docs)
        if collection.name == TOTALS.name and docs:
            self._left -= 1
            if self._left == 0:
                self._marker.write_text("written, not committed")
                await asyncio.Event().wait()  # never returns: the batch is never committed


async def main(args: argparse.Namespace) -> None:
    store = await HangAfterWrites(args.mongo_uri, args.database, args.hang_after_writes, Path(args.marker)).open()
    config = KafkaConfig(args.bootstrap, namespace=args.namespace, session_timeout_ms=args.session_timeout_ms)
    runner = projector(config, store, args.group)
    runner.batch_size = args.batch_size
    await runner.run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ("bootstrap", "namespace", "mongo-uri", "database", "group", "marker"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--hang-after-writes", type=int, default=3)
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    configure_logging("console", "WARNING")
    asyncio.run(main(parser.parse_args()))
