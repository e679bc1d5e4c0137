"""Free TCP ports for tests (a local chain's port ranges are `tests/session_chain.free_ports`)."""

from __future__ import annotations


def free_port() -> int:
    """A TCP port that was free a moment ago (for a peer whose address must be known in advance)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
