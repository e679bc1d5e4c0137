"""The transaction layer: sign here, price as Injective charges, never send what would revert.

Injective's EVM charges the full gas limit x `maxFeePerGas` and refunds nothing, its base fee is
constant and it rejects nonce gaps. So every transaction is:

1. checked: the signer is not a published dev key off the local chain; the balance covers `value`;
2. estimated with `eth_estimateGas`, which raises with the contract's revert reason: that becomes a
   one-line `HubError` and nothing is signed;
3. priced: gas = estimate x a small margin, `maxFeePerGas` = the base fee, tip 0; the balance must
   cover value + gas x fee (checked before signing);
4. signed locally with the next nonce, sent raw, and its receipt awaited; a transaction mined with
   status 0 is replayed with `eth_call` to name the reason.

`prepare` (steps 1-4 up to signing) and `broadcast` are separate so the deployer can record a
signed transaction's hash and nonce before it leaves this machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from hub.amounts import format_inj
from hub.devkeys import refuse_dev_key_off_local
from hub.errors import HubError
from hub.reverts import revert_error, revert_reason

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

T = TypeVar("T")


@dataclass(frozen=True)
class TxConfig:
    """How transactions are priced and awaited."""

    # @dev Gas limit = estimate x gas_margin (Injective's estimate is exact, but state can move
    #      between estimate and inclusion; unused gas is still paid, so keep it small).
    gas_margin: float = 1.1
    # @dev maxFeePerGas = base fee x fee_multiplier; the tip is always 0.
    fee_multiplier: float = 1.0
    receipt_timeout_s: float = 120.0
    poll_interval_s: float = 0.05
    # @dev Tries of a read that fails transiently (node restarting, timeouts, HTTP 5xx).
    rpc_retries: int = 3
    # @dev Resends, one per new block, of a transaction refused for funds its sender's balance
    #      covers (the node's check state trails its served state by a moment; see `broadcast`).
    lag_resends: int = 2


@dataclass(frozen=True)
class PreparedTx:
    """A signed transaction that has not been sent."""

    action: str
    sender: str
    to: str | None
    nonce: int
    gas: int
    max_fee_per_gas: int
    value: int
    data: str
    tx_hash: str
    raw: str = field(repr=False)

    @property
    def max_cost(self) -> int:
        """What the chain charges at most: value + gas limit x fee cap."""
        return self.value + self.gas * self.max_fee_per_gas


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction."""

    action: str
    tx_hash: str
    block_number: int
    gas_used: int
    gas_limit: int
    # @dev What Injective charged: the full gas limit x the effective gas price.
    fee: int
    contract_address: str | None
    receipt: Any = field(repr=False, compare=False)


def _node_message(exc: Exception) -> str:
    """The `message` of a JSON-RPC error, else the first line of the exception."""
    response = getattr(exc, "rpc_response", None)  # web3's Web3RPCError keeps the node's answer
    error = response.get("error") if isinstance(response, dict) else None
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    data = exc.args[0] if exc.args else None
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    text = str(exc)
    if "'message': '" in text:
        return text.split("'message': '", 1)[1].rsplit("'", 1)[0]
    return text.splitlines()[0] if text else type(exc).__name__


def retry_read(read: Callable[[], T], retries: int = 3) -> T:
    """Run a read; retry transient node errors (restarting node, timeouts, HTTP 5xx) with doubling waits."""
    for attempt in range(retries + 1):
        try:
            return read()
        except Exception as exc:  # web3 surfaces transport errors as several unrelated types
            from hub.networks import is_transient

            if not is_transient(exc):
                raise
            if attempt == retries:
                raise HubError(
                    f"the node stopped answering: {_node_message(exc)}",
                    hint="check that the node is running (`hub devnet status` for the local chain)",
                ) from exc
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


class Transactor:
    """Signs and sends transactions for one account on one chain (the chain id `connect` verified)."""

    def __init__(
        self, w3: Web3, account: LocalAccount, *, chain_id: int | None = None, config: TxConfig | None = None
    ) -> None:
        self.w3 = w3
        self.account = account
        self.chain_id = chain_id if chain_id is not None else w3.eth.chain_id
        self.config = config or TxConfig()

    @property
    def address(self) -> str:
        return self.account.address

    # -- reads, retried when the node hiccups

    def retry(self, read: Callable[[], T]) -> T:
        return retry_read(read, self.config.rpc_retries)

    def base_fee(self) -> int:
        block = self.retry(lambda: self.w3.eth.get_block("latest"))
        return int(block.get("baseFeePerGas") or self.retry(lambda: self.w3.eth.gas_price))

    def pending_nonce(self) -> int:
        return self.retry(lambda: self.w3.eth.get_transaction_count(self.address, "pending"))

    def balance(self) -> int:
        return self.retry(lambda: self.w3.eth.get_balance(self.address))

    # -- building

    def estimate(self, to: str | None, data: str, value: int, action: str) -> int:
        """Gas the call needs; a revert becomes a one-line `HubError` naming the reason."""
        from web3.exceptions import ContractLogicError, Web3RPCError

        call: dict[str, Any] = {"from": self.address, "data": data, "value": value}
        if to is not None:
            call["to"] = to
        try:
            return self.retry(lambda: self.w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            raise revert_error(action, revert_reason(exc.message or str(exc))) from None
        except Web3RPCError as exc:
            message = _node_message(exc)
            if "insufficient" in message.lower() and ("balance" in message or "funds" in message):
                raise self._insufficient(action, value, 0) from None
            raise HubError(f"{action} would fail: the node says {message!r}") from None

    def _insufficient(self, action: str, value: int, gas_cost: int) -> HubError:
        have = self.balance()
        parts = f" ({format_inj(value)} + {format_inj(gas_cost)} gas)" if gas_cost and value else ""
        return HubError(
            f"insufficient balance: {action} needs {format_inj(value + gas_cost)}{parts}, "
            f"{self.address} has {format_inj(have)}",
            hint=f"send INJ to {self.address} from a funded account, e.g. `hub provider fund-node ADDRESS AMOUNT`",
        )

    def prepare(self, to: str | None, data: str, *, value: int = 0, action: str, extra_gas: int = 0) -> PreparedTx:
        """Check, estimate, price and sign; nothing is sent. `extra_gas` is added to the padded
        estimate for a call whose cost depends on the block it lands in."""
        refuse_dev_key_off_local(self.address, self.chain_id)
        if value and self.balance() < value:
            raise self._insufficient(action, value, 0)
        estimate = self.estimate(to, data, value, action)
        gas = math.ceil(estimate * self.config.gas_margin) + extra_gas
        fee = math.ceil(self.base_fee() * self.config.fee_multiplier)
        if self.balance() < value + gas * fee:
            raise self._insufficient(action, value, gas * fee)
        # every send waits for its receipt, so the node's pending count is the next nonce
        nonce = self.pending_nonce()
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": fee,
            "maxPriorityFeePerGas": 0,
            "value": value,
            "data": data,
        }
        if to is not None:
            tx["to"] = to
        refuse_dev_key_off_local(self.address, self.chain_id)
        signed = self.account.sign_transaction(tx)
        return PreparedTx(
            action=action,
            sender=self.address,
            to=to,
            nonce=nonce,
            gas=gas,
            max_fee_per_gas=fee,
            value=value,
            data=data,
            tx_hash="0x" + bytes(signed.hash).hex(),
            raw="0x" + bytes(signed.raw_transaction).hex(),
        )

    # -- sending

    def broadcast(self, prepared: PreparedTx) -> None:
        """Send a signed transaction; sending the same one twice is harmless.

        The node checks a new transaction against the state of its last commit, which can trail the
        block its JSON-RPC already serves (seen under load: a freshly funded account's first
        transaction refused for funds while its balance read 100 INJ). So a refusal for funds that
        the balance covers is sent again after the next block, up to `TxConfig.lag_resends` times;
        a refusal the balance does not explain is an error at once, with the node's own words."""
        for resend in range(self.config.lag_resends + 1):
            refusal = self._send_raw(prepared)
            if refusal is None:
                return
            lowered = refusal.lower()
            if "sequence" in lowered or "nonce" in lowered:
                raise HubError(
                    f"{prepared.action}: the node refused nonce {prepared.nonce} ({refusal})",
                    hint="another transaction from this account was sent meanwhile; run the command again",
                )
            if "insufficient" not in lowered:
                raise HubError(f"{prepared.action}: the node refused the transaction: {refusal}")
            if resend == self.config.lag_resends or self.balance() < prepared.max_cost:
                error = self._insufficient(prepared.action, prepared.value, prepared.max_cost - prepared.value)
                raise HubError(f"{error.message} (the node says: {refusal})", hint=error.hint)
            self._wait_next_block(prepared.action)

    def _send_raw(self, prepared: PreparedTx) -> str | None:
        """Hand the raw transaction to the node: None when it took it (or already had it), else the
        node's message."""
        from web3.exceptions import Web3RPCError

        try:
            self.retry(lambda: self.w3.eth.send_raw_transaction(prepared.raw))
        except Web3RPCError as exc:
            message = _node_message(exc)
            lowered = message.lower()
            if "already" in lowered and ("known" in lowered or "exists" in lowered or "mempool" in lowered):
                return None
            return message
        return None

    def _wait_next_block(self, action: str) -> None:
        """Poll until the node serves a block after the one it serves now."""
        start = self.retry(lambda: self.w3.eth.block_number)
        deadline = time.monotonic() + self.config.receipt_timeout_s
        while self.retry(lambda: self.w3.eth.block_number) <= start:
            if time.monotonic() > deadline:
                raise HubError(
                    f"{action}: the node made no block after #{start} in {self.config.receipt_timeout_s:.0f} s",
                    hint="check that the node is running (`hub devnet status` for the local chain)",
                )
            time.sleep(self.config.poll_interval_s)

    def receipt(self, tx_hash: str) -> Any | None:
        """The receipt of a mined transaction, or None if the node does not know it (yet)."""
        from web3.exceptions import TransactionNotFound

        try:
            return self.retry(lambda: self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None

    def wait_receipt(self, tx_hash: str, action: str) -> Any:
        """Poll until the transaction is mined; its receipt, whatever its status."""
        deadline = time.monotonic() + self.config.receipt_timeout_s
        while (receipt := self.receipt(tx_hash)) is None:
            if time.monotonic() > deadline:
                raise HubError(
                    f"{action}: transaction {tx_hash} not mined after {self.config.receipt_timeout_s:.0f} s",
                    hint="it may still be mined: look it up by hash before sending it again",
                )
            time.sleep(self.config.poll_interval_s)
        return receipt

    def wait(self, prepared: PreparedTx) -> TxResult:
        """Wait for the receipt; a failed transaction becomes a `HubError` with its reason."""
        receipt = self.wait_receipt(prepared.tx_hash, prepared.action)
        if receipt["status"] != 1:
            raise HubError(
                f"{prepared.action} failed on chain (tx {prepared.tx_hash}): {self._replay_reason(prepared, receipt)}",
                hint="the state changed between the estimate and the block; check and run it again",
            )
        return self.result(prepared.action, receipt, prepared.gas)

    @staticmethod
    def result(action: str, receipt: Any, gas_limit: int) -> TxResult:
        price = int(receipt.get("effectiveGasPrice") or 0)
        return TxResult(
            action=action,
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            gas_limit=gas_limit,
            fee=gas_limit * price,
            contract_address=receipt.get("contractAddress"),
            receipt=receipt,
        )

    def _replay_reason(self, prepared: PreparedTx, receipt: Any) -> str:
        from web3.exceptions import ContractLogicError

        call: dict[str, Any] = {"from": prepared.sender, "data": prepared.data, "value": prepared.value}
        if prepared.to is not None:
            call["to"] = prepared.to
        try:
            self.w3.eth.call(call, block_identifier=int(receipt["blockNumber"]) - 1)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return revert_reason(exc.message or str(exc))
        except Exception:  # a node without history: the reason stays unknown
            pass
        if int(receipt["gasUsed"]) >= prepared.gas:
            return f"out of gas ({prepared.gas:,} gas)"
        return "reverted"

    def send(self, to: str | None, data: str, *, value: int = 0, action: str, extra_gas: int = 0) -> TxResult:
        """prepare + broadcast + wait."""
        prepared = self.prepare(to, data, value=value, action=action, extra_gas=extra_gas)
        self.broadcast(prepared)
        return self.wait(prepared)
