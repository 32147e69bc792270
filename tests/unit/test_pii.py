"""Personal fields: which ones are marked, sealed in the store, opened on read, "[erased]" without the key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey

import libs.events.schemas  # noqa: F401  (registers every published event type)
from libs.events.docstore import Collection, Document
from libs.events.envelope import DomainEvent, EventContext, NewEvent, RecordedEvent
from libs.events.eventlog import EmbeddedEventLog
from libs.events.pii import (
    ERASED,
    SEALED_PREFIX,
    PersonalData,
    PersonalDataStore,
    Subject,
    contact_subject,
    personal_fields,
)
from libs.events.projection import DEAD_LETTERS, STATUS, Projection, ProjectionRunner, Reactor, ReactorRunner
from libs.events.registry import InvalidEventData, registry
from libs.events.schemas.contracts import ContactPerson, ContractRegistered, LeasedAsset, Party
from libs.events.schemas.identity import AccountProvisioned, ActivationCodeIssued, PhoneChanged
from libs.events.schemas.profile import (
    ContactDataChanged,
    EInvoiceConfirmationRequested,
    EInvoiceConsentGiven,
    PersonContactDataChanged,
    RequestStatusChanged,
)
from libs.events.sealed import CannotUnseal, NotificationRequest, SealedMessage, seal_notification, unseal_notification
from libs.events.sqlite_docstore import SqliteDocumentStore
from libs.events.sqlite_store import SqliteEventStore
from libs.events.store import ANY_VERSION
from libs.events.vault import SqliteKeyVault, SubjectErased


@dataclass
class Stores:
    raw: SqliteEventStore
    vault: SqliteKeyVault
    events: PersonalDataStore


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    raw = await SqliteEventStore(tmp_path / "events.db", "identity").open()
    vault = await SqliteKeyVault(tmp_path / "vault" / "keys.db").open()
    yield Stores(raw, vault, PersonalDataStore(raw, PersonalData(vault, registry)))
    await raw.close()
    await vault.close()


def provisioned(account_id: str = "acc-1", email: str = "zofia.zolkiewska@nowak.pl") -> AccountProvisioned:
    return AccountProvisioned(
        account_id=account_id,
        email=email,
        phone="+48601234567",
        first_name="Zofia",
        last_name="Żółkiewska",
        source="backoffice",
    )


def contract(*people: tuple[str, str]) -> ContractRegistered:
    return ContractRegistered(
        contract_id="C-1",
        contract_number="UL/2026/0001",
        client=Party(client_id="CL-1", name="Transport Nowak Sp. z o.o.", nip="5260250274"),
        contract_type="operating",
        start_date=date(2026, 1, 15),
        end_date=date(2029, 1, 15),
        net_value=Decimal("185000.00"),
        currency="PLN",
        asset=LeasedAsset(kind="samochód osobowy", make="Škoda", model="Superb"),
        contact_persons=tuple(
            ContactPerson(first_name=first, last_name="Kowalski", email=email, phone="+48601234567")
            for first, email in people
        ),
    )


def new(event: DomainEvent) -> NewEvent:
    return NewEvent.from_domain(event, EventContext())


async def stored_rows(store: SqliteEventStore) -> str:
    async with store.db.execute("SELECT data FROM events") as cursor:
        return " ".join(bytes(row[0]).decode() for row in await cursor.fetchall())


def test_names_emails_and_phones_of_persons_are_marked_and_the_companys_data_is_not() -> None:
    marked = {model.event_type: found for model in registry.models() if (found := personal_fields(model)) is not None}
    assert marked["AccountProvisioned"].fields == ("email", "phone", "first_name", "last_name")
    assert marked["PhoneChanged"].fields == ("old_phone", "new_phone")
    assert dict(marked["ContractRegistered"].nested)["contact_persons"].fields == (
        "first_name",
        "last_name",
        "email",
        "phone",
    )
    assert dict(marked["PersonContactDataChanged"].nested)["contact"].fields == ("work_phone", "work_email")
    for company in (ContactDataChanged, EInvoiceConsentGiven, EInvoiceConfirmationRequested):  # the client's data
        assert company.event_type not in marked
    for message_to_a_person in (
        "ActivationCodeIssued", "ActivationLinkIssued", "SubAccountCreated", "LoginEmailChangeRequested",
        "PhoneChangeRequested", "ContactChangeNoticeIssued", "RequestStatusChanged",
    ):  # fmt: skip
        assert dict(marked[message_to_a_person].nested)["notification"].fields == ("ciphertext",)
    assert not {"InvoiceIssued", "PaymentReceived", "PaymentStarted", "PaymentAccepted"} & set(marked)
    assert all(found.subjects_declared() for found in marked.values())


def test_a_personal_field_keeps_its_json_schema_and_says_it_is_personal() -> None:
    schema = AccountProvisioned.model_json_schema()["properties"]
    assert schema["email"] == {"format": "email", "title": "Email", "type": "string", "x-personal": True}
    assert schema["phone"]["type"] == "string"
    assert "x-personal" not in schema["account_id"]
    person = PersonContactDataChanged.model_json_schema()["$defs"]["PersonContact"]["properties"]
    assert person["work_email"]["x-personal"] is True
    assert {"format": "email", "type": "string"} in person["work_email"]["anyOf"]


def test_a_personal_field_accepts_the_erased_placeholder_besides_its_own_type() -> None:
    erased = AccountProvisioned(
        account_id="a", email=ERASED, phone=ERASED, first_name=ERASED, last_name=ERASED, source="backoffice"
    )
    assert erased.email == ERASED
    with pytest.raises(ValueError, match="email"):
        AccountProvisioned(
            account_id="a", email="not an address", phone="1", first_name="A", last_name="B", source="backoffice"
        )


async def test_the_store_holds_them_sealed_and_reads_them_in_clear(stores: Stores) -> None:
    await stores.events.append("identity-account-acc-1", [new(provisioned())], ANY_VERSION)
    rows = await stored_rows(stores.raw)
    for plain in ("zofia.zolkiewska@nowak.pl", "601234567", "Zofia", "Żółkiewska", "\\u017b"):
        assert plain not in rows
    assert "acc-1" in rows  # the rest of the event is as it was
    (raw,) = await stores.raw.read_all()
    assert str(raw.data["email"]).startswith(SEALED_PREFIX)
    for read in (await stores.events.read_stream("identity-account-acc-1"), await stores.events.read_all()):
        assert registry.decode(read[0]) == provisioned()


async def test_once_the_key_is_erased_the_fields_read_erased_and_still_decode(stores: Stores) -> None:
    await stores.events.append("identity-account-acc-1", [new(provisioned())], ANY_VERSION)
    await stores.events.append("identity-account-acc-2", [new(provisioned("acc-2", "jan@nowak.pl"))], ANY_VERSION)
    await stores.vault.erase("acc-1")
    erased, other = (registry.decode(event) for event in await stores.events.read_all())
    assert isinstance(erased, AccountProvisioned)
    assert (erased.email, erased.phone, erased.first_name, erased.last_name) == (ERASED,) * 4
    assert (erased.account_id, erased.source) == ("acc-1", "backoffice")
    assert other == provisioned("acc-2", "jan@nowak.pl")
    with pytest.raises(SubjectErased):  # nothing new is kept about an erased person
        await stores.events.append("identity-account-acc-1", [new(provisioned())], ANY_VERSION)


async def test_each_contact_person_of_a_contract_has_its_own_key(stores: Stores) -> None:
    registered = contract(("Jan", "jan@nowak.pl"), ("Ewa", "Ewa@Nowak.pl"))
    await stores.events.append("contracts-contract-C-1", [new(registered)], ANY_VERSION)
    assert "jan@nowak.pl" not in await stored_rows(stores.raw)
    assert await stores.vault.delete(contact_subject("ewa@nowak.pl"))
    (read,) = await stores.events.read_all()
    decoded = registry.decode(read)
    assert isinstance(decoded, ContractRegistered)
    jan, ewa = decoded.contact_persons
    assert (jan.first_name, jan.email) == ("Jan", "jan@nowak.pl")
    assert (ewa.first_name, ewa.email, ewa.phone) == (ERASED, ERASED, ERASED)
    assert decoded.client.name == "Transport Nowak Sp. z o.o."  # the company's data stays
    assert decoded.net_value == Decimal("185000.00")


async def test_events_stored_before_sealing_existed_read_as_they_are(stores: Stores) -> None:
    await stores.raw.append("identity-account-acc-1", [new(provisioned())], ANY_VERSION)  # plain, as before
    (read,) = await stores.events.read_all()
    assert registry.decode(read) == provisioned()


async def test_a_sealed_value_is_never_taken_for_the_data(stores: Stores) -> None:
    await stores.events.append("identity-account-acc-1", [new(provisioned())], ANY_VERSION)
    (raw,) = await stores.raw.read_all()
    with pytest.raises(InvalidEventData, match="still sealed"):
        registry.decode(raw)  # not opened
    damaged = raw.model_copy(update={"data": {**raw.data, "phone": str(raw.data["phone"])[:-8] + "AAAAAAA="}})
    (opened,) = await stores.events.personal.open([damaged])
    with pytest.raises(InvalidEventData, match="still sealed"):
        registry.decode(opened)


async def test_a_projection_folds_them_opened_and_its_dead_letters_keep_them_sealed(stores: Stores) -> None:
    folded: list[str] = []

    def fold(doc: Document | None, event: DomainEvent, _: RecordedEvent) -> Document:
        assert isinstance(event, AccountProvisioned)
        folded.append(str(event.email))
        if event.account_id == "acc-2":
            raise RuntimeError("this one cannot be folded")
        return {"email": str(event.email)}

    await stores.events.append("identity-account-acc-1", [new(provisioned())], ANY_VERSION)
    await stores.events.append("identity-account-acc-2", [new(provisioned("acc-2", "jan@nowak.pl"))], ANY_VERSION)
    documents = await SqliteDocumentStore(":memory:").open()
    try:
        accounts = Collection("accounts")
        projection = Projection(
            "accounts", accounts, ("identity",), frozenset({"AccountProvisioned"}),
            lambda event, _: [str(getattr(event, "account_id"))], fold,  # noqa: B009
        )  # fmt: skip
        consumer = EmbeddedEventLog({"identity": stores.raw}, documents).consumer("accounts", ["identity"])
        runner = ProjectionRunner(
            projection, consumer, documents, registry, service="identity", personal=stores.events.personal
        )
        await documents.ensure(DEAD_LETTERS)
        assert await runner.run_once() == 2
        assert folded == ["zofia.zolkiewska@nowak.pl", "jan@nowak.pl"]
        assert (await documents.get(accounts, "acc-1") or {})["email"] == "zofia.zolkiewska@nowak.pl"
        (letter,) = await documents.find(DEAD_LETTERS)
        assert str(letter["event"]["data"]["email"]).startswith(SEALED_PREFIX)
        assert "jan@nowak.pl" not in str(letter)
    finally:
        await documents.close()


def test_a_subject_may_be_derived_from_a_field() -> None:
    assert Subject("email", contact_subject).of({"email": "Jan@Nowak.pl "}) == contact_subject("jan@nowak.pl")
    assert contact_subject("jan@nowak.pl") != contact_subject("ewa@nowak.pl")
    assert Subject("account_id").of({"account_id": "acc-1"}) == "acc-1"


@settings(deadline=None)  # a shared test machine: how long an example takes is not what is tested
@given(st.text(min_size=1, max_size=60).filter(lambda text: text != ERASED and not text.startswith(SEALED_PREFIX)))
async def test_any_text_survives_sealing(text: str) -> None:
    vault = await SqliteKeyVault(":memory:").open()
    try:
        personal = PersonalData(vault, registry)
        event = new(PhoneChanged(account_id="acc-1", old_phone=text, new_phone="+48601234567"))
        (sealed,) = await personal.seal([event])
        assert str(sealed.data["old_phone"]).startswith(SEALED_PREFIX)
        (opened,) = await personal.open([sealed])
        assert opened.data == event.data
    finally:
        await vault.close()


# --- messages sealed for notifications ------------------------------------------------------------


def code_issued(account_id: str, phone: str, key: PrivateKey) -> NewEvent:
    sms = NotificationRequest(channel="sms", to=phone, template="activation_code", params={"code": "482913"})
    return new(
        ActivationCodeIssued(
            account_id=account_id,
            code_hash="0" * 64,
            expires_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
            notification=seal_notification(sms, key.public_key),
        )
    )


def notification_of(event: RecordedEvent) -> SealedMessage:
    return SealedMessage.model_validate(event.data["notification"])


async def test_a_message_sealed_for_notifications_is_erased_with_its_person(stores: Stores) -> None:
    notifications = PrivateKey.generate()
    await stores.events.append("identity-account-acc-1", [code_issued("acc-1", "+48601234567", notifications)], None)
    await stores.events.append("identity-account-acc-2", [code_issued("acc-2", "+48602345678", notifications)], None)
    raw = await stores.raw.read_all()
    stored = [SealedMessage.model_construct(**event.data["notification"]) for event in raw]
    assert all(message.ciphertext.startswith(SEALED_PREFIX) for message in stored)
    with pytest.raises(CannotUnseal):  # notifications' key alone no longer opens what is stored
        unseal_notification(stored[0], notifications)

    await stores.vault.erase("acc-1")
    erased, kept = await stores.events.personal.open(raw)
    assert notification_of(erased).ciphertext == ERASED
    with pytest.raises(CannotUnseal, match="erased"):
        unseal_notification(notification_of(erased), notifications)
    assert unseal_notification(notification_of(kept), notifications).to == "+48602345678"
    assert isinstance(registry.decode(erased), ActivationCodeIssued)  # it still decodes, for replays


async def test_a_message_about_a_request_is_sealed_with_the_key_of_whom_filed_it(stores: Stores) -> None:
    notifications = PrivateKey.generate()
    mail = NotificationRequest(channel="email", to="zofia@nowak.pl", template="request_status_changed")
    changed = RequestStatusChanged(
        request_id="r-1", client_id="CL-1", from_status="submitted", to_status="in_progress", changed_by="backoffice",
        changed_at=datetime(2026, 3, 1, tzinfo=UTC), notification=seal_notification(mail, notifications.public_key),
        submitted_by="acc-1",
    )  # fmt: skip
    await stores.events.append("profile-request-r-1", [new(changed)], None)
    await stores.vault.erase("acc-1")
    (opened,) = await stores.events.read_all()
    assert notification_of(opened).ciphertext == ERASED
    without_filer = changed.model_copy(update={"submitted_by": None})
    with pytest.raises(TypeError, match="no data subject"):  # never kept plain for want of a subject
        await stores.events.append("profile-request-r-2", [new(without_filer)], None)
    unsent = changed.model_copy(update={"submitted_by": None, "notification": None})
    await stores.events.append("profile-request-r-3", [new(unsent)], None)


async def test_the_confirmation_link_to_a_companys_e_invoice_address_is_not_a_persons_data(stores: Stores) -> None:
    notifications = PrivateKey.generate()
    mail = NotificationRequest(channel="email", to="faktury@nowak.pl", template="einvoice_email_confirmation")
    requested = EInvoiceConfirmationRequested(
        client_id="CL-1", confirmation_id="c-1", purpose="consent", email="faktury@nowak.pl", token_hash="0" * 64,
        expires_at=datetime(2026, 3, 2, tzinfo=UTC), requested_by="account:acc-1",
        requested_at=datetime(2026, 3, 1, tzinfo=UTC), notification=seal_notification(mail, notifications.public_key),
    )  # fmt: skip
    await stores.events.append("profile-einvoice-CL-1", [new(requested)], None)
    (raw,) = await stores.raw.read_all()
    assert unseal_notification(notification_of(raw), notifications).to == "faktury@nowak.pl"


# --- what a failure tells ----------------------------------------------------------------------------


async def test_a_personal_value_its_model_refuses_is_named_but_never_quoted(stores: Stores) -> None:
    bad = NewEvent(
        type="AccountProvisioned",
        version=1,
        data={**provisioned().model_dump(mode="json"), "email": "zofia.zolkiewska(at)nowak.pl"},
    )
    await stores.events.append("identity-account-acc-1", [bad], ANY_VERSION)
    told: list[str] = []

    async def dead_letter_topic(consumer: str, failed: Sequence[tuple[RecordedEvent, str]]) -> None:
        told.extend(reason for _, reason in failed)

    documents = await SqliteDocumentStore(":memory:").open()
    try:
        projection = Projection(
            "accounts", Collection("accounts"), ("identity",), frozenset({"AccountProvisioned"}),
            lambda event, _: ["acc-1"], lambda doc, event, _: {},
        )  # fmt: skip
        consumer = EmbeddedEventLog({"identity": stores.raw}, documents).consumer("accounts", ["identity"])
        runner = ProjectionRunner(
            projection, consumer, documents, registry, service="identity", personal=stores.events.personal,
            dead_letter_sink=dead_letter_topic,
        )  # fmt: skip
        await documents.ensure(DEAD_LETTERS)
        with structlog.testing.capture_logs() as logs:
            assert await runner.run_once() == 1
        (letter,) = await documents.find(DEAD_LETTERS)
        status = await documents.get(STATUS, "accounts")
    finally:
        await documents.close()
    assert "email" in letter["reason"]  # which field, and why
    assert [letter["reason"]] == told == [runner.status.last_error] == [(status or {}).get("last_error")]
    for said in (str(letter), str(logs), *told):
        for plain in ("zofia", "(at)nowak.pl", "Żółkiewska", "601234567"):
            assert plain not in said


# --- an erased person ----------------------------------------------------------------------------------


async def test_a_reaction_about_an_erased_person_is_skipped_not_dead_lettered(stores: Stores) -> None:
    await stores.events.append("identity-account-acc-1", [new(provisioned())], ANY_VERSION)
    await stores.vault.erase("acc-1")
    reactions: list[str] = []

    async def record_phone(event: DomainEvent, _: RecordedEvent) -> None:
        reactions.append(event.event_type)
        changed = PhoneChanged(account_id="acc-1", old_phone="+48601234567", new_phone="+48602345678")
        await stores.events.append("identity-account-acc-1", [new(changed)], ANY_VERSION)

    documents = await SqliteDocumentStore(":memory:").open()
    try:
        reactor = Reactor("phones", ("identity",), frozenset({"AccountProvisioned"}), record_phone)
        consumer = EmbeddedEventLog({"identity": stores.raw}, documents).consumer("phones", ["identity"])
        runner = ReactorRunner(
            reactor, consumer, documents, registry, service="identity", personal=stores.events.personal
        )
        runner.retry_delay = 0
        await documents.ensure(DEAD_LETTERS)
        assert await runner.run_once() == 1
        assert await documents.find(DEAD_LETTERS) == []
        assert await runner.run_once() == 0  # committed: not tried again
    finally:
        await documents.close()
    assert reactions == ["AccountProvisioned"]  # once: nothing to retry for an erased person
    assert runner.status.dead_letters == 0
    assert len(await stores.raw.read_stream("identity-account-acc-1")) == 1
