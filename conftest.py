"""Run order for `pytest tests` and `pytest tests fuzz` (`make test` splits the suite into three
processes, scripts/test.sh; each keeps this order): the suites that need no local chain run first.

The local chain started by the session fixture (tests/session_chain.py: one for tests/hub, tests/app
and tests/test_bad_inputs.py together) keeps producing blocks until the session ends, about a quarter
of a core. Running the CPU-bound suites that never touch a chain first (the fuzz suite, the contract
tests on Titanoboa, the trainer's real hivemind peers) keeps that chain from running beside them.
The order within each group is pytest's own, so tests that share a chain still run in the same order.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

# one session chain and deployment for every chain test: a plugin is registered once, whoever asks
pytest_plugins = ["tests.session_chain"]
ROOT = Path(__file__).resolve().parent
NO_CHAIN = (ROOT / "fuzz", ROOT / "tests" / "contracts", ROOT / "tests" / "trainer")
_config: pytest.Config | None = None  # the session's, once configured


def _needs_no_chain(item: pytest.Item) -> bool:
    return any(item.path.is_relative_to(folder) for folder in NO_CHAIN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: 0 if _needs_no_chain(item) else 1)  # stable: each group keeps its order


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts a background job (`make test &`, nohup) with SIGINT ignored, and every process
    # it spawns inherits that: the tests that press Ctrl+C on a command as typed (`hub app`,
    # `hub pool metadata serve`) would then wait for a command that cannot hear it. Give the session
    # the disposition a terminal gives, as it would have when run by hand.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    global _config
    _config = config


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Print each failure as it happens, not only in the summary at the end: a CI run stopped by its
    time limit prints no summary, and its log must still say what failed and why."""
    terminal = _config.pluginmanager.get_plugin("terminalreporter") if _config else None
    if report.failed and terminal is not None:
        terminal.write_line("")
        terminal.write_sep("!", f"{report.nodeid} failed ({report.when})")
        terminal.write_line(report.longreprtext[-6000:])  # the end holds the assertion and its message


@pytest.fixture(autouse=True)
def _sigint_is_left_as_found():
    """Fail a test that leaves SIGINT ignored: hivemind's averagers set it so in the process that
    starts them and never restore it, and every command a later test starts (then presses Ctrl+C
    on) would inherit it. Code and tests start averagers inside `trainer.training.swarm.keeping_sigint`."""
    before = signal.getsignal(signal.SIGINT)
    yield
    after = signal.getsignal(signal.SIGINT)
    if after == signal.SIG_IGN and before != signal.SIG_IGN:
        signal.signal(signal.SIGINT, before)
        pytest.fail("the test left SIGINT ignored: start hivemind averagers inside keeping_sigint()")
