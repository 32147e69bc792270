"""Message templates: Polish by default, English beside them (templates/<locale>/).

Per template: `<name>.txt` (the SMS, or the e-mail's plain-text part), and for e-mail
`<name>.subject.txt` and `<name>.html`. Jinja2 autoescapes the HTML part only; an undefined
variable is an error, and the parameters each template needs are checked before rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jinja2

from libs.events.sealed import NotificationRequest
from libs.events.warsaw import WARSAW

TEMPLATE_DIR = Path(__file__).parent / "templates"
URL_PARAMETERS = ("link", "activation_url")
"""Parameters that become links: http(s) only (no javascript: or data: in an e-mail)."""


@dataclass(frozen=True)
class TemplateSpec:
    channel: Literal["sms", "email"]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    """Parameters a template may use; an empty string when not given."""


CATALOGUE: dict[str, TemplateSpec] = {
    "activation_code": TemplateSpec("sms", frozenset({"code"})),
    "activation_link": TemplateSpec("email", frozenset({"link"}), frozenset({"first_name"})),
    "subaccount_invitation": TemplateSpec("email", optional=frozenset({"first_name", "client_name", "invited_by"})),
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
    return " ".join(text.split())


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

    def render(self, request: NotificationRequest) -> Rendered:
        spec = CATALOGUE.get(request.template)
        if spec is None:
            raise TemplateError(f"unknown template {request.template!r}")
        if spec.channel != request.channel:
            raise TemplateError(f"template {request.template!r} is for {spec.channel}, not {request.channel}")
        missing = sorted(name for name in spec.required if not request.params.get(name, "").strip())
        if missing:
            raise TemplateError(f"template {request.template!r} needs the parameters {missing}")
        context = self._context(request)
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
        return {**params, "brand": self.brand, "locale": request.locale}
