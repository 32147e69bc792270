"""The profile service: contact data, the e-invoice service, requests (wnioski) with attachments."""

from __future__ import annotations

from libs.events.service.runtime import ServiceDefinition
from services.profile.api import backoffice, einvoice, profile, requests
from services.profile.filing import sweep_orphans
from services.profile.projections import PROJECTIONS
from services.profile.settings import ProfileSettings

__all__ = ["ProfileSettings", "definition"]

definition = ServiceDefinition(
    name="profile",
    title="Strefa Klienta: profile",
    routers=[profile.router, einvoice.router, requests.router, backoffice.router],
    projections=list(PROJECTIONS),
    settings=ProfileSettings,
    background=sweep_orphans,
)
