from __future__ import annotations

from libs.events.service.runtime import ServiceDefinition
from services.billing.api import backoffice, client
from services.billing.blobs import sweep_orphans
from services.billing.projections import PROJECTIONS
from services.billing.reactors import reactors
from services.billing.settings import BillingSettings

__all__ = ["BillingSettings", "definition"]

definition = ServiceDefinition(
    name="billing",
    title="Strefa Klienta: billing",
    routers=[backoffice, client],
    projections=PROJECTIONS,
    reactors=reactors,
    settings=BillingSettings,
    background=sweep_orphans,
)
