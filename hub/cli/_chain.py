"""What every command that talks to a chain shares: its options, the client, printing results.

`@chain_command(app, "name")` registers a function whose first parameter is a `ChainContext` and
adds the common options to it: --network, --account, --password-file, --deployments-dir, --json.
The client is built on first use, so argument errors are reported before anything connects, and
a keystore is decrypted only by commands that sign.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.cli._output import JSON_HELP, console, print_json

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from hub.accounts import PasswordSource
    from hub.client import HubClient
    from hub.tx import TxResult

NetworkOption = Annotated[
    str | None,
    typer.Option("--network", "-n", help="Network name or RPC URL [env HUB_NETWORK; config file; else local]."),
]
AccountOption = Annotated[
    str | None,
    typer.Option("--account", "-a", help="Keystore account to sign with [env HUB_ACCOUNT]."),
]
# @dev The env var is read by the root `hub` group only, so that `hub --account x CMD` beats an
#      exported HUB_ACCOUNT and `hub CMD --account y` beats both (see `root_option`).
RootAccountOption = Annotated[
    str | None,
    typer.Option("--account", "-a", envvar="HUB_ACCOUNT", help="Keystore account to sign with [env HUB_ACCOUNT]."),
]
PasswordFileOption = Annotated[
    Path | None,
    typer.Option(
        "--password-file",
        dir_okay=False,
        help="Read the keystore password from this file's first line [else env HUB_PASSWORD, else a prompt].",
    ),
]
DeploymentsOption = Annotated[
    Path | None,
    typer.Option(
        "--deployments-dir",
        file_okay=False,
        help="Folder of deployment manifests <chain-id>.json [env HUB_DEPLOYMENTS_DIR; default ./deployments].",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]

# @dev Parameter names of the common options (prefixed: a command may have its own `account`).
_COMMON = {
    "opt_network": "network",
    "opt_account": "account",
    "opt_password_file": "password_file",
    "opt_deployments_dir": "deployments_dir",
    "opt_json": "json_out",
}


def root_option(name: str, value: Any) -> Any:
    """`value` as given to the command, else the same option given before it (`hub --json CMD`)."""
    if value is not None and value is not False:
        return value
    try:  # typer 0.29 runs on its own copy of click, with its own context stack
        from typer._click.globals import get_current_context
    except ImportError:  # pragma: no cover - older typer
        from click import get_current_context

    ctx = get_current_context(silent=True)
    return ctx.find_root().params.get(name, value) if ctx is not None else value


@dataclass
class ChainContext:
    """The common options of one command, and the client they describe."""

    network: str | None = None
    account: str | None = None
    password_file: Path | None = None
    deployments_dir: Path | None = None
    json_out: bool = False
    _client: HubClient | None = field(default=None, repr=False)

    def password_source(self, name: str) -> PasswordSource:
        from hub.accounts import PasswordSource, terminal_prompt

        return PasswordSource(
            file=self.password_file, prompt=terminal_prompt(f"Password for account {name!r}", f"account {name!r}")
        )

    def load_account(self, name: str) -> LocalAccount:
        """Unlock keystore `name` (password from --password-file, HUB_PASSWORD or a prompt)."""
        from hub.accounts import load_account

        return load_account(name, self.password_source(name))

    def client(self, *, sign: bool = True) -> HubClient:
        """The client; with `sign`, the --account is unlocked (and required)."""
        if self._client is None:
            from hub.client import HubClient

            account = self.load_account(self.account) if sign and self.account is not None else None
            self._client = HubClient.connect(self.network, account, deployments_dir=self.deployments_dir)
            if sign and account is None:
                self._client = self._client.with_account(self.default_signer(self._client.chain_id))
        return self._client

    def default_signer(self, chain_id: int) -> LocalAccount:
        """The signer when --account is missing: on the local chain the published dev account 0, as
        local-chain tools do (and said on stderr); elsewhere the account named at a prompt, or,
        with no terminal, an error asking for --account."""
        import sys

        from hub.devkeys import LOCAL_CHAIN_ID, dev_account
        from hub.errors import HubError

        if chain_id == LOCAL_CHAIN_ID:
            signer = dev_account(0)
            note = f"note: no --account: signing with dev account 0 ({signer.address}) on the local chain"
            typer.echo(note, err=True)
            return signer
        if not sys.stdin.isatty():
            raise HubError(
                "this command signs a transaction: which account?", hint="pass --account NAME (or set HUB_ACCOUNT)"
            )
        self.account = typer.prompt("Account to sign with (`hub account list` shows them)")
        return self.load_account(self.account)

    def address(self, given: str | None, what: str = "address") -> str:
        """`given`, else the --account's address (read from its keystore, not decrypted)."""
        from hub.errors import HubError
        from hub.inputs import parse_address

        if given is not None:
            return parse_address(given, what=what)
        if self.account is None:
            raise HubError(f"which {what}?", hint=f"give the {what}, or --account NAME to use that account's")
        from hub.accounts import account_address

        return account_address(self.account)

    # -- output

    def print_tx(self, result: TxResult, message: str, **data: Any) -> None:
        """One line for people, or a JSON object with the transaction and `data`."""
        if self.json_out:
            print_json(
                {
                    **data,
                    "tx_hash": result.tx_hash,
                    "block": result.block_number,
                    "gas_used": result.gas_used,
                    "gas_limit": result.gas_limit,
                    "fee_wei": result.fee,
                }
            )
            return
        from hub.amounts import format_inj

        typer.echo(f"{message} (tx {result.tx_hash}, block {result.block_number}, fee {format_inj(result.fee)})")

    def print_data(self, data: Any, render: Callable[[], None]) -> None:
        """`data` as JSON with --json, else `render()` draws it for people."""
        if self.json_out:
            print_json(data)
        else:
            render()

    def spinner(self, text: str):
        """A spinner on stderr while something slow runs (silent when stderr is not a terminal)."""
        return console(stderr=True).status(text)


def chain_command(
    app: typer.Typer, name: str, **command_kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `func(ctx: ChainContext, ...)` as command `name` with the common options appended."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func, eval_str=True)
        own = list(signature.parameters.values())[1:]  # drop ctx
        kind = inspect.Parameter.KEYWORD_ONLY
        common = [
            inspect.Parameter("opt_network", kind, annotation=NetworkOption, default=None),
            inspect.Parameter("opt_account", kind, annotation=AccountOption, default=None),
            inspect.Parameter("opt_password_file", kind, annotation=PasswordFileOption, default=None),
            inspect.Parameter("opt_deployments_dir", kind, annotation=DeploymentsOption, default=None),
            inspect.Parameter("opt_json", kind, annotation=JsonOption, default=False),
        ]

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            ctx = ChainContext(**{field: root_option(field, kwargs.pop(param)) for param, field in _COMMON.items()})
            try:
                return func(ctx, **kwargs)
            except Exception as exc:
                # web3's failure when the manifest does not describe the chain (an empty ABI, an
                # address without code or of another contract) names neither: say which entry is wrong
                from hub.errors import HubError

                if isinstance(exc, HubError) or ctx._client is None:
                    raise
                problem = manifest_problem(ctx._client, ctx.deployments_dir)
                if problem is None:
                    raise
                raise problem from None

        command.__signature__ = signature.replace(parameters=[*own, *common])  # type: ignore[attr-defined]
        app.command(name, **command_kwargs)(command)
        return func

    return decorate


def manifest_problem(client: HubClient, directory: Path | None) -> Exception | None:
    """The first way the deployment manifest disagrees with the chain, as a one-line HubError, or
    None: each contract has an ABI with functions and code at its address, and the hub is wired to
    the modules the manifest names. Run after a call failed, so a working command pays nothing."""
    from hub.contracts import MODULES
    from hub.errors import HubError
    from hub.manifest import manifest_path

    deployment = client.deployment
    path = manifest_path(deployment.chain_id, directory)
    hint = f"restore {path.name} from a backup or version control, or deploy again with `hub deploy --fresh`"
    for name, record in deployment.contracts.items():
        if not any(entry.get("type") == "function" for entry in record.abi):
            return HubError(f"the deployment manifest {path} has an empty ABI for {name}", hint=hint)
    for name, record in deployment.contracts.items():
        if record.address is not None and not client.w3.eth.get_code(record.address):
            return HubError(
                f"the deployment manifest {path} puts {name} at {record.address}, which holds no contract "
                f"on chain {deployment.chain_id}",
                hint=hint,
            )
    functions = client.hub.contract.functions
    for name in MODULES:
        getter = name[0].lower() + name[1:]
        try:
            wired = getattr(functions, getter)().call()
        except Exception:  # the hub's own address or ABI is the wrong one
            return HubError(
                f"the deployment manifest {path} puts InjectiveAiHub at {deployment.address('InjectiveAiHub')}, "
                "which is not the hub",
                hint=hint,
            )
        if wired != deployment.address(name):
            return HubError(
                f"the deployment manifest {path} puts {name} at {deployment.address(name)}, but the hub uses {wired}",
                hint=hint,
            )
    return None


def sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def read_signed(path: Path, model: type, what: str, made_by: str) -> Any:
    """A signed message (attestation, invite) from a JSON file, or a one-line error."""
    from pydantic import ValidationError

    from hub.errors import HubError

    try:
        text = path.read_text()
    except OSError as exc:
        raise HubError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise HubError(
            f"{path} is not a valid {what}: {where}: {first['msg']}", hint=f"write it with `hub {what}`"
        ) from None


def write_signed(message: Any, out: Path | None, what: str) -> None:
    """Print a signed message as JSON, or write it to `out`."""
    text = message.model_dump_json(indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text)
    console(stderr=True).print(f"{what} written to {out}")
