"""StakeManager: stake custody, unbonding, withdrawals and the slashed-funds sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.client.base import ContractBinding, address_arg
from hub.client.models import StakeInfo, Unbond
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.tx import TxResult


class StakeContract(ContractBinding):
    NAME = "StakeManager"

    def stake_of(self, account: str) -> int:
        return self._read("stakeOf", address_arg(account))

    def unbonding_of(self, account: str) -> int:
        return self._read("unbondingOf", address_arg(account))

    def withdrawable_of(self, account: str) -> int:
        return self._read("withdrawableOf", address_arg(account))

    def pending_unbonds(self, account: str) -> list[Unbond]:
        return [Unbond(amount=a, maturity=m) for a, m in self._read("pendingUnbonds", address_arg(account))]

    def info(self, account: str) -> StakeInfo:
        account = address_arg(account)
        pending = self.pending_unbonds(account)
        return StakeInfo(
            account=account,
            stake=self.stake_of(account),
            unbonding=sum(u.amount for u in pending),
            withdrawable=self.withdrawable_of(account),
            pending=pending,
        )

    def vote_locked_until(self, account: str) -> int:
        """Chain time until which `account`'s stake cannot unbond: the end of the last vote it cast."""
        return self._read("voteLockedUntil", address_arg(account))

    def unbonding_period(self) -> int:
        return self._read("UNBONDING_PERIOD")

    def slashed_pending(self) -> int:
        return self._read("slashedPending")

    def withdraw(self) -> TxResult:
        """Withdraw every matured unbond of the signer; `value` is the amount paid."""
        me = self.client.address
        if self.withdrawable_of(me) == 0:
            pending = self.pending_unbonds(me)
            if not pending:
                raise HubError(f"{me} has nothing unbonding", hint="start with `hub provider stake reclaim AMOUNT`")
            wait = max(pending[0].maturity - self.client.now(), 0)
            raise HubError(
                f"nothing has matured yet: the next unbond matures in {wait} s",
                hint="wait for the unbonding period, then withdraw",
            )
        result = self._send("withdraw", action="withdraw stake")
        events = self._events(result, "Withdrawn")
        return result.with_value(int(events[0]["args"]["amount"]) if events else None)

    def sweep_slashed(self) -> TxResult:
        """Send all slashed INJ to the treasury (anyone may); `value` is the amount."""
        if self.slashed_pending() == 0:
            raise HubError("no slashed INJ is waiting to be swept")
        result = self._send("sweepSlashed", action="sweep slashed")
        events = self._events(result, "SlashedSwept")
        return result.with_value(int(events[0]["args"]["amount"]) if events else None)
