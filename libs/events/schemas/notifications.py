"""Events published by the notifications service (topic leasing.notifications.events).

One outcome per notification, the audit trail of what was sent to whom and how. The recipient is
masked (+48******567, j***@firma.pl) and no text is recorded: an SMS code or an activation link
never appears here, nor does the whole message body.

A notification is caused by another service's event; its id is derived from the cause's event id
(`notification_id_for`), so one cause has one notification, whichever consumer delivers it, however
often. What each template needs in `NotificationRequest.params`:

| template | channel | params |
| --- | --- | --- |
| activation_code | sms | `code`; `valid_until` (ISO 8601 with offset; default: the event's `expires_at`) |
| activation_link | email | `link` (the whole https URL); `valid_until`; optional `first_name` |
| subaccount_invitation | email | optional `first_name`, `client_name`, `invited_by`, `activation_url` |
| einvoice_email_confirmation | email | `link` (the whole https URL); optional `client_name`, `purpose` |
| request_status_changed | email | `status_label`, `link`; optional `first_name`, `reference`, ... (below) |
| login_email_confirmation | email | `link`, `new_email`, `valid_until`; optional `first_name` (to the new address) |
| phone_change_code | sms | `code`, `valid_until` (to the new number) |
| contact_change_notice | email | `change` (`login_email`, `phone`), `new_value` (masked); optional `first_name` |

The deadline of einvoice_email_confirmation, login_email_confirmation and phone_change_code is the
event's `expires_at` (whatever `valid_until` says); the e-invoice `purpose` defaults to the event's;
contact_change_notice goes to the current address. request_status_changed may also use `request_title`, `reason`,
`request_id`, `request_type`, `request_title_en`, `status`, `status_label_en` and `comment` (the
English template prefers the `_en` ones); `status`, `reason` and `comment` default to the event's.

Built by notifications itself, from the cause and its own read models (nothing sealed), in Polish:
- payment_accepted / payment_failed, on payments' PaymentAccepted / PaymentFailed: to the person who
  paid (`started_by`; address and first name from identity's AccountProvisioned; unknown account:
  NotificationFailed "recipient_unknown"). Params `first_name`, `amount`, `currency`, `at`
  (`accepted_at` / `failed_at`), `link` (the portal's invoices page); the invoices' numbers and
  amounts as structured data beside them.
- invoice_issued, on billing's InvoiceIssued: to the client's confirmed e-invoice address (profile's
  EInvoiceConsentGiven / EInvoiceEmailChanged); without a consent (never given, or withdrawn)
  nothing is sent and nothing is recorded. Params `number`, `kind`, `amount` (gross), `currency`,
  `issue_date`, `due_date`, `link` (the portal's invoices page); no attachment (the PDF is in the portal).

Those triggers, and profile's two, skip a cause older than NOTIFICATIONS_MAX_EVENT_AGE_HOURS (24 by
default) when notifications reaches it: a consumer that starts following a service reads its whole
history, which must not be mailed out. Nothing is recorded for a skipped cause.
"""

from __future__ import annotations

from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import AwareDatetime, Field

from libs.events.envelope import DomainEvent
from libs.events.registry import registry

Channel = Literal["sms", "email"]
Locale = Literal["pl", "en"]
FailureReason = Literal[
    "cannot_unseal",  # sealed for another key, or damaged
    "invalid_request",  # opened, but not a valid NotificationRequest
    "template_error",  # unknown template, wrong channel for it, or a missing parameter
    "expired",  # what it carries (a code, a link) expired before it could be sent
    "not_configured",  # no provider for the channel (e.g. the dev outbox outside dev mode)
    "rejected",  # the provider refused it for good (5xx SMTP reply, invalid number...)
    "retries_exhausted",  # the provider kept failing temporarily (down, 4xx reply) until the last attempt
    "recipient_unknown",  # notifications' read models do not know the person to write to (an unknown account)
]


def notification_id_for(cause_event_id: UUID) -> UUID:
    """The one notification a cause event may lead to."""
    return uuid5(NAMESPACE_URL, f"urn:strefa:notification:{cause_event_id}")


@registry.register
class NotificationSent(DomainEvent):
    """The provider accepted the message (delivery to the handset or mailbox is the provider's part)."""

    event_type = "NotificationSent"
    schema_version = 1

    notification_id: UUID
    cause_event_id: UUID
    cause_event_type: str
    channel: Channel
    template: str
    locale: Locale
    recipient: str
    """Masked: +48******567 or j***@firma.pl."""
    provider: str
    """"smtp", "smsapi" or "outbox" (the dev mailbox)."""
    provider_message_id: str | None = None
    """The SMTP Message-ID or the SMS provider's message id."""
    attempts: int = Field(ge=1)
    sent_at: AwareDatetime


@registry.register
class NotificationFailed(DomainEvent):
    """Nothing was sent for this cause, and nothing will be: the outcome is final."""

    event_type = "NotificationFailed"
    schema_version = 1

    notification_id: UUID
    cause_event_id: UUID
    cause_event_type: str
    reason: FailureReason
    error: str
    """What went wrong, with the recipient masked and the message's parameters redacted."""
    channel: Channel | None = None
    """None when the request could not be opened."""
    template: str | None = None
    locale: Locale | None = None
    recipient: str | None = None
    """Masked, when known."""
    provider: str | None = None
    attempts: int = Field(ge=0)
    """Calls made to the provider (0 when it was never called)."""
    failed_at: AwareDatetime
