"""Hash shuffles: move every row to the partition its key hashes to.

Output partition of a row: ``hash_pandas_object(keys, index=False) % npartitions``
where ``keys`` are the key columns (or the index). The hash depends on the
values only (categoricals hash by their values, not their codes), so the
same key lands in the same partition whichever frame it comes from; a merge
casts both sides' keys to one dtype first (``hash_dtypes``), since ``1`` and
``1.0`` hash differently.

Two methods, chosen by ``shuffle_method=`` or the config value
``dataframe.shuffle.method``:

- ``"tasks"`` (the default): in memory, staged. With ``n`` partitions, a
  one-stage exchange needs ``n²`` pieces; instead the output index is written
  in base ``k`` (``k <= dataframe.shuffle.max-branch``, 32) with
  ``S = ceil(log_k n)`` digits, and stage ``s`` settles one digit: each slot
  splits its rows into ``k`` pieces by that digit and collects the matching
  pieces of the ``k`` slots that differ from it only in that digit. That is
  ``S · n · (k + 2)`` tasks, growing as ``n log n``. Digits are settled
  least significant first, which keeps the rows of every output partition
  in input order (partition by partition, row by row): the shuffle is
  stable, so ``drop_duplicates(keep="first")`` and ``groupby().first()``
  after it see rows in their original order. The disk method is stable too.
- ``"disk"``: each input partition writes one pickle file per output
  partition it has rows for, into a fresh temporary directory (under
  ``dataframe.shuffle.tmpdir``, else the system's); each output partition
  reads and deletes its files, and the last one removes the directory (a
  computation that fails before that leaves it until its process exits). Only
  one partition's rows are in memory per running task, so data larger than
  memory can be shuffled on the local schedulers.

Why ``tasks`` is the default on every local scheduler: the scheduler is
chosen at compute time, after the plan is built, and for data that fits in
memory the in-memory exchange avoids serialising every row to disk (several
times faster); choose ``disk`` for data larger than memory. The distributed
scheduler's worker-to-worker method, ``"p2p"`` (``shoal.distributed.shuffle``),
plugs in here through ``register_shuffle_method``; a distributed ``Client``
makes it the configured method while it is the default scheduler.

>>> import pandas as pd, shoal.dataframe as dd
>>> pdf = pd.DataFrame({"k": [1, 2, 3, 1, 2, 3], "v": range(6)})
>>> out = dd.from_pandas(pdf, npartitions=3).shuffle(on="k")
>>> out.partitioning.hashed_on
('k',)
>>> sorted(out.compute(scheduler="sync").v) == list(range(6))
True
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import tempfile

import numpy as np
import pandas as pd

from ... import config
from ...taskgraph.core import Ref, Task
from .blockwise import Projection
from .expr import FrameExpr, HashLayout, label_with_reason
from .parts import _unify_categories

__all__ = ["Shuffle", "register_shuffle_method", "RangeSpec", "SpreadSpec", "INDEX_KEY", "partition_codes", "shuffle_stages", "SHUFFLE_METHODS", "resolve_method"]

config.update_defaults({"dataframe": {"shuffle": {"method": "tasks", "max-branch": 32, "tmpdir": None}}})

#: the name ``hashed_on`` uses for "partitioned by the index"
INDEX_KEY = "__index__"
SHUFFLE_METHODS = ("tasks", "disk")
_CODE = "__shoal_partition__"


#: extra methods registered by other layers (the distributed scheduler's worker-to-worker exchange)
_REGISTERED: dict = {}


def register_shuffle_method(name: str, make_layer) -> None:
    """Add a shuffle method: ``make_layer(shuffle_expr) -> {key: task}`` must emit the tasks of ``shuffle_expr``
    (a ``Shuffle``), ending with one task per output partition keyed ``shuffle_expr._key(p)`` whose value holds
    exactly the rows that ``partition_codes(part, expr.on, expr.npartitions_out, expr.hash_dtypes, expr.ranges)``
    sends to ``p``, in input order. The distributed layer calls this; collections never import it."""
    _REGISTERED[name] = make_layer


def resolve_method(method: str | None) -> str:
    """The shuffle method to use: ``method``, else the config's; checked."""
    chosen = method or config.get("dataframe.shuffle.method", "tasks")
    if chosen not in SHUFFLE_METHODS and chosen not in _REGISTERED:
        raise ValueError(
            f"shuffle_method={chosen!r} is not known; choose one of {list(SHUFFLE_METHODS) + list(_REGISTERED)} "
            "(or set the config value dataframe.shuffle.method)"
        )
    return chosen


def partition_codes(part: pd.DataFrame, on: tuple, npartitions: int, hash_dtypes: tuple | None = None,
                    ranges: "RangeSpec | None" = None) -> np.ndarray:
    """The output partition of every row of ``part`` (an int64 array): by hash, or by ``ranges`` when given.

    >>> part = pd.DataFrame({"k": [1, 2, 1]})
    >>> codes = partition_codes(part, ("k",), 4)
    >>> bool(codes[0] == codes[2]) and bool((codes < 4).all())
    True
    """
    if len(part) == 0:
        return np.zeros(0, dtype=np.int64)
    if tuple(on) == (INDEX_KEY,):
        keys = part.index.to_frame(index=False)
    else:
        keys = part[list(on)]
    if ranges is not None:
        return ranges.codes(keys.iloc[:, 0])
    if hash_dtypes is not None:
        keys = keys.astype({c: d for c, d in zip(keys.columns, hash_dtypes) if d is not None})
    mixed = [c for c in keys.columns if keys[c].dtype == object]
    if mixed:
        keys = keys.assign(**{c: keys[c].map(_hash_token) for c in mixed})
    hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    return (hashes % np.uint64(npartitions)).astype(np.int64)


def _hash_token(value) -> str:
    """One text per key of an object column, equal for keys pandas matches (``1``, ``1.0``, ``True``; ``None`` and
    NaN). pandas hashes an object column by content (floats as floats if all are, else by their text), so the
    same key could land in different partitions depending on its neighbours; a text for every value cannot."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA or value is pd.NaT:
        return "null"
    if isinstance(value, str):
        return "s:" + value
    if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
        return f"n:{float(value)!r}"
    return f"{type(value).__qualname__}:{value}"


class SpreadSpec:
    """Hash partitioning, except that rows whose key is one of ``heavy`` are spread over every partition.

    Used by the skew join: the heavy keys' rows would otherwise all land in
    one partition. The other rows go exactly where the plain hash sends them.

    >>> spec = SpreadSpec((7,), 4)
    >>> sorted(set(spec.codes(pd.Series([7] * 8)).tolist()))
    [0, 1, 2, 3]
    """

    __slots__ = ("heavy", "npartitions", "hash_dtype")

    def __init__(self, heavy: tuple, npartitions: int, hash_dtype=None):
        self.heavy, self.npartitions, self.hash_dtype = tuple(heavy), npartitions, hash_dtype

    def __reduce__(self):
        return (SpreadSpec, (self.heavy, self.npartitions, self.hash_dtype))

    def __shoal_tokenize__(self):
        return ("SpreadSpec", self.heavy, self.npartitions, str(self.hash_dtype))

    def __repr__(self):
        return f"SpreadSpec({len(self.heavy)} heavy keys)"

    def codes(self, values: pd.Series) -> np.ndarray:
        frame = values.to_frame()
        codes = partition_codes(frame, tuple(frame.columns), self.npartitions,
                                None if self.hash_dtype is None else (self.hash_dtype,))
        heavy = values.isin(list(self.heavy)).to_numpy()
        count = int(heavy.sum())
        if count:
            start = int(np.random.default_rng(len(values)).integers(self.npartitions))
            codes[heavy] = (np.arange(count) + start) % self.npartitions
        return codes


class RangeSpec:
    """Range partitioning on one key: partition ``j`` holds ``divisions[j] <= key < divisions[j + 1]``
    (the last bound inclusive), in reverse order when ``descending``; nulls go first or last.

    >>> spec = RangeSpec((0, 10, 20, 30))
    >>> spec.codes(pd.Series([0, 9, 10, 30, None])).tolist()
    [0, 0, 1, 2, 2]
    """

    __slots__ = ("divisions", "descending", "nulls_first")

    def __init__(self, divisions: tuple, descending: bool = False, nulls_first: bool = False):
        self.divisions, self.descending, self.nulls_first = tuple(divisions), descending, nulls_first

    def __reduce__(self):
        return (RangeSpec, (self.divisions, self.descending, self.nulls_first))

    def __shoal_tokenize__(self):
        return ("RangeSpec", self.divisions, self.descending, self.nulls_first)

    def __repr__(self):
        return f"RangeSpec({len(self.divisions) - 1} ranges)"

    def codes(self, values: pd.Series) -> np.ndarray:
        n = len(self.divisions) - 1
        nulls = values.isna().to_numpy()
        inner = pd.Index(list(self.divisions[1:-1]), dtype=values.dtype if n > 1 else None)
        filled = values[~nulls] if nulls.any() else values
        codes = np.empty(len(values), dtype=np.int64)
        found = inner.searchsorted(filled.to_numpy() if not isinstance(filled.dtype, pd.DatetimeTZDtype) else filled,
                                   side="right") if n > 1 else np.zeros(len(filled), dtype=np.int64)
        codes[~nulls] = found
        if self.descending:
            codes[~nulls] = n - 1 - codes[~nulls]
        codes[nulls] = 0 if self.nulls_first else n - 1
        return codes


# ------------------------------------------------------------------ tasks method


def shuffle_stages(n: int, max_branch: int) -> tuple[int, int]:
    """``(stages, k)``: the fewest stages of at most ``max_branch`` pieces whose ``k ** stages >= n``.

    >>> shuffle_stages(8, 32), shuffle_stages(64, 32), shuffle_stages(1000, 32)
    ((1, 8), (2, 8), (2, 32))
    """
    if n <= 1:
        return 1, 1
    stages = max(1, math.ceil(math.log(n) / math.log(max_branch) - 1e-9))
    k = math.ceil(n ** (1 / stages) - 1e-9)
    while k ** stages < n:
        k += 1
    return stages, k


def _split_first(part, on, npartitions, hash_dtypes, ranges, k, digit_power):
    """Tag every row with its output partition, then split by the first digit."""
    part = part.copy(deep=False) if len(part.columns) else part.copy()
    part[_CODE] = partition_codes(part, on, npartitions, hash_dtypes, ranges)
    return _split(part, k, digit_power)


def _split(part, k, digit_power):
    digits = (part[_CODE].to_numpy() // digit_power) % k
    if len(part) == 0:
        return {}
    return _split_by(part, digits, k)


def _split_by(part, digits, k):
    """``{digit: rows of part with that digit}``, rows kept in order within each piece."""
    # small integers sort stably by radix sort, much faster than the general stable sort
    order = np.argsort(digits.astype(np.uint16 if k <= 2**16 else np.int64), kind="stable")
    bounds = np.searchsorted(digits[order], np.arange(k + 1))
    taken = part.iloc[order]
    return {d: taken.iloc[bounds[d]: bounds[d + 1]] for d in range(k) if bounds[d + 1] > bounds[d]}


def _split_direct(part, on, npartitions, hash_dtypes, ranges):
    """One-stage exchange: split by output partition at once, without tagging the rows."""
    if len(part) == 0:
        return {}
    return _split_by(part, partition_codes(part, on, npartitions, hash_dtypes, ranges), npartitions)


def _finish_direct(meta, pieces):
    found = [p for p in pieces if p is not None and len(p)]
    if not found:
        return meta
    found = _unify_categories(found)
    return pd.concat(found) if len(found) > 1 else found[0]


def _piece(pieces: dict, digit: int):
    return pieces.get(digit)


def _collect(meta, pieces):
    found = [p for p in pieces if p is not None and len(p)]
    if not found:
        return meta.assign(**{_CODE: np.zeros(0, dtype=np.int64)})
    return pd.concat(found) if len(found) > 1 else found[0]


def _collect_split(meta, k, digit_power, pieces):
    return _split(_collect(meta, pieces), k, digit_power)


def _finish(meta, pieces):
    found = [p for p in pieces if p is not None and len(p)]
    if not found:
        return meta
    found = _unify_categories(found)
    out = pd.concat(found) if len(found) > 1 else found[0]
    return out.drop(columns=_CODE)


def _tasks_layer(expr: "Shuffle") -> dict:
    """The staged exchange (see the module docstring); keys ``(name-s<stage>, slot)`` in between."""
    n_out = expr.npartitions_out
    n_in = expr.frame.npartitions
    stages, k = shuffle_stages(max(n_in, n_out), int(config.get("dataframe.shuffle.max-branch", 32)))
    slots = k ** stages
    name = expr._name
    meta = expr.frame._meta
    layer: dict = {}
    if stages == 1:
        # one exchange: split each input by output partition directly, no tag column to add and drop
        for i in range(n_in):
            key = (f"{name}-split0", i)
            layer[key] = Task(key, _split_direct, Ref(expr.frame._key(i)), tuple(expr.on), n_out, expr.hash_dtypes,
                              expr.ranges)
        for p in range(n_out):
            refs = []
            for i in range(n_in):
                piece_key = (f"{name}-piece0", i, p)
                layer[piece_key] = Task(piece_key, _piece, Ref((f"{name}-split0", i)), p)
                refs.append(Ref(piece_key))
            layer[expr._key(p)] = Task(expr._key(p), _finish_direct, meta, refs)
        return layer
    # digits settled least significant first: slot j then collects from slots holding earlier inputs before
    # later ones, so every output partition keeps its rows in input order (a stable shuffle)
    powers = [k ** s for s in range(stages)]
    split_keys = {}
    for i in range(n_in):
        key = (f"{name}-split0", i)
        layer[key] = Task(key, _split_first, Ref(expr.frame._key(i)), tuple(expr.on), n_out, expr.hash_dtypes,
                          expr.ranges, k, powers[0])
        split_keys[i] = key
    for s in range(stages):
        power = powers[s]
        last = s == stages - 1
        new_keys = {}
        for slot in range(slots):
            # rows in this slot after stage s have output partitions p with p % (power * k) == slot % (power * k)
            if slot % (power * k) >= n_out:
                continue
            digit = (slot // power) % k
            base = slot - digit * power
            refs = []
            for d in range(k):
                sender = base + d * power
                if sender not in split_keys:
                    continue
                piece_key = (f"{name}-piece{s}", sender, digit)
                layer[piece_key] = Task(piece_key, _piece, Ref(split_keys[sender]), digit)
                refs.append(Ref(piece_key))
            if last:
                if slot < n_out:
                    layer[expr._key(slot)] = Task(expr._key(slot), _finish, meta, refs)
            else:
                key = (f"{name}-split{s + 1}", slot)
                layer[key] = Task(key, _collect_split, meta, k, powers[s + 1], refs)
                new_keys[slot] = key
        split_keys = new_keys
    return layer


# ------------------------------------------------------------------ disk method


def _make_directory(name: str, root: str | None) -> str:
    root = root or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    path = tempfile.mkdtemp(prefix=f"shoal-shuffle-{name[-12:]}-", dir=root)
    # the readers remove it; if the computation fails before they run, the process removes it when it exits
    atexit.register(remove_directory, path)
    return path


def _write_pieces(part, directory, index, on, npartitions, hash_dtypes, ranges):
    codes = partition_codes(part, on, npartitions, hash_dtypes, ranges)
    if len(part):
        order = np.argsort(codes.astype(np.uint16) if npartitions <= 2**16 else codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(npartitions + 1))
        taken = part.iloc[order]
        for p in range(npartitions):
            if bounds[p + 1] > bounds[p]:
                taken.iloc[bounds[p]: bounds[p + 1]].to_pickle(os.path.join(directory, f"{p}-{index}.pkl"))
    return directory


def _barrier(directory, *written):
    return directory


def _read_pieces(directory, output, n_in, meta, n_out):
    found = []
    for i in range(n_in):
        path = os.path.join(directory, f"{output}-{i}.pkl")
        if os.path.exists(path):
            found.append(pd.read_pickle(path))
            os.remove(path)
    # the last reader leaves an empty directory behind: whoever sees it empty removes it
    try:
        os.rmdir(directory)
    except OSError:
        pass
    if not found:
        return meta
    found = _unify_categories(found)
    return pd.concat(found) if len(found) > 1 else found[0]


def _disk_layer(expr: "Shuffle") -> dict:
    name = expr._name
    n_in, n_out = expr.frame.npartitions, expr.npartitions_out
    layer: dict = {}
    dir_key = (f"{name}-directory", 0)
    # the root is read now, in the process building the graph, as worker processes may not share its config
    layer[dir_key] = Task(dir_key, _make_directory, name, config.get("dataframe.shuffle.tmpdir", None))
    written = []
    for i in range(n_in):
        key = (f"{name}-write", i)
        layer[key] = Task(key, _write_pieces, Ref(expr.frame._key(i)), Ref(dir_key), i, tuple(expr.on), n_out,
                          expr.hash_dtypes, expr.ranges)
        written.append(Ref(key))
    barrier = (f"{name}-written", 0)
    layer[barrier] = Task(barrier, _barrier, Ref(dir_key), *written)
    for p in range(n_out):
        layer[expr._key(p)] = Task(expr._key(p), _read_pieces, Ref(barrier), p, n_in, expr.frame._meta, n_out)
    return layer


def remove_directory(path: str) -> None:
    """Remove a shuffle directory left behind by a failed computation."""
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------ the expression


def hashed_dtypes(meta, on, hash_dtypes=None) -> tuple:
    """The dtypes the key columns are hashed as (after the cast a merge asks for)."""
    if tuple(on) == (INDEX_KEY,):
        own = [meta.index.dtype]
    else:
        own = [meta[c].dtype for c in on]
    if hash_dtypes is None:
        return tuple(str(d) for d in own)
    return tuple(str(h if h is not None else d) for h, d in zip(hash_dtypes, own))


class Shuffle(FrameExpr):
    """``frame``'s rows moved to ``npartitions_out`` partitions by the hash of ``on`` (columns, or ``(INDEX_KEY,)``)."""

    _parameters = ["frame", "on", "npartitions_out", "method", "hash_dtypes", "ranges"]
    _defaults = {"method": None, "hash_dtypes": None, "ranges": None}
    _is_shuffle = True

    @property
    def npartitions(self) -> int:
        return self.npartitions_out

    def _compute_meta(self):
        return self.frame._meta

    def _compute_divisions(self):
        return (None,) * (self.npartitions_out + 1)

    @property
    def _hashed_on(self):
        if self.ranges is not None:
            return None
        return HashLayout(tuple(self.on), hashed_dtypes(self.frame._meta, self.on, self.hash_dtypes), self.npartitions_out)

    @property
    def chosen_method(self) -> str:
        return resolve_method(self.method)

    def _explain_args(self):
        shown = {"on": list(self.on) if tuple(self.on) != (INDEX_KEY,) else "index",
                 "method": self.chosen_method}
        if isinstance(self.ranges, RangeSpec):
            shown["by"] = "range"
        elif self.ranges is not None:
            shown["by"] = repr(self.ranges)
        return shown

    def _explain_reason(self):
        if self.method is not None:
            return "shuffle_method= given"
        return "config dataframe.shuffle.method"

    _label = label_with_reason

    def _layer(self):
        method = self.chosen_method
        if method == "disk":
            return _disk_layer(self)
        if method in _REGISTERED:
            return _REGISTERED[method](self)
        return _tasks_layer(self)

    def _simplify_up(self, parent, dependents):
        # columns nobody reads are dropped before the exchange, not after
        if not (isinstance(parent, Projection) and parent.frame is self and isinstance(parent.columns_, list)):
            return None
        if len(dependents.get(self._name, ())) > 1:
            return None
        keys = [] if tuple(self.on) == (INDEX_KEY,) else list(self.on)
        needed = set(parent.columns_) | set(keys)
        if needed >= set(self.columns):
            return None
        inner = self.replace(frame=Projection(self.frame, [c for c in self.frame.columns if c in needed]))
        return Projection(inner, list(parent.columns_))

    def _simplify_down(self):
        # a shuffle of a shuffle: the first one's placement is thrown away, so skip it
        if isinstance(self.frame, Shuffle):
            return self.replace(frame=self.frame.frame)
        return None


_SERIES_KEY = "__shoal_shuffle_key__"


def _key_list(frame, on, what: str) -> tuple:
    if on is None:
        return (INDEX_KEY,)
    keys = [on] if not isinstance(on, (list, tuple)) else list(on)
    if any(hasattr(k, "_expr") or isinstance(k, (pd.Series, pd.Index, np.ndarray)) for k in keys):
        raise TypeError(f"{what}: a list may hold column names only; pass one shoal Series alone, or assign the "
                        "keys as columns first")
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise KeyError(f"{what}: {missing} not among the columns {list(frame.columns)}")
    return tuple(keys)


def shuffle_expr(expr: FrameExpr, on: tuple, npartitions: int | None = None, method: str | None = None,
                 hash_dtypes: tuple | None = None) -> FrameExpr:
    """``expr`` hash-partitioned on ``on``; ``expr`` itself when it already is (no second shuffle)."""
    npartitions = npartitions or expr.npartitions
    if method is not None:
        resolve_method(method)
    wanted = HashLayout(tuple(on), hashed_dtypes(expr._meta, on, hash_dtypes), npartitions)
    if expr._hashed_on == wanted:
        return expr
    return Shuffle(expr, tuple(on), int(npartitions), method, hash_dtypes)


def shuffle(frame, on=None, npartitions: int | None = None, shuffle_method: str | None = None, on_index: bool = False):
    """``frame`` with every row moved to the partition its key hashes to (``on``: a column, a list of them or a
    Series partitioned like ``frame``; the index when ``on`` is None or ``on_index=True``); see the module
    docstring."""
    from .core import new_collection
    from .frames import Series

    if npartitions is not None and npartitions < 1:
        raise ValueError(f"shuffle: npartitions must be positive, got {npartitions}")
    if isinstance(on, Series):  # its values travel with the rows as a column, dropped afterwards
        keyed = frame.assign(**{_SERIES_KEY: on})
        return shuffle(keyed, _SERIES_KEY, npartitions, shuffle_method)[list(frame.columns)]
    keys = (INDEX_KEY,) if on_index else _key_list(frame, on, "shuffle(on=...)")
    return new_collection(shuffle_expr(frame._expr, keys, npartitions, shuffle_method))
