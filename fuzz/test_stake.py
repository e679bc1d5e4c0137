"""Stake custody in depth: registered providers from the first step, unbond queues filled to their
cap, slashes that reach into the queue, rebonds, withdrawals at exact maturities, role rotation."""

from fuzz.profiles import machine_settings
from fuzz.rules import AdminRules, AttackerRules, NodeRules, StakeRules


class StakeMachine(StakeRules, NodeRules, AdminRules, AttackerRules):
    """The StakeManager through the hub, with nodes (they raise the minimum) and roles changing."""

    BOOT_PROVIDERS = (1, 3)
    BOOT_NODES_PER_PROVIDER = (0, 1)
    BOOT_POOLS = (0, 0)


TestStake = StakeMachine.TestCase
TestStake.settings = machine_settings(examples=60)
