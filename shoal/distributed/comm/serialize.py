"""Messages to frames and back: a msgpack header plus out-of-band data frames.

``dumps(msg)`` turns a message -- dicts, lists, tuples, str, int, float, bool,
bytes, None, nested freely -- into a list of frames, and ``loads(frames)``
turns them back.  Values msgpack cannot encode (NumPy arrays, pandas objects,
functions, arbitrary objects) are pickled with protocol 5 (cloudpickle for
functions and classes, and for anything plain pickle cannot do by reference);
their large buffers become **separate frames** that point at the original
memory, so a 100 MB array is never copied into the header.

Frame layout::

    frames[0]  header: msgpack {"version", "objects": [[type name, n buffers], ...],
                                "compression": None | [codec or None per frame]}
    frames[1]  body: the message in msgpack; a pickled value is ExtType(OBJECT, index)
    frames[2:] per pickled object: its pickle stream, then its out-of-band buffers;
               then raw buffers the message itself carried as ``pickle.PickleBuffer``

Why tuples are an extension type: msgpack would turn them into lists, and
task keys such as ``("x", 0)`` must come back as tuples (dict keys included).

>>> import numpy as np
>>> frames = dumps({"op": "data", "key": ("x", 0), "value": np.arange(3)})
>>> msg = loads(frames)
>>> msg["key"], msg["value"].tolist()
(('x', 0), [0, 1, 2])
"""

from __future__ import annotations

import functools
import pickle
import types
from collections.abc import Sequence
from typing import Any

import cloudpickle
import msgpack

from .errors import DeserializationError, MalformedMessageError, SerializationError

try:  # optional: compress large frames when it is installed
    import lz4.block as _lz4_block
except ImportError:  # pragma: no cover - depends on the environment
    _lz4_block = None

__all__ = [
    "dumps",
    "loads",
    "frames_nbytes",
    "available_compressions",
    "FORMAT_VERSION",
]

#: Bumped when the layout above changes; loads refuses other versions.
FORMAT_VERSION = 1

OBJECT_EXT = 1  # a pickled value: data is msgpack(index into header["objects"])
TUPLE_EXT = 2  # a tuple: data is msgpack(list of its items)
BUFFER_EXT = 3  # a raw out-of-band buffer: data is msgpack(frame index)

#: Buffers smaller than this stay inside the pickle stream: a frame of its own
#: costs more (header entry, a write call) than copying a few KiB.
OUT_OF_BAND_MIN_SIZE = 16 * 1024

#: lz4's block format cannot take inputs above ~2.1 GB; such frames go raw.
_LZ4_MAX_INPUT = 0x7E000000
_SAMPLE_SIZE = 10_000

# Types that plain pickle stores by reference (module + name), which fails
# in a process that cannot import them (lambdas, closures, __main__).
_BY_VALUE_TYPES = (types.FunctionType, types.MethodType, functools.partial, type)


def available_compressions() -> list[str]:
    """Codecs this process can decode; exchanged in the handshake.

    >>> isinstance(available_compressions(), list)
    True
    """
    return ["lz4"] if _lz4_block is not None else []


def frames_nbytes(frames: Sequence) -> int:
    """Total size of ``frames`` in bytes.

    >>> frames_nbytes([b"ab", memoryview(b"cde")])
    5
    """
    return sum(f.nbytes if isinstance(f, memoryview) else len(f) for f in frames)


def _as_byte_view(buffer: Any) -> memoryview | bytes:
    """A flat byte view of a contiguous buffer, copying only when it is not contiguous."""
    if isinstance(buffer, bytes):
        return buffer
    view = memoryview(buffer)
    if view.contiguous:
        return view.cast("B") if (view.format != "B" or view.ndim != 1) else view
    return view.tobytes()


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class _Encoder:
    """Collects the pickled objects and raw buffers met while packing one message."""

    def __init__(self) -> None:
        self.objects: list[list] = []  # [type name, number of buffers] per object
        self.object_frames: list = []
        self.raw_buffers: list = []
        # id(obj) -> ExtType, so a value referenced twice is pickled once; the
        # objects themselves are kept alive in ``_seen`` so ids stay unique.
        self._memo: dict[int, msgpack.ExtType] = {}
        self._seen: list = []

    def pack(self, value: Any) -> bytes:
        return msgpack.packb(value, default=self.default, strict_types=True, use_bin_type=True)

    def default(self, obj: Any) -> msgpack.ExtType:
        # Called by msgpack for every value it cannot encode natively (with
        # strict_types: also tuples and subclasses of builtins, which keeps
        # their exact type).
        if type(obj) is tuple:
            return msgpack.ExtType(TUPLE_EXT, self.pack(list(obj)))
        if isinstance(obj, pickle.PickleBuffer):
            self.raw_buffers.append(_as_byte_view(obj))
            return msgpack.ExtType(BUFFER_EXT, msgpack.packb(len(self.raw_buffers) - 1))
        ext = self._memo.get(id(obj))
        if ext is None:
            ext = self._pickle(obj)
            self._memo[id(obj)] = ext
            self._seen.append(obj)
        return ext

    def _pickle(self, obj: Any) -> msgpack.ExtType:
        buffers: list = []

        def keep_out_of_band(buffer: pickle.PickleBuffer) -> bool:
            # Returning a false value sends the buffer out-of-band.
            try:
                view = buffer.raw()
            except BufferError:  # not contiguous: let pickle copy it in-band
                return True
            if view.nbytes < OUT_OF_BAND_MIN_SIZE:
                return True
            buffers.append(view)
            return False

        try:
            if isinstance(obj, _BY_VALUE_TYPES):
                stream = cloudpickle.dumps(obj, protocol=5, buffer_callback=keep_out_of_band)
            else:
                try:
                    stream = pickle.dumps(obj, protocol=5, buffer_callback=keep_out_of_band)
                    by_reference_to_main = b"__main__" in stream
                except Exception:
                    by_reference_to_main = True
                if by_reference_to_main:
                    buffers.clear()
                    stream = cloudpickle.dumps(obj, protocol=5, buffer_callback=keep_out_of_band)
        except Exception as error:
            raise SerializationError(
                f"Could not serialize a value of type {_type_name(obj)}: "
                f"{type(error).__name__}: {error}. Only values that pickle or cloudpickle "
                "can handle may be sent; convert it (e.g. to a NumPy array or a dict) first."
            ) from error
        self.objects.append([_type_name(obj), len(buffers)])
        self.object_frames.append(stream)
        self.object_frames.extend(buffers)
        return msgpack.ExtType(OBJECT_EXT, msgpack.packb(len(self.objects) - 1))


def dumps(msg: Any, *, compression: str | None = None, compression_min_size: int = 64 * 1024) -> list:
    """The frames of ``msg``: ``[header, body, *object and buffer frames]``.

    ``compression="lz4"`` compresses frames of at least ``compression_min_size``
    bytes that compress well (a sample is tried first, so random data costs
    little).  Frames are ``bytes`` or flat ``memoryview`` s; large NumPy buffers
    are views of the array itself, so keep the message alive until sent.

    >>> frames = dumps({"x": 1})
    >>> len(frames), loads(frames)
    (2, {'x': 1})
    """
    encoder = _Encoder()
    try:
        body = encoder.pack(msg)
    except SerializationError as error:
        place = _locate(msg, error)
        if place:
            raise SerializationError(f"{error} (at {place} in the message)") from error.__cause__
        raise
    except (TypeError, ValueError, OverflowError) as error:  # e.g. nesting deeper than msgpack allows
        raise SerializationError(f"Could not serialize message: {type(error).__name__}: {error}") from error
    frames: list = [body, *encoder.object_frames, *encoder.raw_buffers]
    codecs = _compress(frames, compression, compression_min_size) if compression else None
    header = {
        "version": FORMAT_VERSION,
        "objects": encoder.objects,
        "raw-buffers": len(encoder.raw_buffers),
        "compression": codecs,
    }
    return [msgpack.packb(header, use_bin_type=True), *frames]


def _locate(msg: Any, error: SerializationError, limit: int = 100_000) -> str | None:
    """A path like ``['args'][1]`` to the first value that fails to pickle (for the error)."""
    stack = [("", msg)]
    seen = 0
    while stack and seen < limit:
        path, value = stack.pop()
        seen += 1
        if isinstance(value, dict):
            stack.extend((f"{path}[{k!r}]", v) for k, v in reversed(value.items()))
        elif type(value) in (list, tuple):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
        elif type(value) not in (str, bytes, int, float, bool, type(None)):
            try:
                cloudpickle.dumps(value, protocol=5)
            except Exception:
                return path or "the top level"
    return None


def _compress(frames: list, codec: str, min_size: int) -> list | None:
    """Compress eligible frames in place; the codec used per frame, or None if none was."""
    if codec not in ("lz4",):
        raise ValueError(f"Unknown compression {codec!r}; shoal knows 'lz4'.")
    if _lz4_block is None:
        return None
    codecs: list = [None] * len(frames)
    for i, frame in enumerate(frames):
        size = frame.nbytes if isinstance(frame, memoryview) else len(frame)
        if size < min_size or size > _LZ4_MAX_INPUT:
            continue
        view = memoryview(frame)
        # Try a few samples first: incompressible data (random floats, already
        # compressed images) is common and not worth a full pass.
        samples = [view[j : j + _SAMPLE_SIZE] for j in (0, size // 2, max(0, size - _SAMPLE_SIZE))]
        sampled = sum(len(_lz4_block.compress(s, store_size=False)) for s in samples)
        if sampled > 0.9 * sum(s.nbytes for s in samples):
            continue
        compressed = _lz4_block.compress(view)
        if len(compressed) < 0.9 * size:
            frames[i] = compressed
            codecs[i] = "lz4"
    return codecs if any(codecs) else None


def loads(frames: Sequence, *, allow_pickle: bool = True) -> Any:
    """The message that ``dumps`` turned into ``frames``.

    Raises ``MalformedMessageError`` if the frames are not a shoal message
    (the caller should drop the connection), ``DeserializationError`` if one
    pickled value cannot be loaded here (the stream is still in sync).
    ``allow_pickle=False`` refuses messages holding pickled values: unpickling
    runs code, so comms do not unpickle anything before the handshake.

    >>> loads(dumps([1, (2, 3), b"x", None]))
    [1, (2, 3), b'x', None]
    >>> loads([b"junk"])
    Traceback (most recent call last):
    ...
    shoal.distributed.comm.errors.MalformedMessageError: A shoal message has at least 2 frames (header, body); got 1.
    """
    if len(frames) < 2:
        raise MalformedMessageError(
            f"A shoal message has at least 2 frames (header, body); got {len(frames)}."
        )
    header = _read_header(frames[0], len(frames))
    if header["objects"] and not allow_pickle:
        raise MalformedMessageError(
            f"The message holds {len(header['objects'])} pickled value(s), which are not accepted here "
            "(before the handshake only plain msgpack data is)."
        )
    frames = _decompress(list(frames[1:]), header["compression"])
    objects = header["objects"]
    # Where each object's pickle stream starts; its buffers follow it.
    starts = []
    position = 1
    for _, nbuffers in objects:
        starts.append(position)
        position += 1 + nbuffers
    raw_start = position
    loaded: dict[int, Any] = {}

    def unpickle(index: int) -> Any:
        if index in loaded:
            return loaded[index]
        start = starts[index]
        nbuffers = objects[index][1]
        try:
            value = pickle.loads(frames[start], buffers=frames[start + 1 : start + 1 + nbuffers])
        except Exception as error:
            raise DeserializationError(
                f"Could not deserialize a value of type {objects[index][0]}: "
                f"{type(error).__name__}: {error}. Both ends need the same packages "
                "(and versions) installed."
            ) from error
        loaded[index] = value
        return value

    def ext_hook(code: int, data: bytes) -> Any:
        if code == TUPLE_EXT:
            return tuple(_unpack(data, ext_hook))
        index = _unpack(data, None)
        if code == OBJECT_EXT and type(index) is int and 0 <= index < len(objects):
            return unpickle(index)
        if code == BUFFER_EXT and type(index) is int and 0 <= index < header["raw-buffers"]:
            return memoryview(frames[raw_start + index])
        raise MalformedMessageError(f"Invalid extension value (code {code}, data {data[:20]!r}) in message body.")

    return _unpack(frames[0], ext_hook)


def _unpack(data: Any, ext_hook: Any) -> Any:
    kwargs = {"ext_hook": ext_hook} if ext_hook is not None else {}
    try:
        return msgpack.unpackb(data, strict_map_key=False, raw=False, **kwargs)
    except (MalformedMessageError, DeserializationError):
        raise
    except Exception as error:  # msgpack raises several unrelated types on bad input
        raise MalformedMessageError(f"Could not decode message body: {type(error).__name__}: {error}") from error


def _read_header(frame: Any, nframes: int) -> dict:
    try:
        header = msgpack.unpackb(frame, strict_map_key=False, raw=False)
    except Exception as error:
        raise MalformedMessageError(
            f"Could not decode message header: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(header, dict) or header.get("version") != FORMAT_VERSION:
        found = header.get("version") if isinstance(header, dict) else type(header).__name__
        raise MalformedMessageError(
            f"Message header is not shoal message format {FORMAT_VERSION} (found {found!r})."
        )
    objects = header.get("objects")
    raw = header.get("raw-buffers")
    valid = (
        isinstance(objects, list)
        and all(
            isinstance(o, list) and len(o) == 2 and isinstance(o[0], str) and type(o[1]) is int and o[1] >= 0
            for o in objects
        )
        and type(raw) is int
        and raw >= 0
    )
    if not valid:
        raise MalformedMessageError("Message header has an invalid 'objects' or 'raw-buffers' entry.")
    expected = 2 + sum(1 + n for _, n in objects) + raw
    if expected != nframes:
        raise MalformedMessageError(f"Message header describes {expected} frames but {nframes} arrived.")
    codecs = header.get("compression")
    if codecs is not None and (not isinstance(codecs, list) or len(codecs) != nframes - 1):
        raise MalformedMessageError("Message header has an invalid 'compression' entry.")
    return header


def _decompress(frames: list, codecs: list | None) -> list:
    if codecs is None:
        return frames
    for i, codec in enumerate(codecs):
        if codec is None:
            continue
        if codec != "lz4":
            raise MalformedMessageError(f"Frame {i + 1} is compressed with unknown codec {codec!r}.")
        if _lz4_block is None:
            raise MalformedMessageError(
                "The peer sent lz4-compressed frames but lz4 is not installed here; "
                "install lz4 or set distributed.comm.compression to None on the sender."
            )
        try:
            # A bytearray keeps arrays built on it writable, like TCP-received data.
            frames[i] = _lz4_block.decompress(frames[i], return_bytearray=True)
        except Exception as error:
            raise MalformedMessageError(f"Could not decompress frame {i + 1}: {error}") from error
    return frames
