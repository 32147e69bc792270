"""Feeds a plan to the portal through the back-office HTTP API, as the core leasing system would.

Three phases, each client's calls in order and many clients at once (`concurrency` requests in
flight at most):
1. contracts and their schedules (the contracts service);
2. once billing and identity have caught up with them (their `/ops/consumers` lag is zero):
   repayment accounts, invoices and bank payments in the order they happened, interest notes and
   documents (billing);
3. the demo login: wait for identity to grant the demo person both clients, then activate it with
   the known password through identity's dev-only back-office endpoint.

Every call carries an Idempotency-Key derived from the seed and the object, so a re-run with the
same options appends nothing. The client is any httpx.AsyncClient: a real server by URL, or an ASGI
app in-process (httpx.ASGITransport) in tests.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any

import httpx
import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from services.seeder.documents import render
from services.seeder.finance import ZERO
from services.seeder.world import CONTRACT_ID, Call, ClientPlan, DemoLogins, WorldOptions, demo_logins, plan

log = structlog.get_logger(__name__)

SERVICES = ("identity", "contracts", "billing", "payments", "notifications", "profile")
NOT_YET_KNOWN = frozenset({"unknown_contract", "unknown_client", "unknown_invoice"})
"""422 codes that mean billing has not yet projected what the contracts service accepted: retried."""
ALREADY_THERE = {
    "contract": "contract_number_taken",
    "schedule": "schedule_already_agreed",
    "termination": "contract_terminated",
    "invoice": "invoice_number_taken",
    "payment": "payment_already_recorded",
    "interest_note": "interest_note_number_taken",
    "document": "document_exists",
}
"""409 codes meaning the object was fed before under another key (e.g. another --today): skipped."""


class SeedError(Exception):
    """A call the portal refused (other than 'already there'); the client's remaining calls are skipped."""


@dataclass(frozen=True)
class SeedOptions:
    world: WorldOptions
    concurrency: int = 16
    demo: bool = True
    """Activate the demo login (needs the portal in dev mode) and check the activation address."""
    progress: bool = False
    """A rich progress bar on the console (for a terminal; off in tests and under `make dev`)."""
    pdf_workers: int = 1
    """Processes rendering PDFs beside the event loop (0: in a thread of this process)."""
    wait_timeout: float = 600.0
    """Seconds to wait for consumers to catch up or for a not-yet-projected object."""


@dataclass
class Totals:
    clients: int = 0
    contracts: int = 0
    instalments: int = 0
    invoiced: Decimal = ZERO
    paid: Decimal = ZERO
    overdue: Decimal = ZERO
    overpayment: Decimal = ZERO

    def add(self, client: ClientPlan) -> None:
        self.clients += 1
        self.contracts += len(client.contracts)
        self.instalments += sum(len(c.instalments) for c in client.contracts)
        self.invoiced += client.expected.invoiced
        self.paid += client.expected.paid
        self.overdue += client.expected.overdue_total
        self.overpayment += client.expected.overpayment


@dataclass
class SeedReport:
    calls: Counter[str] = field(default_factory=Counter)
    """Accepted calls by kind (contract, schedule, invoice, payment...)."""
    present: Counter[str] = field(default_factory=Counter)
    """Calls answered 409 'already there' (fed earlier under another key)."""
    requests: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    failed_clients: set[str] = field(default_factory=set)
    events: dict[str, int] | None = None
    """Events appended per service store during the run (from the consumers' positions), if known."""
    totals: Totals = field(default_factory=Totals)
    elapsed: float = 0.0
    demo: DemoLogins | None = None
    demo_active: bool = False
    activation_pending: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures


class BackOffice:
    """The back-office HTTP client: bounded concurrency, retries, problem+json codes."""

    def __init__(self, http: httpx.AsyncClient, concurrency: int, report: SeedReport, wait_timeout: float) -> None:
        self.http = http
        self.slots = asyncio.Semaphore(concurrency)
        self.report = report
        self.wait_timeout = wait_timeout
        self.contract_ids: dict[str, str] = {}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, 7):
            try:
                async with self.slots:
                    self.report.requests += 1
                    response = await self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                if attempt == 6:
                    raise SeedError(f"{method} {path}: {error!r}") from error
            else:
                if response.status_code not in (502, 503, 504):
                    return response
            self.report.retries += 1
            await asyncio.sleep(0.1 * 2**attempt)
        raise SeedError(f"{method} {path}: the portal is unavailable ({response.status_code})")

    async def send(self, call: Call, files: dict[str, Any] | None = None) -> httpx.Response:
        """One back-office call, `{contract_id}` resolved; waits out billing's projection lag."""
        contract_id = self.contract_ids.get(call.contract_number or "", "") if call.contract_number else ""
        if CONTRACT_ID in call.path and not contract_id:
            raise SeedError(f"{call.kind} {call.key}: contract {call.contract_number} was not registered")
        path = call.path.replace(CONTRACT_ID, contract_id)
        body = {k: contract_id if v == CONTRACT_ID else v for k, v in call.body.items()}
        headers = {"Idempotency-Key": call.key}
        kwargs: dict[str, Any] = {"data": body, "files": files} if files is not None else {"json": body}
        deadline = time.monotonic() + self.wait_timeout
        delay = 0.05
        while True:
            response = await self.request(call.method, path, headers=headers, **kwargs)
            if response.status_code != 422 or not problem_codes(response) & NOT_YET_KNOWN:
                return response
            if time.monotonic() > deadline:
                return response
            self.report.retries += 1
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def registered_contract_id(self, client_id: str, number: str) -> str | None:
        """The id of a contract registered before (under another key), looked up by its client."""
        offset = 0
        while True:
            response = await self.request(
                "GET",
                "/api/contracts/backoffice/contracts",
                params={"client_id": client_id, "limit": 200, "offset": offset},
            )
            response.raise_for_status()
            page: list[dict[str, Any]] = response.json()
            for doc in page:
                if doc.get("contract_number") == number:
                    return str(doc["contract_id"])
            if len(page) < 200:
                return None
            offset += 200


def problem_codes(response: httpx.Response) -> set[str]:
    """The problem+json `code` and every `errors[].code` of an error answer."""
    try:
        body = response.json()
    except ValueError:
        return set()
    if not isinstance(body, dict):
        return set()
    codes = {str(body.get("code", ""))}
    codes.update(str(error.get("code", "")) for error in body.get("errors") or [] if isinstance(error, dict))
    return codes - {""}


class Seeder:
    def __init__(self, http: httpx.AsyncClient, options: SeedOptions, console: Console | None = None) -> None:
        self.options = options
        self.report = SeedReport()
        self.backoffice = BackOffice(http, options.concurrency, self.report, options.wait_timeout)
        self.console = console or Console(stderr=True)
        self._pdfs: Executor | None = None

    async def run(self) -> SeedReport:
        started = time.monotonic()
        world = self.options.world
        log.info(
            "seeding",
            clients=world.clients,
            seed=world.seed,
            today=world.today.isoformat(),
            concurrency=self.options.concurrency,
        )
        await self._preflight()
        before = await self.store_heads()
        try:
            with self._progress() as progress:
                contracts = progress.add_task("Contracts and schedules", total=world.clients)
                billing = progress.add_task("Invoices, payments, notes, PDFs", total=world.clients)
                # The demo clients first and in order: the demo person's first grant (where a login
                # lands) is then client 1, the one with something overdue.
                await self._each(plan(world), self._contracts, lambda: progress.advance(contracts), lead=2)
                await self.caught_up(("billing", "identity"))
                await self._each(plan(world), self._billing, lambda: progress.advance(billing))
            if self.options.demo:
                await self._demo()
            await self.caught_up(("billing", "identity", "contracts"))
        finally:
            if self._pdfs is not None:
                self._pdfs.shutdown(cancel_futures=True)
        after = await self.store_heads()
        if before is not None and after is not None:
            self.report.events = {name: after[name] - before.get(name, 0) for name in after}
        self.report.elapsed = time.monotonic() - started
        log.info(
            "seeded",
            clients=self.report.totals.clients,
            calls=sum(self.report.calls.values()),
            already_there=sum(self.report.present.values()),
            events=sum(self.report.events.values()) if self.report.events else None,
            failures=len(self.report.failures),
            seconds=round(self.report.elapsed, 1),
        )
        return self.report

    async def _preflight(self) -> None:
        """Fails fast when the portal is not there or refuses the back-office token."""
        response = await self.backoffice.request("GET", "/api/contracts/ops/consumers")
        if response.status_code == 401:
            raise SeedError("the portal refused the back-office token")
        if response.status_code != 200:
            raise SeedError(f"the portal's contracts service answered {response.status_code}: {response.text[:200]}")

    # --- phases ----------------------------------------------------------------------------------

    async def _each(
        self,
        clients: Iterator[ClientPlan],
        work: Callable[[ClientPlan], Awaitable[None]],
        done: Callable[[], None],
        lead: int = 0,
    ) -> None:
        """Clients in parallel (`concurrency` workers), each client's calls in order; the first
        `lead` clients one after the other before the rest."""

        async def one(client: ClientPlan) -> None:
            if client.company.client_id not in self.report.failed_clients:
                try:
                    await work(client)
                except SeedError as error:
                    self._failed(client, str(error))
            done()

        async def worker() -> None:
            for client in clients:  # one shared iterator: each client goes to one worker
                await one(client)

        for client in islice(clients, lead):
            await one(client)
        await asyncio.gather(*(worker() for _ in range(max(1, self.options.concurrency))))

    def _failed(self, client: ClientPlan, reason: str) -> None:
        self.report.failed_clients.add(client.company.client_id)
        self.report.failures.append(f"{client.company.client_id}: {reason}")
        log.error("client_not_seeded", client_id=client.company.client_id, reason=reason)

    async def _contracts(self, client: ClientPlan) -> None:
        for call in client.contract_calls:
            response = await self.backoffice.send(call)
            if call.kind == "contract":
                if response.status_code == 201:
                    self.backoffice.contract_ids[call.contract_number or ""] = response.json()["contract_id"]
                elif self._already_there(call, response):
                    found = await self.backoffice.registered_contract_id(call.client_id, call.contract_number or "")
                    if found is None:
                        raise SeedError(f"contract {call.contract_number} is taken by another client")
                    self.backoffice.contract_ids[call.contract_number or ""] = found
                    continue
            self._check(call, response)

    async def _billing(self, client: ClientPlan) -> None:
        pdfs = {id(call): self._render(call) for call in client.billing_calls if call.document is not None}
        try:
            for call in client.billing_calls:
                files = None
                if call.document is not None:
                    content = await pdfs[id(call)]
                    files = {"file": (f"{call.document.template}.pdf", content, "application/pdf")}
                self._check(call, await self.backoffice.send(call, files))
        finally:
            for pending in pdfs.values():
                pending.cancel()
        self.report.totals.add(client)

    def _check(self, call: Call, response: httpx.Response) -> None:
        if response.is_success:
            self.report.calls[call.kind] += 1
        elif not self._already_there(call, response):
            raise SeedError(f"{call.kind} {call.key}: {response.status_code} {response.text[:500]}")

    def _already_there(self, call: Call, response: httpx.Response) -> bool:
        if response.status_code == 409 and ALREADY_THERE.get(call.kind) in problem_codes(response):
            self.report.present[call.kind] += 1
            log.debug("already_there", kind=call.kind, key=call.key)
            return True
        return False

    def _render(self, call: Call) -> asyncio.Future[bytes]:
        assert call.document is not None
        loop = asyncio.get_running_loop()
        if self.options.pdf_workers <= 0:
            return asyncio.ensure_future(asyncio.to_thread(render, call.document))
        if self._pdfs is None:
            context = multiprocessing.get_context("spawn")
            self._pdfs = ProcessPoolExecutor(max_workers=self.options.pdf_workers, mp_context=context)
        future: Future[bytes] = self._pdfs.submit(render, call.document)
        return asyncio.wrap_future(future, loop=loop)

    async def _demo(self) -> None:
        logins = demo_logins(self.options.world)
        self.report.demo = logins
        if logins is None or {c for c, _ in logins.clients} & self.report.failed_clients:
            log.warning("demo_login_skipped", reason="fewer than two clients, or a demo client failed")
            return
        account = await self._account(logins.email, {c for c, _ in logins.clients})
        if account is None:
            self.report.failures.append(f"demo login {logins.email}: identity did not grant both clients in time")
            return
        if account.get("status") == "provisioned":
            response = await self.backoffice.request(
                "POST",
                "/api/identity/backoffice/dev/activate",
                json={"email": logins.email, "password": logins.password},
            )
            if response.status_code == 404 and "account_not_found" not in problem_codes(response):
                log.warning("demo_login_not_activated", reason="the portal is not in dev mode (no dev activation)")
                return
            if not response.is_success and "account_not_provisioned" not in problem_codes(response):
                self.report.failures.append(f"demo activation: {response.status_code} {response.text[:300]}")
                return
        self.report.demo_active = True
        newcomer = await self._account(logins.activation_email, set())
        self.report.activation_pending = newcomer is not None and newcomer.get("status") == "provisioned"

    async def _account(self, email: str, clients: set[str]) -> dict[str, Any] | None:
        """Identity's account for an e-mail once it may act for all `clients` (None after the timeout)."""
        deadline = time.monotonic() + self.options.wait_timeout
        while time.monotonic() < deadline:
            response = await self.backoffice.request(
                "GET", "/api/identity/backoffice/accounts", params={"email": email}
            )
            if response.status_code == 200:
                account: dict[str, Any] = response.json()
                if clients <= {grant.get("client_id") for grant in account.get("grants", [])}:
                    return account
            await asyncio.sleep(0.2)
        return None

    # --- the portal's consumers ------------------------------------------------------------------

    async def consumers(self, service: str) -> list[dict[str, Any]] | None:
        response = await self.backoffice.request("GET", f"/api/{service}/ops/consumers")
        if response.status_code != 200:
            return None
        statuses: list[dict[str, Any]] = response.json()
        return statuses

    async def caught_up(self, services: Iterable[str]) -> bool:
        """Waits until every consumer of the services has no lag (False after the timeout)."""
        deadline = time.monotonic() + self.options.wait_timeout
        pending = list(services)
        while pending:
            statuses = await self.consumers(pending[0])
            if statuses is None or all(not any(s.get("lag", {}).values()) for s in statuses):
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                log.warning("consumers_lagging", service=pending[0])
                return False
            await asyncio.sleep(0.1)
        return True

    async def store_heads(self) -> dict[str, int] | None:
        """Each service store's head position, as its consumers report it (checkpoint + lag), if the
        checkpoints are positions (the embedded default); None otherwise."""
        heads: dict[str, int] = {}
        for service in SERVICES:
            for status in await self.consumers(service) or []:
                lag = status.get("lag", {})
                for source, checkpoint in status.get("checkpoints", {}).items():
                    if not str(checkpoint).isdigit():
                        return None
                    heads[source] = max(heads.get(source, 0), int(checkpoint) + int(lag.get(source, 0)))
        return heads or None

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("clients"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            RequestRate(self.report),
            console=self.console,
            disable=not self.options.progress,
            refresh_per_second=4,
        )


class RequestRate(ProgressColumn):
    """Back-office requests per second since the run started."""

    def __init__(self, report: SeedReport) -> None:
        super().__init__()
        self.report = report
        self.started = time.monotonic()

    def render(self, task: Task) -> Text:
        rate = self.report.requests / max(time.monotonic() - self.started, 1e-6)
        return Text(f"{self.report.requests} requests, {rate:.0f}/s", style="cyan")


async def seed(http: httpx.AsyncClient, options: SeedOptions, console: Console | None = None) -> SeedReport:
    """Seeds the portal behind `http` (base URL and back-office bearer token set on it)."""
    return await Seeder(http, options, console).run()


def backoffice_client(url: str, token: str, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    return httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(60.0),
        transport=transport,
        limits=limits,
    )
