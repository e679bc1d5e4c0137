"""`hub` and `trainer` end the same way on the same error: one line on stderr and the exit status
of `hub.errors.exit_code` (1 failure, 2 usage, 130 Ctrl+C), through `hub.cli.exits`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import typer
from typer.testing import CliRunner

from hub.cli.main import app as hub_app
from hub.errors import HubError, UsageError
from trainer.cli import app as trainer_app
from trainer.errors import DataError

ERRORS: list[tuple[Callable[[], BaseException], int, str]] = [
    (lambda: HubError("the node does not answer", "start it"), 1, "error: the node does not answer (hint: start it)"),
    (lambda: DataError("no text in corpus.txt", "add some"), 1, "error: no text in corpus.txt (hint: add some)"),
    (lambda: UsageError("--a excludes --b"), 2, "error: --a excludes --b"),
    (lambda: KeyboardInterrupt(), 130, "error: interrupted"),
    (lambda: RuntimeError("a bug"), 1, "error: unexpected RuntimeError: a bug (hint: rerun with `"),
]


@pytest.fixture
def raising_command() -> Iterator[Callable[[BaseException], None]]:
    """Adds `raise-it` to both commands; `arm(exc)` sets what it raises."""
    armed: list[BaseException] = []

    def raise_it() -> None:
        raise armed[-1]

    apps: list[typer.Typer] = [hub_app, trainer_app]
    for app in apps:
        app.command("raise-it")(raise_it)
    yield armed.append
    for app in apps:
        app.registered_commands = [c for c in app.registered_commands if c.name != "raise-it"]


@pytest.mark.parametrize(("make", "code", "line"), ERRORS)
def test_the_same_error_exits_the_same_way_from_both_commands(raising_command, make, code, line) -> None:
    for app in (hub_app, trainer_app):
        raising_command(make())
        result = CliRunner().invoke(app, ["raise-it"])
        assert result.exit_code == code, (app.info.name, result.output)
        [printed] = result.stderr.splitlines()
        assert printed.startswith(line), (app.info.name, printed)


def test_a_mistyped_option_is_a_usage_error_in_both() -> None:
    for app, command in ((hub_app, ["build", "--no-such-option"]), (trainer_app, ["train", "--no-such-option"])):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2
        [printed] = result.stderr.splitlines()
        assert printed.startswith("error: No such option: --no-such-option (hint: `")
