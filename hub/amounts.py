"""INJ amounts: parse what a user types, print what the chain holds.

On Injective's EVM 1 INJ = 10**18 wei. A user writes `100`, `100inj`, `100 INJ` or `0.5` (INJ, up to
18 decimals) or an explicit `1000wei`; everything inside `hub` is an integer number of wei.
"""

from __future__ import annotations

import re
from decimal import Decimal

from hub.errors import HubError

INJ = 10**18
DECIMALS = 18

_AMOUNT = re.compile(r"(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>inj|wei)?", re.IGNORECASE)
_HINT = "write INJ as 100, 0.5 or 2.5inj, or wei explicitly as 1000wei"


def parse_amount(text: str, *, what: str = "amount", allow_zero: bool = True) -> int:
    """Wei from `text`: `100`, `0.5`, `100inj`, `100 INJ` (INJ) or `1000wei` (wei)."""
    match = _AMOUNT.fullmatch(str(text).strip())
    if match is None:
        raise HubError(f"invalid {what} {text!r}", hint=_HINT)
    number, unit = match.group("number"), (match.group("unit") or "inj").lower()
    if unit == "wei":
        if not number.isdigit():
            raise HubError(f"invalid {what} {text!r}: wei are whole numbers", hint=_HINT)
        wei = int(number)
    else:
        value = Decimal(number)
        wei_decimal = value.scaleb(DECIMALS)
        if wei_decimal != wei_decimal.to_integral_value():
            raise HubError(f"invalid {what} {text!r}: INJ has at most {DECIMALS} decimals", hint=_HINT)
        wei = int(wei_decimal)
    if wei == 0 and not allow_zero:
        raise HubError(f"{what} must be more than zero, got {text!r}", hint=_HINT)
    if wei >= 2**256:
        raise HubError(f"invalid {what} {text!r}: too large", hint=_HINT)
    return wei


def inj_number(wei: int, *, grouped: bool = False) -> str:
    """`1500.25`: exact INJ (no rounding, trailing zeros dropped), as `parse_amount` reads it back."""
    sign = "-" if wei < 0 else ""
    whole, frac = divmod(abs(wei), INJ)
    text = f"{whole:,}" if grouped else str(whole)
    if frac:
        text += "." + f"{frac:018d}".rstrip("0")
    return sign + text


def format_inj(wei: int) -> str:
    """`1,500.25 INJ`, exact, for people."""
    return inj_number(wei, grouped=True) + " INJ"
