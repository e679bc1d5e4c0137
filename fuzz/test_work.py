"""Work and rewards in depth: a running market (validated nodes in active, funded pools) from the
first step, so submissions, challenge windows, invalidations, claims and refunds dominate."""

from fuzz.profiles import machine_settings
from fuzz.rules import AdversaryRules, PoolRules, WorkRules


class WorkMachine(WorkRules, PoolRules, AdversaryRules):
    """Pools, work and rewards; `churn` brings in the stake and node actions that interfere."""

    BOOT_PROVIDERS = (2, 3)
    BOOT_NODES_PER_PROVIDER = (1, 2)
    BOOT_POOLS = (1, 2)
    BOOT_WORK_ROUNDS = (1, 3)
    BOOT_WINDOWS = (60, 600, 3600, 3600)
    MAX_WAIT = 900  # claims stay challengeable across several steps


TestWork = WorkMachine.TestCase
TestWork.settings = machine_settings(examples=80, steps=80)
