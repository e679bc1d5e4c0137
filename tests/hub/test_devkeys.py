"""The published dev keys: derivation, recognition, refusal off the local chain, bech32 form."""

from __future__ import annotations

import json
import subprocess

import pytest
from eth_account import Account

from hub.bech32 import inj_address
from hub.devkeys import (
    DEV_ACCOUNT_COUNT,
    DEV_ADDRESSES,
    DEV_HD_PATH,
    DEV_MNEMONIC,
    LOCAL_CHAIN_ID,
    dev_account,
    is_dev_key,
    refuse_dev_key_off_local,
)
from hub.devnet import _node_env, find_injectived
from hub.errors import HubError
from hub.networks import MAINNET_CHAIN_ID, TESTNET_CHAIN_ID


def test_documented_addresses_are_what_the_mnemonic_derives() -> None:
    Account.enable_unaudited_hdwallet_features()
    derived = [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=DEV_HD_PATH.format(index=i)).address
        for i in range(DEV_ACCOUNT_COUNT)
    ]
    assert derived == list(DEV_ADDRESSES)
    assert [dev_account(i).address for i in range(DEV_ACCOUNT_COUNT)] == derived


def test_is_dev_key_ignores_letter_case_and_rejects_others() -> None:
    assert all(is_dev_key(a) and is_dev_key(a.lower()) and is_dev_key(a.upper()) for a in DEV_ADDRESSES)
    assert not is_dev_key(Account.create().address)


@pytest.mark.parametrize("chain_id", [MAINNET_CHAIN_ID, TESTNET_CHAIN_ID, 1, 31337])
def test_dev_keys_are_refused_off_the_local_chain(chain_id: int) -> None:
    with pytest.raises(HubError, match="published dev key"):
        refuse_dev_key_off_local(DEV_ADDRESSES[0], chain_id)


def test_dev_keys_sign_on_the_local_chain_and_other_keys_anywhere() -> None:
    refuse_dev_key_off_local(DEV_ADDRESSES[0], LOCAL_CHAIN_ID)
    refuse_dev_key_off_local(Account.create().address, MAINNET_CHAIN_ID)


def test_no_dev_account_beyond_the_ten() -> None:
    with pytest.raises(HubError, match="no dev account 10"):
        dev_account(DEV_ACCOUNT_COUNT)


def test_bech32_matches_injectived_keys_parse(tmp_path) -> None:
    binary = find_injectived()
    for address in (DEV_ADDRESSES[0], DEV_ADDRESSES[9], "0x" + "00" * 20, "0x" + "ff" * 20):
        parsed = subprocess.run(
            [str(binary), "keys", "parse", address.removeprefix("0x"), "--output", "json"],
            env=_node_env(binary, tmp_path),
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(parsed.stdout)["formats"][0] == inj_address(address)
