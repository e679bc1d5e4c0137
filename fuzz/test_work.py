"""Work and rewards in depth, from a running market (fuzz/machines.py)."""

from fuzz.machines import WorkMachine
from fuzz.profiles import machine_settings

TestWork = WorkMachine.TestCase
TestWork.settings = machine_settings(WorkMachine.CI_EXAMPLES, WorkMachine.CI_STEPS)
