"""The Prometheus endpoint as a scraper sees it: text format, the named metrics, values that move."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import uuid4

import pytest
from pydantic import ValidationError

from libs.events.envelope import EventContext, NewEvent, utc_now
from libs.events.schemas.identity import ActivationCodeIssued
from libs.events.sealed import NOTIFICATIONS_SEALING_KEY, NotificationRequest, load_public_key, seal_notification
from libs.events.service.metrics import parse_listen
from libs.events.service.settings import ServiceSettings
from libs.events.store import ANY_VERSION
from tests.helpers import eventually
from tests.observability.conftest import Portal, Scrape

Scraper = Callable[[], Awaitable[Scrape]]


async def provision(portal: Portal) -> None:
    body = {
        "client_id": "CL-1001",
        "client_name": "Transport Nowak Sp. z o.o.",
        "first_name": "Zofia",
        "last_name": "Żółkiewska",
        "email": f"zofia.{uuid4().hex[:8]}@nowak.pl",
        "phone": "601 234 567",
    }
    response = await portal.http.post("/api/identity/backoffice/accounts", json=body, headers=portal.backoffice)
    assert response.status_code == 201, response.text


async def test_the_endpoint_answers_prometheus_text_with_request_durations(portal: Portal, scrape: Scraper) -> None:
    await provision(portal)
    result = await scrape()
    assert result.content_type.startswith("text/plain; version=0.0.4")
    count = result.value("http_server_duration_milliseconds_count", http_method="POST", http_status_code="201")
    assert (count or 0) >= 1
    assert "http_server_duration_milliseconds_bucket" in result.names()


async def test_consumer_lag_goes_up_while_a_projection_is_behind_and_back_to_zero_when_it_caught_up(
    idle_portal: Portal, scrape: Scraper
) -> None:
    runtime = idle_portal.portal.runtimes["identity"]
    lag = {"service": "identity", "consumer": "accounts", "source": "identity"}
    await runtime.sample_lag()
    assert (await scrape()).value("strefa_consumer_lag", **lag) == 0

    await provision(idle_portal)
    await provision(idle_portal)
    await runtime.sample_lag()
    behind = (await scrape()).value("strefa_consumer_lag", **lag)
    assert (behind or 0) >= 2

    runner = runtime.runner("accounts")
    await runner.load_status()
    while await runner.run_once():
        pass
    await runtime.sample_lag()
    assert (await scrape()).value("strefa_consumer_lag", **lag) == 0


async def test_the_lag_of_a_stopped_portal_is_no_longer_reported(idle_portal: Portal, scrape: Scraper) -> None:
    runtime = idle_portal.portal.runtimes["contracts"]
    await runtime.sample_lag()
    assert (await scrape()).value("strefa_consumer_lag", service="contracts") is not None
    await runtime.stop()
    assert (await scrape()).value("strefa_consumer_lag", service="contracts") is None


async def test_a_dead_letter_increments_the_counter_of_its_consumer(portal: Portal, scrape: Scraper) -> None:
    labels = {"service": "identity", "consumer": "accounts"}
    before = (await scrape()).value("strefa_consumer_dead_letters_total", **labels) or 0
    broken = NewEvent(type="AccountProvisioned", version=1, data={"account_id": 7})
    await portal.portal.platform.event_stores["identity"].append(
        f"identity-account-{uuid4().hex}", [broken], expected_version=ANY_VERSION
    )

    async def counted() -> bool:
        return (await scrape()).value("strefa_consumer_dead_letters_total", **labels) == before + 1

    await eventually(counted, what="the dead letter counted")
    other = (await scrape()).value("strefa_consumer_dead_letters_total", service="identity", consumer="sessions")
    assert not other  # a consumer that does not read AccountProvisioned counted nothing


async def test_notifications_sent_and_failed_are_counted_by_channel_template_and_reason(
    portal: Portal, scrape: Scraper
) -> None:
    sent = {"channel": "sms", "template": "activation_code"}
    failed = {**sent, "reason": "invalid_request"}
    start = await scrape()
    sent_before = start.value("strefa_notifications_sent_total", **sent) or 0
    failed_before = start.value("strefa_notifications_failed_total", **failed) or 0

    await code_issued(portal, "+48601234567")
    await code_issued(portal, "601234567")  # not E.164: refused before any provider sees it

    async def counted() -> bool:
        result = await scrape()
        return (
            result.value("strefa_notifications_sent_total", **sent) == sent_before + 1
            and result.value("strefa_notifications_failed_total", **failed) == failed_before + 1
        )

    await eventually(counted, what="one SMS sent and one failure counted")


async def code_issued(portal: Portal, phone: str) -> None:
    """ActivationCodeIssued as identity records it, the SMS sealed for notifications."""
    key = load_public_key(portal.data_dir / "secrets" / f"{NOTIFICATIONS_SEALING_KEY}.pub")
    expires_at = utc_now() + timedelta(hours=1)
    params = {"code": "739214", "valid_until": expires_at.isoformat()}
    request = NotificationRequest(channel="sms", to=phone, template="activation_code", params=params)
    event = ActivationCodeIssued(
        account_id=f"acc-{uuid4().hex[:6]}",
        code_hash=hashlib.sha256(b"739214").hexdigest(),
        expires_at=expires_at,
        notification=seal_notification(request, key),
    )
    new = NewEvent.from_domain(event, EventContext(client_id="CL-1001"))
    await portal.portal.platform.event_stores["identity"].append(
        f"identity-account-{event.account_id}", [new], expected_version=ANY_VERSION
    )


@pytest.mark.parametrize("listen", ["9464", "127.0.0.1", ":9464", "localhost:http", "127.0.0.1:70000"])
def test_a_metrics_address_that_is_not_host_and_port_is_refused_naming_the_setting(listen: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(metrics_listen=listen)
    assert "metrics_listen must be host:port" in str(refused.value)


def test_an_ipv6_metrics_address_is_understood() -> None:
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    assert ServiceSettings(metrics_listen="0.0.0.0:9464").metrics_listen == "0.0.0.0:9464"
