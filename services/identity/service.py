"""Identity: accounts, activation, login, sessions, client contexts and sub-accounts (see README.md here)."""

from __future__ import annotations

from libs.events.service.runtime import ServiceDefinition
from services.identity.activation import router as activation
from services.identity.backoffice import backoffice, dev
from services.identity.clients import router as clients
from services.identity.contact import router as contact
from services.identity.context import on_start, sweep_limits
from services.identity.projections import PROJECTIONS
from services.identity.reactors import reactors
from services.identity.sessions import router as sessions
from services.identity.settings import IdentitySettings

__all__ = ["IdentitySettings", "definition"]

definition = ServiceDefinition(
    name="identity",
    title="Strefa Klienta: identity",
    routers=[activation, sessions, clients, contact, backoffice],
    dev_routers=[dev],
    projections=PROJECTIONS,
    reactors=reactors,
    settings=IdentitySettings,
    on_start=on_start,
    background=sweep_limits,
)
