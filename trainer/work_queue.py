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
  never sent are merged into one range claim, so a burst after an outage still fits the pool's
  work-rate rule;
- a claim the contract refuses for good (the pool ended, the node was removed) is marked rejected
  with the reason, logged, and never retried.

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

Status = Literal["pending", "sent", "confirmed", "rejected"]


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
        for (pool_id, peer_id), group in groups.items():
            if len(group) < 2:
                continue
            merged = Receipt(
                pool_id,
                peer_id,
                min(r.first_epoch for r in group),
                max(r.last_epoch for r in group),
                sum(r.units for r in group),
                created=min(r.created for r in group),
            )
            self.receipts = [r for r in self.receipts if r not in group] + [merged]
            log.info(
                "merged %d unsent work receipts into epochs %d-%d", len(group), merged.first_epoch, merged.last_epoch
            )
        self.save()

    # -- the chain

    def flush(self, client: HubClient) -> list[Receipt]:
        """Try to settle every unsettled receipt; returns those confirmed now. Never raises for a
        chain that is down: the receipts wait for the next flush."""
        from hub.errors import HubError

        self._merge_pending()
        done = []
        for receipt in self.unsettled():
            try:
                if self._settle(client, receipt):
                    done.append(receipt)
            except HubError as exc:
                if _is_refusal(exc):
                    if "exceeds the node's capacity" in exc.message:
                        # too soon after the previous claim: wait and merge with the next epoch
                        log.warning(
                            "work for epochs %d-%d deferred: %s", receipt.first_epoch, receipt.last_epoch, exc.message
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
                else:
                    log.warning(
                        "chain unavailable, work for epochs %d-%d stays queued: %s",
                        receipt.first_epoch,
                        receipt.last_epoch,
                        exc.message,
                    )
                    break
        return done

    def _settle(self, client: HubClient, receipt: Receipt) -> bool:
        tx = client.transactor
        on_chain = client.rewards.work(receipt.pool_id, receipt.key)
        if on_chain.node is not None:
            if on_chain.node != client.address:
                receipt.status, receipt.error = "rejected", f"work key already used by node {on_chain.node}"
                self.save()
                return False
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

        return PreparedTx(action="submit work", sender=client.address, to=client.pool.address,
                          nonce=receipt.nonce or 0, gas=0, max_fee_per_gas=0, value=0, data="",
                          tx_hash=receipt.tx_hash or "", raw=receipt.raw or "")

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
