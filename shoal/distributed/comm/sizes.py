"""Byte sizes written for people: ``parse_bytes("2 GiB")`` and ``format_bytes(n)``."""

from __future__ import annotations

import re

__all__ = ["parse_bytes", "format_bytes"]

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_bytes(value: int | float | str) -> int:
    """A number of bytes from an int or a string such as ``"64 MiB"`` or ``"1.5GB"``.

    >>> parse_bytes("2 GiB"), parse_bytes("1kB"), parse_bytes(512)
    (2147483648, 1000, 512)
    >>> parse_bytes("lots")
    Traceback (most recent call last):
    ...
    ValueError: Could not read 'lots' as a byte size; write e.g. 2147483648, '2 GiB' or '500 MB'.
    """
    if isinstance(value, bool):
        raise ValueError(f"Could not read {value!r} as a byte size; write e.g. 2147483648, '2 GiB' or '500 MB'.")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"A byte size must not be negative, got {value!r}.")
        return int(value)
    match = _SIZE.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"Could not read {value!r} as a byte size; write e.g. 2147483648, '2 GiB' or '500 MB'.")
    return int(float(match.group(1)) * _UNITS[unit])


def format_bytes(n: int) -> str:
    """A short binary-unit spelling of ``n`` bytes.

    >>> format_bytes(2**31), format_bytes(1536), format_bytes(12)
    ('2.00 GiB', '1.50 KiB', '12 B')
    """
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"
