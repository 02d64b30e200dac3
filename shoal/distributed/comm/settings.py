"""The ``distributed.comm`` config section: defaults and typed readers.

Registered with :func:`shoal.config.update_defaults` on import, so
``SHOAL_DISTRIBUTED__COMM__MAX_MESSAGE_SIZE=1GiB`` or
``shoal.config.set({"distributed.comm.max-message-size": "1GiB"})`` work.
"""

from __future__ import annotations

from shoal import config

from .sizes import parse_bytes

__all__ = [
    "DEFAULTS",
    "max_message_size",
    "compression_setting",
    "compression_min_size",
    "connect_timeout",
    "handshake_timeout",
    "write_stall_timeout",
    "dead_peer_timeout",
    "default_scheme",
    "inproc_serializes",
]

DEFAULTS = {
    "distributed": {
        "comm": {
            # Largest message (all frames together) a comm accepts; bigger ones
            # close the connection that sent them.
            "max-message-size": "2 GiB",
            # "auto": lz4 when both ends have it installed; None/False: never.
            "compression": "auto",
            # Frames smaller than this are never compressed: not worth the CPU.
            "compression-min-size": "64 KiB",
            "default-scheme": "tcp",
            # write-stall: a peer that accepts no byte of a pending message for this
            # long has stopped reading (hung, or hostile); its connection is closed
            # so that what we queue for it cannot grow without bound. None: never.
            # tcp: a peer that acknowledges nothing for this long (a pulled cable, a
            # host gone without a word) is taken as gone and its connection closed,
            # instead of after the kernel's ~15 minutes of retransmissions.
            # Applies to TCP and TLS connections (Linux; elsewhere keepalive only).
            "timeouts": {"connect": 30, "handshake": 10, "write-stall": 300, "tcp": 30},
            # TLS credentials used when no security= is given (SHOAL_DISTRIBUTED__COMM__TLS__CA_FILE=...):
            # a CA file, one certificate/key for every role or one per role.
            "tls": {
                "ca-file": None, "cert": None, "key": None,
                "scheduler": {"cert": None, "key": None},
                "worker": {"cert": None, "key": None},
                "client": {"cert": None, "key": None},
            },
            # Refuse every address but tls:// (listen and connect).
            "require-encryption": False,
            # Pass inproc messages through dumps/loads, to catch unserializable
            # values in fast tests; off by default (inproc hands objects over).
            "inproc": {"serialize": False},
        }
    }
}

config.update_defaults(DEFAULTS)


def max_message_size() -> int:
    """``distributed.comm.max-message-size`` in bytes."""
    return parse_bytes(config.get("distributed.comm.max-message-size"))


def compression_setting() -> str | None:
    """``"auto"``, ``"lz4"`` or ``None`` (compression off)."""
    value = config.get("distributed.comm.compression")
    if value in (None, False, "none", "None", ""):
        return None
    if value not in ("auto", "lz4"):
        raise ValueError(
            f"distributed.comm.compression is {value!r}; use 'auto', 'lz4' or None."
        )
    return value


def compression_min_size() -> int:
    return parse_bytes(config.get("distributed.comm.compression-min-size"))


def connect_timeout() -> float:
    return float(config.get("distributed.comm.timeouts.connect"))


def handshake_timeout() -> float:
    return float(config.get("distributed.comm.timeouts.handshake"))


def write_stall_timeout() -> float | None:
    """``distributed.comm.timeouts.write-stall`` in seconds, or None (no limit)."""
    value = config.get("distributed.comm.timeouts.write-stall")
    return None if value in (None, False, 0) else float(value)


def dead_peer_timeout() -> float | None:
    """``distributed.comm.timeouts.tcp`` in seconds, or None (leave it to the kernel)."""
    value = config.get("distributed.comm.timeouts.tcp")
    return None if value in (None, False, 0) else float(value)


def default_scheme() -> str:
    return config.get("distributed.comm.default-scheme")


def inproc_serializes() -> bool:
    return bool(config.get("distributed.comm.inproc.serialize"))
