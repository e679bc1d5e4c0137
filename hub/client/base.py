"""What every contract binding shares: reads, transactions through the connection's signer, logs.

A binding depends on a `Connection` (web3, the deployment, the transactor and signer, the chain
clock), not on `HubClient`, and on no other binding: where its preflight needs another contract's
state it asks a `SiblingReads` it was given (`HubClient` passes its `ChainReads`). So no binding
imports another or the client (hub_client.py); workflows that send to several contracts live in
workflows.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from hub.errors import HubError
from hub.inputs import parse_address, parse_bytes32

if TYPE_CHECKING:
    from web3 import Web3

    from hub.client.models import Domain, Node, Pool, Provider
    from hub.manifest import Deployment
    from hub.tx import Transactor, TxResult

T = TypeVar("T")

# @dev Blocks per eth_getLogs request (one window): the local node's cap, `block-range-cap` in
#      injectived's app.toml (10,000; public RPC nodes commonly cap at 10,000 too). A node with a
#      smaller range cap refuses the window; the binding then halves its window until the node
#      answers and keeps the smaller one. A window holding more logs than the node's `logs-cap`
#      (10,000 results) is refused too; that window alone is halved, down to single blocks
#      (`ContractBinding._windows`).
LOG_CHUNK = 10_000

# @dev How nodes refuse an eth_getLogs as too large. Injective's two (checked against a real node):
#      "maximum [from, to] blocks distance: N" (range cap) and "query returned more than N results"
#      (logs cap); the others are the wordings of geth and common hosted RPCs.
_RANGE_TOO_LARGE = ("blocks distance", "block range", "range too large", "range is too large")
_TOO_MANY_LOGS = ("returned more than", "response size exceeded", "too many results")


def address_arg(value: str, what: str = "address") -> str:
    return parse_address(value, what=what)


def key_arg(value: bytes | str, what: str = "work key") -> bytes:
    if isinstance(value, bytes):
        if len(value) != 32:
            raise HubError(f"invalid {what}: {len(value)} bytes, expected 32")
        return value
    return parse_bytes32(value, what=what)


class Connection(Protocol):
    """What a binding needs of its client (`HubClient` is one)."""

    w3: Web3
    deployment: Deployment
    chain_id: int

    @property
    def address(self) -> str: ...

    @property
    def transactor(self) -> Transactor: ...

    def sign_typed(self, typed_data: dict) -> str: ...

    def retry(self, read: Callable[[], T]) -> T: ...

    def block_number(self) -> int: ...

    def now(self) -> int: ...


class SiblingReads(Protocol):
    """What a binding's checks read from the other contracts, and nothing more.

    A binding checks what its own contract would refuse before it signs, and names the numbers:
    some of those checks need another contract's state (a pool's challenge window against the
    stake manager's unbonding period, a node's registration before an invite is used).
    """

    def provider(self, address: str) -> Provider: ...

    def node(self, address: str) -> Node: ...

    def node_nonce(self, node: str) -> int: ...

    def nodes_of(self, provider: str) -> list[Node]: ...

    def stake_of(self, account: str) -> int: ...

    def unbonding_of(self, account: str) -> int: ...

    def unbonding_period(self) -> int: ...

    def domain(self, domain_id: int) -> Domain: ...

    def pool(self, pool_id: int) -> Pool: ...


def decode_events(w3: Web3, deployment: Deployment, contract: str, result: TxResult, event: str) -> list[Any]:
    """The `event` logs that the deployment's `contract` emitted in `result`'s transaction, decoded.

    A call to one contract can make another log (the pool's hard invalidation makes the stake
    manager log `Slashed`): a binding decodes those here, from the deployment's ABI, instead of
    through the other contract's binding.
    """
    from web3.logs import DISCARD

    events = w3.eth.contract(address=deployment.address(contract), abi=deployment.abi(contract)).events  # type: ignore[call-overload]
    return list(getattr(events, event)().process_receipt(result.receipt, errors=DISCARD))


class ContractBinding:
    """One deployed contract, reached through a connection that holds web3 and the signer."""

    NAME: ClassVar[str]

    def __init__(self, client: Connection, reads: SiblingReads | None = None) -> None:
        self.client = client
        # @dev Other contracts' state, for the bindings whose checks need it (HubClient passes it).
        self._reads = reads
        self.address = client.deployment.address(self.NAME)
        self.contract = client.w3.eth.contract(address=self.address, abi=client.deployment.abi(self.NAME))  # type: ignore[call-overload]
        # @dev Blocks per eth_getLogs: LOG_CHUNK until the node refuses a range that long (`_windows`).
        self._log_window = LOG_CHUNK

    @property
    def reads(self) -> SiblingReads:
        if self._reads is None:
            raise TypeError(f"{type(self).__name__} reads other contracts: construct it with a SiblingReads")
        return self._reads

    def _read(self, function: str, *args: Any) -> Any:
        return self.client.retry(lambda: getattr(self.contract.functions, function)(*args).call())

    def _send(self, function: str, *args: Any, value: int = 0, action: str, extra_gas: int = 0) -> TxResult:
        data = self.contract.encode_abi(function, args=list(args))
        return self.client.transactor.send(self.address, data, value=value, action=action, extra_gas=extra_gas)

    def _events(self, result: TxResult, event: str, contract: str | None = None) -> list[Any]:
        """`event` logs of this contract (or of the deployment's `contract`) in `result`'s transaction."""
        return decode_events(self.client.w3, self.client.deployment, contract or self.NAME, result, event)

    def _event(self, result: TxResult, event: str, contract: str | None = None) -> Any:
        """The arguments of the first `event` log in `result`'s transaction (see `_events`)."""
        found = self._events(result, event, contract)
        if not found:
            raise HubError(
                f"{result.action} (tx {result.tx_hash}) was mined but logged no {event} event",
                hint="the deployment manifest's ABI does not match the contracts: `hub deploy --fresh`",
            )
        return found[0]["args"]

    def _logs(
        self,
        event: str,
        filters: dict[str, Any] | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> Iterator[Any]:
        """Decoded `event` logs in [from_block, to_block] (default: from the deployment to now), oldest
        first, one eth_getLogs per window (`_windows`)."""
        start = self.client.deployment.start_block if from_block is None else from_block
        end = self.client.block_number() if to_block is None else to_block
        event_type = getattr(self.contract.events, event)
        yield from self._windows(
            lambda a, b: event_type().get_logs(from_block=a, to_block=b, argument_filters=filters or {}), start, end
        )

    def _logs_of(self, events: Sequence[str], from_block: int, to_block: int) -> Iterator[tuple[str, Any]]:
        """(event name, decoded log) for each log of any of `events` in [from_block, to_block], oldest
        first. One eth_getLogs per window asks for all of them: a node's cost is per block it reads,
        not per event."""
        types = [getattr(self.contract.events, name)() for name in events]
        by_topic = {bytes.fromhex(event.topic[2:]): event for event in types}
        topics = [[event.topic for event in types]]

        def fetch(first: int, last: int) -> list[Any]:
            query = {"address": self.address, "fromBlock": first, "toBlock": last, "topics": topics}
            return list(self.client.w3.eth.get_logs(query))  # type: ignore[arg-type]

        for log in self._windows(fetch, from_block, to_block):
            event = by_topic[bytes(log["topics"][0])]
            yield event.event_name, event.process_log(log)

    def _windows(self, fetch: Callable[[int, int], Sequence[Any]], from_block: int, to_block: int) -> Iterator[Any]:
        """What `fetch(first, last)` (one eth_getLogs) returns for each window of [from_block, to_block],
        oldest first. A window the node refuses for its range cap makes this binding's window half as
        long, for good (the cap is the node's); a window it refuses for holding too many logs is split
        in two halves, each asked in turn (how dense the logs are is the window's own)."""
        start = from_block
        while start <= to_block:
            stop = min(start + self._log_window - 1, to_block)
            try:
                yield from self._split_on_too_many(fetch, start, stop)
            except _RangeTooLarge as refused:
                if self._log_window == 1:
                    raise refused.error from None
                self._log_window = max(1, self._log_window // 2)
                continue
            start = stop + 1

    def _split_on_too_many(self, fetch: Callable[[int, int], Sequence[Any]], first: int, last: int) -> Iterator[Any]:
        try:
            logs = self.client.retry(lambda: fetch(first, last))
        except Exception as exc:  # the node's refusal comes as web3's Web3RPCError, told apart by its words
            message = _node_words(exc).lower()
            if any(words in message for words in _RANGE_TOO_LARGE) and last > first:
                raise _RangeTooLarge(_refused(exc, first, last)) from None
            if not any(words in message for words in _TOO_MANY_LOGS):
                raise
            if last == first:
                raise _refused(exc, first, last) from None
            middle = (first + last) // 2
            yield from self._split_on_too_many(fetch, first, middle)
            yield from self._split_on_too_many(fetch, middle + 1, last)
            return
        yield from logs


class _RangeTooLarge(Exception):  # noqa: N818 (control flow: `_windows` shortens its window)
    def __init__(self, error: HubError) -> None:
        super().__init__(str(error))
        self.error = error


def _node_words(exc: Exception) -> str:
    """The node's own error message (web3 keeps the JSON-RPC error object), else the exception's."""
    error = (getattr(exc, "rpc_response", None) or {}).get("error")
    return str(error.get("message", error)) if isinstance(error, dict) else str(exc)


def _refused(exc: Exception, first: int, last: int) -> HubError:
    return HubError(
        f"the node refused the logs of blocks {first}-{last}: {_node_words(exc)}",
        hint="use a node with a larger eth_getLogs limit (injectived's app.toml: logs-cap, block-range-cap)",
    )
