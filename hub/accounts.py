"""Accounts: private keys kept in encrypted keystore files, one per named account.

Keystores are standard Web3 Secret Storage (v3) JSON written by eth-account (`Account.encrypt`,
scrypt), one `<name>.json` per account in ~/.local/share/injective-ai-hub/keystores (or
HUB_KEYSTORE_DIR), readable by other Ethereum tools. Passwords come from a `PasswordSource`: a
file, the HUB_PASSWORD env var, or an interactive prompt (only when stdin is a terminal; an empty
HUB_PASSWORD or password file is an error, never the empty password). Private keys are imported from a file,
stdin or a hidden prompt, never from a command-line argument, and are never printed or logged:
no message of this module contains key material.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, computed_field

from hub import paths
from hub.devkeys import DEV_ACCOUNT_COUNT, dev_account, is_dev_key
from hub.errors import HubError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

PASSWORD_ENV = "HUB_PASSWORD"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# @dev Order of the secp256k1 group: a private key is an integer in [1, _SECP256K1_N).
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_PASSWORD_HINT = f"set {PASSWORD_ENV}, pass --password-file FILE, or run in a terminal to be asked"
_CORRUPT_HINT = "restore it from a backup, or move it out of the keystore folder and import the key again"


@dataclass(frozen=True)
class PasswordSource:
    """Where a keystore password comes from; the first that is set wins: file, env var, prompt.

    `prompt(confirm)` asks interactively (twice when `confirm`); None means non-interactive.
    """

    file: Path | None = None
    env_var: str = PASSWORD_ENV
    prompt: Callable[[bool], str] | None = None

    def read(self, *, confirm: bool = False) -> str:
        if self.file is not None:
            try:
                text = self.file.read_text()
            except OSError as exc:
                raise HubError(f"cannot read password file {self.file}: {exc.strerror}") from None
            first = text.splitlines()[0] if text else ""
            if not first:
                raise HubError(f"password file {self.file} is empty", hint="write the password on its first line")
            return first
        value = os.environ.get(self.env_var)
        if value == "":
            raise HubError(
                f"{self.env_var} is set but empty",
                hint=f"set {self.env_var} to the password, or unset it to use --password-file or the prompt",
            )
        if value is not None:
            return value
        if self.prompt is not None:
            return self.prompt(confirm)
        raise HubError("no password given", hint=_PASSWORD_HINT)


def terminal_prompt(label: str, what: str) -> Callable[[bool], str]:
    """A `PasswordSource.prompt` that asks on the terminal, or, with no terminal to ask on (a
    script, a service, a pipe), says where else the password can come from instead of waiting."""

    def ask(confirm: bool) -> str:
        import typer  # its own copy of click: click itself is no dependency of hub

        if not sys.stdin.isatty():
            raise HubError(f"no password for {what} and no terminal to ask in", hint=_PASSWORD_HINT)
        return typer.prompt(label, hide_input=True, confirmation_prompt=confirm)

    return ask


@dataclass(frozen=True)
class KeySource:
    """Where a private key to import comes from: a file, stdin, or a hidden prompt."""

    file: Path | None = None
    stdin: bool = False
    prompt: Callable[[], str] | None = None

    def read(self) -> bytes:
        if self.file is not None:
            try:
                text = self.file.read_text()
            except OSError as exc:
                raise HubError(f"cannot read key file {self.file}: {exc.strerror}") from None
        elif self.stdin:
            text = sys.stdin.readline()
        elif self.prompt is not None:
            text = self.prompt()
        else:
            raise HubError("no private key given", hint="pass --key-file FILE or --stdin, or run in a terminal")
        return parse_private_key(text)


def parse_private_key(text: str) -> bytes:
    """32 key bytes from 64 hex digits (optional 0x). Errors never repeat the input."""
    digits = text.strip().removeprefix("0x").removeprefix("0X")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", digits):
        raise HubError("that is not a private key", hint="expected 64 hex digits, optionally 0x-prefixed")
    if not 0 < int(digits, 16) < _SECP256K1_N:
        raise HubError("that is not a valid secp256k1 private key", hint="it must be in [1, n-1]")
    return bytes.fromhex(digits)


class KeystoreEntry(BaseModel):
    """One keystore file, as `hub account list` shows it."""

    name: str
    address: str | None  # None when the file is corrupt
    path: Path
    dev: bool  # a published dev key: usable on the local chain only
    problem: str | None = None  # why the file is not a usable keystore

    @computed_field  # type: ignore[prop-decorator]
    @property
    def inj_address(self) -> str | None:
        """The same account as Keplr and Leap show it (`inj1...`)."""
        from hub.bech32 import inj_address

        return inj_address(self.address) if self.address else None


def _directory(directory: Path | None) -> Path:
    return (directory or paths.keystore_dir()).expanduser()


def keystore_path(name: str, directory: Path | None = None) -> Path:
    if not _NAME.fullmatch(name):
        raise HubError(
            f"invalid account name {name!r}",
            hint="use letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)",
        )
    return _directory(directory) / f"{name}.json"


def _read_keystore(path: Path) -> tuple[dict, str]:
    """A v3 keystore's JSON and checksummed address; why it is unusable as a `ValueError`."""
    from eth_utils import is_hex_address, to_checksum_address

    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError):
        raise ValueError("not JSON") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    address = document.get("address")
    if not isinstance(address, str) or not is_hex_address("0x" + address.removeprefix("0x")):
        raise ValueError("no valid address field")
    crypto = document.get("crypto", document.get("Crypto"))
    if not isinstance(crypto, dict) or not {"cipher", "ciphertext", "kdf", "mac"} <= set(crypto):
        raise ValueError("no encrypted key (crypto section)")
    return document, to_checksum_address("0x" + address.removeprefix("0x"))


def _entry(path: Path) -> KeystoreEntry:
    try:
        _, address = _read_keystore(path)
    except ValueError as exc:
        return KeystoreEntry(name=path.stem, address=None, path=path, dev=False, problem=f"corrupt: {exc}")
    return KeystoreEntry(name=path.stem, address=address, path=path, dev=is_dev_key(address))


def _corrupt(name: str, path: Path, problem: str) -> HubError:
    return HubError(f"the keystore of account {name!r} ({path}) is {problem}", hint=_CORRUPT_HINT)


def list_accounts(directory: Path | None = None) -> list[KeystoreEntry]:
    """Every keystore file in the directory, sorted by name; corrupt ones carry their `problem`."""
    root = _directory(directory)
    if not root.is_dir():
        return []
    return [_entry(p) for p in sorted(root.glob("*.json"))]


def _missing(name: str, path: Path) -> HubError:
    return HubError(
        f"no account named {name!r} in {path.parent}",
        hint="`hub account list` shows the accounts; `hub account new NAME` makes one",
    )


def account_address(name: str, directory: Path | None = None) -> str:
    """The address of account `name`, read from its keystore without decrypting it."""
    path = keystore_path(name, directory)
    if not path.exists():
        raise _missing(name, path)
    entry = _entry(path)
    if entry.address is None:
        raise _corrupt(name, path, str(entry.problem))
    return entry.address


def _password(source: PasswordSource | str, *, confirm: bool) -> str:
    return source if isinstance(source, str) else source.read(confirm=confirm)


def _save(
    name: str, key: bytes, password: PasswordSource | str, directory: Path | None, kdf_iterations: int | None
) -> KeystoreEntry:
    from eth_account import Account

    path = keystore_path(name, directory)
    if path.exists():
        raise HubError(f"account {name!r} already exists ({path})", hint="pick another name")
    address = Account.from_key(key).address
    for entry in list_accounts(directory):
        if entry.address == address:
            raise HubError(f"that key is already in the keystore as {entry.name!r}")
    secret = _password(password, confirm=True)
    if not secret:
        raise HubError("empty password", hint="an empty password does not protect the key")
    keystore = Account.encrypt(key, secret, iterations=kdf_iterations)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keystore, handle)
    partial.rename(path)
    return KeystoreEntry(name=name, address=address, path=path, dev=is_dev_key(address))


def new_account(
    name: str,
    password: PasswordSource | str,
    *,
    directory: Path | None = None,
    kdf_iterations: int | None = None,
) -> KeystoreEntry:
    """Create a fresh random key and store it encrypted under `name`.

    `kdf_iterations` is scrypt's n (eth-account's default, 2**18, when None).
    """
    from eth_account import Account

    return _save(name, bytes(Account.create().key), password, directory, kdf_iterations)


def import_key(
    name: str,
    key: KeySource | bytes,
    password: PasswordSource | str,
    *,
    directory: Path | None = None,
    kdf_iterations: int | None = None,
) -> KeystoreEntry:
    """Store an existing private key encrypted under `name`."""
    raw = key.read() if isinstance(key, KeySource) else key
    return _save(name, raw, password, directory, kdf_iterations)


def import_dev_account(
    index: int,
    password: PasswordSource | str,
    *,
    name: str | None = None,
    directory: Path | None = None,
    kdf_iterations: int | None = None,
) -> KeystoreEntry:
    """Store dev account `index` (0..9; a public key, local chain only) as `dev-<index>`."""
    if not 0 <= index < DEV_ACCOUNT_COUNT:
        raise HubError(f"no dev account {index}", hint=f"dev accounts are 0..{DEV_ACCOUNT_COUNT - 1}")
    key = bytes(dev_account(index).key)
    return _save(name or f"dev-{index}", key, password, directory, kdf_iterations)


def load_account(name: str, password_source: PasswordSource | str, *, directory: Path | None = None) -> LocalAccount:
    """The signing account stored under `name`; one-line HubError if missing or the password is wrong."""
    from eth_account import Account

    path = keystore_path(name, directory)
    if not path.exists():
        raise _missing(name, path)
    try:
        keystore, address = _read_keystore(path)
    except ValueError as exc:
        raise _corrupt(name, path, f"corrupt: {exc}") from None
    secret = _password(password_source, confirm=False)
    try:
        key = Account.decrypt(keystore, secret)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise HubError(
                f"wrong password for account {name!r}", hint=f"the password that encrypted {path.name}"
            ) from None
        raise _corrupt(name, path, f"corrupt: {exc}") from None
    except (KeyError, TypeError, NotImplementedError) as exc:
        # a keystore with the right sections but missing or odd parameters inside them
        raise _corrupt(name, path, f"corrupt: {type(exc).__name__} {exc}") from None
    account = Account.from_key(key)
    if account.address != address:
        raise _corrupt(name, path, f"corrupt: it decrypts to {account.address}, not its address field {address}")
    return account
