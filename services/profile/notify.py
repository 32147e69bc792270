"""What profile asks notifications to send, sealed with notifications' public key."""

from __future__ import annotations

import asyncio
from datetime import datetime
from uuid import uuid4

import structlog
from nacl.public import PublicKey

from libs.events.errors import Unavailable
from libs.events.schemas.profile import RequestStatus, RequestSubmitted
from libs.events.sealed import (
    NOTIFICATIONS_SEALING_KEY,
    NotificationRequest,
    SealedMessage,
    load_public_key,
    seal_notification,
)
from libs.events.service.runtime import ServiceRuntime
from libs.events.warsaw import WARSAW
from services.profile.domain.catalogue import CATALOGUE
from services.profile.domain.einvoice import PreparedLink, confirmation_expiry
from services.profile.domain.requests import STATUS_LABELS
from services.profile.links import confirmation_url, new_token, token_hash
from services.profile.projections import COMPANIES, PERSONS
from services.profile.settings import ProfileSettings

log = structlog.get_logger(__name__)

EINVOICE_CONFIRMATION = "einvoice_email_confirmation"
REQUEST_STATUS_CHANGED = "request_status_changed"


def settings_of(runtime: ServiceRuntime) -> ProfileSettings:
    settings = runtime.settings
    if isinstance(settings, ProfileSettings):
        return settings
    return ProfileSettings.model_validate(settings.model_dump())


async def notifications_key(settings: ProfileSettings) -> PublicKey:
    path = settings.secrets_dir / f"{NOTIFICATIONS_SEALING_KEY}.pub"
    try:
        return await asyncio.to_thread(load_public_key, path)
    except FileNotFoundError:
        log.error("notifications_key_missing", path=str(path))
        raise Unavailable("notifications_unavailable", "messages cannot be sent now; try again later") from None


async def seal(settings: ProfileSettings, message: NotificationRequest) -> SealedMessage:
    return seal_notification(message, await notifications_key(settings))


async def prepare_confirmation(runtime: ServiceRuntime, client_id: str, email: str, at: datetime) -> PreparedLink:
    """A new link to confirm `email` as the client's e-invoice address, and the sealed e-mail carrying it."""
    settings = settings_of(runtime)
    token = new_token(client_id)
    expires_at = confirmation_expiry(at)
    company = await runtime.documents.get(COMPANIES, client_id) or {}
    message = NotificationRequest(
        channel="email",
        to=email,
        template=EINVOICE_CONFIRMATION,
        params={
            "link": confirmation_url(settings.portal_url, token),
            "expires_at": expires_at.isoformat(),
            "valid_until": expires_at.astimezone(WARSAW).strftime("%d.%m.%Y %H:%M"),
            "client_name": str(company.get("name") or ""),
        },
    )
    return PreparedLink(uuid4().hex, token_hash(token), await seal(settings, message))


async def status_notification(
    runtime: ServiceRuntime, submitted: RequestSubmitted, to_status: RequestStatus, reason: str | None
) -> SealedMessage | None:
    """The e-mail telling the person who filed a request of its new status; None if profile has no address."""
    person = await runtime.documents.get(PERSONS, submitted.submitted_by)
    if person is None or person.get("erased"):
        log.warning("request_notification_recipient_unknown", request_id=submitted.request_id)
        return None
    settings = settings_of(runtime)
    request_type = CATALOGUE.get(submitted.request_type)
    message = NotificationRequest(
        channel="email",
        to=person["email"],
        template=REQUEST_STATUS_CHANGED,
        params={
            "request_id": submitted.request_id,
            "reference": submitted.request_id[:8].upper(),
            "request_type": submitted.request_type,
            "request_title": request_type.title_pl if request_type else submitted.request_type,
            "request_title_en": request_type.title_en if request_type else submitted.request_type,
            "status": to_status,
            "status_label": STATUS_LABELS[to_status][0],
            "status_label_en": STATUS_LABELS[to_status][1],
            "reason": reason or "",
            "first_name": str(person.get("first_name", "")),
            "link": f"{settings.portal_url.rstrip('/')}/wnioski/{submitted.request_id}",
        },
    )
    return await seal(settings, message)
