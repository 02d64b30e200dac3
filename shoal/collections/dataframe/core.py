"""The collections: ``DataFrame``, ``Series``, ``Index`` and ``Scalar``.

Each is a thin wrapper around an immutable ``FrameExpr``; every method builds
a new expression and wraps it with ``new_collection``, which picks the class
from the expression's meta. Nothing is computed until ``compute()``.

>>> import pandas as pd
>>> from shoal.collections.dataframe.io.pandas import from_pandas
>>> pdf = pd.DataFrame({"x": range(6), "y": list("abcabc")})
>>> df = from_pandas(pdf, npartitions=2)
>>> df.npartitions, df.divisions
(2, (0, 3, 5))
>>> int((df.x + 1).sum().compute(scheduler="sync")) == int((pdf.x + 1).sum())
True
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
import pandas as pd

from ... import config
from ...taskgraph.expr.rewrite import optimize as _optimize_plan
from .expr import (
    Elemwise, FrameExpr, FromValues, IndexOf, MapPartitions, Method, Partitions, blockwise_groups, fused_graph,
    is_scalar_expr,
)
from .frame_reductions import ReductionMethods
from .meta import make_meta

__all__ = ["DataFrame", "Series", "Index", "Scalar", "new_collection", "map_partitions"]

config.update_defaults({"dataframe": {"optimize": True, "blocksize": 64 * 2**20, "split-every": 8}})


def _concat(parts: list):
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], pd.Index):
        return parts[0].append(list(parts[1:]))
    nonempty = [p for p in parts if len(p)] or parts[:1]
    return pd.concat(_unify_categories(nonempty))


def _unify_categories(parts: list) -> list:
    """Parts whose categorical columns share one set of categories, so concatenating keeps them categorical.

    Partitions made categorical separately (``astype('category')``) each know
    only their own values; pandas would turn the mix into plain values. The
    union is sorted, as ``astype('category')`` on the whole data would sort.
    """
    first = parts[0]
    if isinstance(first, pd.Series):
        columns = [None] if isinstance(first.dtype, pd.CategoricalDtype) else []
    elif isinstance(first, pd.DataFrame):
        columns = [c for c, dt in first.dtypes.items() if isinstance(dt, pd.CategoricalDtype)]
    else:
        return parts
    for column in columns:
        get = (lambda p: p) if column is None else (lambda p, c=column: p[c])
        dtypes = [get(p).dtype for p in parts]
        if not all(isinstance(d, pd.CategoricalDtype) for d in dtypes) or all(d == dtypes[0] for d in dtypes):
            continue
        union = pd.api.types.union_categoricals([get(p).array for p in parts], sort_categories=not dtypes[0].ordered,
                                               ignore_order=True)
        dtype = pd.CategoricalDtype(union.categories, ordered=dtypes[0].ordered)
        if column is None:
            parts = [p.astype(dtype) for p in parts]
        else:
            parts = [p.astype({column: dtype}) for p in parts]
    return parts


def _first(results):
    return results[0]


def _rebuild_frame(results: dict, keys: list, divisions: tuple, meta: Any):
    return new_collection(FromValues(tuple(results[k] for k in keys), divisions, meta))


class _Collection:
    """What every dataframe collection shares: the protocol, compute, persist, explain."""

    __shoal_scheduler__ = "threads"

    def __init__(self, expr: FrameExpr):
        self._expr = expr

    @property
    def expr(self) -> FrameExpr:
        return self._expr

    @property
    def _meta(self):
        return self._expr._meta

    # ------------------------------------------------------------------ protocol
    def _plan(self) -> FrameExpr:
        if config.get("dataframe.optimize", True):
            return _optimize_plan(self._expr)
        return self._expr

    def __shoal_graph__(self) -> dict:
        return fused_graph(self._plan())

    def __shoal_keys__(self) -> list:
        return self._plan()._keys()

    def __shoal_postcompute__(self):
        return _concat, ()

    def __shoal_postpersist__(self):
        return _rebuild_frame, (self._plan()._keys(), self.divisions, self._meta)

    def __shoal_tokenize__(self):
        return (type(self).__name__, self._expr._name)

    def compute(self, **kwargs):
        from ...base import compute

        (result,) = compute(self, **kwargs)
        return result

    def persist(self, **kwargs):
        from ...base import persist

        (result,) = persist(self, **kwargs)
        return result

    def optimize(self):
        """The same collection over its optimized plan."""
        return new_collection(_optimize_plan(self._expr))

    def explain(self, file=None) -> None:
        """Print the logical plan, then the optimized physical plan with its stages and fused tasks."""
        print(self.explain_text(), file=file)

    def explain_text(self) -> str:
        plan = _optimize_plan(self._expr)
        lines = ["== Logical plan ==", self._expr.tree_repr(), plan.explain_text(optimize=False).replace(
            "Plan (not optimized)", "Optimized plan", 1)]
        groups = blockwise_groups(plan)
        if groups:
            lines.append("== Fused tasks (one task per partition each) ==")
            for group in groups.values():
                lines.append("  " + " -> ".join(type(n).__name__ for n in group))
        return "\n".join(lines)

    def __dask_graph__(self):  # pragma: no cover - not a Dask collection; keep Dask from guessing
        return None

    @property
    def divisions(self) -> tuple:
        return self._expr.divisions

    @property
    def npartitions(self) -> int:
        return self._expr.npartitions

    @property
    def known_divisions(self) -> bool:
        return len(self.divisions) > 0 and self.divisions[0] is not None

    @property
    def partitioning(self):
        return self._expr.partitioning

    @property
    def _name(self) -> str:
        return self._expr._name


class Scalar(_Collection):
    """One value computed from a collection (the result of a reduction)."""

    def __shoal_postcompute__(self):
        return _first, ()

    def __shoal_postpersist__(self):
        return _rebuild_scalar, (self._plan()._keys()[0], self._meta)

    @property
    def dtype(self):
        return getattr(self._meta, "dtype", type(self._meta))

    def __repr__(self) -> str:
        return f"shoal.Scalar<{self._expr._funcname}, dtype={self.dtype}>"

    def __bool__(self):
        raise TypeError("The truth value of a shoal Scalar is not known until computed; call .compute() first")

    def _binary(self, op, other, reverse=False):
        args = (other, self) if reverse else (self, other)
        return elemwise(op, *args)


def _rebuild_scalar(results, key, meta):
    value = results[key]
    return new_collection(_ScalarValue(value, meta))


class _ScalarValue(FrameExpr):
    _parameters = ["value", "meta"]
    _is_scalar = True

    def _compute_meta(self):
        return self.meta

    def _compute_divisions(self):
        return (None, None)

    def _task(self, index):
        from ...taskgraph.core import DataNode

        return DataNode(self._key(0), self.value)


def _unwrap(arg):
    return arg._expr if isinstance(arg, _Collection) else arg


def elemwise(op: Callable, *args) -> _Collection:
    """``op(*args)`` partition by partition; frames must share their partitioning."""
    exprs = [_unwrap(a) for a in args]
    frames = [e for e in exprs if isinstance(e, FrameExpr) and not is_scalar_expr(e)]
    if len(frames) > 1:
        first = frames[0].partitioning
        for other in frames[1:]:
            if not first.aligns_with(other.partitioning):
                raise ValueError(
                    f"Cannot combine collections partition by partition: they are partitioned differently "
                    f"({frames[0].npartitions} partitions with divisions {_short(first.divisions)} vs "
                    f"{other.npartitions} with {_short(other.partitioning.divisions)}). Give both the same "
                    "partitioning first, e.g. b = b.repartition(divisions=a.divisions) (needs known divisions: "
                    "from_pandas(..., sort=True) or set_index), or compute one side. Full index alignment "
                    "arrives with shuffles (shoal.dataframe part 2)."
                )
    for e in exprs:
        if isinstance(e, (pd.DataFrame, pd.Series)) and frames:
            if isinstance(e, pd.Series) and isinstance(frames[0]._meta, pd.DataFrame) and list(e.index) == list(frames[0].columns):
                continue  # a row of per-column values broadcasts like a scalar
            raise TypeError(
                f"Cannot combine a shoal collection with a pandas {type(e).__name__} element-wise: their rows "
                "would be matched partition by partition. Convert it first with shoal.dataframe.from_pandas "
                "and give both the same partitioning."
            )
    return new_collection(Elemwise(op, tuple(exprs)))


def _short(divisions) -> str:
    text = repr(tuple(divisions))
    return text if len(text) < 80 else text[:76] + "...)"


def _binary_method(op, reverse=False):
    def method(self, other):
        return self._binary(op, other, reverse)

    method.__name__ = f"__{'r' if reverse else ''}{op.__name__.strip('_')}__"
    return method


def _unary_method(op):
    def method(self):
        return elemwise(op, self)

    method.__name__ = f"__{op.__name__.strip('_')}__"
    return method


_ARITHMETIC = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "and": operator.and_, "or": operator.or_, "xor": operator.xor,
}
_COMPARISONS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
                "eq": operator.eq, "ne": operator.ne}

for _name, _op in _ARITHMETIC.items():
    setattr(Scalar, f"__{_name}__", _binary_method(_op))
    setattr(Scalar, f"__r{_name}__", _binary_method(_op, reverse=True))
for _name, _op in _COMPARISONS.items():
    setattr(Scalar, f"__{_name}__", _binary_method(_op))
Scalar.__neg__ = _unary_method(operator.neg)
Scalar.__hash__ = object.__hash__


class _Frame(ReductionMethods, _Collection):
    """Shared by DataFrame, Series and Index: partitions of pandas objects."""

    # ------------------------------------------------------------------ metadata
    @property
    def dtypes(self):
        return self._meta.dtypes

    @property
    def index(self) -> "Index":
        return new_collection(IndexOf(self._expr))

    @property
    def loc(self):
        """Label selection; with known divisions only the partitions that can hold the labels are read."""
        from .indexing import LocIndexer

        return LocIndexer(self)

    @property
    def iloc(self):
        from .indexing import ILocIndexer

        return ILocIndexer(self)

    @property
    def partitions(self) -> "_PartitionSelector":
        """``df.partitions[i]`` / ``[i:j]`` / ``[[i, k]]``: a collection of some partitions."""
        return _PartitionSelector(self)

    def get_partition(self, n: int):
        return self.partitions[n]

    def __len__(self) -> int:
        return int(self.count_rows().compute())

    def count_rows(self) -> "Scalar":
        """The number of rows, lazily (``len()`` computes it); uses file metadata when it can."""
        from .reductions import RowCount

        return new_collection(RowCount(self._expr))

    @property
    def size(self) -> Scalar:
        return self.map_partitions(_size, meta=np.int64(0), enforce_metadata=False)._reduce_with(
            "size", _identity, _sum_partials, _sum_partials)

    def __repr__(self) -> str:
        from .display import structure_repr

        return structure_repr(self)

    def _repr_html_(self) -> str:
        from .display import structure_html

        return structure_html(self)

    def __bool__(self):
        raise ValueError(
            f"The truth value of a shoal {type(self).__name__} is ambiguous (and unknown until computed); "
            "use a.any(), a.all(), or compute first."
        )

    def __iter__(self):
        raise TypeError(f"shoal {type(self).__name__} objects are not iterable; call .compute() first")

    # ------------------------------------------------------------------ partition-wise
    def to_delayed(self) -> list:
        """One ``Delayed`` per partition (sharing one graph)."""
        from ..delayed import Delayed

        plan = self._plan()
        graph = fused_graph(plan)
        return [Delayed(k, None, graph=graph) for k in plan._keys()]

    def to_shoal_array(self, lengths: bool = True):
        """The values as a shoal Array, one block per partition; computes the partitions' row counts."""
        from .io.array import to_shoal_array

        return to_shoal_array(self, lengths=lengths)

    @property
    def values(self):
        """``to_shoal_array(lengths=True)`` (computes the row counts of the partitions)."""
        return self.to_shoal_array(lengths=True)

    def map_partitions(self, func: Callable, *args, meta: Any = None, enforce_metadata: bool = True,
                       clear_divisions: bool = False, **kwargs):
        """``func(partition, *args, **kwargs)`` on every partition.

        The output's meta is found by calling ``func`` on a small fake
        partition; pass ``meta=`` (an empty pandas object, a ``{column: dtype}``
        dict or a ``(name, dtype)`` tuple) when that fails or guesses wrong.
        Each real partition's result is checked against the meta.
        """
        return map_partitions(func, self, *args, meta=meta, enforce_metadata=enforce_metadata,
                              clear_divisions=clear_divisions, **kwargs)

    def _method(self, method: str, *args, accessor: str | None = None, **kwargs):
        exprs = tuple(_unwrap(a) for a in args)
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        frames = [e for e in exprs if isinstance(e, FrameExpr) and not is_scalar_expr(e)]
        for other in frames:
            if not self._expr.partitioning.aligns_with(other.partitioning):
                raise ValueError(
                    f"{method}: the arguments are partitioned differently from this collection; "
                    "repartition one of them to the other's divisions first."
                )
        if any(isinstance(v, FrameExpr) for v in kwargs.values()):
            raise TypeError(f"{method}: pass collections as positional arguments")
        return new_collection(Method(self._expr, method, exprs, kwargs or None, accessor))

    def _binary(self, op, other, reverse=False):
        args = (other, self) if reverse else (self, other)
        return elemwise(op, *args)

    # ------------------------------------------------------------------ row-wise operations
    def astype(self, dtype):
        return self._method("astype", dtype)

    def fillna(self, value=None, **kwargs):
        return self._method("fillna", value, **kwargs)

    def isna(self):
        return self._method("isna")

    def notna(self):
        return self._method("notna")

    isnull = isna
    notnull = notna

    def dropna(self, **kwargs):
        return self._method("dropna", **kwargs)

    def where(self, cond, other=np.nan):
        return self._method("where", cond, other)

    def mask(self, cond, other=np.nan):
        return self._method("mask", cond, other)

    def abs(self):
        return self._method("abs")

    def round(self, decimals=0):
        return self._method("round", decimals)

    def clip(self, lower=None, upper=None):
        return self._method("clip", lower, upper)

    def isin(self, values):
        return self._method("isin", list(values) if not isinstance(values, dict) else values)

    def copy(self):
        return new_collection(self._expr)

    def _cumulative(self, method: str, skipna: bool):
        from .cumulative import Cumulative

        if not skipna:
            raise NotImplementedError(f"{method}(skipna=False) is not supported yet")
        return new_collection(Cumulative(self._expr, method))

    def cumsum(self, skipna: bool = True):
        return self._cumulative("cumsum", skipna)

    def cumprod(self, skipna: bool = True):
        return self._cumulative("cumprod", skipna)

    def cummax(self, skipna: bool = True):
        return self._cumulative("cummax", skipna)

    def cummin(self, skipna: bool = True):
        return self._cumulative("cummin", skipna)

    def _partitions_for_size(self, partition_size) -> int:
        """How many partitions of about ``partition_size`` bytes (an int or '100MB') the data needs (computes its size)."""
        size = _parse_bytes(partition_size)
        total = self.memory_usage(deep=True).compute()
        total = int(total.sum()) if isinstance(total, pd.Series) else int(total)
        return max(1, -(-total // size))

    def repartition(self, npartitions: int | None = None, divisions=None, partition_size=None):
        """The same rows in ``npartitions`` partitions, moved to new ``divisions``, or cut into partitions of
        about ``partition_size`` bytes (which computes the data's memory use first); see ``repartition.py``."""
        from .repartition import RepartitionToCount, RepartitionToDivisions, check_divisions

        if partition_size is not None:
            if npartitions is not None or divisions is not None:
                raise ValueError("repartition: give exactly one of npartitions=, divisions= or partition_size=")
            npartitions = self._partitions_for_size(partition_size)
        if (npartitions is None) == (divisions is None):
            raise ValueError("repartition: give exactly one of npartitions=, divisions= or partition_size=")
        if npartitions is not None:
            if npartitions < 1:
                raise ValueError(f"repartition: npartitions must be positive, got {npartitions}")
            if npartitions == self.npartitions:
                return self
            return new_collection(RepartitionToCount(self._expr, int(npartitions)))
        divisions = check_divisions(divisions)
        if not self.known_divisions:
            raise ValueError(
                "repartition(divisions=...) needs known divisions, and this collection's are unknown; build it "
                "with from_pandas(..., sort=True), or wait for set_index (shoal.dataframe part 2)."
            )
        old = self.divisions
        if divisions[0] > old[0] or divisions[-1] < old[-1]:
            raise ValueError(
                f"repartition: the new divisions {_short(divisions)} must cover the index range "
                f"[{old[0]!r}, {old[-1]!r}] of the data, or rows would be lost."
            )
        return new_collection(RepartitionToDivisions(self._expr, divisions))

    # ------------------------------------------------------------------ head / tail
    def head(self, n: int = 5, npartitions: int | None = None, compute: bool = True):
        """The first ``n`` rows; reads further partitions while the ones read hold fewer than ``n`` rows.

        ``npartitions=k`` looks at exactly the first ``k`` partitions
        (``-1``: all). ``compute=False`` returns a lazy collection instead.
        """
        if npartitions is not None or not compute:
            k = self.npartitions if npartitions in (None, -1) else min(npartitions, self.npartitions)
            lazy = self.partitions[:k].map_partitions(_head, n, meta=self._meta)
            lazy = new_collection(_Collapse(lazy._expr, n, "head"))
            return lazy.compute() if compute else lazy
        taken, found, k = 0, [], 1
        while taken < self.npartitions:
            chunk = self.partitions[taken: taken + k].map_partitions(_head, n, meta=self._meta)
            found.append(chunk.compute())
            taken += k
            if sum(len(p) for p in found) >= n:
                break
            k *= 2  # look further, twice as far each time
        return _head(_concat(found), n) if found else self._meta

    def tail(self, n: int = 5, compute: bool = True):
        """The last ``n`` rows; reads partitions from the end until it has ``n`` rows."""
        taken, found, k = 0, [], 1
        total = self.npartitions
        while taken < total:
            start = max(total - taken - k, 0)
            chunk = self.partitions[start: total - taken].map_partitions(_tail, n, meta=self._meta)
            found.insert(0, chunk.compute())
            taken = total - start
            if sum(len(p) for p in found) >= n:
                break
            k *= 2
        result = _concat(found) if found else self._meta
        return _tail(result, n)

    # ------------------------------------------------------------------ reductions
    def sample(self, frac: float, replace: bool = False, random_state: int | None = None):
        """A random ``frac`` of the rows of every partition (each partition drawn with its own seed)."""
        if not 0 <= frac <= (float("inf") if replace else 1):
            raise ValueError(f"sample: frac must be between 0 and 1 without replacement, got {frac}")
        seed = np.random.default_rng(random_state).integers(0, 2**32 - 1, self.npartitions)
        return new_collection(Sample(self._expr, frac, replace, tuple(int(s) for s in seed)))


def _sample_partition(part, frac, replace, seed):
    return part.sample(frac=frac, replace=replace, random_state=seed)


class Sample(FrameExpr):
    """A random fraction of every partition's rows; partition ``i`` draws with ``seeds[i]``."""

    _parameters = ["frame", "frac", "with_replacement", "seeds"]
    _is_blockwise = True

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        return self.frame.divisions

    def _task(self, index):
        from ...taskgraph.core import Ref, Task

        return Task(self._key(index), _sample_partition, Ref(self.frame._key(index)), self.frac, self.with_replacement,
                    self.seeds[index])

    def _explain_args(self):
        return {"frac": self.frac}


_BYTE_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def _parse_bytes(value) -> int:
    """``'100MB'`` -> 100000000; integers pass through.

    >>> _parse_bytes("64MiB"), _parse_bytes(10)
    (67108864, 10)
    """
    if isinstance(value, (int, np.integer)):
        return int(value)
    text = str(value).strip().lower().replace(" ", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number):] or "b"
    if unit not in _BYTE_UNITS or not number:
        raise ValueError(f"cannot read {value!r} as a size in bytes; write e.g. 100MB, 64MiB or an integer")
    return int(float(number) * _BYTE_UNITS[unit])


def _head(part, n):
    return part[:n] if isinstance(part, pd.Index) else part.iloc[:n]


def _tail(part, n):
    if isinstance(part, pd.Index):
        return part[-n:] if n else part[:0]
    return part.iloc[-n:] if n else part.iloc[:0]


def _len_chunk(part):
    return len(part)


def _size(part):
    return np.int64(part.size)


def _identity(x):
    return x


def _sum_partials(partials):
    return sum(partials)


class _Collapse(FrameExpr):
    """All partitions of ``frame`` concatenated into one, then cut to ``n`` rows (``head`` with npartitions=)."""

    _parameters = ["frame", "n", "how"]

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        return (None, None)

    def _task(self, index):
        from ...taskgraph.core import Ref, Task

        return Task(self._key(0), _collapse, [Ref(self.frame._key(i)) for i in range(self.frame.npartitions)], self.n)


def _collapse(parts, n):
    return _head(_concat(parts), n)


class _PartitionSelector:
    def __init__(self, frame: _Frame):
        self._frame = frame

    def __getitem__(self, key):
        n = self._frame.npartitions
        if isinstance(key, (int, np.integer)):
            key = int(key)
            if not -n <= key < n:
                raise IndexError(f"partition {key} is out of range: this collection has {n} partitions")
            indices = [key % n]
        elif isinstance(key, slice):
            indices = list(range(n))[key]
        else:
            indices = [int(k) for k in np.arange(n)[key]]
        if not indices:
            raise IndexError(f"partitions[{key!r}] selects no partition (there are {n})")
        return new_collection(Partitions(self._frame._expr, tuple(indices)))


# ---------------------------------------------------------------------- construction


def new_collection(expr: FrameExpr) -> _Collection:
    """The collection class that fits ``expr``'s meta."""
    meta = expr._meta
    if isinstance(meta, pd.DataFrame):
        return DataFrame(expr)
    if isinstance(meta, pd.Series):
        return Series(expr)
    if isinstance(meta, pd.Index):
        return Index(expr)
    return Scalar(expr)


def map_partitions(func: Callable, *args, meta: Any = None, enforce_metadata: bool = True,
                   clear_divisions: bool = False, **kwargs):
    """``func`` on matching partitions of the collections in ``args`` (others passed as they are)."""
    exprs = [_unwrap(a) for a in args]
    frames = [e for e in exprs if isinstance(e, FrameExpr) and not is_scalar_expr(e)]
    if not frames:
        raise TypeError("map_partitions needs at least one shoal DataFrame, Series or Index argument")
    for other in frames[1:]:
        if not frames[0].partitioning.aligns_with(other.partitioning):
            raise ValueError(
                f"map_partitions({getattr(func, '__name__', func)}): the collections are partitioned differently; "
                "repartition one to the other's divisions first."
            )
    if meta is not None:
        meta = make_meta(meta)
    first = exprs.index(frames[0])
    if first != 0:
        raise TypeError("map_partitions: the first argument after func must be the collection to map over")
    try:
        expr = MapPartitions(exprs[0], func, tuple(exprs[1:]), kwargs or None, meta, enforce_metadata,
                             clear_divisions)
        expr._meta  # noqa: B018 - infer now, so a failing function fails here with advice
    except Exception as error:
        if meta is not None:
            raise
        raise ValueError(
            f"map_partitions could not infer the output of {getattr(func, '__name__', func)!r} by running it on "
            f"a small fake partition ({type(error).__name__}: {error}). Pass meta= describing the output: an "
            "empty pandas object, a {column: dtype} dict, or a (name, dtype) tuple."
        ) from error
    return new_collection(expr)


# The concrete classes live in frames.py; imported last because they build on _Frame above.
from .frames import DataFrame, Index, Series  # noqa: E402
