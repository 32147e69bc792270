"""The read side of the client API: every query is scoped to the caller's active client and contracts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.events import Document, DocumentStore
from libs.events.access import Principal
from services.contracts.projections import CONTRACTS, SCHEDULES, SEARCH, SEARCH_SEPARATOR, search_prefix

MAX_SEARCH_WORDS = 5


class ContractQuery(BaseModel):
    """Filter, sort and page of the contracts list (query parameters)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    status: Literal["active", "terminated"] | None = None
    contract_type: Literal["operating", "financial"] | None = None
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Words that start the contract number (or one of its parts), the asset's make, model, kind, VIN
    or number plate; every word must match. Case and Polish diacritics are ignored."""
    sort: Literal["start_date", "end_date", "contract_number"] = "start_date"
    order: Literal["asc", "desc"] = "desc"
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    offset: Annotated[int, Field(ge=0, le=100_000)] = 0


async def contract_page(
    documents: DocumentStore, principal: Principal, query: ContractQuery
) -> tuple[list[Document], int]:
    """The page of the caller's contracts, and how many match in all."""
    allowed = principal.contract_ids
    if query.q:
        found = await _search(documents, principal.client_id, query.q)
        allowed = found if allowed is None else allowed & found
    filter_: dict[str, Any] = {"client_id": principal.client_id}
    if allowed is not None:
        filter_["_id"] = {"$in": sorted(allowed)}
    if query.status:
        filter_["status"] = query.status
    if query.contract_type:
        filter_["contract_type"] = query.contract_type
    direction: Literal[1, -1] = 1 if query.order == "asc" else -1
    sort: list[tuple[str, Literal[1, -1]]] = [(query.sort, direction), ("_id", 1)]
    total = await documents.count(CONTRACTS, filter_)
    docs = await documents.find(CONTRACTS, filter_, sort=sort, limit=query.limit, skip=query.offset)
    return docs, total


async def _search(documents: DocumentStore, client_id: str, text: str) -> frozenset[str]:
    """Contracts of the client with a term starting with every word of `text`."""
    found: frozenset[str] | None = None
    for word in text.split()[:MAX_SEARCH_WORDS]:
        prefix = search_prefix(client_id, word)
        if prefix.endswith(SEARCH_SEPARATOR):  # the word was only punctuation
            continue
        hits = await documents.find(SEARCH, {"_id": {"$gte": prefix, "$lt": prefix + "\uffff"}})
        ids = frozenset(str(hit["contract_id"]) for hit in hits)
        found = ids if found is None else found & ids
    return found if found is not None else frozenset()


async def owned_contract(documents: DocumentStore, principal: Principal, contract_id: str) -> Document:
    return principal.owned(await documents.get(CONTRACTS, contract_id), "contract")


async def owned_schedule(documents: DocumentStore, principal: Principal, contract_id: str) -> Document:
    # The schedule document exists from the contract's registration on, so a missing one means no
    # such contract (or not the caller's): the same 404 as the details.
    return principal.owned(await documents.get(SCHEDULES, contract_id), "contract")
