"""The three state machines of the fuzz suite and their CI budgets, in a module pytest does not
collect, so that bench/fuzz_speed.py runs the very machines the tests run without importing a
test file. fuzz/test_market.py, test_stake.py and test_work.py turn each into a test case."""

from fuzz.rules import AdminRules, AdversaryRules, AttackerRules, NodeRules, PoolRules, StakeRules, WorkRules


class MarketMachine(AdminRules, StakeRules, NodeRules, PoolRules, WorkRules, AttackerRules, AdversaryRules):
    """Every entry point of the six contracts, as every actor, with time moving."""

    BOOT_PROVIDERS = (1, 3)
    BOOT_NODES_PER_PROVIDER = (0, 2)
    BOOT_POOLS = (0, 1)
    CI_EXAMPLES, CI_STEPS = 80, 50


class StakeMachine(StakeRules, NodeRules, AdminRules, AttackerRules):
    """Stake custody in depth: registered providers from the first step, unbond queues filled to
    their cap, slashes that reach into the queue, rebonds, withdrawals at exact maturities, role
    rotation; nodes come and go because they raise the minimum."""

    BOOT_PROVIDERS = (1, 3)
    BOOT_NODES_PER_PROVIDER = (0, 1)
    BOOT_POOLS = (0, 0)
    CI_EXAMPLES, CI_STEPS = 60, 50


class WorkMachine(WorkRules, PoolRules, AdversaryRules):
    """Work and rewards in depth: a running market (validated nodes in active, funded pools) from
    the first step, so submissions, challenge windows, invalidations, claims and refunds dominate;
    `churn` brings in the stake and node actions that interfere."""

    BOOT_PROVIDERS = (2, 3)
    BOOT_NODES_PER_PROVIDER = (1, 2)
    BOOT_POOLS = (1, 2)
    BOOT_WORK_ROUNDS = (1, 3)
    BOOT_WINDOWS = (60, 600, 3600, 3600)
    MAX_WAIT = 900  # claims stay challengeable across several steps
    CI_EXAMPLES, CI_STEPS = 80, 80
    probed = False

    def submit_round(self, wait: int, share: int) -> None:
        """The first round (the bootstrap's) is followed by the claim-at-window-end probe, so that
        the later boot rounds still leave keys inside their windows for the drawn steps."""
        super().submit_round(wait, share)
        if not self.probed:
            self.probed = True
            self.probe_claim_at_window_end()
