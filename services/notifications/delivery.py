"""The delivery reactor: a cause event in, one message out, its outcome on record.

For each event a trigger handles: if its trigger skips history and the cause is older than the
maximum event age, skip it (nothing sent, nothing recorded: a new source's history is not mailed
out). Otherwise find the notification of that cause (its id derives from the cause's event id); if
it already has an outcome, stop. Otherwise let the trigger make the request (open the sealed one, or
build it from notifications' read models), render the template, hand the message to the channel's
provider with bounded retries and exponential backoff (tenacity), and record NotificationSent or
NotificationFailed on the notification's stream.

At-least-once, and the window we accept: the outcome is recorded *after* the provider took the
message. If the process dies (or the event store is unreachable) between the two, the cause is
delivered again from the consumer's checkpoint, finds no outcome and sends a second copy. We prefer
that to recording "sending" first, which would turn a crash into a message never sent (an activation
that cannot go on) for the sake of avoiding a rare duplicate SMS or e-mail with the same content.
SMSAPI's idx check closes most of that window for SMS (adapters/smsapi.py); e-mails carry a
Message-ID derived from the notification, so a second copy is recognisable as the same message.
Two consumers racing on one cause both see "pending" and may both send; only one outcome is recorded
(optimistic concurrency on the stream; the loser's decide sees the outcome and appends nothing).

Nothing here logs or records a message's text, its parameters or the plain recipient.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from nacl.public import PrivateKey
from pydantic import EmailStr, TypeAdapter, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from libs.events.aggregate import CommandHandler
from libs.events.docstore import Collection, Document, DocumentStore
from libs.events.envelope import DomainEvent, RecordedEvent
from libs.events.projection import Reactor
from libs.events.schemas.notifications import FailureReason, NotificationFailed, NotificationSent, notification_id_for
from libs.events.sealed import CannotUnseal, NotificationRequest, SealedMessage, unseal
from libs.events.service import metrics
from services.notifications.domain import RecordOutcome, mask_recipient, notification, redact
from services.notifications.ports import DeliveryError, NotConfigured, OutgoingMessage, Sender
from services.notifications.templates import TemplateError, Templates
from services.notifications.triggers import RecipientUnknown, Triggers

log = structlog.get_logger(__name__)

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = TypeAdapter(EmailStr)


class InvalidRequest(ValueError):
    """An opened request that is not a valid NotificationRequest. Names fields, never values."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_delay: float = 1.0
    max_delay: float = 30.0


class _Failure(Exception):
    """Nothing was sent, and nothing will be: becomes NotificationFailed."""

    def __init__(
        self,
        reason: FailureReason,
        error: str,
        attempts: int = 0,
        provider: str | None = None,
        *,
        channel: Literal["sms", "email"] | None = None,
        template: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error
        self.attempts = attempts
        self.provider = provider
        self.channel = channel
        """When no request was made (an unknown recipient): what it would have been."""
        self.template = template


CatchUp = Callable[[Collection], Awaitable[None]]
"""Waits (bounded) until the projection that folds a collection has read what its sources hold now."""


async def _no_wait(_: Collection) -> None:
    return None


class Opener:
    """What a trigger may use (a TriggerContext): the sealed-message opener and notifications' read models."""

    def __init__(
        self,
        private_key: PrivateKey,
        documents: DocumentStore,
        *,
        invoices_url: str = "",
        catch_up: CatchUp = _no_wait,
    ) -> None:
        self._private_key = private_key
        self.documents = documents
        self.invoices_url = invoices_url
        self._catch_up = catch_up

    async def lookup(
        self, collection: Collection, doc_id: str, *, ready: Callable[[Document], bool] | None = None
    ) -> Document | None:
        """The document as the read model holds it. Only when it is missing, or not `ready`, may the read
        model not have folded it yet: then it waits (bounded) until the read model has read what its
        sources hold now, and reads it again. A document that is there is read without waiting, however
        far behind the read model is with the rest of its sources."""
        doc = await self.documents.get(collection, doc_id)
        if doc is not None and (ready is None or ready(doc)):
            return doc
        await self._catch_up(collection)
        return await self.documents.get(collection, doc_id)

    def unseal(self, sealed: SealedMessage) -> NotificationRequest:
        try:
            payload = unseal(sealed, self._private_key)
        except CannotUnseal:
            raise
        except ValueError:  # not base64, or not JSON inside: damaged on the way
            raise CannotUnseal("the sealed message is damaged") from None
        try:
            return NotificationRequest.model_validate(payload)
        except ValidationError as error:
            # The pydantic message quotes the input (a code, say): keep only where it was wrong.
            fields = sorted({".".join(str(part) for part in item["loc"]) or "(root)" for item in error.errors()})
            raise InvalidRequest(f"the sealed request is not a valid notification request: {fields}") from None


class Deliveries:
    def __init__(
        self,
        *,
        triggers: Triggers,
        templates: Templates,
        senders: Mapping[Literal["sms", "email"], Sender],
        commands: CommandHandler,
        opener: Opener,
        clock: Callable[[], datetime],
        retry: RetryPolicy,
        max_event_age: timedelta | None = None,
    ) -> None:
        self._triggers = triggers
        self._templates = templates
        self._senders = senders
        self._commands = commands
        self._opener = opener
        self._clock = clock
        self._retry = retry
        self._max_event_age = max_event_age
        """Causes older than this are skipped by triggers that skip history; None: none are."""

    def reactor(self, name: str = "deliveries") -> Reactor:
        return Reactor(name=name, sources=self._triggers.sources, handles=self._triggers.handles, react=self.react)

    async def react(self, event: DomainEvent, recorded: RecordedEvent) -> None:
        notification_id = notification_id_for(recorded.event_id)
        if self._too_old(recorded):
            log.info(
                "notification_skipped_old_cause",
                notification_id=str(notification_id),
                cause_event_id=str(recorded.event_id),
                cause_type=recorded.type,
                occurred_at=recorded.occurred_at.isoformat(),
            )
            return
        state, _ = await self._commands.load(notification, str(notification_id))
        if state.settled:
            log.info("notification_already_settled", notification_id=str(notification_id), outcome=state.outcome)
            return
        outcome = await self._deliver(event, recorded)
        if outcome is None:
            return
        await self._commands.handle(
            notification,
            str(notification_id),
            RecordOutcome(outcome),
            recorded.context(),
            idempotency_key=f"outcome-of:{recorded.event_id}",
        )

    def _too_old(self, recorded: RecordedEvent) -> bool:
        trigger = self._triggers.by_type[recorded.type]
        if not trigger.skip_history or self._max_event_age is None:
            return False
        return self._clock() - recorded.occurred_at > self._max_event_age

    async def _deliver(
        self, event: DomainEvent, recorded: RecordedEvent
    ) -> NotificationSent | NotificationFailed | None:
        """The outcome to record; None when the trigger decided that this event needs no message."""
        notification_id = notification_id_for(recorded.event_id)
        trigger = self._triggers.by_type[recorded.type]
        request: NotificationRequest | None = None
        bound = log.bind(
            notification_id=str(notification_id), cause_event_id=str(recorded.event_id), cause_type=recorded.type
        )
        try:
            try:
                outgoing = await trigger.handler(event, recorded, self._opener)
            except CannotUnseal as error:
                raise _Failure("cannot_unseal", str(error)) from None
            except InvalidRequest as error:
                raise _Failure("invalid_request", str(error)) from None
            except RecipientUnknown as error:
                raise _Failure(
                    "recipient_unknown", str(error), channel=error.channel, template=error.template
                ) from None
            if outgoing is None:
                bound.info("notification_not_needed")
                return None
            request = outgoing.request
            _check_recipient(request)
            try:
                rendered = self._templates.render(request, outgoing.details)
            except TemplateError as error:
                raise _Failure("template_error", str(error)) from None
            if outgoing.not_after is not None and self._clock() >= outgoing.not_after:
                raise _Failure("expired", f"expired at {outgoing.not_after.isoformat()} before it could be sent")
            message = OutgoingMessage(
                notification_id=notification_id,
                channel=request.channel,
                to=request.to,
                template=request.template,
                locale=request.locale,
                text=rendered.text,
                subject=rendered.subject,
                html=rendered.html,
            )
            sender = self._senders[request.channel]
            provider_message_id, attempts = await self._send(sender, message, request, bound)
        except _Failure as failure:
            detail = redact(failure.error, *_secrets_of(request))
            metrics.notification_failures.add(
                1,
                {
                    "channel": (request.channel if request else failure.channel) or "unknown",
                    "template": (request.template if request else failure.template) or "unknown",
                    "reason": failure.reason,
                },
            )
            bound.warning(
                "notification_failed",
                reason=failure.reason,
                error=detail,
                attempts=failure.attempts,
                template=request.template if request else failure.template,
                recipient=mask_recipient(request.channel, request.to) if request else None,
            )
            return NotificationFailed(
                notification_id=notification_id,
                cause_event_id=recorded.event_id,
                cause_event_type=recorded.type,
                reason=failure.reason,
                error=detail,
                channel=request.channel if request else failure.channel,
                template=request.template if request else failure.template,
                locale=request.locale if request else None,
                recipient=mask_recipient(request.channel, request.to) if request else None,
                provider=failure.provider,
                attempts=failure.attempts,
                failed_at=self._clock(),
            )
        recipient = mask_recipient(request.channel, request.to)
        bound.info("notification_sent", template=request.template, recipient=recipient, attempts=attempts)
        metrics.notifications_sent.add(
            1, {"channel": request.channel, "template": request.template, "provider": sender.name}
        )
        return NotificationSent(
            notification_id=notification_id,
            cause_event_id=recorded.event_id,
            cause_event_type=recorded.type,
            channel=request.channel,
            template=request.template,
            locale=request.locale,
            recipient=recipient,
            provider=sender.name,
            provider_message_id=provider_message_id,
            attempts=attempts,
            sent_at=self._clock(),
        )

    async def _send(
        self,
        sender: Sender,
        message: OutgoingMessage,
        request: NotificationRequest,
        bound: structlog.typing.FilteringBoundLogger,
    ) -> tuple[str | None, int]:
        """Sends with bounded retries of transient errors; returns the provider's id and the attempts."""
        policy = self._retry
        attempts = 0
        provider_message_id: str | None = None

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            bound.warning(
                "notification_send_retry",
                provider=sender.name,
                attempt=state.attempt_number,
                error=redact(str(error), *_secrets_of(request)),
            )

        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts),
            wait=wait_exponential(multiplier=policy.initial_delay, min=policy.initial_delay, max=policy.max_delay),
            retry=retry_if_exception(lambda error: isinstance(error, DeliveryError) and error.transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    provider_message_id = await sender.send(message)
        except NotConfigured as error:
            raise _Failure("not_configured", error.detail, attempts=0, provider=sender.name) from None
        except DeliveryError as error:
            reason: FailureReason = "retries_exhausted" if error.transient else "rejected"
            raise _Failure(reason, error.detail, attempts=attempts, provider=sender.name) from None
        except Exception as error:  # a provider's bug must not leak the message into a dead letter
            raise _Failure("rejected", f"{type(error).__name__}", attempts=attempts, provider=sender.name) from None
        return provider_message_id, attempts


def _check_recipient(request: NotificationRequest) -> None:
    if request.channel == "sms" and not _E164.match(request.to):
        raise _Failure("invalid_request", "the recipient is not an E.164 phone number")
    if request.channel == "email":
        try:
            _EMAIL.validate_python(request.to)
        except ValidationError:
            raise _Failure("invalid_request", "the recipient is not an e-mail address") from None


def _secrets_of(request: NotificationRequest | None) -> tuple[str | None, list[str], str]:
    """What `redact` must hide for this request: the recipient, every parameter value, the channel."""
    if request is None:
        return None, [], "sms"
    return request.to, list(request.params.values()), request.channel
