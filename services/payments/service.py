"""Payments: online payment of invoices through a gateway (PayU), the client zone's five statuses."""

from __future__ import annotations

from libs.events.service.runtime import ServiceDefinition
from services.payments.api import backoffice, client, gateway
from services.payments.projections import PROJECTIONS
from services.payments.settings import PaymentsSettings

__all__ = ["PaymentsSettings", "definition"]

definition = ServiceDefinition(
    name="payments",
    title="Strefa Klienta: payments",
    routers=[client, gateway, backoffice],
    projections=PROJECTIONS,
    settings=PaymentsSettings,
)
