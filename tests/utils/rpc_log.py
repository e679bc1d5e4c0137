"""What a client asks its node: every JSON-RPC request recorded by a web3 middleware, and the block
ranges of the eth_getLogs among them (tests count what reading history costs)."""

from __future__ import annotations

from typing import Any


def record_requests(w3: Any, sent: list[tuple[str, Any]] | None = None) -> list[tuple[str, Any]]:
    """(method, params) of every request `w3` sends from now on, as the node gets it: appended to
    `sent` (a new list by default, returned), so several connections can share one record."""
    from web3.middleware import Web3Middleware

    sent = [] if sent is None else sent

    class Recorded(Web3Middleware):
        def wrap_make_request(self, make_request):
            def recorded(method, params):
                sent.append((method, params))
                return make_request(method, params)

            return recorded

    w3.middleware_onion.add(Recorded, name="recorded requests")
    return sent


def log_ranges(sent: list[tuple[str, Any]], address: str | None = None) -> list[tuple[int, int]]:
    """The (fromBlock, toBlock) of each eth_getLogs in `sent` (only those asking for `address`'s
    logs, if given), in order."""

    def block(value: Any) -> int:
        return int(value, 16) if isinstance(value, str) else int(value)

    ranges = []
    for method, params in sent:
        if method != "eth_getLogs":
            continue
        query = params[0]
        asked = query.get("address")
        asked = asked if isinstance(asked, list) else [asked]
        if address is None or address.lower() in [str(a).lower() for a in asked]:
            ranges.append((block(query["fromBlock"]), block(query["toBlock"])))
    return ranges


def record_connections(monkeypatch: Any) -> list[tuple[str, Any]]:
    """(method, params) of every request sent through the connections `hub.networks.connect` makes
    from now on: what the `hub` commands a test runs in its own process (`run_hub`) ask the node."""
    import hub.networks

    sent: list[tuple[str, Any]] = []
    connect = hub.networks.connect

    def recorded(*args: Any, **kwargs: Any) -> Any:
        w3 = connect(*args, **kwargs)
        record_requests(w3, sent)
        return w3

    monkeypatch.setattr(hub.networks, "connect", recorded)
    return sent
