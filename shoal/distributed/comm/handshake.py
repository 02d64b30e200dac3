"""The first message each end sends on a new comm, and the checks made on it.

Both ends write their handshake, then read the peer's (so neither waits for
the other).  The comm is usable only if the protocol versions match.  The
handshake also tells each side the codecs the peer can decode and the
largest message it accepts, so writers compress only what the peer can read
and refuse, before sending, what it would reject.

``credentials`` is reserved for the security issue (TLS with mutual
authentication, tokens); it is ``None`` for now and not checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import settings
from .errors import HandshakeError
from .serialize import FORMAT_VERSION, available_compressions

if TYPE_CHECKING:
    from .core import Comm

__all__ = ["PROTOCOL_VERSION", "local_handshake", "check_handshake", "handshake"]

#: The comm protocol this process speaks: framing, header layout, handshake.
#: Peers with a different version are refused with a clear error.
PROTOCOL_VERSION = 1


def local_handshake() -> dict:
    """What this process announces to a new peer.

    >>> info = local_handshake()
    >>> info["op"], info["protocol"]
    ('handshake', 1)
    """
    return {
        "op": "handshake",
        "protocol": PROTOCOL_VERSION,
        "message-format": FORMAT_VERSION,
        "compression": available_compressions() if settings.compression_setting() else [],
        "max-message-size": settings.max_message_size(),
        "pickle-protocol": 5,
        "credentials": None,
    }


def check_handshake(peer: Any, peer_address: str) -> dict:
    """``peer`` if it is a handshake this process can work with, else ``HandshakeError``.

    >>> check_handshake({"op": "hello"}, "tcp://127.0.0.1:1")
    Traceback (most recent call last):
    ...
    shoal.distributed.comm.errors.HandshakeError: tcp://127.0.0.1:1 did not start with a shoal handshake (got a dict); is it a shoal scheduler, worker or client?
    """
    if not isinstance(peer, dict) or peer.get("op") != "handshake":
        raise HandshakeError(
            f"{peer_address} did not start with a shoal handshake (got a {type(peer).__name__}); "
            "is it a shoal scheduler, worker or client?"
        )
    if peer.get("protocol") != PROTOCOL_VERSION:
        raise HandshakeError(
            f"{peer_address} speaks shoal comm protocol {peer.get('protocol')!r} but this process "
            f"speaks {PROTOCOL_VERSION}; install the same shoal version on both ends."
        )
    size = peer.get("max-message-size")
    codecs = peer.get("compression")
    if type(size) is not int or size <= 0 or not isinstance(codecs, list):
        raise HandshakeError(f"{peer_address} sent an invalid handshake: {peer!r:.200}")
    return peer


async def handshake(comm: Comm) -> dict:
    """Exchange handshakes on ``comm``; returns the peer's after ``comm.apply_handshake``."""
    local = local_handshake()
    await comm.write(local)
    peer = check_handshake(await comm.read(), comm.peer_address)
    comm.apply_handshake(local, peer)
    return peer
