"""Which groupby aggregations the tree reduction can split, and the ``(column, func)`` pairs a request asks for.

``PARTIALS`` names the per-partition partials of every splittable aggregation
(the table in ``groupby.py``'s docstring); ``normalize_spec`` turns a
function name, a list, a dict or named aggregations into pairs, in pandas'
output order, and raises ``NotImplementedError`` for a function that cannot
be split (``groupby`` then runs it on whole groups after a shuffle).

>>> normalize_spec(["sum", "mean"], {}, None, ["x", "y"], series=False)
[('x', 'sum'), ('x', 'mean'), ('y', 'sum'), ('y', 'mean')]
"""

from __future__ import annotations

from typing import Any

__all__ = ["PARTIALS", "SUPPORTED", "normalize_spec", "_MERGE"]

#: partials each aggregation needs
PARTIALS = {
    "sum": ("sum",), "count": ("count",), "size": ("size",), "min": ("min",), "max": ("max",),
    "prod": ("prod",), "first": ("first",), "last": ("last",), "mean": ("sum", "count"),
    "var": ("count", "mean", "m2"), "std": ("count", "mean", "m2"), "nunique": ("distinct",),
}
_MERGE = {"sum": "sum", "count": "sum", "size": "sum", "min": "min", "max": "max", "prod": "prod",
          "first": "first", "last": "last"}
SUPPORTED = sorted(PARTIALS)


def _check_func(func: Any) -> str:
    name = getattr(func, "__name__", func) if not isinstance(func, str) else func
    name = {"amin": "min", "amax": "max", "nanmean": "mean", "nansum": "sum"}.get(name, name)
    if name not in PARTIALS:
        raise NotImplementedError(
            f"groupby aggregation {func!r} is not supported as a tree reduction; the supported ones are "
            f"{SUPPORTED}; agg() runs other functions on whole groups after a shuffle, and groupby().apply "
            "takes any function."
        )
    return name


def normalize_spec(arg, named: dict, selection, value_columns: list, series: bool) -> list[tuple[str, str]]:
    """The ``(column, func)`` pairs to compute, in pandas' output order."""
    if named:
        out = []
        for label, pair in named.items():
            if series:
                out.append((selection, _check_func(pair)))
            else:
                if not (isinstance(pair, tuple) and len(pair) == 2):
                    raise TypeError(f"named aggregation {label}=... must be a (column, func) pair, got {pair!r}")
                out.append((pair[0], _check_func(pair[1])))
        return out
    if isinstance(arg, dict):
        out = []
        for col, funcs in arg.items():
            for f in funcs if isinstance(funcs, (list, tuple)) else [funcs]:
                out.append((col, _check_func(f)))
        return out
    funcs = arg if isinstance(arg, (list, tuple)) else [arg]
    if series:
        return [(selection, _check_func(f)) for f in funcs]
    return [(col, _check_func(f)) for col in value_columns for f in funcs]
