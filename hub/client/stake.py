"""StakeManager: stake custody, unbonding, withdrawals and the slashed-funds sweep."""

from __future__ import annotations

from hub.client.base import ContractBinding, address_arg
from hub.client.models import StakeInfo, Unbond
from hub.client.results import Sweep, Withdrawal, typed
from hub.errors import HubError


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

    def withdraw(self) -> Withdrawal:
        """Withdraw every matured unbond of the signer."""
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
        paid = self._event(result, "Withdrawn")
        return typed(result, Withdrawal, account=paid["account"], amount=paid["amount"])

    def sweep_slashed(self) -> Sweep:
        """Send all slashed INJ to the treasury (anyone may)."""
        if self.slashed_pending() == 0:
            raise HubError("no slashed INJ is waiting to be swept")
        result = self._send("sweepSlashed", action="sweep slashed")
        swept = self._event(result, "SlashedSwept")
        return typed(result, Sweep, treasury=swept["treasury"], amount=swept["amount"])
