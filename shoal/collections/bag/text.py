"""The ``.str`` accessor: Python's string methods for every element of a bag.

``b.str.lower()`` is ``b.map(str.lower)`` written the pandas way; any
method of ``str`` works (``split``, ``strip``, ``startswith``, ...), and
``match(pattern)`` keeps the elements that match a glob pattern, as
``fnmatch`` does.

>>> from shoal.collections.bag import from_sequence
>>> b = from_sequence([" Alice ", "bob", " Ann"], npartitions=2)
>>> b.str.strip().str.lower().compute(scheduler="sync")
['alice', 'bob', 'ann']
>>> b.str.strip().str.match("A*").compute(scheduler="sync")
['Alice', 'Ann']
"""

from __future__ import annotations

import fnmatch
import operator
import re
from dataclasses import dataclass

__all__ = ["StringAccessor"]


@dataclass(frozen=True)
class GlobMatch:
    """True for strings matching a compiled glob pattern (case-sensitive, like ``fnmatchcase``)."""

    pattern: str

    def __call__(self, text: str) -> bool:
        return _compiled(self.pattern).match(text) is not None


_patterns: dict = {}


def _compiled(pattern: str):
    compiled = _patterns.get(pattern)
    if compiled is None:
        compiled = _patterns[pattern] = re.compile(fnmatch.translate(pattern))
    return compiled


class StringAccessor:
    """String methods applied to every element of a bag."""

    def __init__(self, bag):
        self._bag = bag

    def __dir__(self):
        return sorted(set(dir(type(self))) | {n for n in dir(str) if not n.startswith("_")})

    def __getattr__(self, name: str):
        if name.startswith("_") or not hasattr(str, name):
            raise AttributeError(
                f"'.str' has no method {name!r}; it offers the methods of Python's str (and match)"
            )

        def method(*args, **kwargs):
            return self._bag.map(operator.methodcaller(name, *args, **kwargs))

        method.__name__ = name
        method.__doc__ = f"``x.{name}(...)`` for every element ``x``: see ``str.{name}``."
        return method

    def match(self, pattern: str):
        """The elements that match the glob ``pattern`` (``*``, ``?``, ``[abc]``)."""
        return self._bag.filter(GlobMatch(pattern))
