"""Value types shared by the published schemas."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field

Money = Annotated[Decimal, Field(max_digits=15, decimal_places=2)]
"""An amount in grosze-exact złoty (or the stated currency): Decimal, never float."""

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
