"""Registers the fuzz suite's Hypothesis profiles before pytest loads `--hypothesis-profile`, and
reports how many stateful steps the session ran (the deep profile promises at least 100,000)."""

from hypothesis import settings

import fuzz.profiles  # noqa: F401


def pytest_terminal_summary(terminalreporter) -> None:
    from fuzz.machine import SystemMachine

    if SystemMachine.examples_run:
        terminalreporter.write_line(
            f"fuzz: {SystemMachine.steps_run} stateful steps in {SystemMachine.examples_run} examples "
            f"(hypothesis profile {settings.get_current_profile_name()!r})"
        )
