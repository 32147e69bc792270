"""Secrets that must travel to one service alone (an SMS code, an activation link for notifications).

Sealed with libsodium's sealed boxes (PyNaCl): only the holder of the recipient's private key can
open them, so the plain secret is never in an event, a Kafka message, a log line or a read model.

A message to a person holds its address or phone and name, and the recipient's key lives on: so the
ciphertext is `Personal` too, sealed again with the person's key (libs/events/pii.py) by the event
naming the person, and erased with it. A message to a client's own mailbox holds no natural person's
data: `CompanySealedMessage`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from pathlib import Path
from typing import Annotated, Any, Literal

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from pydantic import BaseModel, ConfigDict, model_validator

from libs.events import jsonutil
from libs.events.pii import Personal, is_erased
from libs.events.tokens import create_secret_file

NOTIFICATIONS_SEALING_KEY = "notifications-sealing-key"
"""File name, in a service's secrets_dir, of notifications' private key; `.pub` beside it is public."""


class SealedMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient: str
    """The service that can open it, e.g. "notifications"."""
    key_id: str
    """Which of the recipient's keys sealed it (first 16 hex chars of the public key)."""
    ciphertext: Annotated[str, Personal]
    """base64url of the sealed box; "[erased]" once the person it is about was erased."""


class CompanySealedMessage(SealedMessage):
    """A message to the client's own address (its e-invoice mailbox): the client's data, not a natural
    person's, so it is not sealed again with a person's key."""

    ciphertext: str
    """base64url of the sealed box."""

    @model_validator(mode="before")
    @classmethod
    def _from_sealed_message(cls, data: Any) -> Any:
        return data.model_dump() if isinstance(data, SealedMessage) and not isinstance(data, cls) else data


class CannotUnseal(ValueError):
    pass


def key_id(public_key: PublicKey) -> str:
    return bytes(public_key).hex()[:16]


def seal(payload: dict[str, Any], recipient: str, public_key: PublicKey) -> SealedMessage:
    box = SealedBox(public_key).encrypt(jsonutil.dumps(payload))
    return SealedMessage(
        recipient=recipient, key_id=key_id(public_key), ciphertext=base64.urlsafe_b64encode(box).decode()
    )


def unseal(message: SealedMessage, private_key: PrivateKey) -> dict[str, Any]:
    if message.key_id != key_id(private_key.public_key):
        raise CannotUnseal(f"sealed for key {message.key_id}, not ours")
    if is_erased(message.ciphertext):
        raise CannotUnseal("the message was erased with the personal data of the person it is about")
    try:
        plain = SealedBox(private_key).decrypt(base64.urlsafe_b64decode(message.ciphertext))
    except (CryptoError, binascii.Error) as error:
        raise CannotUnseal("the sealed message cannot be opened") from error
    payload: dict[str, Any] = jsonutil.loads(plain)
    return payload


def load_or_create_private_key(path: Path) -> PrivateKey:
    """The recipient's private key, made on first start (mode 0600) by the first of the processes
    starting together; its public half beside it (.pub), written whenever it is missing (the maker may
    have stopped between the two files; in a read-only folder a missing one stays missing)."""
    create_secret_file(path, base64.b64encode(bytes(PrivateKey.generate())))
    key = PrivateKey(base64.b64decode(path.read_bytes()))
    public = path.with_suffix(".pub")
    if not public.exists():
        with contextlib.suppress(OSError):
            create_secret_file(public, base64.b64encode(bytes(key.public_key)))
    return key


def load_public_key(path: Path) -> PublicKey:
    return PublicKey(base64.b64decode(path.read_bytes()))


class NotificationRequest(BaseModel):
    """What a service asks notifications to send, sealed inside an event for notifications alone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Literal["sms", "email"]
    to: str
    """E.164 phone number for sms, e-mail address for email."""
    template: str
    """e.g. "activation_code", "activation_link", "subaccount_invitation"."""
    locale: Literal["pl", "en"] = "pl"
    params: dict[str, str] = {}


def seal_notification(request: NotificationRequest, public_key: PublicKey) -> SealedMessage:
    return seal(request.model_dump(mode="json"), "notifications", public_key)


def unseal_notification(message: SealedMessage, private_key: PrivateKey) -> NotificationRequest:
    return NotificationRequest.model_validate(unseal(message, private_key))
