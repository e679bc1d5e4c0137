"""Work receipts on disk: every epoch's work reaches the chain exactly once, whatever happens.

Each collaborative epoch (or each `submit_every_epochs` of them) becomes a receipt: pool, peer,
epoch range, tokens. A receipt moves pending -> sent -> confirmed (or rejected), and the file is
rewritten atomically before every step that touches the chain, so a crash, a killed process or a
stopped chain never loses or repeats one:

- before sending, the chain is asked whether the work key is already there (a send that happened
  but was not recorded is found this way, and recorded as confirmed);
- the signed transaction (hash, nonce, raw bytes) is recorded before it is broadcast, so after a
  restart it is re-broadcast (harmless if known) or, if its nonce was used by something else,
  prepared again; the contract refuses a reused work key anyway;
- while the chain is unreachable receipts stay pending and are retried; pending receipts that were
  never sent are merged into one range claim;
- a claim the contract refuses for good (the pool ended, the node was removed) is marked rejected
  with the reason, logged, and never retried.

The pool's work-rate rule (`WorkRateValidator`): a node may claim at most compute units x the
pool's max rate units per second since max(its last submission, the pool's start). A node that
trains faster than that can never be paid for all of it, so with a known cap (`WorkCap`) a flush
claims what the cap allows *now* and carries the rest honestly:

- the oldest pending epochs whose tokens fit the allowance are merged into one range claim; the
  younger ones are carried to the next flush (the cap grows with time);
- if even the oldest pending epoch does not fit, it waits while it is the only one (a node below
  the cap catches up within the next epoch); once a younger epoch is waiting behind it (the node
  trains faster than the cap pays), or on the last pass before stopping, it is claimed for the
  allowance and the rest of its tokens is dropped (recorded in the receipt's ``dropped`` and
  logged): the auditor matches a claim to whole epoch ranges, so one epoch's work is never split
  across two work keys, and a claim is never larger than the work it names;
- at most `MAX_CARRY_EPOCHS` epochs are carried; older ones are dropped with a log line (a node
  that trains faster than its cap falls further behind every epoch: without a bound its backlog,
  and the age of the work it claims, would grow without end).

A node that trains at T tokens/s above the cap C is thus paid C tokens/s, the most the contract
allows, and the receipts file says how many tokens went unpaid.

Work key: keccak256(abi.encode(uint256 poolId, string peerId, uint256 firstEpoch, uint256 lastEpoch)).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hub.client import HubClient

log = logging.getLogger("trainer")

Status = Literal["pending", "sent", "confirmed", "rejected", "dropped"]

# @dev Epochs of work carried to later claims at most; older carried epochs are dropped (a node
#      above its work-rate cap would otherwise carry an ever-growing backlog).
MAX_CARRY_EPOCHS = 8
# @dev The ABI of the default validation contract's public rate (any other contract: cap unknown).
_RATE_ABI = [
    {
        "name": "MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint256"}],
    }
]


@dataclass(frozen=True)
class WorkCap:
    """The pool's work-rate rule for one node: ``compute_units x max_rate`` units per second,
    counted from max(the node's last submission, the pool's start)."""

    compute_units: int
    max_rate: int
    pool_started_at: int

    @property
    def per_second(self) -> int:
        return self.compute_units * self.max_rate

    def allowance(self, client: HubClient, pool_id: int) -> int:
        """Units this node may claim in a transaction sent now, counted to one second before the
        latest block: the transaction lands in a later block, but its gas estimate runs on the
        node's last committed state, which can be a block behind the latest block the node lists
        (a clean-clone run's chain test had an estimate revert for capacity right after the latest
        block entered a new second). So this never overstates what the contract allows."""
        since = max(client.pool.last_work_at(client.address), self.pool_started_at)
        return self.per_second * max(0, client.now() - 1 - since)


def read_cap(client: HubClient, pool_id: int) -> WorkCap | None:
    """The node's work-rate cap in `pool_id`, or None when the pool's validation contract is not the
    default rate rule (its limit is then unknown: claims wait for the chain's verdict)."""
    pool = client.pool.get(pool_id)
    units = client.registry.node(client.address).compute_units
    contract = client.w3.eth.contract(address=pool.validation_logic, abi=_RATE_ABI)  # type: ignore[call-overload]
    try:
        rate = int(client.retry(lambda: contract.functions.MAX_UNITS_PER_COMPUTE_UNIT_PER_SECOND().call()))
    except Exception as exc:  # a custom validation contract without this getter
        log.info(
            "pool %d's validation contract states no rate (%s): claims are checked by the chain only", pool_id, exc
        )
        return None
    return WorkCap(units, rate, pool.started_at)


def work_key(pool_id: int, peer_id: str, first_epoch: int, last_epoch: int) -> str:
    """The on-chain work key of `peer_id`'s work in epochs [first_epoch, last_epoch] of `pool_id`."""
    from eth_abi import encode
    from eth_utils import keccak

    packed = encode(["uint256", "string", "uint256", "uint256"], [pool_id, peer_id, first_epoch, last_epoch])
    return "0x" + keccak(packed).hex()


@dataclass
class Receipt:
    pool_id: int
    peer_id: str
    first_epoch: int
    last_epoch: int
    units: int
    status: Status = "pending"
    key: str = ""
    tx_hash: str | None = None
    nonce: int | None = None
    raw: str | None = field(default=None, repr=False)
    block: int | None = None
    error: str | None = None
    dropped: int = 0
    """Tokens of these epochs never claimed because they exceeded the pool's work-rate cap."""
    created: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not self.key:
            self.key = work_key(self.pool_id, self.peer_id, self.first_epoch, self.last_epoch)


class WorkQueue:
    """The receipts of one node in one pool, kept in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.receipts: list[Receipt] = []
        if self.path.exists():
            self.receipts = [Receipt(**item) for item in json.loads(self.path.read_text())["receipts"]]

    # -- the file

    def save(self) -> None:
        """Write all receipts atomically (temp file, fsync, rename)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump({"receipts": [asdict(r) for r in self.receipts]}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    # -- receipts

    def add(self, pool_id: int, peer_id: str, first_epoch: int, last_epoch: int, units: int) -> Receipt:
        """Record new work (not yet sent)."""
        receipt = Receipt(pool_id, peer_id, first_epoch, last_epoch, units)
        self.receipts.append(receipt)
        self.save()
        return receipt

    def unsettled(self) -> list[Receipt]:
        return [r for r in self.receipts if r.status in ("pending", "sent")]

    def _merge_pending(self) -> None:
        """Merge receipts never sent into one range claim per (pool, peer)."""
        never_sent = [r for r in self.receipts if r.status == "pending" and r.tx_hash is None]
        if len(never_sent) < 2:
            return
        groups: dict[tuple[int, str], list[Receipt]] = {}
        for r in never_sent:
            groups.setdefault((r.pool_id, r.peer_id), []).append(r)
        for group in groups.values():
            if len(group) >= 2:
                self._merge(group)
        self.save()

    def _merge(self, group: list[Receipt]) -> Receipt:
        """Replace never-sent receipts of one (pool, peer) by one range claim (saved by the caller)."""
        merged = Receipt(
            group[0].pool_id,
            group[0].peer_id,
            min(r.first_epoch for r in group),
            max(r.last_epoch for r in group),
            sum(r.units for r in group),
            created=min(r.created for r in group),
            dropped=sum(r.dropped for r in group),
        )
        self.receipts = [r for r in self.receipts if r not in group] + [merged]
        log.info("merged %d unsent work receipts into epochs %d-%d", len(group), merged.first_epoch, merged.last_epoch)
        return merged

    # -- the chain

    def _plan_capped(self, client: HubClient, cap: WorkCap, final: bool) -> Receipt | None:
        """Shape the never-sent receipts into what the cap allows now (see the module docstring):
        drop carried epochs beyond `MAX_CARRY_EPOCHS`, merge the oldest ones that fit into one
        claim, or cut the oldest one down to the allowance. Returns the claim to send now (None:
        nothing fits yet); the other pending receipts are carried."""
        never_sent = sorted(
            (r for r in self.receipts if r.status == "pending" and r.tx_hash is None), key=lambda r: r.first_epoch
        )
        if not never_sent:
            return None
        carried = sum(r.last_epoch - r.first_epoch + 1 for r in never_sent)
        while carried > MAX_CARRY_EPOCHS and len(never_sent) > 1:
            oldest = never_sent.pop(0)
            carried -= oldest.last_epoch - oldest.first_epoch + 1
            oldest.status, oldest.dropped, oldest.units = "dropped", oldest.dropped + oldest.units, 0
            oldest.error = f"more than {MAX_CARRY_EPOCHS} epochs waited for the work-rate cap"
            log.warning(
                "dropped the claim for epochs %d-%d (%d tokens): more than %d epochs of work waited for the "
                "pool's work-rate cap of %d tokens/s",
                oldest.first_epoch,
                oldest.last_epoch,
                oldest.dropped,
                MAX_CARRY_EPOCHS,
                cap.per_second,
            )
        allowance = cap.allowance(client, never_sent[0].pool_id)
        fitting: list[Receipt] = []
        total = 0
        for receipt in never_sent:
            if total + receipt.units > allowance:
                break
            fitting.append(receipt)
            total += receipt.units
        claim: Receipt | None = None
        if len(fitting) >= 2:
            claim = self._merge(fitting)
        elif fitting:
            claim = fitting[0]
        elif allowance > 0 and (len(never_sent) > 1 or final):
            claim = oldest = never_sent[0]
            cut = oldest.units - allowance
            oldest.units, oldest.dropped = allowance, oldest.dropped + cut
            log.warning(
                "epochs %d-%d: claiming %d tokens now, the pool's work-rate cap (%d tokens/s since the last "
                "claim); %d tokens of them will never be paid",
                oldest.first_epoch,
                oldest.last_epoch,
                allowance,
                cap.per_second,
                cut,
            )
        self.save()
        return claim

    def flush(self, client: HubClient, cap: WorkCap | None = None, *, final: bool = False) -> list[Receipt]:
        """Try to settle every unsettled receipt; returns those confirmed now. Never raises for a
        chain that is down: the receipts wait for the next flush. With `cap`, never-sent receipts
        are first shaped to what the pool's work-rate rule allows now (the rest is carried);
        `final` (the last pass before stopping) claims what the cap allows even for a lone epoch."""
        from hub.errors import HubError

        done: list[Receipt] = []
        if cap is None:
            self._merge_pending()
            self._settle_each(client, self.unsettled(), done)
            return done
        # in-flight claims first: their outcome moves the cap's clock
        if not self._settle_each(client, [r for r in self.unsettled() if r.tx_hash is not None], done):
            return done
        try:
            claim = self._plan_capped(client, cap, final)
        except HubError as exc:
            log.warning("chain unavailable, work stays queued: %s", exc.message)
            return done
        if claim is not None:
            self._settle_each(client, [claim], done)
        return done

    def _settle_each(self, client: HubClient, receipts: list[Receipt], done: list[Receipt]) -> bool:
        """Settle `receipts` in order, appending the confirmed ones to `done`; False when the chain
        is unavailable (the rest waits for the next flush)."""
        from hub.errors import HubError

        for receipt in receipts:
            try:
                if self._settle(client, receipt):
                    done.append(receipt)
            except HubError as exc:
                if not _is_refusal(exc):
                    log.warning(
                        "chain unavailable, work for epochs %d-%d stays queued: %s",
                        receipt.first_epoch,
                        receipt.last_epoch,
                        exc.message,
                    )
                    return False
                if "exceeds the node's capacity" in exc.message:
                    # too soon after the previous claim (a validation contract whose rate is unknown
                    # here): it waits, and merges with later epochs
                    log.info(
                        "work for epochs %d-%d waits for the work-rate rule: %s",
                        receipt.first_epoch,
                        receipt.last_epoch,
                        exc.message,
                    )
                    continue
                receipt.status, receipt.error = "rejected", exc.message
                self.save()
                log.error(
                    "work for epochs %d-%d rejected by the chain: %s",
                    receipt.first_epoch,
                    receipt.last_epoch,
                    exc.message,
                )
        return True

    def _settle(self, client: HubClient, receipt: Receipt) -> bool:
        tx = client.transactor
        # keys are namespaced by node on chain: a record under this node's key is this node's work
        on_chain = client.rewards.work(receipt.pool_id, client.address, receipt.key)
        if on_chain.node is not None:
            return self._confirm(receipt, None)
        if receipt.status == "sent" and receipt.tx_hash:
            mined = tx.receipt(receipt.tx_hash)
            if mined is not None and mined["status"] == 1:
                return self._confirm(receipt, int(mined["blockNumber"]))
            if mined is None and receipt.nonce is not None and tx.pending_nonce() <= receipt.nonce:
                tx.broadcast(self._recorded(client, receipt))  # not mined, its nonce still free: send it again
                return self._await(client, receipt)
            # mined and failed, or its nonce went to another transaction: prepare a new one
            receipt.status, receipt.tx_hash, receipt.nonce, receipt.raw = "pending", None, None, None
            self.save()
        data = client.pool.contract.encode_abi(
            "submitWork", args=[receipt.pool_id, bytes.fromhex(receipt.key[2:]), receipt.units]
        )
        prepared = tx.prepare(client.pool.address, data, action="submit work")
        receipt.status, receipt.tx_hash, receipt.nonce, receipt.raw = (
            "sent",
            prepared.tx_hash,
            prepared.nonce,
            prepared.raw,
        )
        self.save()
        tx.broadcast(prepared)
        return self._await(client, receipt)

    @staticmethod
    def _recorded(client: HubClient, receipt: Receipt):
        """The signed transaction recorded for `receipt`, as the transactor broadcasts it."""
        from hub.tx import PreparedTx

        return PreparedTx(
            action="submit work",
            sender=client.address,
            to=client.pool.address,
            nonce=receipt.nonce or 0,
            gas=0,
            max_fee_per_gas=0,
            value=0,
            data="",
            tx_hash=receipt.tx_hash or "",
            raw=receipt.raw or "",
        )

    def _await(self, client: HubClient, receipt: Receipt) -> bool:
        mined = client.transactor.wait_receipt(receipt.tx_hash, "submit work")
        if mined["status"] != 1:
            # failed in its block: the next flush estimates again, which names the reason
            receipt.status, receipt.tx_hash, receipt.nonce, receipt.raw = "pending", None, None, None
            self.save()
            return False
        return self._confirm(receipt, int(mined["blockNumber"]))

    def _confirm(self, receipt: Receipt, block: int | None) -> bool:
        receipt.status, receipt.block, receipt.raw, receipt.error = "confirmed", block, None, None
        self.save()
        log.info(
            "work for epochs %d-%d on chain: %d tokens, key %s",
            receipt.first_epoch,
            receipt.last_epoch,
            receipt.units,
            receipt.key,
        )
        return True


def _is_refusal(exc: Exception) -> bool:
    """A revert the chain would repeat (not a node that is down)."""
    message = getattr(exc, "message", str(exc))
    return "would fail" in message or "failed on chain" in message
