"""A client that acts for a browser wallet: the bindings run unchanged (argument checks, pre-checks,
the gas estimate that names a revert), and the transaction they would send is captured instead.

The seam is `client.transactor.send(to, data, value=..., action=...)`, which every binding calls.
`CapturingTransactor.send` prices the call as `hub.tx.Transactor.prepare` does and stops where it
would sign: the account here holds no key, so its `sign_transaction` hands the finished transaction
back as `TxCaptured`. `sign_typed` likewise hands back the EIP-712 data the CLI would sign, as
`SignatureRequested`, for the wallet's `eth_signTypedData_v4`.

A binding method that sends several transactions (a claim over many nodes) stops at the first:
the page sends it, and the same action builds the next one from the new chain state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hub.client import HubClient
from hub.tx import Transactor


@dataclass(frozen=True)
class CapturedTx:
    """A transaction built and priced for `sender`, not signed."""

    action: str
    sender: str
    to: str | None
    data: str
    value: int
    gas: int
    max_fee_per_gas: int
    chain_id: int

    def wallet_request(self) -> dict[str, Any]:
        """The `eth_sendTransaction` parameter (EIP-1193: quantities as 0x hex)."""
        request = {
            "from": self.sender,
            "data": self.data,
            "value": hex(self.value),
            "gas": hex(self.gas),
            "maxFeePerGas": hex(self.max_fee_per_gas),
            # Injective has no priority fee (hub/tx.py): a tip would be paid for nothing
            "maxPriorityFeePerGas": "0x0",
            "chainId": hex(self.chain_id),
        }
        if self.to is not None:
            request["to"] = self.to
        return request


class TxCaptured(Exception):  # noqa: N818 (control flow, not an error)
    """Raised through the binding by the capturing transactor with the transaction it built."""

    def __init__(self, tx: CapturedTx) -> None:
        super().__init__(tx.action)
        self.tx = tx


class SignatureRequested(Exception):  # noqa: N818 (control flow, not an error)
    """Raised through the binding by `WalletClient.sign_typed` with the EIP-712 data to sign."""

    def __init__(self, typed_data: dict[str, Any]) -> None:
        super().__init__(typed_data["primaryType"])
        self.typed_data = typed_data


class _Unsigned(Exception):  # noqa: N818
    def __init__(self, tx: dict[str, Any]) -> None:
        super().__init__("unsigned")
        self.tx = tx


class WalletAccount:
    """The wallet's address and no key: signing stops with the transaction it was given."""

    def __init__(self, address: str) -> None:
        self.address = address

    def sign_transaction(self, tx: dict[str, Any]) -> Any:
        raise _Unsigned(tx)


class CapturingTransactor(Transactor):
    """`send` checks, estimates and prices like the CLI's transactor, then raises `TxCaptured`."""

    def send(self, to: str | None, data: str, *, value: int = 0, action: str, extra_gas: int = 0) -> Any:
        try:
            self.prepare(to, data, value=value, action=action, extra_gas=extra_gas)
        except _Unsigned as unsigned:
            tx = unsigned.tx
            raise TxCaptured(
                CapturedTx(
                    action=action,
                    sender=self.address,
                    to=tx.get("to"),
                    data=tx["data"] if isinstance(tx["data"], str) else "0x" + bytes(tx["data"]).hex(),
                    value=int(tx["value"]),
                    gas=int(tx["gas"]),
                    max_fee_per_gas=int(tx["maxFeePerGas"]),
                    chain_id=int(tx["chainId"]),
                )
            ) from None
        raise AssertionError("a wallet account cannot sign")  # prepare always signs


class WalletClient(HubClient):
    """`base`'s connection and deployment, acting for the browser wallet at `address`."""

    def __init__(self, base: HubClient, address: str) -> None:
        from hub.inputs import parse_address

        super().__init__(
            base.w3,
            base.deployment,
            WalletAccount(parse_address(address, what="wallet address")),  # type: ignore[arg-type]
            chain_id=base.chain_id,
            tx_config=base.tx_config,
        )

    @cached_property
    def transactor(self) -> Transactor:
        return CapturingTransactor(self.w3, self.account, chain_id=self.chain_id, config=self.tx_config)  # type: ignore[arg-type]

    def sign_typed(self, typed_data: dict) -> str:
        raise SignatureRequested(typed_data)
