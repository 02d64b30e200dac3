"""The transport-independent part of comms: ``Comm``, ``Listener``, ``connect``, ``listen``.

A *comm* is one bidirectional, message-oriented connection: ``await
comm.write(msg)`` on one end, ``await comm.read()`` on the other gives an equal
message.  Messages are msgpack-able structures in which any value (arrays,
DataFrames, functions) may appear; see :mod:`.serialize`.

Rules every transport keeps:

- ``read`` and ``write`` on a closed comm raise ``CommClosedError``; a comm
  that breaks (peer gone, protocol violation) becomes closed.
- ``write`` may be called from several coroutines at once (messages never
  interleave); ``read`` has one caller at a time.
- A failure to (de)serialize one message raises ``SerializationError`` /
  ``DeserializationError`` and leaves the comm open.
- Every comm returned by ``connect`` or given to a listener's handler has
  completed the handshake (:mod:`.handshake`).

Transports register a :class:`Backend` under their scheme; ``connect`` and
``listen`` dispatch on the scheme of the address.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import ssl
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from . import settings
from .addressing import parse_address
from .errors import CommClosedError, ConnectError, HandshakeError, ProtocolError
from .handshake import handshake

__all__ = ["Comm", "Listener", "Backend", "register_backend", "get_backend", "connect", "listen"]

logger = logging.getLogger("shoal.distributed.comm")

Handler = Callable[["Comm"], Awaitable[None] | None]


class Comm(ABC):
    """One end of a message connection.

    After the handshake, ``peer_info`` holds what the peer announced
    (protocol version, compressions, maximum message size). A transport
    passes both ends' addresses to ``__init__`` and wraps the wait in its
    ``read`` in ``with self._sole_reader():``.
    """

    def __init__(self, local_address: str, peer_address: str) -> None:
        self._local_address = local_address
        self._peer_address = peer_address
        self._reading = False  # a read is under way (see _sole_reader)
        self.peer_info: dict = {}
        # Limits and codecs agreed in the handshake; conservative until then.
        self.compression: str | None = None
        self.peer_max_message_size: int = settings.max_message_size()

    @abstractmethod
    async def read(self) -> Any:
        """The next message; raises ``CommClosedError`` once the comm is closed."""

    @abstractmethod
    async def write(self, msg: Any) -> int:
        """Send ``msg``; returns the number of bytes written (0 where nothing is encoded)."""

    @abstractmethod
    async def close(self) -> None:
        """Close the comm; the peer's ``read`` raises ``CommClosedError`` after the last message."""

    @abstractmethod
    def abort(self) -> None:
        """Close at once, without waiting for anything; safe to call from any state."""

    @abstractmethod
    def closed(self) -> bool:
        """Whether the comm is closed (by either side, as far as this side knows)."""

    @property
    def local_address(self) -> str:
        """This end's address, e.g. ``tcp://127.0.0.1:50132``."""
        return self._local_address

    @property
    def peer_address(self) -> str:
        """The other end's address."""
        return self._peer_address

    @contextlib.contextmanager
    def _sole_reader(self):
        """Held by ``read`` while it takes the next message: a second coroutine reading the
        same comm at once would take messages meant for the first, so it is refused."""
        if self._reading:
            raise RuntimeError(f"Another coroutine is already reading from {self!r}; a comm has one reader at a time.")
        self._reading = True
        try:
            yield
        finally:
            self._reading = False

    def apply_handshake(self, local: dict, peer: dict) -> None:
        """Adopt what the two ends agreed: the codec to write with and the peer's size limit."""
        self.peer_info = peer
        self.peer_max_message_size = int(peer["max-message-size"])
        wanted = settings.compression_setting()
        common = [c for c in local["compression"] if c in peer["compression"]]
        self.compression = common[0] if wanted and common else None

    def __repr__(self) -> str:
        state = "closed" if self.closed() else "open"
        return f"<{type(self).__name__} {self.local_address} -> {self.peer_address} ({state})>"

    async def __aenter__(self) -> Comm:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class Listener(ABC):
    """Accepts connections on one address and runs ``handler(comm)`` for each.

    The handler runs as its own task after a successful handshake; when it
    returns the comm is closed, so a handler that keeps using its comm must
    keep running (typically a read loop).  Its exceptions are logged.

    Start it with ``await listener`` (or ``await listener.start()``), or use
    ``async with listen(address, handler) as listener:``; ``await
    listener.stop()`` stops accepting, aborts the comms still being handled
    and waits (bounded) for their handlers to finish.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._comms: set[Comm] = set()
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @abstractmethod
    async def start(self) -> None:
        """Begin accepting connections (bind the socket, register the name)."""

    @abstractmethod
    def _stop_accepting(self) -> None:
        """Refuse new connections (close listening sockets, unregister)."""

    @property
    @abstractmethod
    def listen_address(self) -> str:
        """The address as bound, e.g. ``tcp://0.0.0.0:8786``."""

    @property
    def contact_address(self) -> str:
        """An address other processes can connect to (the bound port filled in)."""
        return self.listen_address

    @property
    def active_comms(self) -> frozenset:
        """The comms whose handlers are running."""
        return frozenset(self._comms)

    def _accept(self, comm: Comm) -> None:
        """Hand a freshly connected comm to a new handler task (on the listener's loop)."""
        task = asyncio.get_running_loop().create_task(self._serve(comm))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, comm: Comm) -> None:
        self._comms.add(comm)
        try:
            try:
                await asyncio.wait_for(handshake(comm), settings.handshake_timeout())
            except HandshakeError as error:
                logger.error("Closing connection from %s to %s: %s", comm.peer_address, self.contact_address, error)
                comm.abort()
                return
            except ProtocolError:
                comm.abort()  # the comm logged what the peer sent
                return
            except Exception as error:  # closed, timed out, or a message that is no handshake
                logger.warning(
                    "Closing connection from %s to %s: no handshake (%s)",
                    comm.peer_address,
                    self.contact_address,
                    f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
                )
                comm.abort()
                return
            try:
                result = self.handler(comm)
                if inspect.isawaitable(result):
                    await result
            except CommClosedError as error:
                logger.debug("Connection from %s closed in handler: %s", comm.peer_address, error)
            except Exception:
                logger.exception("Handler %r failed for connection from %s", self.handler, comm.peer_address)
        finally:
            self._comms.discard(comm)
            if not comm.closed():
                await comm.close()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, abort open comms, and wait up to ``timeout`` s for their handlers."""
        self._stop_accepting()
        for comm in list(self._comms):
            comm.abort()
        me = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not me]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=timeout)

    def __await__(self):
        async def start_and_return() -> Listener:
            await self.start()
            return self

        return start_and_return().__await__()

    async def __aenter__(self) -> Listener:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.listen_address}>"


class Backend(ABC):
    """A transport: how to make one connection and how to listen, for one scheme."""

    @abstractmethod
    async def connect(self, location: str, **connection_args: Any) -> Comm:
        """One connection attempt to ``location`` (no handshake; ``connect`` does that)."""

    @abstractmethod
    def get_listener(self, location: str, handler: Handler, **connection_args: Any) -> Listener:
        """An unstarted listener on ``location``."""


_backends: dict[str, Backend] = {}


def register_backend(scheme: str, backend: Backend) -> None:
    """Make ``scheme://`` addresses use ``backend``."""
    _backends[scheme] = backend


def get_backend(scheme: str) -> Backend:
    """The backend for ``scheme``; ValueError naming the known ones if there is none."""
    try:
        return _backends[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(_backends))
        raise ValueError(f"Unknown comm scheme {scheme!r}; known schemes are {known}.") from None


async def connect(address: str, timeout: float | None = None, **connection_args: Any) -> Comm:
    """A connected, handshaken comm to ``address``.

    Refused or failed attempts are retried with backoff until ``timeout``
    seconds (default ``distributed.comm.timeouts.connect``) have passed, so a
    worker may start before its scheduler; then ``ConnectError`` (an
    ``OSError``) names the address and the last failure.  A handshake that
    shows incompatible peers raises ``ConnectError`` at once.
    ``connection_args`` go to the transport (``ssl_context`` for tls://);
    ``require_encryption=True`` refuses any address but ``tls://`` (ValueError).
    A TLS certificate the other end rejects, or that this end rejects, raises
    ``ConnectError`` at once: retrying cannot fix credentials.
    """
    scheme, location = parse_address(address)
    _check_encryption(address, scheme, connection_args.pop("require_encryption", False))
    backend = get_backend(scheme)
    timeout = settings.connect_timeout() if timeout is None else float(timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.01
    last_error: BaseException | None = None
    opened_then_closed = False  # the last attempt reached a listener that then dropped us
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        comm = None
        try:
            comm = await asyncio.wait_for(backend.connect(location, **connection_args), remaining)
            await asyncio.wait_for(handshake(comm), max(deadline - loop.time(), 0.001))
            return comm
        except HandshakeError as error:
            if comm is not None:
                comm.abort()
            raise ConnectError(f"Could not connect to {address}: {error}", address) from error
        except ssl.SSLError as error:  # certificate refused by either side
            if comm is not None:
                comm.abort()
            raise ConnectError(
                f"Could not connect to {address}: TLS handshake failed ({error}). Check that both ends use "
                "certificates signed by the same CA (Security(tls_ca_file=...)).",
                address,
            ) from error
        except (OSError, TimeoutError) as error:  # refused, reset, unresolvable, timed out
            if comm is not None:
                comm.abort()
            if isinstance(getattr(error, "real_error", None), ssl.SSLError):
                # With TLS 1.3 the server checks our certificate after our side of the
                # handshake is done: its refusal arrives as a closed connection.
                raise ConnectError(
                    f"Could not connect to {address}: the peer refused the TLS connection ({error.real_error}). "
                    "Check that this end presents a certificate signed by the cluster's CA "
                    "(Security(tls_ca_file=..., tls_cert=..., tls_key=...)).",
                    address,
                ) from error
            last_error = error
            opened_then_closed = comm is not None
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 1.0)
    reason = f"{type(last_error).__name__}: {last_error}" if str(last_error) else type(last_error).__name__
    if opened_then_closed and scheme == "tcp":
        # Something listens there but hangs up at once: most often a TLS listener that
        # refuses plain TCP, whose error says nothing of TLS.
        hint = ("Something listens there but closed the connection: if the cluster uses TLS, connect to "
                "its tls:// address with security=Security(...) (or Security.temporary()'s credentials).")
    else:
        hint = ("Is a shoal scheduler or worker listening at that address? Check the host and port, "
                "or allow more time with timeout= or distributed.comm.timeouts.connect.")
    raise ConnectError(f"Could not connect to {address} within {timeout:g} s ({reason}). {hint}",
                       address) from last_error


def listen(address: str, handler: Handler, **connection_args: Any) -> Listener:
    """An unstarted listener on ``address`` calling ``handler(comm)`` per connection.

    ``await listen(...)`` starts it; so does ``async with listen(...)``.  TCP
    binds 127.0.0.1 unless a host is given; port 0 picks a free port (read
    it from ``listener.contact_address``).  ``require_encryption=True``
    refuses any address but ``tls://`` (ValueError).
    """
    scheme, location = parse_address(address)
    _check_encryption(address, scheme, connection_args.pop("require_encryption", False))
    return get_backend(scheme).get_listener(location, handler, **connection_args)


def _check_encryption(address: str, scheme: str, require_encryption: bool) -> None:
    if require_encryption and scheme != "tls":
        raise ValueError(
            f"Encryption is required (Security(require_encryption=True)) but {address!r} is not "
            "encrypted; use a tls:// address."
        )
