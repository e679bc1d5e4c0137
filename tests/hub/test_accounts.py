"""Encrypted keystores: create, import, list, unlock; keys never appear in any output."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from eth_account import Account
from typer.testing import CliRunner

from hub.accounts import (
    KeySource,
    PasswordSource,
    import_dev_account,
    import_key,
    list_accounts,
    load_account,
    new_account,
    parse_private_key,
)
from hub.cli.main import app
from hub.devkeys import DEV_ADDRESSES
from hub.errors import HubError

runner = CliRunner()
# @dev scrypt n for API tests: fast; the CLI tests keep eth-account's default (2**18).
FAST_KDF = 2**4
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
KEY_HEX = KEY.hex()


def _forbidden_strings() -> list[str]:
    return [KEY_HEX, KEY_HEX.upper(), KEY_HEX[:16], KEY_HEX[-16:]]


def test_new_account_round_trip(tmp_path: Path) -> None:
    entry = new_account("provider", "s3cret", kdf_iterations=FAST_KDF)
    assert entry.path == tmp_path / "keystores" / "provider.json"
    assert stat.S_IMODE(entry.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.path.parent.stat().st_mode) == 0o700
    assert load_account("provider", "s3cret").address == entry.address
    assert not entry.dev


def test_wrong_password_is_a_one_line_error() -> None:
    new_account("provider", "right", kdf_iterations=FAST_KDF)
    with pytest.raises(HubError, match="wrong password for account 'provider'") as raised:
        load_account("provider", "wrong")
    assert "\n" not in str(raised.value)


def test_import_key_and_list(tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("0x" + KEY_HEX + "\n")
    entry = import_key("node", KeySource(file=key_file), "pw", kdf_iterations=FAST_KDF)
    assert entry.address == Account.from_key(KEY).address
    dev = import_dev_account(3, "pw", kdf_iterations=FAST_KDF)
    assert (dev.name, dev.address, dev.dev) == ("dev-3", DEV_ADDRESSES[3], True)
    assert [(e.name, e.address, e.dev) for e in list_accounts()] == [
        ("dev-3", DEV_ADDRESSES[3], True),
        ("node", entry.address, False),
    ]
    assert bytes(load_account("node", "pw").key) == KEY
    keystore = json.loads(entry.path.read_text())
    assert keystore["version"] == 3 and KEY_HEX not in entry.path.read_text()


def test_no_overwrite_and_no_duplicate_keys() -> None:
    import_key("a", KEY, "pw", kdf_iterations=FAST_KDF)
    with pytest.raises(HubError, match="already exists"):
        new_account("a", "pw", kdf_iterations=FAST_KDF)
    with pytest.raises(HubError, match="already in the keystore as 'a'"):
        import_key("b", KEY, "pw", kdf_iterations=FAST_KDF)


@pytest.mark.parametrize("name", ["", "-x", "a/b", "../up", "x" * 65])
def test_invalid_names(name: str) -> None:
    with pytest.raises(HubError, match="invalid account name"):
        new_account(name, "pw", kdf_iterations=FAST_KDF)


@pytest.mark.parametrize(
    "text",
    [KEY_HEX[:-2], KEY_HEX + "00", "zz" + KEY_HEX[2:], "0" * 64, "f" * 64, "", "0x" + KEY_HEX[:40]],
)
def test_bad_keys_are_rejected_without_echo(text: str) -> None:
    with pytest.raises(HubError) as raised:
        parse_private_key(text)
    message = str(raised.value)
    assert "key" in message
    assert all(len(part) < 16 or part not in message for part in (text, text[2:]))


def test_parse_accepts_prefix_and_whitespace() -> None:
    assert parse_private_key(f"  0x{KEY_HEX.upper()}\n") == KEY


def test_password_source_precedence(tmp_path: Path, monkeypatch) -> None:
    pw_file = tmp_path / "pw"
    pw_file.write_text("from-file\nignored second line\n")
    asked = PasswordSource(prompt=lambda confirm: f"prompt(confirm={confirm})")
    assert asked.read(confirm=True) == "prompt(confirm=True)"
    monkeypatch.setenv("HUB_PASSWORD", "from-env")
    assert asked.read() == "from-env"
    assert PasswordSource(file=pw_file, prompt=asked.prompt).read() == "from-file"
    monkeypatch.delenv("HUB_PASSWORD")
    with pytest.raises(HubError, match="no password given"):
        PasswordSource().read()


def test_empty_password_is_refused() -> None:
    with pytest.raises(HubError, match="empty password"):
        new_account("x", "", kdf_iterations=FAST_KDF)


# -- the command line (default scrypt strength)


def _assert_no_key(output: str) -> None:
    for secret in _forbidden_strings():
        assert secret not in output


def test_cli_new_list_check(monkeypatch) -> None:
    monkeypatch.setenv("HUB_PASSWORD", "pw")
    created = runner.invoke(app, ["account", "new", "provider", "--json"])
    assert created.exit_code == 0, created.output
    address = json.loads(created.output)["address"]
    listed = runner.invoke(app, ["account", "list", "--json"])
    assert [e["address"] for e in json.loads(listed.output)] == [address]
    checked = runner.invoke(app, ["account", "check", "provider"])
    assert checked.exit_code == 0 and address in checked.output
    monkeypatch.setenv("HUB_PASSWORD", "not-it")
    wrong = runner.invoke(app, ["account", "check", "provider"])
    assert wrong.exit_code == 1
    assert (
        wrong.output
        == "error: wrong password for account 'provider' (hint: the password that encrypted provider.json)\n"
    )


def _read_until(fd: int, text: str, seen: bytearray) -> None:
    """Read the terminal until `text` appears (the program waits for input there), at most 60 s."""
    import select

    while text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, f"no {text!r} on the terminal; so far: {bytes(seen)!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the terminal closed: the program exited
            chunk = b""
        assert chunk, f"the program exited before {text!r}: {bytes(seen)!r}"
        seen += chunk


def test_cli_import_from_hidden_prompts_in_a_terminal_never_shows_the_key() -> None:
    """`hub account import node` as typed in a terminal: key and password at hidden prompts."""
    import pty
    import sys

    hub = str(Path(sys.executable).with_name("hub"))
    # pty.fork makes the terminal the child's controlling one, as a login shell's is: getpass
    # turns echo off on it
    pid, terminal = pty.fork()
    if pid == 0:  # the child: becomes `hub`
        os.execv(hub, [hub, "account", "import", "node"])
    seen = bytearray()
    try:
        # click writes the label, then getpass turns echo off (flushing any typed-ahead input) and
        # writes the final space: answer only after that space
        prompts = ("Private key (hex, input hidden): ", "Keystore password: ", "Repeat for confirmation: ")
        for prompt, answer in zip(prompts, (KEY_HEX, "pw", "pw"), strict=True):
            _read_until(terminal, prompt, seen)
            os.write(terminal, answer.encode() + b"\n")
        _read_until(terminal, "keystore:", seen)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(terminal)
    output = seen.decode()
    assert Account.from_key(KEY).address in output
    _assert_no_key(output)  # hidden input is not echoed
    assert load_account("node", "pw").address == Account.from_key(KEY).address


def test_no_terminal_and_no_password_names_the_sources() -> None:
    result = runner.invoke(app, ["account", "new", "node"])
    assert result.exit_code == 1
    assert result.output == (
        "error: no password for the keystore and no terminal to ask in "
        "(hint: set HUB_PASSWORD, pass --password-file FILE, or run in a terminal to be asked)\n"
    )
    assert list_accounts() == []


def test_empty_password_sources_are_errors(tmp_path: Path, monkeypatch) -> None:
    new_account("provider", "pw", kdf_iterations=FAST_KDF)
    monkeypatch.setenv("HUB_PASSWORD", "")
    result = runner.invoke(app, ["account", "check", "provider"])
    assert result.exit_code == 1 and result.output.startswith("error: HUB_PASSWORD is set but empty (hint: ")
    monkeypatch.delenv("HUB_PASSWORD")
    empty = tmp_path / "empty-pw"
    empty.write_text("\n")
    result = runner.invoke(app, ["account", "check", "provider", "--password-file", str(empty)])
    assert result.exit_code == 1 and f"password file {empty} is empty" in result.output


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{}", "no valid address field"),
        ("not json", "not JSON"),
        ("[]", "not a JSON object"),
        ('{"address": "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"}', "no encrypted key"),
    ],
)
def test_a_corrupt_keystore_is_reported_as_corrupt(tmp_path: Path, monkeypatch, content: str, problem: str) -> None:
    new_account("good", "pw", kdf_iterations=FAST_KDF)
    broken = tmp_path / "keystores" / "broken.json"
    broken.write_text(content)
    listed = runner.invoke(app, ["account", "list", "--json"])
    entries = {e["name"]: e for e in json.loads(listed.stdout)}
    assert entries["broken"]["address"] is None and problem in entries["broken"]["problem"]
    assert entries["good"]["problem"] is None
    table = runner.invoke(app, ["account", "list"])
    assert "broken" in table.stdout and "corrupt" in table.stdout
    assert "warning: corrupt keystore(s): broken" in table.stderr
    for argv in (["account", "address", "broken"], ["account", "check", "broken"]):
        monkeypatch.setenv("HUB_PASSWORD", "pw")
        result = runner.invoke(app, argv)
        assert result.exit_code == 1 and result.output.count("\n") == 1
        assert f"the keystore of account 'broken' ({broken}) is corrupt: {problem}" in result.output
        assert "restore it from a backup" in result.output
    # the name is taken: creating it again says so instead of overwriting the file
    assert runner.invoke(app, ["account", "new", "broken"]).exit_code == 1
    assert broken.read_text() == content


def test_cli_import_from_stdin_and_file(tmp_path: Path, monkeypatch) -> None:
    pw_file = tmp_path / "pw"
    pw_file.write_text("pw\n")
    from_stdin = runner.invoke(
        app, ["account", "import", "a", "--stdin", "--password-file", str(pw_file)], input=f"0x{KEY_HEX}\n"
    )
    assert from_stdin.exit_code == 0, from_stdin.output
    _assert_no_key(from_stdin.output)
    other = Account.create()
    key_file = tmp_path / "k"
    key_file.write_text(bytes(other.key).hex())
    monkeypatch.setenv("HUB_PASSWORD", "pw")
    from_file = runner.invoke(app, ["account", "import", "b", "--key-file", str(key_file)])
    assert from_file.exit_code == 0 and other.address in from_file.output
    assert bytes(other.key).hex() not in from_file.output


def test_cli_stdin_key_needs_a_password_from_elsewhere() -> None:
    result = runner.invoke(app, ["account", "import", "a", "--stdin"], input=f"{KEY_HEX}\n")
    assert result.exit_code == 1 and "HUB_PASSWORD" in result.output
    _assert_no_key(result.output)


@pytest.mark.parametrize("argv", [["node", KEY_HEX], ["0x" + KEY_HEX], ["node", "--stdin", "0x" + KEY_HEX]])
def test_cli_refuses_a_key_on_the_command_line_without_echoing_it(argv: list[str], monkeypatch) -> None:
    monkeypatch.setenv("HUB_PASSWORD", "pw")
    result = runner.invoke(app, ["account", "import", *argv])
    assert result.exit_code == 1
    assert "never taken on the command line" in result.output
    _assert_no_key(result.output)
    assert list_accounts() == []


def test_cli_import_dev_account(monkeypatch) -> None:
    monkeypatch.setenv("HUB_PASSWORD", "pw")
    result = runner.invoke(app, ["account", "import", "--dev", "0"])
    assert result.exit_code == 0, result.output
    assert DEV_ADDRESSES[0] in result.output and "KNOWN-PUBLIC" in result.output
    bad = runner.invoke(app, ["account", "import", "--dev", "10"])
    assert bad.exit_code == 1 and "no dev account 10" in bad.output
