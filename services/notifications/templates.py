"""Message templates: Polish by default, English beside them (templates/<locale>/).

Per template: `<name>.txt` (the SMS, or the e-mail's plain-text part), and for e-mail
`<name>.subject.txt` and `<name>.html`. Jinja2 autoescapes the HTML part only; an undefined
variable is an error, and the parameters each template needs are checked before rendering.

Amounts and dates read as in the client zone, in both languages: `{{ amount|money(currency) }}`
gives 1 234,56 zł (non-breaking spaces between the groups and before the currency) and
`{{ due_date|day }}` gives DD.MM.YYYY (a moment: its day in Warsaw).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import jinja2

from libs.events.sealed import NotificationRequest
from libs.events.warsaw import WARSAW

TEMPLATE_DIR = Path(__file__).parent / "templates"
URL_PARAMETERS = ("link", "activation_url")
"""Parameters that become links: http(s) only (no javascript: or data: in an e-mail)."""
NBSP = "\u00a0"


@dataclass(frozen=True)
class TemplateSpec:
    channel: Literal["sms", "email"]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    """Parameters a template may use; an empty string when not given."""
    footer: Literal["login", "questions"] = "login"
    """What the footer offers help with: logging in (the activation messages), or any question."""


_PAYMENT = TemplateSpec(
    "email", frozenset({"amount", "currency", "at", "link"}), frozenset({"first_name"}), footer="questions"
)

CATALOGUE: dict[str, TemplateSpec] = {
    "activation_code": TemplateSpec("sms", frozenset({"code"})),
    "activation_link": TemplateSpec("email", frozenset({"link"}), frozenset({"first_name"})),
    "subaccount_invitation": TemplateSpec("email", optional=frozenset({"first_name", "client_name", "invited_by"})),
    "login_email_confirmation": TemplateSpec("email", frozenset({"link"}), frozenset({"first_name", "new_email"})),
    "phone_change_code": TemplateSpec("sms", frozenset({"code"})),
    "contact_change_notice": TemplateSpec(
        "email", optional=frozenset({"first_name", "change", "new_value"}), footer="questions"
    ),
    "einvoice_email_confirmation": TemplateSpec(
        "email", frozenset({"link"}), frozenset({"client_name", "purpose", "expires_at"}), footer="questions"
    ),
    "request_status_changed": TemplateSpec(
        "email",
        frozenset({"status_label", "link"}),
        frozenset(
            {
                "first_name",
                "reference",
                "request_id",
                "request_type",
                "request_title",
                "request_title_en",
                "status",
                "status_label_en",
                "reason",
                "comment",
            }
        ),
        footer="questions",
    ),
    "payment_accepted": _PAYMENT,
    "payment_failed": _PAYMENT,
    "invoice_issued": TemplateSpec(
        "email",
        frozenset({"number", "amount", "currency", "due_date", "link"}),
        frozenset({"kind", "issue_date"}),
        footer="questions",
    ),
}
"""Every template; see libs/events/schemas/notifications.py for what each parameter means."""


class TemplateError(ValueError):
    """The request names an unknown template, the wrong channel, or lacks a parameter.

    Its message names templates and parameters, never a parameter's value."""


@dataclass(frozen=True)
class Brand:
    """What the messages say about the sender: from the settings (the client zone's texts)."""

    company_name: str
    portal_url: str
    activation_url: str
    support_phone: str
    support_email: str


@dataclass(frozen=True)
class Rendered:
    text: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class Deadline:
    """When something expires, as the messages say it: "until midnight (until 23:59 on DD.MM.YYYY)"."""

    at_midnight: bool
    date: str
    """DD.MM.YYYY, Warsaw; for a midnight deadline, the last day on which it is still valid."""
    time: str
    """HH:MM, Warsaw: 23:59 for a midnight deadline."""


def deadline(expires_at: datetime) -> Deadline:
    local = expires_at.astimezone(WARSAW)
    if (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        last_day = local - timedelta(days=1)
        return Deadline(True, last_day.strftime("%d.%m.%Y"), "23:59")
    return Deadline(False, local.strftime("%d.%m.%Y"), local.strftime("%H:%M"))


def _one_line(text: str) -> str:
    """Line breaks and runs of spaces become one space; non-breaking spaces (in amounts) stay."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def money(amount: Any, currency: str = "PLN") -> str:
    """1234.5 -> "1 234,50 zł" (non-breaking spaces), as the client zone shows amounts; other currencies by code."""
    try:
        value = Decimal(str(amount).strip()).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise TemplateError("an amount is not a decimal number") from None
    whole, _, fraction = f"{abs(value):.2f}".partition(".")
    groups = [whole[max(0, end - 3) : end] for end in range(len(whole), 0, -3)]
    sign = "-" if value < 0 else ""
    symbol = "zł" if currency == "PLN" else currency
    return f"{sign}{NBSP.join(reversed(groups))},{fraction}{NBSP}{symbol}"


def day(value: Any) -> str:
    """A date or a moment (ISO 8601) as DD.MM.YYYY; a moment with a time zone on its day in Warsaw."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value.strip()) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise TemplateError("a date is not ISO 8601") from None
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(WARSAW)
    if not isinstance(value, date):
        raise TemplateError("a date is not ISO 8601")
    return value.strftime("%d.%m.%Y")


class Templates:
    def __init__(self, brand: Brand, directory: Path = TEMPLATE_DIR) -> None:
        self.brand = brand
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["money"] = money
        self._env.filters["day"] = day

    def render(self, request: NotificationRequest, details: Mapping[str, Any] | None = None) -> Rendered:
        """`details`: structured, non-secret data beside the string params (the invoices of a payment)."""
        spec = CATALOGUE.get(request.template)
        if spec is None:
            raise TemplateError(f"unknown template {request.template!r}")
        if spec.channel != request.channel:
            raise TemplateError(f"template {request.template!r} is for {spec.channel}, not {request.channel}")
        missing = sorted(name for name in spec.required if not request.params.get(name, "").strip())
        if missing:
            raise TemplateError(f"template {request.template!r} needs the parameters {missing}")
        context = {**(details or {}), **self._context(request)}
        base = f"{request.locale}/{request.template}"
        try:
            if spec.channel == "sms":
                return Rendered(text=_one_line(self._render(f"{base}.txt", context)))
            return Rendered(
                text=self._render(f"{base}.txt", context).strip() + "\n",
                subject=_one_line(self._render(f"{base}.subject.txt", context)),
                html=self._render(f"{base}.html", context),
            )
        except jinja2.UndefinedError as error:
            raise TemplateError(f"template {request.template!r}: {error.message}") from None

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            template = self._env.get_template(name)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"no template file {name}") from None
        return template.render(context)

    def _context(self, request: NotificationRequest) -> dict[str, Any]:
        spec = CATALOGUE[request.template]
        params: dict[str, Any] = dict.fromkeys(spec.optional, "")
        params.update({name: value.strip() for name, value in request.params.items()})
        valid_until = params.pop("valid_until", None)
        params["expires"] = None
        if valid_until:
            try:
                moment = datetime.fromisoformat(valid_until)
            except ValueError:
                raise TemplateError("parameter 'valid_until' is not an ISO 8601 moment") from None
            if moment.tzinfo is None:
                raise TemplateError("parameter 'valid_until' has no time zone")
            params["expires"] = deadline(moment)
        params.setdefault("activation_url", self.brand.activation_url)
        for name in URL_PARAMETERS:
            if params.get(name) and not str(params[name]).startswith(("https://", "http://")):
                raise TemplateError(f"parameter {name!r} is not an http(s) URL")
        return {**params, "brand": self.brand, "locale": request.locale, "footer": spec.footer}
