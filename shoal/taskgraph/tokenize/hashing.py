"""From a normalized tree to text and digests.

``normalize_token`` builds a tree of primitives and tagged tuples; this module
turns such a tree into stable text and hashes it, and hashes the large byte
payloads (long strings, arrays, pickles) that normalizers replace by a digest
so the final text stays small.

>>> stable_repr(("list", 1, "1"))
"('list', 1, '1')"
>>> len(content_digest(b"abc")), len(tree_digest(("tuple", 1)))
(40, 32)
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["stable_repr", "content_digest", "tree_digest"]


def stable_repr(tree: Any) -> str:
    """The stable text of a normalized tree.

    ``repr`` of primitives is deterministic and fast (it is C code), and it
    quotes strings, so ``1`` and ``"1"`` differ.
    """
    try:
        return repr(tree)
    except ValueError:  # an int too long for repr (sys.get_int_max_str_digits)
        return repr(_hex_big_ints(tree))


def _hex_big_ints(tree: Any) -> Any:
    if type(tree) is tuple:
        return tuple(map(_hex_big_ints, tree))
    if type(tree) is int:
        return ("int", hex(tree))
    return tree


def content_digest(data) -> str:
    """Hex SHA-1 of a bytes-like payload (bytes, a contiguous buffer or array view)."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def tree_digest(tree: Any) -> str:
    """The 32-hex-character token of a normalized tree."""
    text = stable_repr(tree)
    return hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()
