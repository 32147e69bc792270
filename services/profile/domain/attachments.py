"""Attachment rules: size and type limits, the type found in the bytes (never the name or declared type). Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

import filetype

from libs.events import Invalid
from services.profile.domain.errors import PayloadTooLarge, UnsupportedMediaType

ALLOWED_TYPES: Final[dict[str, str]] = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
"""Content types accepted, with the file extension each is saved under."""

_UNSAFE = re.compile(r"[^\w .()\-]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class CheckedFile:
    filename: str
    content: bytes
    content_type: str


def detect_type(content: bytes) -> str | None:
    """PDF, JPEG or PNG as found in the leading bytes; None for anything else."""
    mime = filetype.guess_mime(content[:8192]) if content else None
    return mime if mime in ALLOWED_TYPES else None


def safe_filename(name: str | None, content_type: str, index: int) -> str:
    """The client's file name without any path or odd characters, with the extension of its real type."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = _SPACES.sub(" ", _UNSAFE.sub("_", stem)).strip(" ._")[:100]
    return f"{stem or f'zalacznik-{index + 1}'}.{ALLOWED_TYPES[content_type]}"


def check_count(count: int, minimum: int, maximum: int) -> None:
    if count > maximum:
        raise Invalid("too_many_attachments", f"at most {maximum} attachments", field="attachments")
    if count < minimum:
        raise Invalid(
            "attachment_required", f"this request needs at least {minimum} attachment(s)", field="attachments"
        )


def check_file(index: int, name: str | None, content: bytes, max_bytes: int) -> CheckedFile:
    """`content` may be cut at max_bytes + 1: what is longer is refused, whatever it holds."""
    field = f"attachments.{index}"
    if len(content) > max_bytes:
        raise PayloadTooLarge("attachment_too_large", f"an attachment may have at most {max_bytes} bytes", field=field)
    if not content:
        raise Invalid("attachment_empty", "the attachment is empty", field=field)
    content_type = detect_type(content)
    if content_type is None:
        raise UnsupportedMediaType(
            "attachment_type_not_allowed", "attachments may be PDF, JPEG or PNG files only", field=field
        )
    return CheckedFile(safe_filename(name, content_type, index), content, content_type)
