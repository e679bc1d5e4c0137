"""The whole marketplace: every rule set, a small random market to start from."""

from fuzz.profiles import machine_settings
from fuzz.rules import AdminRules, AdversaryRules, AttackerRules, NodeRules, PoolRules, StakeRules, WorkRules


class MarketMachine(AdminRules, StakeRules, NodeRules, PoolRules, WorkRules, AttackerRules, AdversaryRules):
    """Every entry point of the six contracts, as every actor, with time moving."""

    BOOT_PROVIDERS = (1, 3)
    BOOT_NODES_PER_PROVIDER = (0, 2)
    BOOT_POOLS = (0, 1)


TestMarket = MarketMachine.TestCase
TestMarket.settings = machine_settings(examples=80)
