"""The demo world: clients, their people, leases, invoices and bank payments, drawn from a seed.

Pure and deterministic: `plan(options)` yields one `ClientPlan` per client, in order, each holding
the back-office calls that feed it (`contract_calls`, then `billing_calls`) and what the portal must
show afterwards (`expected`). Client n is drawn from its own generator (seed and n), and values that
must be unique (NIPs, e-mails, VINs, plates...) are kept unique in the order clients are drawn, so a
plan of 10 clients starts with the same 5 clients as a plan of 5.

Clients 0 and 1 have fixed roles: the demo person acts for both (same contact e-mail on their
contracts), client 0 has an overdue, a partially paid and a late-paid invoice with an interest note,
client 1 paid everything and paid ahead (an overpayment); client 0's second contact person is left
to try the activation with.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from services.seeder import catalogue as cat
from services.seeder.finance import ZERO, Instalment, add_months, grosze, late_interest, money, net_of_gross, schedule
from services.seeder.identifiers import (
    MOBILE_PREFIXES,
    ascii_slug,
    ksef_number,
    mobile,
    nip,
    nrb,
    registration_number,
    sort_code,
    vin,
)

DEMO_PASSWORD = "Zielony-Ciagnik-48"  # noqa: S105 (a published demo password)
"""The demo person's password (set through identity's dev-only back-office activation)."""
KSEF_FROM = date(2026, 2, 1)
"""Invoices issued from this day on carry a KSeF number (the obligation for large taxpayers)."""
UPCOMING_DAYS = 30
EMAIL_DOMAIN = "example.pl"

CONTRACTS = "/api/contracts/backoffice/contracts"
BILLING = "/api/billing/backoffice"
CONTRACT_ID = "{contract_id}"
"""Placeholder in a call's path and body: the id the contracts service answered for the contract."""

Form = Literal["sp_zoo", "sa", "jdg"]
CallKind = Literal["contract", "schedule", "termination", "account", "invoice", "payment", "interest_note", "document"]


@dataclass(frozen=True)
class WorldOptions:
    today: date
    seed: int = 1
    clients: int = 12
    history_months: int = 36
    """How far back contracts may start (caps the invoices per contract for big benchmark sets)."""
    documents: bool = True
    pdf_clients: int = 50
    """Clients (the first ones) that get personal PDFs: contracts, schedules, interest notes, letters.
    Every client gets the general fee table (rendered once)."""


@dataclass(frozen=True)
class Address:
    street: str
    number: str
    postcode: str
    city: str

    def __str__(self) -> str:
        return f"{self.street} {self.number}, {self.postcode} {self.city}"


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str
    role: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Company:
    client_id: str
    name: str
    nip: str
    form: Form
    industry: cat.Industry
    address: Address


@dataclass(frozen=True)
class Asset:
    kind: str
    make: str
    model: str
    vin: str
    registration_number: str | None
    year: int


@dataclass(frozen=True)
class Contract:
    number: str
    client_id: str
    contract_type: Literal["operating", "financial"]
    start: date
    end: date
    net_price: Decimal
    initial_fee: Decimal
    residual: Decimal
    yearly_rate: Decimal
    months: int
    asset: Asset
    instalments: tuple[Instalment, ...]
    insured: bool

    def completed(self, today: date) -> bool:
        return self.end < today


@dataclass(frozen=True)
class Invoice:
    number: str
    serial: str
    contract: Contract
    kind: Literal["instalment", "initial_fee", "insurance"]
    instalment: Instalment | None
    issue_date: date
    due_date: date
    description: str
    net: Decimal
    vat_rate: Literal["23", "zw"]
    vat: Decimal
    ksef_number: str | None

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class Payment:
    reference: str
    amount: Decimal
    received_on: date
    title: str
    account: str
    invoice: Invoice | None
    """The invoice the client meant to pay (None: paid ahead)."""


@dataclass(frozen=True)
class InterestNote:
    number: str
    invoice: Invoice
    days_late: int
    amount: Decimal
    issue_date: date
    due_date: date


@dataclass(frozen=True)
class RepaymentAccount:
    number: str
    bank_name: str
    purpose: str


@dataclass(frozen=True)
class DocumentSpec:
    """A PDF to publish: which template renders it and from what (rendered only when sent)."""

    template: Literal["contract", "schedule", "interest_note", "account_letter", "reminder", "fee_table"]
    kind: Literal["contract", "schedule", "interest_note", "letter", "other"]
    title: str
    published_on: date
    company: Company
    contract: Contract | None = None
    note: InterestNote | None = None
    account: RepaymentAccount | None = None
    overdue: tuple[tuple[Invoice, Decimal], ...] = ()
    """For a reminder: the overdue invoices and what is still owed on each."""


@dataclass(frozen=True)
class Call:
    """One back-office request. `{contract_id}` in the path or a body value is resolved when sent."""

    kind: CallKind
    method: Literal["POST", "PUT"]
    path: str
    key: str
    """The Idempotency-Key: derived from the seed and the object, so a re-run repeats the same key."""
    client_id: str
    body: Mapping[str, Any] = field(default_factory=dict)
    contract_number: str | None = None
    document: DocumentSpec | None = None
    """For a document: the form fields are `body`, the file is this PDF."""


@dataclass
class Expected:
    """What the portal must show for the client once everything is fed (by the settlement rules)."""

    invoices: int = 0
    invoiced: Decimal = ZERO
    payments: int = 0
    paid: Decimal = ZERO
    overdue_count: int = 0
    overdue_total: Decimal = ZERO
    oldest_overdue: date | None = None
    partially_paid: int = 0
    overpayment: Decimal = ZERO
    upcoming: int = 0
    interest_notes: int = 0
    documents: int = 0
    outstanding: dict[str, Decimal] = field(default_factory=dict)
    """Invoice number -> what is still owed."""


@dataclass
class ClientPlan:
    index: int
    role: Literal["demo_a", "demo_b", "regular"]
    company: Company
    persons: list[Person]
    contracts: list[Contract]
    accounts: list[RepaymentAccount]
    invoices: list[Invoice]
    payments: list[Payment]
    notes: list[InterestNote]
    contract_calls: list[Call]
    billing_calls: list[Call]
    expected: Expected


@dataclass(frozen=True)
class Profile:
    """How a client pays."""

    late: float = 0.05
    """Share of invoices paid after the due date (some so late they are still open today)."""
    unpaid_last: int = 0
    """The last N instalment invoices past their due date stay unpaid."""
    partial: bool = False
    """The last paid-for invoice past its due date is paid only partly."""
    early: float = 0.25
    """Share of not yet due invoices already paid."""
    pays_ahead: bool = False
    """Pays every invoice on time and then pays ahead: an overpayment."""
    forced_late: bool = False
    """At least one older invoice paid 12 to 20 days late (and an interest note for it)."""


PROFILES: tuple[tuple[Profile, int], ...] = (
    (Profile(), 60),
    (Profile(late=0.35), 18),
    (Profile(late=0.1, partial=True), 8),
    (Profile(late=0.2, unpaid_last=1), 6),
    (Profile(late=0.25, unpaid_last=3), 4),
    (Profile(late=0.0, early=1.0, pays_ahead=True), 1),
)
DEMO_A = Profile(late=0.1, unpaid_last=1, partial=True, forced_late=True)
DEMO_B = Profile(late=0.0, early=1.0, pays_ahead=True)


def lessor_nip() -> str:
    """The lessor's own NIP (seller on every invoice): the first valid one after a fixed serial."""
    serial = 304_512
    while (value := nip(cat.LESSOR_TAX_OFFICE, serial)) is None:
        serial += 1
    return value


LESSOR_NIP = lessor_nip()
FEES_ACCOUNT = RepaymentAccount(
    nrb(sort_code("105", "1010"), "0000000270311492"), "ING Bank Śląski S.A.", "ubezpieczenia i opłaty dodatkowe"
)


def plan(options: WorldOptions) -> Iterator[ClientPlan]:
    """Every client of the world, in order (each call starts the draw afresh: same options, same plans)."""
    world = _World(options)
    for index in range(options.clients):
        yield world.client(index)


@dataclass(frozen=True)
class DemoLogins:
    email: str
    password: str
    name: str
    clients: tuple[tuple[str, str], ...]
    """(client id, name) of the clients the demo person acts for."""
    activation_email: str
    activation_phone: str


def demo_logins(options: WorldOptions) -> DemoLogins | None:
    """The demo login (acting for clients 0 and 1) and the address left to activate; None below 2 clients."""
    if options.clients < 2:
        return None
    first, second = list(plan(WorldOptions(**{**options.__dict__, "clients": 2})))
    demo, newcomer = first.persons[0], first.persons[1]
    return DemoLogins(
        email=demo.email,
        password=DEMO_PASSWORD,
        name=demo.name,
        clients=tuple((c.company.client_id, c.company.name) for c in (first, second)),
        activation_email=newcomer.email,
        activation_phone=newcomer.phone,
    )


def _weighted(rng: random.Random, items: Sequence[Any], weights: Sequence[int]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


class _World:
    def __init__(self, options: WorldOptions) -> None:
        self.options = options
        self.today = options.today
        self.seed = options.seed
        self.taken: dict[str, set[str]] = {
            name: set() for name in ("nip", "name", "domain", "email", "phone", "vin", "plate")
        }
        self.demo_person: Person | None = None

    # --- unique values ---------------------------------------------------------------------------

    def _unique(self, kind: str, candidates: Iterator[str]) -> str:
        taken = self.taken[kind]
        for candidate in candidates:
            if candidate not in taken:
                taken.add(candidate)
                return candidate
        raise AssertionError("unreachable: candidate generators are endless")

    def _nip(self, rng: random.Random, city: cat.City) -> str:
        def candidates() -> Iterator[str]:
            while True:
                value = nip(rng.choice(city.tax_offices), rng.randrange(1_000_000))
                if value is not None:
                    yield value

        return self._unique("nip", candidates())

    def _phone(self, rng: random.Random) -> str:
        return self._unique(
            "phone", (mobile(rng.choice(MOBILE_PREFIXES), rng.randrange(1_000_000)) for _ in _forever())
        )

    def _domain(self, base: str, city: cat.City) -> str:
        def candidates() -> Iterator[str]:
            yield f"{base}.{EMAIL_DOMAIN}"
            yield f"{base}-{ascii_slug(city.name)}.{EMAIL_DOMAIN}"
            for n in _forever():
                yield f"{base}{n + 2}.{EMAIL_DOMAIN}"

        return self._unique("domain", candidates())

    def _email(self, local: str, domain: str) -> str:
        return self._unique("email", _numbered(f"{local}@{domain}", lambda n: f"{local}{n}@{domain}"))

    # --- people and companies --------------------------------------------------------------------

    def _name(self, rng: random.Random, female: bool | None = None) -> tuple[str, str]:
        female = rng.random() < 0.45 if female is None else female
        first = rng.choice(cat.FEMALE_FIRST if female else cat.MALE_FIRST)
        surname = rng.choice(cat.SURNAMES)
        return first, cat.feminine(surname) if female else surname

    def _person(self, rng: random.Random, domain: str, role: str, name: tuple[str, str] | None = None) -> Person:
        first, last = name or self._name(rng)
        email = self._email(f"{ascii_slug(first)}.{ascii_slug(last)}", domain)
        return Person(first, last, email, self._phone(rng), role)

    def _address(self, rng: random.Random, city: cat.City) -> Address:
        number = str(rng.randint(1, 180))
        if rng.random() < 0.3:
            number += f"/{rng.randint(1, 40)}"
        elif rng.random() < 0.1:
            number += rng.choice("ABC")
        postcode = "".join(str(rng.randrange(10)) if char == "#" else char for char in rng.choice(city.postcodes))
        return Address(rng.choice(cat.STREETS), number, postcode, city.name)

    def _brand(self, rng: random.Random) -> str:
        while True:
            head, tail = rng.choice(cat.BRAND_HEADS), rng.choice(cat.BRAND_TAILS)
            if head.lower() != tail:
                break
        return f"{head.upper()}-{tail.upper()}" if rng.random() < 0.2 else f"{head}{tail}"

    def _company(
        self, rng: random.Random, index: int, form: Form, trade: cat.Trade, city: cat.City, owner: tuple[str, str]
    ) -> tuple[Company, str]:
        """The company and the domain of its e-mail addresses."""
        client_id = f"KL{self.seed}-{index + 1:06d}"
        if form == "jdg":
            name = f"{rng.choice(trade.sole_trader_names)} {owner[0]} {owner[1]}"  # CEIDG names need not be unique
            base = f"{ascii_slug(owner[1])}-{ascii_slug(trade.industry)}"
        else:
            brand = self._brand(rng)
            legal = "Sp. z o.o." if form == "sp_zoo" else "S.A."
            words = f" {rng.choice(trade.company_words)}" if rng.random() < 0.6 else ""
            prefix = "Grupa " if form == "sa" and rng.random() < 0.4 else ""
            plain = f"{prefix}{brand}{words}"
            name = self._unique(
                "name",
                _numbered(f"{plain} {legal}", lambda n, plain=plain: f"{plain} {city.name if n == 2 else n} {legal}"),
            )
            base = ascii_slug(brand)
        company = Company(client_id, name, self._nip(rng, city), form, trade.industry, self._address(rng, city))
        return company, self._domain(base, city)

    # --- assets and contracts --------------------------------------------------------------------

    def _asset(self, rng: random.Random, key: str, city: cat.City, start: date) -> tuple[Asset, cat.Model]:
        kind = cat.ASSETS[key]
        model = rng.choice(kind.models)
        year = start.year - (rng.randint(1, 4) if key in ("car", "van") and rng.random() < 0.2 else 0)
        vin_number = self._unique(
            "vin", (vin(model.wmi, model.vds, year, model.plant, rng.randrange(1_000_000)) for _ in _forever())
        )
        plate = None
        if kind.registered:
            district_city = city if rng.random() < 0.8 else _weighted(rng, cat.CITIES, [c.weight for c in cat.CITIES])

            def plates() -> Iterator[str]:
                while True:
                    pattern = rng.choice(("99999", "9999A", "999AA", "9A999", "9AA99"))
                    digits = [rng.randrange(10) for _ in range(5)]
                    letters = [rng.randrange(20) for _ in range(5)]
                    yield registration_number(rng.choice(district_city.plates), pattern, digits, letters)

            plate = self._unique("plate", plates())
        return Asset(kind.kind, model.make, model.model, vin_number, plate, year), model

    def _contract(
        self,
        rng: random.Random,
        index: int,
        ordinal: int,
        key: str,
        city: cat.City,
        company: Company,
        elapsed: int | None = None,
        contract_type: Literal["operating", "financial"] | None = None,
    ) -> Contract:
        kind = cat.ASSETS[key]
        machine = not kind.registered or key == "truck"
        if contract_type is None:
            contract_type = "financial" if rng.random() < (0.5 if machine else 0.3) else "operating"
        months = rng.choice(kind.terms)
        history = self.options.history_months
        if elapsed is None:
            if history >= months + 2 and rng.random() < 0.05:
                elapsed = months + rng.randint(1, min(6, history - months))  # a completed lease
            else:
                elapsed = rng.randint(0, min(months - 1, history))
        first_of_month = add_months(self.today.replace(day=1), -elapsed)
        start = first_of_month.replace(day=rng.choice((1, 5, 10, 15, 20, 25)))
        asset, model = self._asset(rng, key, city, start)
        low, high = model.price
        net_price = net_of_gross(Decimal(rng.randrange(low, high + 1, 100)))
        if contract_type == "operating":
            fee_percent = rng.choice((0, 5, 10, 10, 15, 20))
            residual = grosze(net_price * rng.randint(*kind.residual) / 100)
        else:
            fee_percent = rng.choice((10, 15, 20, 25, 30))
            residual = ZERO
        initial_fee = grosze(net_price * fee_percent / 100)
        yearly_rate = Decimal(rng.randint(700, 1050)) / 10_000
        instalments = schedule(start, net_price, initial_fee, residual, yearly_rate, months)
        return Contract(
            number=f"UL/{start:%Y}/{self.seed}/{index + 1:06d}-{ordinal + 1}",
            client_id=company.client_id,
            contract_type=contract_type,
            start=start,
            end=add_months(start, months),
            net_price=net_price,
            initial_fee=initial_fee,
            residual=residual,
            yearly_rate=yearly_rate,
            months=months,
            asset=asset,
            instalments=tuple(instalments),
            insured=kind.registered and rng.random() < 0.5,
        )

    # --- invoices, payments, notes ---------------------------------------------------------------

    def _invoices(self, rng: random.Random, index: int, ordinal: int, contract: Contract) -> list[Invoice]:
        invoices: list[Invoice] = []
        rates = sum(1 for row in contract.instalments if row.kind == "instalment")
        for row in contract.instalments:
            fee = row.kind == "initial_fee"
            issue = row.due_date - timedelta(days=7 if fee else 14)
            if issue > self.today:
                break
            serial = f"{self.seed}/{index + 1:06d}{ordinal + 1}{row.number:02d}"
            rate_number = row.number - (1 if contract.initial_fee > 0 else 0)
            what = f"{contract.asset.make} {contract.asset.model}"
            description = (
                f"Opłata wstępna do umowy leasingu {contract.number} ({what})"
                if fee
                else f"Rata leasingowa nr {rate_number}/{rates}, umowa {contract.number} ({what})"
            )
            invoices.append(
                self._invoice(
                    rng, f"FV/{issue:%Y/%m}/{serial}", serial, contract, row, issue, row.due_date, description
                )
            )
        if contract.insured:
            premium = grosze(contract.net_price * Decimal(rng.randint(200, 400)) / 10_000)
            for year in range(0, (contract.months + 11) // 12):
                period = add_months(contract.start, 12 * year)
                issue = period - timedelta(days=7)
                if issue > self.today or period >= contract.end:
                    break
                until = min(add_months(period, 12), contract.end) - timedelta(days=1)
                plate = contract.asset.registration_number or contract.asset.vin
                description = (
                    f"Ubezpieczenie OC/AC {contract.asset.make} {contract.asset.model} ({plate}), "
                    f"okres {period:%d.%m.%Y}–{until:%d.%m.%Y}, umowa {contract.number}"
                )
                serial = f"{self.seed}/{index + 1:06d}{ordinal + 1}{year + 1:02d}"
                amount = grosze(premium * (1 - Decimal("0.1") * year))
                invoices.append(
                    self._invoice(
                        rng,
                        f"FU/{issue:%Y/%m}/{serial}",
                        serial,
                        contract,
                        None,
                        issue,
                        period + timedelta(days=7),
                        description,
                        amount,
                    )
                )
        return invoices

    def _invoice(
        self,
        rng: random.Random,
        number: str,
        serial: str,
        contract: Contract,
        row: Instalment | None,
        issue: date,
        due: date,
        description: str,
        insurance_net: Decimal | None = None,
    ) -> Invoice:
        ksef = ksef_number(LESSOR_NIP, f"{issue:%Y%m%d}", f"{rng.getrandbits(48):012X}") if issue >= KSEF_FROM else None
        if row is None:
            assert insurance_net is not None
            return Invoice(
                number, serial, contract, "insurance", None, issue, due, description, insurance_net, "zw", ZERO, ksef
            )
        kind: Literal["instalment", "initial_fee"] = "initial_fee" if row.kind == "initial_fee" else "instalment"
        return Invoice(number, serial, contract, kind, row, issue, due, description, row.net, "23", row.vat, ksef)

    def _payments(
        self, rng: random.Random, profile: Profile, invoices: list[Invoice]
    ) -> list[tuple[Invoice | None, date, Decimal, str]]:
        """(invoice meant, date, amount, title style) of every transfer the client made."""
        today = self.today
        ordered = sorted(invoices, key=lambda i: (i.due_date, i.issue_date, i.number))
        past_due = [i for i in ordered if i.due_date < today and i.kind != "insurance"]
        unpaid = {i.number for i in past_due[len(past_due) - profile.unpaid_last :]} if profile.unpaid_last else set()
        paid_for = [i for i in past_due if i.number not in unpaid]
        partial = paid_for[-1].number if profile.partial and paid_for else None
        forced = paid_for[len(paid_for) // 2].number if profile.forced_late and len(paid_for) >= 3 else None
        transfers: list[tuple[Invoice | None, date, Decimal, str]] = []
        for invoice in ordered:
            if invoice.number in unpaid:
                continue
            if invoice.number == partial:
                share = Decimal(rng.randint(30, 70)) / 100
                amount = max(Decimal(10), (invoice.gross * share / 10).to_integral_value() * 10)
                on = min(today, invoice.due_date + timedelta(days=rng.randint(0, 5)))
                transfers.append((invoice, on, grosze(amount), "partial"))
                continue
            if invoice.due_date < today:
                if invoice.number == forced:
                    on = invoice.due_date + timedelta(days=rng.randint(12, 20))
                elif rng.random() < profile.late:
                    on = invoice.due_date + timedelta(days=rng.randint(3, 35))
                else:
                    on = max(invoice.issue_date, invoice.due_date - timedelta(days=rng.randint(0, 5)))
                if on > today:
                    continue  # still unpaid: overdue
            elif profile.pays_ahead:
                on = max(invoice.issue_date, min(today, invoice.due_date - timedelta(days=rng.randint(1, 5))))
            elif rng.random() < profile.early:
                on = invoice.issue_date + timedelta(days=rng.randint(1, 10))
                if on > today:
                    continue
            else:
                continue
            transfers.append((invoice, on, invoice.gross, "full"))
        if profile.pays_ahead and invoices:
            transfers.append((None, today, Decimal(rng.choice((500, 1000, 1500, 2000, 3000))), "ahead"))
        return transfers

    def client(self, index: int) -> ClientPlan:
        rng = random.Random(f"strefa-seeder:{self.seed}:{index}")  # noqa: S311 (demo data, reproducible)
        role: Literal["demo_a", "demo_b", "regular"] = ("demo_a", "demo_b")[index] if index < 2 else "regular"
        trades = {trade.industry: trade for trade in cat.TRADES}
        city: cat.City = _weighted(rng, cat.CITIES, [c.weight for c in cat.CITIES])
        persons: list[Person]
        form: Form
        if role == "demo_a":
            trade, form, profile = trades["transport"], "sp_zoo", DEMO_A
        elif role == "demo_b":
            trade, form, profile = trades["budownictwo"], "jdg", DEMO_B
        else:
            trade = _weighted(rng, cat.TRADES, [t.weight for t in cat.TRADES])
            form = _weighted(rng, ("jdg", "sp_zoo", "sa"), (45, 45, 10))
            profile = _weighted(rng, [p for p, _ in PROFILES], [w for _, w in PROFILES])
        demo = self.demo_person
        owner = (demo.first_name, demo.last_name) if role == "demo_b" and demo else self._name(rng)
        company, domain = self._company(rng, index, form, trade, city, owner)
        if role == "demo_b" and demo is not None:
            persons = [demo]
        elif form == "jdg":
            persons = [self._person(rng, domain, "Właściciel", owner)]
        else:
            roles = ["Prezes Zarządu", "Główna księgowa", "Kierownik floty", "Dyrektor finansowy"]
            count = 2 if role == "demo_a" or form == "sa" else rng.choice((1, 2))
            persons = [self._person(rng, domain, roles[0], owner)]
            persons += [self._person(rng, domain, role_name) for role_name in rng.sample(roles[1:], count - 1)]
            if role == "demo_a":
                self.demo_person = persons[0]

        if role == "demo_a":
            shapes: list[tuple[str, int | None, Literal["operating", "financial"] | None]] = [
                ("truck", 14, "financial"),
                ("car", 7, "operating"),
                ("trailer", 4, "operating"),
            ]
        elif role == "demo_b":
            shapes = [("backhoe", 10, "financial"), ("van", 5, "operating")]
        else:
            count = {"jdg": rng.choice((1, 1, 1, 2)), "sp_zoo": rng.randint(1, 3), "sa": rng.randint(2, 4)}[form]
            shapes = [(rng.choice(trade.assets), None, None) for _ in range(count)]
        contracts = [
            self._contract(rng, index, ordinal, key, city, company, elapsed, kind)
            for ordinal, (key, elapsed, kind) in enumerate(shapes)
        ]
        invoices = [inv for ordinal, c in enumerate(contracts) for inv in self._invoices(rng, index, ordinal, c)]
        account = RepaymentAccount(
            nrb(sort_code(cat.LESSOR_BANK.code, cat.LESSOR_BRANCH), f"77{self.seed % 10_000:04d}{index + 1:010d}"),
            cat.LESSOR_BANK.name,
            "raty leasingowe",
        )
        accounts = [account, *([FEES_ACCOUNT] if any(i.kind == "insurance" for i in invoices) else [])]
        transfers = self._payments(rng, profile, invoices)
        return _assemble(self, rng, index, role, company, persons, contracts, accounts, invoices, transfers, profile)


def _forever() -> Iterator[int]:
    n = 0
    while True:
        yield n
        n += 1


def _numbered(first: str, numbered: Any) -> Iterator[str]:
    yield first
    for n in _forever():
        yield numbered(n + 2)


# --- assembling the calls and the expected outcome ---------------------------------------------------


class _Ledger:
    """The settlement rules the portal documents (services/billing/settlement.py), as an oracle for
    the expected outcome: the invoice named in the title first, then oldest due first; the rest is an
    overpayment, which settles the next invoice issued."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[Invoice, Decimal]] = {}
        self.credit = ZERO

    def issue(self, invoice: Invoice) -> None:
        applied = min(self.credit, invoice.gross)
        self.credit -= applied
        self.open[invoice.number] = (invoice, invoice.gross - applied)

    def oldest_open(self) -> Invoice | None:
        items = [inv for inv, owed in self.open.values() if owed > 0]
        return min(items, key=lambda i: (i.due_date, i.issue_date, i.number), default=None)

    def pay(self, amount: Decimal, named: Invoice | None) -> None:
        order = sorted(
            (inv for inv, owed in self.open.values() if owed > 0), key=lambda i: (i.due_date, i.issue_date, i.number)
        )
        if named is not None and named in order:
            order.remove(named)
            order.insert(0, named)
        for invoice in order:
            if amount <= 0:
                break
            owed = self.open[invoice.number][1]
            settled = min(owed, amount)
            amount -= settled
            self.open[invoice.number] = (invoice, owed - settled)
        self.credit += amount


def _title(rng: random.Random, invoice: Invoice, style: str, named: bool) -> str:
    if style == "partial":
        return f"Częściowa zapłata faktury {invoice.number}"
    contract = invoice.contract
    if not named:
        month = cat.MONTHS_PL[invoice.due_date.month - 1]
        return f"Rata leasingowa {month} {invoice.due_date.year}, umowa {contract.number}"
    if invoice.kind == "insurance":
        return f"Ubezpieczenie - faktura {invoice.number}"
    return rng.choice(
        (
            f"Zapłata za fakturę {invoice.number}",
            f"{invoice.number}",
            f"FV {invoice.number} umowa {contract.number}",
            f"Faktura nr {invoice.number}",
            f"Płatność za FV {invoice.number.replace('/', ' ')}",
        )
    )


def _assemble(
    world: _World,
    rng: random.Random,
    index: int,
    role: Literal["demo_a", "demo_b", "regular"],
    company: Company,
    persons: list[Person],
    contracts: list[Contract],
    accounts: list[RepaymentAccount],
    invoices: list[Invoice],
    transfers: list[tuple[Invoice | None, date, Decimal, str]],
    profile: Profile,
) -> ClientPlan:
    options, today, seed = world.options, world.today, world.seed
    prefix = f"seeder-{seed}"
    client_id = company.client_id
    contract_calls: list[Call] = []
    for contract in contracts:
        body = {
            "contract_number": contract.number,
            "client": {"client_id": client_id, "name": company.name, "nip": company.nip},
            "contract_type": contract.contract_type,
            "start_date": contract.start.isoformat(),
            "end_date": contract.end.isoformat(),
            "net_value": money(contract.net_price),
            "currency": "PLN",
            "asset": {
                "kind": contract.asset.kind,
                "make": contract.asset.make,
                "model": contract.asset.model,
                "vin": contract.asset.vin,
                "registration_number": contract.asset.registration_number,
                "year": contract.asset.year,
            },
            "contact_persons": [
                {"first_name": p.first_name, "last_name": p.last_name, "email": p.email, "phone": p.phone}
                for p in persons
            ],
        }
        contract_calls.append(
            Call(
                "contract", "POST", CONTRACTS, f"{prefix}:contract:{contract.number}", client_id, body, contract.number
            )
        )
        rows = [
            {
                "number": row.number,
                "due_date": row.due_date.isoformat(),
                "net": money(row.net),
                "vat": money(row.vat),
                "gross": money(row.gross),
                "capital": money(row.capital),
                "interest": money(row.interest),
            }
            for row in contract.instalments
        ]
        contract_calls.append(
            Call(
                "schedule",
                "POST",
                f"{CONTRACTS}/{CONTRACT_ID}/schedule",
                f"{prefix}:schedule:{contract.number}",
                client_id,
                {"instalments": rows},
                contract.number,
            )
        )
        if contract.completed(today):
            contract_calls.append(
                Call(
                    "termination",
                    "POST",
                    f"{CONTRACTS}/{CONTRACT_ID}/termination",
                    f"{prefix}:termination:{contract.number}",
                    client_id,
                    {"terminated_on": contract.end.isoformat(), "reason": "completed"},
                    contract.number,
                )
            )

    billing_calls: list[Call] = [
        Call(
            "account",
            "POST",
            f"{BILLING}/clients/{client_id}/repayment-accounts",
            f"{prefix}:account:{client_id}:{account.number}",
            client_id,
            {"account_number": account.number, "bank_name": account.bank_name, "purpose": account.purpose},
        )
        for account in accounts
    ]

    # Chronological: invoices on their issue date, then the day's transfers, the advance last.
    timeline: list[tuple[date, int, int, Invoice | tuple[Invoice | None, Decimal, str]]] = []
    for seq, invoice in enumerate(invoices):
        timeline.append((invoice.issue_date, 0, seq, invoice))
    for seq, (meant, on, amount, style) in enumerate(transfers):
        timeline.append((on, 2 if style == "ahead" else 1, seq, (meant, amount, style)))
    timeline.sort(key=lambda item: (item[0], item[1], item[2]))

    ledger = _Ledger()
    expected = Expected()
    payments: list[Payment] = []
    paid_on: dict[str, date] = {}
    for on, _, _, item in timeline:
        if isinstance(item, Invoice):
            ledger.issue(item)
            billing_calls.append(_invoice_call(prefix, client_id, item))
            expected.invoices += 1
            expected.invoiced += item.gross
            continue
        meant, amount, style = item
        if meant is None:
            title = f"Wpłata na poczet przyszłych rat leasingowych, {company.name}"[:140]
            account = accounts[0]
        else:
            oldest = ledger.oldest_open()
            named = not (style == "full" and meant is oldest and meant.kind != "insurance" and rng.random() < 0.15)
            title = _title(rng, meant, style, named)
            account = FEES_ACCOUNT if meant.kind == "insurance" else accounts[0]
            if style == "full":
                paid_on[meant.number] = on
        ledger.pay(amount, meant)
        reference = f"WB/{on:%Y%m%d}/{seed}/{index + 1:06d}/{len(payments) + 1:04d}"
        payment = Payment(reference, amount, on, title, account.number, meant)
        payments.append(payment)
        billing_calls.append(
            Call(
                "payment",
                "POST",
                f"{BILLING}/payments",
                f"{prefix}:payment:{reference}",
                client_id,
                {
                    "client_id": client_id,
                    "amount": money(amount),
                    "received_on": on.isoformat(),
                    "title": title,
                    "account": account.number,
                    "reference": reference,
                    "currency": "PLN",
                },
            )
        )
        expected.payments += 1
        expected.paid += amount

    notes: list[InterestNote] = []
    for invoice in invoices:
        paid = paid_on.get(invoice.number)
        if paid is None or len(notes) >= 3 or ledger.open[invoice.number][1] > 0:
            continue
        days = (paid - invoice.due_date).days
        if days < 7 or (rng.random() > 0.6 and not (profile.forced_late and days >= 12)):
            continue
        issue = paid + timedelta(days=rng.randint(3, 10))
        amount = late_interest(invoice.gross, days, cat.LATE_INTEREST_RATE)
        if issue > today or amount < 1:
            continue
        note = InterestNote(
            f"NO/{issue:%Y/%m}/{invoice.serial}{'U' if invoice.kind == 'insurance' else ''}",
            invoice, days, amount, issue, issue + timedelta(days=14),
        )  # fmt: skip
        notes.append(note)
        billing_calls.append(
            Call(
                "interest_note",
                "POST",
                f"{BILLING}/interest-notes",
                f"{prefix}:note:{note.number}",
                client_id,
                {
                    "number": note.number,
                    "invoice_number": invoice.number,
                    "days_late": days,
                    "amount": money(amount),
                    "issue_date": issue.isoformat(),
                    "due_date": note.due_date.isoformat(),
                    "currency": "PLN",
                },
            )
        )

    for number, (invoice, owed) in ledger.open.items():
        expected.outstanding[number] = owed
        if owed > 0 and invoice.due_date < today:
            expected.overdue_count += 1
            expected.overdue_total += owed
            if expected.oldest_overdue is None or invoice.due_date < expected.oldest_overdue:
                expected.oldest_overdue = invoice.due_date
        if 0 < owed < invoice.gross:
            expected.partially_paid += 1
    expected.overpayment = ledger.credit
    expected.interest_notes = len(notes)
    expected.upcoming = sum(
        1
        for c in contracts
        if not c.completed(today)
        for row in c.instalments
        if today <= row.due_date <= today + timedelta(days=UPCOMING_DAYS)
    )
    if options.documents:
        documents = _documents(world, index, company, contracts, accounts, notes, ledger)
        for spec in documents:
            billing_calls.append(_document_call(prefix, client_id, spec))
        expected.documents = len(documents)
    return ClientPlan(
        index, role, company, persons, contracts, accounts, invoices, payments, notes, contract_calls, billing_calls,
        expected,
    )  # fmt: skip


def _invoice_call(prefix: str, client_id: str, invoice: Invoice) -> Call:
    line = {
        "description": invoice.description,
        "net": money(invoice.net),
        "vat_rate": invoice.vat_rate,
        "vat": money(invoice.vat),
        "gross": money(invoice.gross),
    }
    body: dict[str, Any] = {
        "number": invoice.number,
        "contract_id": CONTRACT_ID,
        "client_id": client_id,
        "kind": invoice.kind,
        "instalment_number": invoice.instalment.number if invoice.instalment else None,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "lines": [line],
        "net_total": line["net"],
        "vat_total": line["vat"],
        "gross_total": line["gross"],
        "currency": "PLN",
        "ksef_number": invoice.ksef_number,
    }
    return Call(
        "invoice", "POST", f"{BILLING}/invoices", f"{prefix}:invoice:{invoice.number}", client_id, body,
        invoice.contract.number,
    )  # fmt: skip


def _documents(
    world: _World,
    index: int,
    company: Company,
    contracts: list[Contract],
    accounts: list[RepaymentAccount],
    notes: list[InterestNote],
    ledger: _Ledger,
) -> list[DocumentSpec]:
    today = world.today
    first = min((c.start for c in contracts), default=today)
    docs = [DocumentSpec("fee_table", "other", "Tabela opłat i prowizji", min(first, today), company)]
    if index >= world.options.pdf_clients:
        return docs
    docs.append(
        DocumentSpec(
            "account_letter",
            "letter",
            "Informacja o indywidualnym rachunku do spłat",
            min(first, today),
            company,
            account=accounts[0],
        )
    )
    for contract in contracts:
        signed = min(contract.start - timedelta(days=2), today)
        kind_name = "operacyjnego" if contract.contract_type == "operating" else "finansowego"
        docs.append(
            DocumentSpec(
                "contract", "contract", f"Umowa leasingu {kind_name} nr {contract.number}", signed, company, contract
            )
        )
        docs.append(
            DocumentSpec(
                "schedule", "schedule", f"Harmonogram spłat — umowa {contract.number}", signed, company, contract
            )
        )
    for note in notes:
        docs.append(
            DocumentSpec(
                "interest_note",
                "interest_note",
                f"Nota odsetkowa nr {note.number}",
                note.issue_date,
                company,
                note=note,
            )
        )
    overdue = tuple(
        (inv, owed)
        for inv, owed in sorted(ledger.open.values(), key=lambda item: item[0].due_date)
        if owed > 0 and inv.due_date < today - timedelta(days=14)
    )
    if overdue:
        docs.append(
            DocumentSpec(
                "reminder",
                "letter",
                "Wezwanie do zapłaty",
                today - timedelta(days=3),
                company,
                account=accounts[0],
                overdue=overdue,
            )
        )
    return docs


def _document_call(prefix: str, client_id: str, spec: DocumentSpec) -> Call:
    form: dict[str, str] = {
        "client_id": client_id,
        "kind": spec.kind,
        "title": spec.title,
        "published_on": spec.published_on.isoformat(),
    }
    if spec.contract is not None:
        form["contract_id"] = CONTRACT_ID
    if spec.note is not None:
        form["invoice_number"] = spec.note.invoice.number
        form["contract_id"] = CONTRACT_ID
    contract = spec.contract.number if spec.contract else spec.note.invoice.contract.number if spec.note else None
    key = f"{prefix}:document:{client_id}:{spec.template}:{ascii_slug(spec.title)}"[:128]
    return Call("document", "POST", f"{BILLING}/documents", key, client_id, form, contract, spec)
