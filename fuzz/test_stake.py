"""Stake custody in depth through the hub (fuzz/machines.py)."""

from fuzz.machines import StakeMachine
from fuzz.profiles import machine_settings

TestStake = StakeMachine.TestCase
TestStake.settings = machine_settings(StakeMachine.CI_EXAMPLES, StakeMachine.CI_STEPS)
