"""The typed Python client over the deployed contracts, shared by the `hub` CLI and the trainer.

    from hub.client import HubClient
    client = HubClient.connect("local", "provider")       # network, keystore name (password: HUB_PASSWORD)
    client.pool.get(1), client.pool.metadata(1)            # a pool and its verified metadata bytes
    client.pool.require_ready(1, node)                     # node validated and in the pool, else HubError
    client.pool.submit_work(1, key, units)                 # signed by the client's account (the node key)
    client.rewards.work_submitted(1, node=node)            # WorkSubmitted logs
    client.rewards.claim(1)                                # every claimable key of the provider

One binding per contract: `client.hub`, `.registry`, `.stake`, `.domains`, `.pool`, `.rewards`,
`.governance`. Reads return the records of `hub.client.models`; transactions return the typed results
of `hub.client.results` (hash, block, gas and what the receipt's events say); `hub.client.workflows`
holds what spans contracts.
"""

from hub.client.hub_client import HubClient
from hub.client.models import (
    Budget,
    ClaimResult,
    Domain,
    Node,
    NodeAttestation,
    NodeMembership,
    Pool,
    PoolInvite,
    PoolStatus,
    Provider,
    StakeInfo,
    Unbond,
    Work,
    WorkState,
    WorkSubmitted,
)
from hub.client.pool import make_work_key

__all__ = [
    "Budget",
    "ClaimResult",
    "Domain",
    "HubClient",
    "Node",
    "NodeAttestation",
    "NodeMembership",
    "Pool",
    "PoolInvite",
    "PoolStatus",
    "Provider",
    "StakeInfo",
    "Unbond",
    "Work",
    "WorkState",
    "WorkSubmitted",
    "make_work_key",
]
