"""The whole marketplace: every rule set, a small random market to start from (fuzz/machines.py)."""

from fuzz.machines import MarketMachine
from fuzz.profiles import machine_settings

TestMarket = MarketMachine.TestCase
TestMarket.settings = machine_settings(MarketMachine.CI_EXAMPLES, MarketMachine.CI_STEPS)
