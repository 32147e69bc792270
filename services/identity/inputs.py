"""Request bodies of the identity API: strict (unknown fields refused), bounded, normalized."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from libs.events.access import SCOPES
from libs.events.validators import PhoneNumber


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _email(value: str) -> str:
    return value.strip().lower()


def _scopes(values: list[str]) -> list[str]:
    unknown = [value for value in values if value not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {list(SCOPES)}")
    return list(dict.fromkeys(values))


Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_email)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ContractId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:/-]+$")]
Scopes = Annotated[list[str], Field(min_length=1, max_length=len(SCOPES) * 2), AfterValidator(_scopes)]
ContractIds = Annotated[list[ContractId], Field(max_length=500)]
Secret = Annotated[str, Field(min_length=1, max_length=1024)]
"""A password as typed: never stripped; the policy (12 to 128 characters) is checked after."""
Token = Annotated[str, Field(min_length=1, max_length=300)]
Phone = Annotated[PhoneNumber, StringConstraints(max_length=32)]


class StartIn(Input):
    email: Email


class VerifyIn(Input):
    email: Email
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]


class CompleteIn(Input):
    token: Token
    password: Secret


class LoginIn(Input):
    email: Email
    password: Secret
    client_id: ClientId | None = None
    refresh_token_in_body: bool = False
    """Non-browser clients: also return the refresh token in the body (browsers get only the cookie)."""


class RefreshIn(Input):
    refresh_token: Token | None = None
    """Non-browser clients send it here; browsers send the HttpOnly cookie."""


class PasswordIn(Input):
    current_password: Secret
    new_password: Secret


class ContextIn(Input):
    client_id: ClientId


class SubAccountIn(Input):
    first_name: Name
    last_name: Name
    email: Email
    phone: Phone
    scopes: Scopes
    contract_ids: ContractIds | None = None
    """None: every contract of the client (only for a manager that may see every contract)."""


class SubAccountPatch(Input):
    scopes: Scopes | None = None
    contract_ids: ContractIds | None = None
    """Left out: unchanged; null: every contract of the client."""


class ProvisionIn(Input):
    client_id: ClientId
    client_name: Name
    first_name: Name
    last_name: Name
    email: Email
    phone: Phone
    scopes: Scopes | None = None
    """None: every scope (the client's main user)."""
    contract_ids: ContractIds | None = None


class DemoActivateIn(Input):
    email: Email
    password: Secret


class EmailChangeIn(Input):
    new_email: Email
    current_password: Secret


class PhoneChangeIn(Input):
    new_phone: Phone
    current_password: Secret


class EmailConfirmIn(Input):
    token: Token


class PhoneConfirmIn(Input):
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")]
