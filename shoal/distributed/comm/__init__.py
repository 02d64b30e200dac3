"""Message connections between shoal processes: the layer scheduler, workers and clients talk through.

>>> import asyncio
>>> async def demo():
...     async def echo(comm):
...         await comm.write(await comm.read())
...     async with listen("inproc://", echo) as listener:
...         comm = await connect(listener.contact_address, timeout=5)
...         await comm.write({"op": "ping", "key": ("x", 0)})
...         reply = await comm.read()
...         await comm.close()
...     return reply
>>> asyncio.run(demo())
{'op': 'ping', 'key': ('x', 0)}
"""

from . import settings  # registers the distributed.comm config defaults
from .addressing import normalize_address, parse_address, parse_host_port, unparse_address, unparse_host_port
from .core import Backend, Comm, Listener, connect, get_backend, listen, register_backend
from .errors import (
    CommClosedError,
    CommError,
    ConnectError,
    DeserializationError,
    HandshakeError,
    MalformedMessageError,
    MessageTooLargeError,
    ProtocolError,
    SerializationError,
    UnknownOperationError,
)
from .serialize import dumps, loads

# Importing the transports registers their schemes.
from . import inproc, tcp  # noqa: E402  isort: skip

__all__ = [
    "Backend",
    "Comm",
    "Listener",
    "connect",
    "listen",
    "get_backend",
    "register_backend",
    "dumps",
    "loads",
    "parse_address",
    "unparse_address",
    "parse_host_port",
    "unparse_host_port",
    "normalize_address",
    "CommError",
    "CommClosedError",
    "ConnectError",
    "ProtocolError",
    "HandshakeError",
    "MessageTooLargeError",
    "SerializationError",
    "DeserializationError",
    "MalformedMessageError",
    "UnknownOperationError",
    "settings",
]
