"""Typed options of the `hub` commands that take many: what the user typed (amounts, durations,
addresses as text) parsed into one frozen model, each value once, with the one-line error of its
parser. Imported inside the commands: pydantic stays out of `hub --help`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

from hub.amounts import parse_amount
from hub.inputs import parse_address, parse_duration

if TYPE_CHECKING:
    from hub.contracts import SystemParams
    from hub.manifest import GovernanceSettings


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


def _seconds_or_none(what: str) -> BeforeValidator:
    return BeforeValidator(lambda text: None if text is None else parse_duration(text, what=what))


def _wei_or_none(what: str) -> BeforeValidator:
    return BeforeValidator(lambda text: None if text is None else parse_amount(text, what=what))


# @dev `hub deploy`'s --governance options, by field: the flag, and the limit its error names.
_GOVERNANCE_OPTIONS = {
    "voting_delay": ("--voting-delay", "--voting-delay at most 30d"),
    "voting_period": ("--voting-period", "--voting-period at least 1s"),
    "timelock_delay": ("--timelock-delay", "--timelock-delay from 1s to 30d"),
    "quorum": ("--quorum", "--quorum from 0.01 to 100 (percent)"),
    "proposal_threshold": ("--proposal-threshold", None),
    "guardian": ("--guardian", None),
    "guardian_period": ("--guardian-period", None),
}


class DeployOptions(BaseModel):
    """`hub deploy` (less the network, account and output options every chain command has): the
    system's parameters and, with --governance, its governance's; unset means the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unbonding_period: Annotated[int | None, _seconds_or_none("unbonding period")] = None
    min_stake: Annotated[int | None, _wei_or_none("minimum stake")] = None
    max_rate: int | None = None
    federator: Annotated[str | None, _address_or_none("federator")] = None
    validator: Annotated[str | None, _address_or_none("validator")] = None
    fresh: bool = False
    confirm_mainnet: bool = False
    governance: bool = False
    voting_delay: Annotated[int | None, _seconds_or_none("voting delay")] = None
    voting_period: Annotated[int | None, _seconds_or_none("voting period")] = None
    timelock_delay: Annotated[int | None, _seconds_or_none("timelock delay")] = None
    # @dev Percent of the stake in custody.
    quorum: float | None = None
    proposal_threshold: Annotated[int | None, _wei_or_none("proposal threshold")] = None
    guardian: Annotated[str | None, _address_or_none("guardian")] = None
    guardian_period: Annotated[int | None, _seconds_or_none("guardian period")] = None

    def system_params(self) -> SystemParams | None:
        """The parameters given (None: the defaults, or what a resumed deployment recorded)."""
        from hub.contracts import SystemParams
        from hub.errors import HubError

        given: dict[str, int] = {}
        if self.unbonding_period is not None:
            if self.unbonding_period <= 0:
                raise HubError("the unbonding period must be at least 1 s", hint="e.g. --unbonding-period 5s")
            given["unbonding_period"] = self.unbonding_period
        if self.min_stake is not None:
            given["min_stake_per_compute_unit"] = self.min_stake
        if self.max_rate is not None:
            if self.max_rate <= 0:
                raise HubError("--max-rate must be more than zero", hint="e.g. --max-rate 1000")
            given["max_units_per_compute_unit_per_second"] = self.max_rate
        return SystemParams(**given) if given else None

    def governance_settings(self) -> GovernanceSettings | None:
        """The --governance options as settings (None without --governance), or a one-line error."""
        from hub.errors import HubError, UsageError
        from hub.manifest import GovernanceSettings

        given = {name: getattr(self, name) for name in _GOVERNANCE_OPTIONS if getattr(self, name) is not None}
        if not self.governance:
            if given:
                flags = [_GOVERNANCE_OPTIONS[name][0] for name in given]
                raise UsageError(
                    f"{', '.join(flags)} need{'s' if len(flags) == 1 else ''} --governance", hint="add --governance"
                )
            return None
        if self.guardian_period is not None and self.guardian is None:
            raise UsageError("--guardian-period needs --guardian", hint="name the guardian with --guardian ADDRESS")
        if "quorum" in given:
            given["quorum_bps"] = round(given.pop("quorum") * 100)
        try:
            return GovernanceSettings(**given)
        except ValueError as exc:
            field = next((name for name in _GOVERNANCE_OPTIONS if name in str(exc)), None)
            limit = _GOVERNANCE_OPTIONS[field][1] if field else None
            raise HubError("invalid governance setting", hint=limit or str(exc).splitlines()[0]) from None
