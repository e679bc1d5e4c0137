"""`hub account new|import|list`: encrypted keystores. Keys are never taken as arguments or printed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.cli._output import JSON_HELP, print_json

if TYPE_CHECKING:
    from hub.accounts import KeystoreEntry, PasswordSource

app = typer.Typer(help="Manage accounts kept in encrypted keystore files.", no_args_is_help=True, rich_markup_mode=None)

PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        help="Read the keystore password from the first line of this file [else env HUB_PASSWORD, else a prompt].",
        dir_okay=False,
    ),
]


def _password_source(password_file: Path | None) -> PasswordSource:
    from hub.accounts import PasswordSource, terminal_prompt

    return PasswordSource(file=password_file, prompt=terminal_prompt("Keystore password", "the keystore"))


def _print_created(entry: KeystoreEntry, json_out: bool) -> None:
    if json_out:
        print_json(entry)
        return
    typer.echo(f"account {entry.name}: {entry.address} ({entry.inj_address})")
    typer.echo(f"keystore: {entry.path}")
    if entry.dev:
        typer.echo("note: this is a KNOWN-PUBLIC dev key; hub signs with it on the local devnet only")


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="A name for the account, e.g. `provider`.")],
    password_file: PasswordFileOption = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Create a new random key and store it encrypted."""
    from hub.accounts import new_account

    _print_created(new_account(name, _password_source(password_file)), json_out)


@app.command("import")
def import_(
    name: Annotated[str | None, typer.Argument(help="A name for the account [default for --dev N: dev-N].")] = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key-file", help="Read the hex private key from this file.", dir_okay=False),
    ] = None,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read the hex private key from stdin.")] = False,
    dev: Annotated[
        int | None, typer.Option("--dev", help="Import published dev account N (0..9; local chain only).")
    ] = None,
    password_file: PasswordFileOption = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    extra: Annotated[list[str] | None, typer.Argument(hidden=True)] = None,
) -> None:
    """Store an existing private key encrypted. The key is read from a hidden prompt, --stdin or
    --key-file: never from the command line."""
    import re

    from hub.accounts import KeySource, import_dev_account, import_key
    from hub.errors import HubError, UsageError

    if extra or (name is not None and re.fullmatch(r"(0[xX])?[0-9a-fA-F]{64}", name)):
        # Caught here so that the key is not echoed back in a usage error.
        raise HubError(
            "private keys are never taken on the command line",
            hint="run `hub account import NAME` and paste it at the hidden prompt, or use --stdin / "
            "--key-file; then clear the key from your shell history",
        )

    chosen = [flag for flag, used in (("--key-file", key_file), ("--stdin", stdin), ("--dev", dev is not None)) if used]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} exclude each other", hint="pick one source for the key")
    password = _password_source(password_file)
    if dev is not None:
        _print_created(import_dev_account(dev, password, name=name), json_out)
        return
    if name is None:
        raise HubError("missing account name", hint="hub account import NAME [--key-file FILE | --stdin]")
    if stdin and password.file is None:
        import os

        if password.env_var not in os.environ:
            raise HubError(
                "--stdin carries the key, so the password must come from elsewhere",
                hint="set HUB_PASSWORD or pass --password-file FILE",
            )

    def ask_key() -> str:
        return typer.prompt("Private key (hex, input hidden)", hide_input=True)

    key = KeySource(file=key_file, stdin=stdin, prompt=ask_key)
    _print_created(import_key(name, key, password), json_out)


@app.command()
def check(
    name: Annotated[str, typer.Argument(help="The account to unlock.")],
    password_file: PasswordFileOption = None,
) -> None:
    """Unlock an account with its password and print its address (the key is not shown)."""
    from hub.accounts import load_account

    account = load_account(name, _password_source(password_file))
    typer.echo(f"account {name}: {account.address} (password OK)")


@app.command()
def address(name: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """Print an account's address only (for scripts: NODE=$(hub account address node)); no password needed."""
    from hub.accounts import account_address

    typer.echo(account_address(name))


@app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False) -> None:
    """List the accounts in the keystore directory (addresses only)."""
    from hub import paths
    from hub.accounts import list_accounts

    entries = list_accounts()
    if json_out:
        print_json(entries)
        return
    if not entries:
        typer.echo(f"no accounts in {paths.keystore_dir()} (create one with `hub account new NAME`)")
        return

    from hub.cli._output import print_table

    print_table(
        f"accounts in {paths.keystore_dir()}",
        ["name", "address", "inj address", "note"],
        [
            [
                entry.name,
                entry.address or "-",
                entry.inj_address or "-",
                entry.problem or ("dev key: local chain only" if entry.dev else ""),
            ]
            for entry in entries
        ],
    )
    broken = [entry.name for entry in entries if entry.problem]
    if broken:
        typer.echo(
            f"warning: corrupt keystore(s): {', '.join(broken)}; restore them from a backup, or move them out "
            f"of {paths.keystore_dir()} and import the keys again",
            err=True,
        )
