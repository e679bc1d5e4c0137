"""Registers the fuzz suite's Hypothesis profiles before pytest loads `--hypothesis-profile`, gives
its tests their own time limit, and reports how many stateful steps the session ran (the deep
profile promises at least 100,000)."""

from pathlib import Path

import pytest
from hypothesis import settings

import fuzz.profiles  # noqa: F401


def pytest_terminal_summary(terminalreporter) -> None:
    from fuzz.machine import SystemMachine

    if SystemMachine.examples_run:
        terminalreporter.write_line(
            f"fuzz: {SystemMachine.steps_run} stateful steps in {SystemMachine.examples_run} examples "
            f"(hypothesis profile {settings.get_current_profile_name()!r})"
        )


# The suite's 15-minute limit per test (pyproject) is for tests that wait on processes and networks.
# These run in-process on Titanoboa and end when Hypothesis has run its examples; under CI load
# one stateful test took 900 s, and the limit's SIGALRM, raised inside the EVM mid-call, came out as
# a revert with no reason (a "uint160 bounds check" in a view that cannot revert), which Hypothesis
# then failed to replay. So: an hour, and the thread method, which never raises inside a call (it
# prints every thread's stack and ends the process).
FUZZ_TIMEOUT = pytest.mark.timeout(3600, method="thread")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:  # every item of the session (`pytest tests fuzz`): only the suite's own
        if item.path.is_relative_to(here):
            item.add_marker(FUZZ_TIMEOUT)
