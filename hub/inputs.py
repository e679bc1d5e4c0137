"""Checks for the other things a user types: addresses, 32-byte keys, durations, role names.

Each parser returns the value the contracts take or raises a one-line `HubError` naming the input
and the expected form. (INJ amounts are in `hub.amounts`.)
"""

from __future__ import annotations

import re

from hub.errors import HubError

_HEX_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_DURATION = re.compile(r"(\d+)\s*(s|sec|m|min|h|d)?", re.IGNORECASE)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}

# @dev The contracts' role ids: DEFAULT_ADMIN is 0x00, the others keccak256 of their names.
ROLE_NAMES = ("admin", "federator", "validator")


def parse_address(text: str, *, what: str = "address") -> str:
    """The checksummed form of a 0x address (a mixed-case input must carry a valid checksum) or
    of an `inj1...` address (the same account as Keplr and Leap show it)."""
    from eth_utils import is_checksum_address, to_checksum_address

    value = str(text).strip()
    if value[:4].lower() == "inj1":
        from hub.bech32 import evm_address

        try:
            value = evm_address(value)
        except ValueError as exc:
            raise HubError(
                f"invalid {what} {text!r}: {exc}", hint="check for a typo: copy the inj1 address again"
            ) from None
    if not _HEX_ADDRESS.fullmatch(value):
        raise HubError(f"invalid {what} {text!r}", hint="an address is 0x followed by 40 hex digits, or inj1...")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise HubError(f"invalid {what} {text!r}: bad checksum", hint="check for a typo, or write it all lower case")
    address = to_checksum_address(value)
    if int(address, 16) == 0:
        raise HubError(f"invalid {what}: the zero address", hint="give a real account or contract address")
    return address


def parse_bytes32(text: str, *, what: str = "work key") -> bytes:
    """32 bytes from 64 hex digits (optional 0x)."""
    digits = str(text).strip().removeprefix("0x").removeprefix("0X")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", digits):
        raise HubError(f"invalid {what} {text!r}", hint="expected 0x followed by 64 hex digits")
    return bytes.fromhex(digits)


def parse_duration(text: str, *, what: str = "duration") -> int:
    """Seconds from `30`, `30s`, `5m`, `2h` or `7d`."""
    match = _DURATION.fullmatch(str(text).strip())
    if match is None:
        raise HubError(f"invalid {what} {text!r}", hint="write seconds as 30 or 30s, or 5m, 2h, 7d")
    return int(match.group(1)) * _SECONDS[(match.group(2) or "s").lower()]


def role_id(name: str) -> bytes:
    """The bytes32 id of a role by name: admin, federator or validator (any case, `_ROLE` optional)."""
    from eth_utils import keccak

    key = name.strip().lower().removesuffix("_role").replace("default_", "")
    if key not in ROLE_NAMES:
        raise HubError(f"unknown role {name!r}", hint=f"one of {', '.join(ROLE_NAMES)}")
    return b"\x00" * 32 if key == "admin" else keccak(text=f"{key.upper()}_ROLE")


# @dev Largest value of a uint256 argument: the bound of id and count options, so a typo such as -1
#      or a 90-digit number is a usage error instead of an encoding failure deep in web3.
UINT256_MAX = 2**256 - 1
