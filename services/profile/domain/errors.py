"""Refusals the platform's DomainError family does not name yet; the service layer answers them as problems."""

from __future__ import annotations

from libs.events.errors import DomainError


class Gone(DomainError):
    """A link that worked once and no longer does (used, superseded or expired)."""

    status = 410


class PayloadTooLarge(DomainError):
    status = 413


class UnsupportedMediaType(DomainError):
    status = 415
