"""`HubClient`: one connection, one deployment, an optional signer, and a binding per contract.

    client = HubClient.connect("local", "provider", password=PasswordSource())
    client.hub.register_provider(stake=parse_amount("100"))
    pool = client.pool.get(1)

Reads need no account. Transactions go through `hub.tx.Transactor` with the client's account; the
keystore is decrypted once, when `connect` gets an account name. `with_account` gives a client for
another key over the same connection (a provider adding a node signs with the node key too).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hub.errors import HubError

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from hub.accounts import PasswordSource
    from hub.client.domains import DomainsContract
    from hub.client.governance import GovernanceContract
    from hub.client.hub_contract import HubContract
    from hub.client.models import Domain, Node, Pool, Provider
    from hub.client.pool import PoolContract
    from hub.client.registry import RegistryContract
    from hub.client.rewards import RewardsContract
    from hub.client.stake import StakeContract
    from hub.manifest import Deployment
    from hub.networks import Network
    from hub.tx import Transactor, TxConfig, TxResult

T = TypeVar("T")


class HubClient:
    """The typed client the CLI and the trainer share."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        account: LocalAccount | None = None,
        *,
        chain_id: int | None = None,
        tx_config: TxConfig | None = None,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.account = account
        self.chain_id = chain_id if chain_id is not None else deployment.chain_id
        self.tx_config = tx_config

    @classmethod
    def connect(
        cls,
        network: Network | str | None = None,
        account: LocalAccount | str | None = None,
        *,
        password: PasswordSource | str | None = None,
        deployments_dir: Path | None = None,
        tx_config: TxConfig | None = None,
    ) -> HubClient:
        """Connect to `network` (name, URL or None for the default), check its chain id, load its
        deployment manifest and check the hub has code there. `account` is a signing account or a
        keystore name, unlocked with `password` (default: env HUB_PASSWORD)."""
        from hub.accounts import PasswordSource, load_account
        from hub.manifest import load_deployment
        from hub.networks import connect

        w3 = connect(network)
        chain_id = w3.eth.chain_id
        deployment = load_deployment(chain_id, deployments_dir)
        hub_address = deployment.address("InjectiveAiHub")
        if not w3.eth.get_code(hub_address):  # type: ignore[arg-type]
            raise HubError(
                f"no contract at the deployed hub address {hub_address} on chain {chain_id}: was the chain reset?",
                hint="deploy again with `hub deploy --fresh`",
            )
        if isinstance(account, str):
            account = load_account(account, password if password is not None else PasswordSource())
        return cls(w3, deployment, account, chain_id=chain_id, tx_config=tx_config)

    def with_account(self, account: LocalAccount) -> HubClient:
        """A client for `account` over the same connection and deployment."""
        return HubClient(self.w3, self.deployment, account, chain_id=self.chain_id, tx_config=self.tx_config)

    # -- the signer

    @property
    def address(self) -> str:
        """The signing account's address."""
        if self.account is None:
            raise HubError("this needs an account to sign with", hint="pass --account NAME (see `hub account list`)")
        return self.account.address

    @cached_property
    def transactor(self) -> Transactor:
        from hub.tx import Transactor

        if self.account is None:
            raise HubError("this needs an account to sign with", hint="pass --account NAME (see `hub account list`)")
        return Transactor(self.w3, self.account, chain_id=self.chain_id, config=self.tx_config)

    def sign_typed(self, typed_data: dict) -> str:
        """0x-hex EIP-712 signature by the client's account (dev keys refused off the local chain)."""
        from hub import signatures
        from hub.devkeys import refuse_dev_key_off_local

        refuse_dev_key_off_local(self.address, self.chain_id)
        return "0x" + signatures.sign(self.account, typed_data).hex()

    # -- the contracts

    @cached_property
    def reads(self) -> ChainReads:
        """What the bindings' checks read from contracts other than their own."""
        return ChainReads(self)

    @cached_property
    def hub(self) -> HubContract:
        from hub.client.hub_contract import HubContract

        return HubContract(self, self.reads)

    @cached_property
    def registry(self) -> RegistryContract:
        from hub.client.registry import RegistryContract

        return RegistryContract(self)

    @cached_property
    def stake(self) -> StakeContract:
        from hub.client.stake import StakeContract

        return StakeContract(self)

    @cached_property
    def domains(self) -> DomainsContract:
        from hub.client.domains import DomainsContract

        return DomainsContract(self)

    @cached_property
    def pool(self) -> PoolContract:
        from hub.client.pool import PoolContract

        return PoolContract(self, self.reads)

    @cached_property
    def rewards(self) -> RewardsContract:
        from hub.client.rewards import RewardsContract

        return RewardsContract(self, self.reads)

    @cached_property
    def governance(self) -> GovernanceContract:
        from hub.client.governance import GovernanceContract

        return GovernanceContract(self, self.reads)

    # -- chain helpers

    def retry(self, read: Callable[[], T]) -> T:
        """Run a read, retrying transient node errors (uses the signer's settings when there is one)."""
        from hub.tx import TxConfig, retry_read

        return retry_read(read, (self.tx_config or TxConfig()).rpc_retries)

    def block_number(self) -> int:
        return self.retry(lambda: self.w3.eth.block_number)

    def now(self) -> int:
        """The latest block's timestamp: the clock the contracts use."""
        return int(self.retry(lambda: self.w3.eth.get_block("latest"))["timestamp"])

    def balance(self, address: str | None = None) -> int:
        from hub.inputs import parse_address

        target = self.address if address is None else parse_address(address)
        return self.retry(lambda: self.w3.eth.get_balance(target))  # type: ignore[arg-type]

    def transfer(self, to: str, amount: int, *, action: str = "send INJ") -> TxResult:
        """Send `amount` wei to `to` (e.g. gas money for a node key)."""
        from hub.inputs import parse_address

        if amount <= 0:
            raise HubError("the amount to send must be more than zero", hint="e.g. 1 (INJ) or 1000wei")
        return self.transactor.send(parse_address(to, what="recipient"), "0x", value=amount, action=action)


class ChainReads:
    """`hub.client.base.SiblingReads` answered by a client's bindings: the one place where one
    contract's checks read another contract."""

    def __init__(self, client: HubClient) -> None:
        self._client = client

    def provider(self, address: str) -> Provider:
        return self._client.registry.provider(address)

    def node(self, address: str) -> Node:
        return self._client.registry.node(address)

    def node_nonce(self, node: str) -> int:
        return self._client.registry.node_nonce(node)

    def nodes_of(self, provider: str) -> list[Node]:
        return self._client.registry.nodes_of(provider)

    def stake_of(self, account: str) -> int:
        return self._client.stake.stake_of(account)

    def unbonding_of(self, account: str) -> int:
        return self._client.stake.unbonding_of(account)

    def unbonding_period(self) -> int:
        return self._client.stake.unbonding_period()

    def domain(self, domain_id: int) -> Domain:
        return self._client.domains.get(domain_id)

    def pool(self, pool_id: int) -> Pool:
        return self._client.pool.get(pool_id)
