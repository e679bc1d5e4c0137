"""Typed options of the `hub` commands that take many: what the user typed (amounts, durations,
addresses as text) parsed into one frozen model, each value once, with the one-line error of its
parser. Imported inside the commands: pydantic stays out of `hub --help`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from hub.amounts import parse_amount
from hub.inputs import parse_address, parse_duration


def _wei(what: str, *, allow_zero: bool = True) -> BeforeValidator:
    return BeforeValidator(lambda text: parse_amount(text, what=what, allow_zero=allow_zero))


def _seconds(what: str) -> BeforeValidator:
    return BeforeValidator(lambda text: parse_duration(text, what=what))


def _address_or_none(what: str) -> BeforeValidator:
    return BeforeValidator(lambda text: parse_address(text, what=what) if text else None)


class PoolCreateOptions(BaseModel):
    """`hub pool create`: amounts in wei, the challenge window in seconds, the manager checksummed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metadata: Path
    budget: Annotated[int, _wei("budget")]
    reward_per_unit: Annotated[int, _wei("reward per unit", allow_zero=False)]
    challenge_window: Annotated[int, _seconds("challenge window")]
    compute_limit: int = 0
    # @dev None: the deployment's default domain.
    domain: int | None = None
    # @dev None: the signer manages the pool.
    manager: Annotated[str | None, _address_or_none("manager")] = None
    inline: bool = False
    metadata_uri: str | None = None
