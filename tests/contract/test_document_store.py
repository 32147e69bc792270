"""The read-model document store contract: every adapter passes these."""

from __future__ import annotations

from uuid import uuid4

import pytest

from libs.events.docstore import Collection, DocumentStore, DuplicateKey, Index, UndeclaredIndex


def invoices() -> Collection:
    return Collection(
        f"invoices_{uuid4().hex[:8]}",
        (Index.on("client_id", "due_date"), Index.on("number", unique=True), Index.on("status"), Index.on("paid")),
    )


def invoice(n: int, client: str = "C1", status: str = "open", **extra: object) -> dict[str, object]:
    return {
        "_id": f"inv-{n}",
        "number": f"FV/{n:04d}/2026",
        "client_id": client,
        "due_date": f"2026-{(n % 12) + 1:02d}-15",
        "status": status,
        "gross": "1234.56",
        "paid": n % 2 == 0,
        "lines": [{"net": "1003.71", "vat_rate": "23"}],
        **extra,
    }


async def test_upsert_then_get_returns_the_same_document(document_store: DocumentStore) -> None:
    coll = invoices()
    await document_store.upsert_many(coll, [invoice(1, title="Faktura za ratę — zażółć")])
    doc = await document_store.get(coll, "inv-1")
    assert doc == invoice(1, title="Faktura za ratę — zażółć")
    assert await document_store.get(coll, "missing") is None


async def test_upsert_replaces_the_whole_document(document_store: DocumentStore) -> None:
    coll = invoices()
    await document_store.upsert_many(coll, [invoice(1, note="old")])
    await document_store.upsert_many(coll, [invoice(1, status="settled")])
    doc = await document_store.get(coll, "inv-1")
    assert doc is not None
    assert doc["status"] == "settled"
    assert "note" not in doc


async def test_get_many_returns_those_found(document_store: DocumentStore) -> None:
    coll = invoices()
    await document_store.upsert_many(coll, [invoice(n) for n in range(1, 6)])
    found = await document_store.get_many(coll, ["inv-2", "inv-4", "inv-9"])
    assert set(found) == {"inv-2", "inv-4"}
    assert found["inv-4"]["number"] == "FV/0004/2026"


async def test_find_filters_sorts_and_pages(document_store: DocumentStore) -> None:
    coll = invoices()
    await document_store.ensure(coll)
    docs = [invoice(n, client="C1" if n <= 6 else "C2", status="open" if n % 3 else "settled") for n in range(1, 10)]
    await document_store.upsert_many(coll, docs)

    c1 = await document_store.find(coll, {"client_id": "C1"}, sort=[("due_date", 1)])
    assert [d["_id"] for d in c1] == [f"inv-{n}" for n in range(1, 7)]
    newest_first = await document_store.find(coll, {"client_id": "C1"}, sort=[("due_date", -1)], limit=2)
    assert [d["_id"] for d in newest_first] == ["inv-6", "inv-5"]
    page_two = await document_store.find(coll, {"client_id": "C1"}, sort=[("due_date", 1)], limit=2, skip=2)
    assert [d["_id"] for d in page_two] == ["inv-3", "inv-4"]
    open_c1 = await document_store.find(coll, {"client_id": "C1", "status": "open"}, sort=[("_id", 1)])
    assert [d["_id"] for d in open_c1] == ["inv-1", "inv-2", "inv-4", "inv-5"]
    assert await document_store.count(coll, {"client_id": "C2"}) == 3
    assert await document_store.count(coll) == 9


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"$in": ["2026-02-15", "2026-04-15"]}, ["inv-1", "inv-3"]),
        ({"$nin": ["2026-02-15", "2026-04-15"]}, ["inv-2", "inv-4", "inv-5"]),
        ({"$ne": "2026-02-15"}, ["inv-2", "inv-3", "inv-4", "inv-5"]),
        ({"$gt": "2026-03-15"}, ["inv-3", "inv-4", "inv-5"]),
        ({"$gte": "2026-03-15"}, ["inv-2", "inv-3", "inv-4", "inv-5"]),
        ({"$lt": "2026-03-15"}, ["inv-1"]),
        ({"$lte": "2026-03-15", "$gte": "2026-02-15"}, ["inv-1", "inv-2"]),
        ({"$in": []}, []),
    ],
)
async def test_find_operators(document_store: DocumentStore, condition: dict[str, object], expected: list[str]) -> None:
    coll = invoices()
    await document_store.upsert_many(coll, [invoice(n) for n in range(1, 6)])
    found = await document_store.find(coll, {"due_date": condition}, sort=[("_id", 1)])
    assert [d["_id"] for d in found] == expected


async def test_booleans_and_missing_fields_filter_like_mongodb(document_store: DocumentStore) -> None:
    coll = invoices()
    docs = [invoice(n) for n in range(1, 5)]
    del docs[0]["status"]
    await document_store.upsert_many(coll, docs)
    paid = await document_store.find(coll, {"paid": True}, sort=[("_id", 1)])
    assert [d["_id"] for d in paid] == ["inv-2", "inv-4"]
    not_open = await document_store.find(coll, {"status": {"$ne": "open"}})
    assert [d["_id"] for d in not_open] == ["inv-1"]


async def test_a_query_on_an_undeclared_field_is_refused(document_store: DocumentStore) -> None:
    coll = invoices()
    with pytest.raises(UndeclaredIndex):
        await document_store.find(coll, {"gross": "1234.56"})
    with pytest.raises(UndeclaredIndex):
        await document_store.find(coll, {}, sort=[("gross", 1)])


async def test_a_unique_index_refuses_a_second_document_with_the_same_key(document_store: DocumentStore) -> None:
    coll = invoices()
    await document_store.upsert_many(coll, [invoice(1)])
    duplicate = invoice(2)
    duplicate["number"] = "FV/0001/2026"
    with pytest.raises(DuplicateKey):
        await document_store.upsert_many(coll, [duplicate])
    assert await document_store.get(coll, "inv-2") is None


async def test_delete_and_drop(document_store: DocumentStore) -> None:
    coll = invoices()
    await document_store.upsert_many(coll, [invoice(n) for n in range(1, 4)])
    await document_store.delete(coll, ["inv-1", "inv-3"])
    assert [d["_id"] for d in await document_store.find(coll)] == ["inv-2"]
    await document_store.drop(coll)
    assert await document_store.count(coll) == 0


async def test_large_batches(document_store: DocumentStore) -> None:
    coll = invoices()
    await document_store.upsert_many(coll, [invoice(n) for n in range(1, 1201)])
    assert await document_store.count(coll) == 1200
    found = await document_store.get_many(coll, [f"inv-{n}" for n in range(1, 1201)])
    assert len(found) == 1200
