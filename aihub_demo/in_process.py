"""`hub demo --simulate`: the contract cycle on an in-process EVM, in seconds.

It compiles the contracts from source and runs one provider's full
cycle on Titanoboa's in-process EVM: stake, attested node, validation, a funded pool, an
invite-signed join, work, a challenge window, a claim, a fraud case with a slash, and an exit.
Every step prints what happened and the balances it moved.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hub.contracts import INJ, SystemParams


def _inj(wei: int) -> str:
    return f"{wei / INJ:,.6f} INJ"


def run_demo(console: Console | None = None) -> dict[str, int]:
    """Run the scenario; returns the final balances (wei) by actor for callers that check them."""
    import boa
    import vyper
    from eth_account import Account

    from aihub_demo.evm_system import deploy_system
    from hub import signatures as sig

    console = console or Console()
    console.print(f"[bold]compiling[/] the contracts with vyper {vyper.__version__} (once per process)")

    actors = {
        name: boa.env.generate_address(name)
        for name in ("admin", "federator", "validator", "provider", "pool creator", "treasury")
    }
    node = Account.create()
    manager = Account.create()
    for name in ("provider", "pool creator"):
        boa.env.set_balance(actors[name], 1_000 * INJ)
    boa.env.set_balance(node.address, INJ)
    params = SystemParams(
        unbonding_period=3600, min_stake_per_compute_unit=INJ, max_units_per_compute_unit_per_second=1000
    )
    s = deploy_system(actors["admin"], actors["federator"], actors["validator"], params)
    s.hub.setTreasury(actors["treasury"], sender=actors["admin"])
    chain_id = boa.env.evm.patch.chain_id
    start = {name: boa.env.get_balance(addr) for name, addr in actors.items()}
    step = console.print

    step(f"deployed and wired the six contracts; hub at {s.hub.address}")
    s.hub.registerProvider(sender=actors["provider"], value=50 * INJ)
    step("provider registered with 50 INJ of stake")
    attestation = sig.node_attestation(chain_id, s.hub.address, actors["provider"], node.address, 8, "ipfs://gpu", 0)
    s.hub.addComputeNode(node.address, "ipfs://gpu", 8, sig.sign(node, attestation), sender=actors["provider"])
    step(f"node {node.address} added with 8 compute units (EIP-712 attestation signed by the node key)")
    s.hub.validateNode(node.address, sender=actors["validator"])
    s.hub.whitelistProvider(actors["provider"], sender=actors["validator"])
    step("validator validated the node and whitelisted the provider")
    domain = s.hub.createDomain(
        "llama-pretraining", s.work_validation.address, "ipfs://domain", sender=actors["federator"]
    )
    pool_id = s.pool.createComputePool(
        domain,
        manager.address,
        "data:application/json,{}",
        b"\x01" * 32,
        0,
        10**12,
        600,
        sender=actors["pool creator"],
        value=100 * INJ,
    )
    s.pool.startComputePool(pool_id, sender=actors["pool creator"])
    step(f"pool {pool_id} created and started with a 100 INJ budget, 1e-6 INJ per token, 600 s challenge window")
    invite = sig.pool_invite(chain_id, s.pool.address, pool_id, node.address, 0, boa.env.timestamp + 600)
    s.pool.joinComputePool(
        pool_id, node.address, boa.env.timestamp + 600, sig.sign(manager, invite), sender=node.address
    )
    step("node joined with an invite signed by the pool manager")

    boa.env.time_travel(seconds=120)
    honest, inflated = b"\x01" * 32, b"\x02" * 32
    s.pool.submitWork(pool_id, honest, 600_000, sender=node.address)
    step("node submitted 600,000 tokens of work after 120 s (cap: 8 units x 1,000 tokens/s x 120 s)")
    boa.env.time_travel(seconds=601)
    paid = s.rewards.claimRewards(pool_id, node.address, [honest], sender=actors["provider"])
    step(f"challenge window passed; provider claimed {_inj(paid)}")
    s.pool.submitWork(pool_id, inflated, 4_000_000, sender=node.address)
    slash = 5 * INJ
    s.pool.hardInvalidateWork(
        pool_id, node.address, inflated, slash, "claim above signed progress", sender=actors["validator"]
    )
    step(f"an inflated claim was hard-invalidated: node ejected from the pool, provider slashed {_inj(slash)}")
    s.stake.sweepSlashed(sender=actors["validator"])
    s.pool.endComputePool(pool_id, sender=actors["pool creator"])
    refund = s.rewards.refund(pool_id, sender=actors["pool creator"])
    step(f"pool ended; creator refunded the unused {_inj(refund)}")
    s.hub.removeComputeNode(node.address, sender=actors["provider"])
    s.hub.deregisterProvider(sender=actors["provider"])
    boa.env.time_travel(seconds=params.unbonding_period)
    out = s.stake.withdraw(sender=actors["provider"])
    step(f"provider removed its node, deregistered and withdrew {_inj(out)} after unbonding")

    table = Table(title="balances (INJ)")
    for column in ("actor", "before", "after", "change"):
        table.add_column(column, justify="right" if column != "actor" else "left")
    end = {}
    for name, address in actors.items():
        end[name] = boa.env.get_balance(address)
        table.add_row(name, _inj(start[name]), _inj(end[name]), _inj(end[name] - start[name]))
    console.print(table)
    held = sum(boa.env.get_balance(c.address) for c in s.contracts())
    console.print(f"INJ still held by the contracts: {_inj(held)}")
    return end
