"""SPEC 5.2 / Rule R5's exception: a provider with no nodes can always deregister, whatever the
minimum, unless its unbond queue is full; withdrawing a matured entry frees the slot."""

import boa

from hub.contracts import INJ
from tests.utils.scenario import STAKE, UNBONDING, one_event


def test_full_unbond_queue_blocks_deregister_until_an_entry_is_withdrawn(
    hub, registry, stake_manager, registered, federator
):
    cap = stake_manager.MAX_PENDING_UNBONDS()
    assert cap == 16  # SPEC 5.2
    first_created = boa.env.timestamp
    for _ in range(cap):
        hub.reclaimStake(INJ, sender=registered)
        boa.env.time_travel(seconds=1)
    assert len(stake_manager.pendingUnbonds(registered)) == cap
    # the minimum plays no part in a full exit (R5): price the provider far above its stake
    hub.setStakeMinimum(hub.MAX_MIN_STAKE_PER_COMPUTE_UNIT(), sender=federator)

    # a second after the newest unbond, so the exit cannot merge into it and needs a slot of its own
    with boa.reverts("StakeManager: unbond queue full, withdraw first"):
        hub.deregisterProvider(sender=registered)
    assert registry.getProvider(registered).registered
    assert stake_manager.stakeOf(registered) == STAKE - cap * INJ

    # the oldest entry matures first; withdrawing it frees exactly one slot
    boa.env.time_travel(seconds=first_created + UNBONDING - boa.env.timestamp)
    assert stake_manager.withdraw(sender=registered) == INJ
    assert len(stake_manager.pendingUnbonds(registered)) == cap - 1

    hub.deregisterProvider(sender=registered)
    assert one_event(hub, "ProviderDeregistered").provider == registered
    assert not registry.getProvider(registered).registered
    assert stake_manager.stakeOf(registered) == 0
    pending = stake_manager.pendingUnbonds(registered)
    assert len(pending) == cap
    assert pending[-1] == [STAKE - cap * INJ, boa.env.timestamp + UNBONDING]
