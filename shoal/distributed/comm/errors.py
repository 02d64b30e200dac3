"""The exceptions of the communication layer, in one place so callers can catch them.

Two families:

- ``CommError`` (an ``OSError``): something is wrong with a *connection*.
  ``CommClosedError`` means the comm can no longer be used; ``ProtocolError``
  is the subset where the peer broke the wire protocol (garbage, an oversized
  or malformed message, a bad handshake) and this side closed the connection.
  ``ConnectError`` means a connection could not be made at all.
- ``SerializationError`` / ``DeserializationError``: one *message* could not be
  turned into frames or back.  The connection itself is still in sync and
  stays open, so a server may report the failure and carry on.

The package re-exports every one of them (its ``__all__`` names them):

>>> from shoal.distributed import comm
>>> [name for name in __all__ if getattr(comm, name, None) is not globals()[name] or name not in comm.__all__]
[]
"""

from __future__ import annotations


class CommError(OSError):
    """Base class of connection-level failures."""


class CommClosedError(CommError):
    """The comm is closed (by this side, by the peer, or after a protocol error)."""


class ConnectError(CommError):
    """A connection to ``address`` could not be established (refused, timed out, handshake failed)."""

    def __init__(self, message: str, address: str | None = None) -> None:
        super().__init__(message)
        self.address = address

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ProtocolError(CommClosedError):
    """The peer broke the wire protocol; this side has closed the connection."""


class HandshakeError(ProtocolError):
    """The two ends do not speak the same protocol version (or refused each other)."""


class MessageTooLargeError(ValueError):
    """A message is larger than the receiving side accepts; nothing was sent.

    Raised by ``write`` *before* any byte goes out, so the comm stays usable.
    """


class SerializationError(TypeError):
    """A value in a message could not be serialized (the message names its type and place)."""


class DeserializationError(ValueError):
    """An object in a well-formed message could not be unpickled on this side."""


class MalformedMessageError(ValueError):
    """Frames that do not form a valid shoal message (corrupt or foreign data)."""


class UnknownOperationError(ValueError):
    """A well-formed request for an ``op`` the receiver does not have.

    Servers answer it, then close that connection: the peer is another
    version, or not a shoal peer at all.
    """


# Every exception class above, in the order defined: the package re-exports them by name
# (``shoal.distributed.comm.__all__``), so the names are not listed a second time here.
__all__ = [name for name, value in list(globals().items())
           if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == __name__]
