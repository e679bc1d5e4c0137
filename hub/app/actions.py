"""Every action the page offers, as a call of the same client method the CLI command makes.

`build(client, name, params)` runs the action for a `WalletClient` and returns what the wallet must
do: a transaction to send (`{"kind": "tx", ...}`) or typed data to sign (`{"kind": "sign", ...}`).
A refused value or a revert is a `HubError` with the sentence `hub` prints. Parameters arrive as the
strings a form holds and are read with the CLI's own parsers (amounts "10" INJ or "1000wei",
durations "1h").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import HubError

if TYPE_CHECKING:
    from hub.app.wallet import WalletClient

Params = dict[str, Any]


def _text(params: Params, name: str, what: str) -> str:
    value = str(params.get(name, "") or "").strip()
    if not value:
        raise HubError(f"{what} is missing", hint=f"fill in the {what} field")
    return value


def _optional(params: Params, name: str) -> str | None:
    return str(params.get(name, "") or "").strip() or None


def _amount(params: Params, name: str, what: str) -> int:
    from hub.amounts import parse_amount

    return parse_amount(_text(params, name, what), what=what)


def _address(params: Params, name: str, what: str) -> str:
    from hub.inputs import parse_address

    return parse_address(_text(params, name, what), what=what)


def _int(params: Params, name: str, what: str, default: int | None = None) -> int:
    text = str(params.get(name, "") or "").strip()
    if not text and default is not None:
        return default
    if not text.isdigit():
        raise HubError(f"invalid {what} {text!r}", hint="a whole number, e.g. 1")
    return int(text)


def _record(params: Params, name: str, model: type, what: str) -> Any:
    from pydantic import ValidationError

    text = _text(params, name, what)
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise HubError(
            f"the {what} is invalid at {where}: {first['msg']}", hint=f"paste the whole {what} file"
        ) from None


# -- provider


def _register(c: WalletClient, p: Params) -> Any:
    return c.hub.register_provider(_amount(p, "stake", "stake"))


def _stake_add(c: WalletClient, p: Params) -> Any:
    return c.hub.increase_stake(_amount(p, "amount", "stake to add"))


def _stake_reclaim(c: WalletClient, p: Params) -> Any:
    return c.hub.reclaim_stake(_amount(p, "amount", "stake to reclaim"))


def _stake_rebond(c: WalletClient, p: Params) -> Any:
    return c.hub.rebond_stake(_amount(p, "amount", "stake to rebond"))


def _stake_withdraw(c: WalletClient, p: Params) -> Any:
    return c.stake.withdraw()


def _node_add(c: WalletClient, p: Params) -> Any:
    from hub.client import NodeAttestation

    return c.hub.add_compute_node(_record(p, "attestation", NodeAttestation, "node attestation"))


def _node_remove(c: WalletClient, p: Params) -> Any:
    return c.hub.remove_compute_node(_address(p, "node", "node"))


def _node_fund(c: WalletClient, p: Params) -> Any:
    return c.transfer(_address(p, "node", "node"), _amount(p, "amount", "amount"), action="fund node key")


def _node_join(c: WalletClient, p: Params) -> Any:
    from hub.client import PoolInvite

    return c.pool.join(_record(p, "invite", PoolInvite, "pool invite"))


def _claim(c: WalletClient, p: Params) -> Any:
    # the page names the node and its claimable keys from the events it has read (`data.account`):
    # finding them here would read the pool's logs on every click
    keys = p.get("work_keys")
    if not isinstance(keys, list) or not keys:
        raise HubError("no work keys to claim", hint="reload the page: its Claim button names them")
    node = _address(p, "node", "node")
    return c.rewards.claim(_int(p, "pool_id", "pool id"), [str(k) for k in keys], node=node)


def _deregister(c: WalletClient, p: Params) -> Any:
    return c.hub.deregister_provider()


# -- pool operator


def _pool_create(c: WalletClient, p: Params, metadata_dir: Path) -> Any:
    import json

    from hub.inputs import parse_duration
    from hub.metadata import MAX_URI_BYTES, data_uri, metadata_hash, parse_pool_metadata, publish_metadata

    document: dict[str, Any] = {"run_id": _text(p, "run_id", "run id")}
    if p.get("description"):
        document["description"] = str(p["description"])
    peers = [line.strip() for line in str(p.get("bootstrap_peers") or "").splitlines() if line.strip()]
    if peers:
        document["bootstrap_peers"] = peers
    if str(p.get("train") or "").strip():
        try:
            document["train"] = json.loads(p["train"])
        except ValueError as exc:
            raise HubError(f"the training settings are not JSON: {exc}", hint='e.g. {"seq_len": 128}') from None
    data = json.dumps(document, indent=2).encode() + b"\n"
    parse_pool_metadata(data, source="the pool metadata")
    # content-addressed copy: what a file:// URI points at, and what `hub pool metadata serve` can host
    metadata_dir.mkdir(parents=True, exist_ok=True)
    path = metadata_dir / f"{metadata_hash(data).hex()}.json"
    path.write_bytes(data)
    uri = str(p.get("metadata_uri") or "").strip() or None
    inline = uri is None and len(data_uri(data).encode()) <= MAX_URI_BYTES
    published = publish_metadata(path, inline=inline, uri=uri)
    if not str(p.get("domain") or "").strip() and c.deployment.default_domain_id is None:
        raise HubError("the deployment has no default domain", hint="fill in the domain id (`hub status` lists them)")
    domain = _int(p, "domain", "domain id", default=c.deployment.default_domain_id)
    manager = str(p.get("manager") or "").strip() or None
    return c.pool.create(
        domain,
        published,
        budget=_amount(p, "budget", "budget"),
        reward_per_unit=_amount(p, "reward_per_unit", "reward per unit"),
        challenge_window=parse_duration(_text(p, "challenge_window", "challenge window"), what="challenge window"),
        compute_limit=_int(p, "compute_limit", "compute limit", default=0),
        manager=manager,
    )


def _pool_invite(c: WalletClient, p: Params) -> Any:
    hours = _int(p, "hours", "invite lifetime (hours)", default=24)
    deadline = c.now() + hours * 3600
    return c.pool.invite(_int(p, "pool_id", "pool id"), _address(p, "node", "node"), deadline=deadline)


def _pool_start(c: WalletClient, p: Params) -> Any:
    return c.pool.start(_int(p, "pool_id", "pool id"))


def _pool_end(c: WalletClient, p: Params) -> Any:
    return c.pool.end(_int(p, "pool_id", "pool id"))


def _pool_top_up(c: WalletClient, p: Params) -> Any:
    return c.rewards.top_up(_int(p, "pool_id", "pool id"), _amount(p, "amount", "top-up"))


def _pool_refund(c: WalletClient, p: Params) -> Any:
    return c.rewards.refund(_int(p, "pool_id", "pool id"))


def _pool_set_manager(c: WalletClient, p: Params) -> Any:
    return c.pool.set_manager(_int(p, "pool_id", "pool id"), _address(p, "manager", "manager"))


def _pool_eject(c: WalletClient, p: Params) -> Any:
    return c.pool.eject(_int(p, "pool_id", "pool id"), _address(p, "node", "node"))


def _pool_blacklist_node(c: WalletClient, p: Params) -> Any:
    return c.pool.blacklist_node(_int(p, "pool_id", "pool id"), _address(p, "node", "node"))


def _work_invalidate(c: WalletClient, p: Params) -> Any:
    return c.pool.invalidate_work(
        _int(p, "pool_id", "pool id"), _address(p, "node", "node"), _text(p, "work_key", "work key")
    )


# -- validator


def _validate_node(c: WalletClient, p: Params) -> Any:
    return c.hub.validate_node(_address(p, "node", "node"))


def _invalidate_node(c: WalletClient, p: Params) -> Any:
    return c.hub.invalidate_node(_address(p, "node", "node"))


def _work_hard_invalidate(c: WalletClient, p: Params) -> Any:
    from hub.amounts import parse_amount

    slash = _optional(p, "slash")
    return c.pool.hard_invalidate_work(
        _int(p, "pool_id", "pool id"),
        _address(p, "node", "node"),
        _text(p, "work_key", "work key"),
        slash_amount=parse_amount(slash, what="slash amount") if slash is not None else 0,
        reason=str(p.get("reason") or ""),
    )


def _slash(c: WalletClient, p: Params) -> Any:
    from hub.amounts import parse_amount

    provider = _address(p, "provider", "provider")
    amount = parse_amount(_text(p, "amount", "slash amount"), what="slash amount", allow_zero=False)
    # as `hub validator slash`: what the chain would take is capped; nothing at all is refused here
    if c.hub.preview_slash(provider, amount) == 0:
        raise HubError(f"{provider} has nothing to slash", hint="`hub provider show` shows its stake")
    return c.hub.slash(provider, amount, _text(p, "reason", "reason"))


def _whitelist(c: WalletClient, p: Params) -> Any:
    return c.hub.whitelist_provider(_address(p, "provider", "provider"))


def _blacklist(c: WalletClient, p: Params) -> Any:
    return c.hub.blacklist_provider(_address(p, "provider", "provider"))


def _release_blacklisted_node(c: WalletClient, p: Params) -> Any:
    # anyone may send it; the page offers it on each still-pooled node of a blacklisted provider,
    # since one blacklisting releases at most 64 nodes (`hub validator blacklist` sends these itself)
    return c.pool.release_blacklisted_node(_address(p, "node", "node"))


# -- governance (the `hub gov` commands; each proposal option of the form adds the call the CLI's adds)


def _addresses(params: Params, name: str, what: str) -> list[str]:
    from hub.inputs import parse_address

    text = str(params.get(name, "") or "").replace(",", "\n")
    return [parse_address(line.strip(), what=what) for line in text.splitlines() if line.strip()]


def _gov_propose(c: WalletClient, p: Params) -> Any:
    from dataclasses import replace

    from hub.amounts import parse_amount
    from hub.inputs import parse_duration

    gov = c.governance
    description = _text(p, "description", "description")
    calls = []
    if (minimum := _optional(p, "set_stake_minimum")) is not None:
        calls.append(gov.stake_minimum_call(parse_amount(minimum, what="stake minimum")))
    if _optional(p, "set_treasury") is not None:
        calls.append(gov.treasury_call(_address(p, "set_treasury", "treasury")))
    for grant, role in ((True, "validator"), (False, "validator"), (True, "federator"), (False, "federator")):
        verb = "grant" if grant else "revoke"
        addresses = _addresses(p, f"{verb}_{role}", f"address to {verb} the {role} role")
        calls += [gov.role_call(grant, role, a) for a in addresses]
    domain, validation = _optional(p, "create_domain"), _optional(p, "domain_validation")
    if (domain is None) != (validation is None):
        raise HubError("the new domain's name and validation contract go together", hint="fill in both, or neither")
    if domain is not None and validation is not None:
        calls.append(gov.create_domain_call(domain, validation, _optional(p, "domain_uri") or ""))
    changes: dict[str, int] = {}
    for name in ("voting_delay", "voting_period", "timelock_delay"):
        if (text := _optional(p, name)) is not None:
            changes[name] = parse_duration(text, what=name.replace("_", " "))
    if (quorum := _optional(p, "quorum")) is not None:
        try:
            changes["quorum_bps"] = round(float(quorum) * 100)
        except ValueError:
            raise HubError(f"invalid quorum {quorum!r}", hint="a percentage from 0.01 to 100") from None
        if not 1 <= changes["quorum_bps"] <= 10_000:
            raise HubError(f"quorum {quorum} is out of range", hint="a percentage from 0.01 to 100")
    if (threshold := _optional(p, "proposal_threshold")) is not None:
        changes["proposal_threshold"] = parse_amount(threshold, what="proposal threshold")
    if changes:
        calls.append(gov.parameters_call(replace(gov.params(), **changes)))
    if not calls:
        raise HubError("the proposal changes nothing", hint="fill in at least one change, e.g. the stake minimum")
    return gov.propose(calls, description)


def _proposal(p: Params) -> int:
    return _int(p, "proposal_id", "proposal id")


def _gov_vote(c: WalletClient, p: Params) -> Any:
    from hub.client.governance import parse_support

    return c.governance.vote(_proposal(p), parse_support(_text(p, "support", "vote")))


def _gov_recount(c: WalletClient, p: Params) -> Any:
    return c.governance.recount(_proposal(p), _address(p, "voter", "voter"))


def _gov_queue(c: WalletClient, p: Params) -> Any:
    return c.governance.queue(_proposal(p))


def _gov_execute(c: WalletClient, p: Params) -> Any:
    return c.governance.execute(_proposal(p))


def _gov_cancel(c: WalletClient, p: Params) -> Any:
    return c.governance.cancel(_proposal(p))


ACTIONS: dict[str, Callable[..., Any]] = {
    "register": _register,
    "stake_add": _stake_add,
    "stake_reclaim": _stake_reclaim,
    "stake_withdraw": _stake_withdraw,
    "stake_rebond": _stake_rebond,
    "node_add": _node_add,
    "node_remove": _node_remove,
    "node_fund": _node_fund,
    "node_join": _node_join,
    "claim": _claim,
    "deregister": _deregister,
    "pool_create": _pool_create,
    "pool_invite": _pool_invite,
    "pool_start": _pool_start,
    "pool_end": _pool_end,
    "pool_top_up": _pool_top_up,
    "pool_refund": _pool_refund,
    "pool_set_manager": _pool_set_manager,
    "pool_eject": _pool_eject,
    "pool_blacklist_node": _pool_blacklist_node,
    "work_invalidate": _work_invalidate,
    "work_hard_invalidate": _work_hard_invalidate,
    "slash": _slash,
    "validate_node": _validate_node,
    "invalidate_node": _invalidate_node,
    "whitelist_provider": _whitelist,
    "blacklist_provider": _blacklist,
    "release_blacklisted_node": _release_blacklisted_node,
    "gov_propose": _gov_propose,
    "gov_vote": _gov_vote,
    "gov_recount": _gov_recount,
    "gov_queue": _gov_queue,
    "gov_execute": _gov_execute,
    "gov_cancel": _gov_cancel,
}


def build(client: WalletClient, name: str, params: Params, *, metadata_dir: Path) -> dict[str, Any]:
    """What the wallet must do for action `name`: `{"kind": "tx", "action", "tx"}` (eth_sendTransaction's
    parameter) or `{"kind": "sign", "action", "typed_data"}` (eth_signTypedData_v4's)."""
    from hub.app.wallet import SignatureRequested, TxCaptured

    handler = ACTIONS.get(name)
    if handler is None:
        raise HubError(f"unknown action {name!r}", hint=f"one of: {', '.join(ACTIONS)}")
    try:
        if handler is _pool_create:
            handler(client, params, metadata_dir)
        else:
            handler(client, params)
    except TxCaptured as captured:
        return {"kind": "tx", "action": captured.tx.action, "tx": captured.tx.wallet_request()}
    except SignatureRequested as request:
        return {"kind": "sign", "action": name, "typed_data": typed_data_json(request.typed_data)}
    raise AssertionError(f"action {name} neither sent nor signed")  # every handler ends in one of the two


# -- EIP-712 data across JSON: uint256 as decimal strings (2**256-1 does not fit a JS number),
#    bytes as 0x hex; the domain's chainId stays a number, which wallets compare with the chain


def typed_data_json(typed: dict[str, Any]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return "0x" + value.hex()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    return {**typed, "message": {k: plain(v) for k, v in typed["message"].items()}}


def typed_data_from_json(typed: dict[str, Any]) -> dict[str, Any]:
    fields = {f["name"]: f["type"] for f in typed["types"][typed["primaryType"]]}
    message = {}
    for name, kind in fields.items():
        value = typed["message"][name]
        if kind.startswith("uint"):
            value = int(value, 0) if isinstance(value, str) else int(value)
        elif kind.startswith("bytes"):
            value = bytes.fromhex(str(value).removeprefix("0x"))
        message[name] = value
    domain = {**typed["domain"], "chainId": int(typed["domain"]["chainId"])}
    return {**typed, "domain": domain, "message": message}


def signed_invite(client: WalletClient, typed: dict[str, Any], signature: str) -> dict[str, Any]:
    """The invite file `hub pool invite` writes, from the typed data the wallet signed; the signature
    must recover to the connected account, which the contract checks is the pool's manager."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    from hub.client import PoolInvite

    data = typed_data_from_json(typed)
    if data["primaryType"] != "PoolInvite":
        raise HubError(f"expected a PoolInvite, got {data['primaryType']}")
    try:
        signer = Account.recover_message(encode_typed_data(full_message=data), signature=signature)
    except Exception as exc:  # a malformed signature from the wallet: say so in one line
        raise HubError(f"the wallet returned an unreadable signature: {exc}") from None
    if signer != client.address:
        raise HubError(
            f"the invite was signed by {signer}, not the connected account {client.address}",
            hint="sign with the pool manager's account",
        )
    message = data["message"]
    invite = PoolInvite(
        chain_id=data["domain"]["chainId"],
        pool_contract=data["domain"]["verifyingContract"],
        pool_id=message["poolId"],
        node=message["node"],
        nonce=message["nonce"],
        deadline=message["deadline"],
        signature=signature if signature.startswith("0x") else "0x" + signature,
    )
    return invite.model_dump(mode="json")
