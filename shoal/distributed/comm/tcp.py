"""TCP comms on tornado's ``IOStream``: ``tcp://host:port``.

Wire format of one message (all integers unsigned 64-bit little-endian)::

    nframes | length of frame 0 | ... | length of frame n-1 | frame 0 | ... | frame n-1

The frames are those of :func:`.serialize.dumps`.  The reader checks the
announced sizes *before* allocating anything: fewer than 2 frames, more than
``MAX_FRAMES``, or a total above the reader's ``max_message_size`` means the
peer is broken or not shoal at all, and closes that connection only (the
listener keeps serving everyone else).  Until the handshake completes, the
limit is ``HANDSHAKE_MAX_MESSAGE_SIZE``, so an unauthenticated stranger cannot
make a server allocate gigabytes.

Large frames are read straight into their own ``bytearray`` (arrays built on
them are writable, and freeing one array frees its memory) and written from
the caller's buffers without copying.

``tls://host:port`` is the same protocol inside TLS: both backends are this
module's classes, the tls one requiring an ``ssl_context`` (built by
:class:`shoal.distributed.security.Security`).  A peer that fails the TLS
handshake (no certificate, one from another CA, plain TCP) is logged and
dropped before any shoal message is read; the listener keeps serving.  The
tcp backend ignores ``ssl_context``, so ``tcp://`` never silently means TLS.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import struct
from typing import Any

try:
    import numpy as _numpy
except ImportError:  # pragma: no cover - numpy is a dependency, but comms do not need it
    _numpy = None
from tornado.iostream import IOStream, StreamClosedError
from tornado.netutil import bind_sockets
from tornado.tcpclient import TCPClient
from tornado.tcpserver import TCPServer

from . import settings
from .addressing import parse_host_port, unparse_address, unparse_host_port
from .core import Backend, Comm, Handler, Listener, register_backend
from .errors import CommClosedError, MalformedMessageError, MessageTooLargeError, ProtocolError
from .serialize import dumps, loads
from .sizes import format_bytes

__all__ = ["TCPComm", "TCPListener", "TCPBackend", "TLSBackend", "frame_prefix", "HANDSHAKE_MAX_MESSAGE_SIZE", "MAX_FRAMES"]

logger = logging.getLogger("shoal.distributed.comm")

DEFAULT_HOST = "127.0.0.1"
#: Read limit before the handshake completes.
HANDSHAKE_MAX_MESSAGE_SIZE = 1 << 20
#: No real message has this many frames; more means garbage.
MAX_FRAMES = 1 << 22
#: Messages up to this size are read with one call into one buffer, and
#: written with one call: fewer awaits is what small-message latency is made of.
SMALL_MESSAGE_SIZE = 64 * 1024

_U64 = struct.Struct("<Q")


def _allocate(nbytes: int) -> memoryview:
    """A writable buffer for one large frame.

    NumPy's ``empty`` leaves pages untouched until the socket fills them;
    ``bytearray(n)`` would zero them first, a second pass over every byte.
    """
    if _numpy is not None:
        return memoryview(_numpy.empty(nbytes, dtype=_numpy.uint8))
    return memoryview(bytearray(nbytes))


def frame_prefix(lengths: list[int]) -> bytes:
    """The bytes that precede frames of ``lengths`` on the wire.

    >>> frame_prefix([3, 4]).hex()
    '020000000000000003000000000000000400000000000000'
    """
    return struct.pack(f"<{len(lengths) + 1}Q", len(lengths), *lengths)


def _address(sockaddr: Any, scheme: str = "tcp") -> str:
    return unparse_address(scheme, unparse_host_port(sockaddr[0], sockaddr[1]))


def detect_dead_peer(sock: socket.socket, timeout: float | None) -> None:
    """Make the kernel close ``sock`` when its peer has been silent for about ``timeout`` s.

    An idle connection sends keepalive probes (the first after half the timeout,
    then three more spread over the rest); data we sent that stays unacknowledged
    for ``timeout`` s ends the connection too (``TCP_USER_TIMEOUT``, Linux). Either
    way the next read or write fails, so a worker behind a pulled cable starts
    reconnecting and a client stops waiting, instead of after ~15 minutes.

    >>> s = socket.socket()
    >>> detect_dead_peer(s, 30.0)
    >>> s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0
    True
    >>> s.close()
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if not timeout:
        return
    probes = 3
    idle = max(1, int(timeout / 2))
    interval = max(1, int((timeout - idle) / probes))
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", probes),
                        ("TCP_USER_TIMEOUT", int(timeout * 1000))):
        option = getattr(socket, name, None)
        if option is not None:  # not every platform has every option
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _configure(stream: IOStream) -> None:
    stream.set_nodelay(True)  # small messages must not wait for Nagle's algorithm
    sock = stream.socket
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        detect_dead_peer(sock, settings.dead_peer_timeout())
    # The read_into target counts against tornado's buffer limit, so it must
    # allow the largest message we accept (our own check comes first).
    stream.max_buffer_size = max(settings.max_message_size(), 8 * MAX_FRAMES) + (1 << 20)


class TCPComm(Comm):
    """A comm over one TCP connection."""

    def __init__(self, stream: IOStream, local_address: str, peer_address: str) -> None:
        super().__init__(local_address, peer_address)
        self._stream: IOStream | None = stream
        self._close_reason: BaseException | None = None  # what tornado saw when the stream closed (e.g. a TLS alert)
        self.max_message_size = HANDSHAKE_MAX_MESSAGE_SIZE
        self._compression_min_size = settings.compression_min_size()
        stream.set_close_callback(self._on_stream_closed)

    def apply_handshake(self, local: dict, peer: dict) -> None:
        super().apply_handshake(local, peer)
        self.max_message_size = int(local["max-message-size"])
        if self._stream is not None:
            self._stream.max_buffer_size = max(self._stream.max_buffer_size, self.max_message_size + (1 << 20))

    def _on_stream_closed(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None and stream.error is not None:
            self._close_reason = stream.error

    def closed(self) -> bool:
        return self._stream is None or self._stream.closed()

    def _closed_error(self, doing: str, cause: BaseException | None = None) -> CommClosedError:
        detail = getattr(cause, "real_error", None) if cause is not None else None
        detail = detail or self._close_reason
        why = f": {detail}" if detail else ""
        error = CommClosedError(f"Connection {self._local_address} -> {self._peer_address} is closed ({doing}){why}.")
        # connect() looks here to tell a refused certificate (final) from a flaky network (retried).
        error.real_error = detail
        return error

    def _protocol_violation(self, reason: str) -> ProtocolError:
        message = f"Closing connection from {self._peer_address} (to {self._local_address}): {reason}"
        logger.error(message)
        self.abort()
        return ProtocolError(message)

    async def read(self) -> Any:
        stream = self._stream
        if stream is None or stream.closed():
            raise self._closed_error("reading")
        with self._sole_reader():
            try:
                frames = await self._read_frames(stream)
            except StreamClosedError as error:
                self._stream = None
                raise self._closed_error("reading", error) from error
            try:
                # Nothing is unpickled before the handshake: unpickling runs code.
                return loads(frames, allow_pickle=bool(self.peer_info))
            except MalformedMessageError as error:
                raise self._protocol_violation(f"malformed message: {error}") from error

    async def _read_frames(self, stream: IOStream) -> list:
        (nframes,) = _U64.unpack(await stream.read_bytes(8))
        limit = self.max_message_size
        if not 2 <= nframes <= MAX_FRAMES or 8 * nframes > limit:
            raise self._protocol_violation(
                f"the message announces {nframes} frames (a shoal message has 2 to "
                f"{min(MAX_FRAMES, limit // 8)}); is a non-shoal program connecting to this port?"
            )
        lengths = struct.unpack(f"<{nframes}Q", await stream.read_bytes(8 * nframes))
        total = sum(lengths)
        if total > limit:
            limit_name = (
                "the limit before the handshake"
                if limit == HANDSHAKE_MAX_MESSAGE_SIZE and not self.peer_info
                else "distributed.comm.max-message-size"
            )
            raise self._protocol_violation(
                f"the message announces {format_bytes(total)}, more than {limit_name} "
                f"({format_bytes(limit)}). Raise the limit on both ends, or send less per message."
            )
        if total <= SMALL_MESSAGE_SIZE:
            buffer = memoryview(bytearray(total))
            if total:
                await stream.read_into(buffer)
            frames = []
            offset = 0
            for length in lengths:
                frames.append(buffer[offset : offset + length])
                offset += length
            return frames
        frames = []
        for length in lengths:
            frame = _allocate(length)
            if length:
                await stream.read_into(frame)
            frames.append(frame)
        return frames

    async def write(self, msg: Any) -> int:
        stream = self._stream
        if stream is None or stream.closed():
            raise self._closed_error("writing")
        frames = dumps(msg, compression=self.compression, compression_min_size=self._compression_min_size)
        lengths = [f.nbytes if isinstance(f, memoryview) else len(f) for f in frames]
        total = sum(lengths)
        if total > self.peer_max_message_size:
            raise MessageTooLargeError(
                f"A message of {format_bytes(total)} is larger than the {format_bytes(self.peer_max_message_size)} "
                f"that {self._peer_address} accepts (its distributed.comm.max-message-size); nothing was sent. "
                "Send the data in smaller pieces, or raise the limit on both ends."
            )
        prefix = frame_prefix(lengths)
        try:
            # All writes of one message are queued without awaiting in between,
            # so concurrent writers cannot interleave their frames.
            if total <= SMALL_MESSAGE_SIZE:
                future = stream.write(b"".join([prefix, *frames]))
            else:
                future = stream.write(prefix)
                for frame, length in zip(frames, lengths):
                    if length:
                        future = stream.write(frame)
            if not future.done():  # small writes usually reach the kernel at once
                await self._wait_flushed(stream, future, total)
        except StreamClosedError as error:
            self._stream = None
            raise self._closed_error("writing", error) from error
        return len(prefix) + total

    async def _wait_flushed(self, stream: IOStream, future: Any, nbytes: int) -> None:
        """Await ``future`` (a write); abort if the peer reads nothing for the write-stall timeout.

        Progress is what counts, not total time: a slow link that keeps taking
        bytes never trips this, a peer that stopped reading does.
        """
        timeout = settings.write_stall_timeout()
        if timeout is None:
            await future
            return
        while True:
            done_before = getattr(stream, "_total_write_done_index", None)  # bytes the kernel has taken
            try:
                await asyncio.wait_for(asyncio.shield(future), timeout)
                return
            except TimeoutError:
                if done_before is not None and getattr(stream, "_total_write_done_index", None) != done_before:
                    continue  # slow but moving
            message = (f"Closing connection to {self._peer_address} (from {self._local_address}): it has read "
                       f"nothing for {timeout:g} s while a message of {format_bytes(nbytes)} waits to be sent "
                       "(a peer that stopped reading; see distributed.comm.timeouts.write-stall)")
            logger.warning(message)
            # The write fails when the stream closes; nothing awaits it any more.
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self.abort()
            raise CommClosedError(message)

    async def close(self) -> None:
        """Close the connection.

        Every awaited ``write`` has already reached the kernel, so the peer
        reads those messages before it sees the close; bytes of a write still
        in progress in another coroutine are dropped.
        """
        self.abort()

    def abort(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None and not stream.closed():
            stream.close()


class _Server(TCPServer):
    def __init__(self, listener: TCPListener, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listener = listener

    async def handle_stream(self, stream: IOStream, address: Any) -> None:
        scheme = self._listener.scheme
        if scheme == "tls":
            try:
                await asyncio.wait_for(stream.wait_for_handshake(), settings.handshake_timeout())
            except (StreamClosedError, ssl.SSLError, OSError, TimeoutError) as error:
                reason = getattr(error, "real_error", None) or error
                logger.warning("Refused TLS connection from %s to %s: TLS handshake failed (%s)",
                               _address(address, scheme), self._listener.contact_address,
                               f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__)
                stream.close()
                return
        try:
            _configure(stream)
            comm = TCPComm(stream, _address(stream.socket.getsockname(), scheme), _address(address, scheme))
        except OSError as error:  # the peer left before we got its address
            logger.debug("Incoming connection from %s closed immediately: %s", address, error)
            stream.close()
            return
        self._listener._accept(comm)


class TCPListener(Listener):
    """Listens on ``host:port`` (host defaults to 127.0.0.1, port 0 picks a free one)."""

    def __init__(self, location: str, handler: Handler, ssl_context: Any = None, scheme: str = "tcp") -> None:
        super().__init__(handler)
        self.scheme = scheme
        host, port = parse_host_port(location, default_port=0)
        self.host = host or DEFAULT_HOST
        self.port = port
        self._ssl_context = ssl_context
        self._server: _Server | None = None

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{self!r} is already started.")
        try:
            sockets = bind_sockets(self.port, address=self.host)
        except OSError as error:
            raise OSError(
                error.errno,
                f"Could not listen on {self.scheme}://{unparse_host_port(self.host, self.port)}: {error.strerror or error}. "
                "Is another process using that port? Use port 0 to pick a free one.",
            ) from error
        self.port = sockets[0].getsockname()[1]
        self._server = _Server(self, ssl_options=self._ssl_context)
        self._server.add_sockets(sockets)

    def _stop_accepting(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def listen_address(self) -> str:
        return unparse_address(self.scheme, unparse_host_port(self.host, self.port))

    @property
    def contact_address(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            # Bound to every interface: give a concrete one to contact.
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:
                host = DEFAULT_HOST
        return unparse_address(self.scheme, unparse_host_port(host, self.port))


class TCPBackend(Backend):
    """``tcp://``: plain TCP (any ``ssl_context`` is ignored)."""

    scheme = "tcp"

    def _ssl_context(self, ssl_context: Any) -> Any:
        return None

    async def connect(self, location: str, ssl_context: Any = None, **_: Any) -> Comm:
        scheme = self.scheme
        ssl_context = self._ssl_context(ssl_context)
        host, port = parse_host_port(location)
        try:
            stream = await TCPClient().connect(host, port, ssl_options=ssl_context)
        except StreamClosedError as error:
            # Tornado wraps the real reason (refused, unreachable) in a generic error.
            raise (error.real_error or ConnectionRefusedError(f"{scheme}://{location} closed the connection")) from None
        try:
            _configure(stream)
            local, peer = stream.socket.getsockname(), stream.socket.getpeername()
        except (OSError, AttributeError) as error:
            stream.close()
            raise ConnectionResetError(f"Connection to {scheme}://{location} closed right after opening: {error}") from error
        return TCPComm(stream, _address(local, scheme), _address(peer, scheme))

    def get_listener(self, location: str, handler: Handler, ssl_context: Any = None, **_: Any) -> Listener:
        return TCPListener(location, handler, ssl_context=self._ssl_context(ssl_context), scheme=self.scheme)


class TLSBackend(TCPBackend):
    """``tls://``: the tcp protocol inside TLS; needs an ``ssl_context`` (see ``Security``)."""

    scheme = "tls"

    def _ssl_context(self, ssl_context: Any) -> Any:
        if not isinstance(ssl_context, ssl.SSLContext):
            raise ValueError("tls:// addresses need TLS credentials: pass security=Security(tls_ca_file=..., "
                             "tls_cert=..., tls_key=...) (or Security.temporary()) to the Scheduler, Worker, "
                             f"Client or LocalCluster, or ssl_context= to connect/listen (got {ssl_context!r}).")
        return ssl_context


register_backend("tcp", TCPBackend())
register_backend("tls", TLSBackend())
