"""The local chain's dev accounts: ten KNOWN-PUBLIC keys, funded in the devnet genesis.

Scheme: BIP-39 mnemonic "test test test test test test test test test test test junk" (no
passphrase), BIP-44 path m/44'/60'/0'/0/<index>, index 0..9. These are the same ten accounts that
anvil and Hardhat print, so anyone who sees one of these addresses knows its key is public.

They exist only for `hub devnet`: `is_dev_key` recognises them and `refuse_dev_key_off_local` is
the check the transaction layer calls before it signs, so a dev key never signs for any chain
but the local one (EVM chain id 777).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from hub.errors import HubError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_HD_PATH = "m/44'/60'/0'/0/{index}"
DEV_ACCOUNT_COUNT = 10
# @dev Genesis balance of each dev account: 1,000,000 INJ (1 INJ = 10**18 wei on the EVM side).
DEV_BALANCE_WEI = 1_000_000 * 10**18
# @dev The only EVM chain id on which a dev key may sign: the devnet's (never 1776 = mainnet).
LOCAL_CHAIN_ID = 777

# @dev The addresses DEV_MNEMONIC derives at DEV_HD_PATH for index 0..9; a test re-derives them.
DEV_ADDRESSES: tuple[str, ...] = (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
)
_DEV_ADDRESSES_LOWER = frozenset(a.lower() for a in DEV_ADDRESSES)


@lru_cache(maxsize=1)
def _seed() -> bytes:
    from eth_account.hdaccount import seed_from_mnemonic

    return seed_from_mnemonic(DEV_MNEMONIC, "")


def dev_account(index: int) -> LocalAccount:
    """Dev account `index` (0..9) as a signing account. Its key is public: local chain only."""
    from eth_account import Account
    from eth_account.hdaccount import key_from_seed

    if not 0 <= index < DEV_ACCOUNT_COUNT:
        raise HubError(f"no dev account {index}", hint=f"dev accounts are numbered 0..{DEV_ACCOUNT_COUNT - 1}")
    return Account.from_key(key_from_seed(_seed(), DEV_HD_PATH.format(index=index)))


def dev_accounts() -> list[LocalAccount]:
    return [dev_account(i) for i in range(DEV_ACCOUNT_COUNT)]


def is_dev_key(address: str) -> bool:
    """True if `address` belongs to one of the published dev keys (any letter case)."""
    return address.lower() in _DEV_ADDRESSES_LOWER


def refuse_dev_key_off_local(address: str, chain_id: int) -> None:
    """Raise unless `address` may sign on `chain_id`: dev keys sign for the local chain only.

    The transaction layer calls this with the chain id the node reports, before every signature.
    """
    if is_dev_key(address) and chain_id != LOCAL_CHAIN_ID:
        raise HubError(
            f"refusing to sign with {address}: it is a published dev key and chain {chain_id} "
            f"is not the local devnet ({LOCAL_CHAIN_ID})",
            hint="use your own account (`hub account new` / `hub account import`) off the local chain",
        )
