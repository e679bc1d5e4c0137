"""`hub demo` (the README's first command) runs the whole cycle and every INJ is accounted for."""

from io import StringIO

from rich.console import Console

from aihub_demo.in_process import run_demo
from hub.contracts import INJ


def test_demo_runs_the_cycle_and_balances_add_up():
    out = StringIO()
    end = run_demo(Console(file=out, width=200))
    text = out.getvalue()
    assert "provider claimed 0.600000 INJ" in text
    assert "INJ still held by the contracts: 0.000000 INJ" in text
    # the provider earned 0.6 INJ and lost a 5 INJ slash; the creator paid the 0.6 reward
    assert end["provider"] == 1_000 * INJ + 6 * 10**17 - 5 * INJ
    assert end["pool creator"] == 1_000 * INJ - 6 * 10**17
    assert end["treasury"] == 5 * INJ
