"""``read_csv`` and ``to_csv``.

Reading: every file is cut into blocks of about ``blocksize`` bytes. A block
owns the lines that *start* inside its byte range, so each line is parsed
exactly once: a block begins just after the first newline at or after
``offset - 1`` and ends just after the first newline at or after
``offset + length - 1``. Blocks after a file's first get the file's header
lines prepended, so pandas sees the same header (and ``skiprows``) in every
block. (Like every byte-splitting CSV reader, a quoted field containing a
newline can be split wrongly; pass ``blocksize=None`` for such files.)
Compressed files (by extension) cannot be split and are one block each.

Every block is parsed with the dtypes learnt from a sample of the first file
(so an all-empty block still yields the right dtypes); a block that does not
fit them fails with an error naming the file, the column and the ``dtype=``
fix. When only some columns are used, the optimizer narrows the reader's
``usecols`` to them (projection pushdown).
"""

from __future__ import annotations

import glob as _glob
import io
import os
from typing import Any

import pandas as pd

from .... import config
from ....taskgraph.core import Ref, Task
from ..core import DataFrame, _Collection, new_collection
from ..expr import FrameExpr
from ..meta import make_meta
from ..sources import _narrow_reader_columns

__all__ = ["read_csv", "to_csv", "ReadCSV", "expand_paths"]

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
SAMPLE_BYTES = 256_000
_CHUNK = 64 * 1024


def expand_paths(urlpath, what: str = "read_csv") -> list[str]:
    """Files named by a path, a glob, a directory, or a list of those; sorted within each glob."""
    items = [urlpath] if isinstance(urlpath, (str, os.PathLike)) else list(urlpath)
    if not items:
        raise ValueError(f"{what}: no paths given")
    paths: list[str] = []
    for item in items:
        item = os.fspath(item)
        if any(ch in item for ch in "*?["):
            found = sorted(_glob.glob(item))
            if not found:
                raise FileNotFoundError(f"{what}: no files match the pattern {item!r}")
            paths.extend(found)
        elif os.path.isdir(item):
            found = sorted(os.path.join(item, f) for f in os.listdir(item) if not f.startswith((".", "_")))
            if not found:
                raise FileNotFoundError(f"{what}: the directory {item!r} holds no files")
            paths.extend(found)
        else:
            if not os.path.exists(item):
                raise FileNotFoundError(f"{what}: no such file {item!r}")
            paths.append(item)
    return paths


def _compression_of(path: str, compression: Any) -> str | None:
    if compression not in (None, "infer"):
        return compression
    if compression is None:
        return None
    return COMPRESSIONS.get(os.path.splitext(path)[1].lower())


def _header_line_count(kwargs: dict) -> int:
    skip = kwargs.get("skiprows")
    skipped = skip if isinstance(skip, int) else 0
    return skipped + (0 if kwargs.get("header", "infer") is None else 1)


def _read_head_lines(path: str, count: int) -> bytes:
    with open(path, "rb") as f:
        return b"".join(f.readline() for _ in range(count))


def _line_start_at_or_after(f, position: int, size: int) -> int:
    """The start of the first line that begins at or after ``position``."""
    if position <= 0:
        return 0
    if position >= size:
        return size
    f.seek(position - 1)
    offset = position - 1
    while True:
        chunk = f.read(_CHUNK)
        if not chunk:
            return size
        found = chunk.find(b"\n")
        if found >= 0:
            return offset + found + 1
        offset += len(chunk)


def read_line_block(path: str, offset: int, length: int) -> bytes:
    """The bytes of the lines of ``path`` that start in ``[offset, offset + length)`` (the block that owns them;
    see the module docstring), shared by the line-based readers."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        start = _line_start_at_or_after(f, offset, size)
        end = _line_start_at_or_after(f, offset + length, size)
        f.seek(start)
        return f.read(max(end - start, 0))


def _parse(buffer, kwargs: dict) -> pd.DataFrame:
    """``pd.read_csv`` on one block (a seam for tests that record what is parsed)."""
    return pd.read_csv(buffer, **kwargs)


def _block_kwargs(kwargs: dict, columns: list | None, dtypes: dict | None) -> dict:
    kw = dict(kwargs)
    if columns is not None:
        kw["usecols"] = list(columns)
        # pandas rejects parse_dates / converters naming columns usecols leaves out
        if isinstance(kw.get("parse_dates"), list) and all(isinstance(c, str) for c in kw["parse_dates"]):
            kw["parse_dates"] = [c for c in kw["parse_dates"] if c in columns]
        for option in ("converters", "na_values"):
            if isinstance(kw.get(option), dict):
                kw[option] = {k: v for k, v in kw[option].items() if k in columns}
    if dtypes:
        user = kw.get("dtype")
        forced = dict(dtypes)
        if isinstance(user, dict):
            forced.update(user)
        elif user is not None:
            forced = user
        if columns is not None and isinstance(forced, dict):
            forced = {k: v for k, v in forced.items() if k in columns}
        kw["dtype"] = forced
    return kw


def _read_csv_block(path, offset, length, header, kwargs, columns, dtypes, compression, order, path_column=None,
                    paths=None):
    where = f"{path!r}" + (f" (bytes {offset}-{offset + length})" if length is not None else "")
    try:
        if length is None:
            def source():
                return path
            kw = dict(kwargs, compression=compression)
        else:
            data = read_line_block(path, offset, length)
            if offset > 0:
                data = header + data

            def source():
                return io.BytesIO(data)
            kw = dict(kwargs)
        try:
            frame = _parse(source(), _block_kwargs(kw, columns, dtypes))
        except (ValueError, TypeError) as error:
            if not dtypes:
                raise
            raise _dtype_error(path, where, _parse(source(), _block_kwargs(kw, columns, None)), dtypes, error) from error
    except _CSVDtypeError:
        raise
    except Exception as error:
        # a byte range cut inside a quoted field that holds a newline parses as garbage: say how to avoid it
        hint = (" If a quoted field holds a newline, a block may begin inside it: read whole files with "
                "blocksize=None." if length is not None and isinstance(error, pd.errors.ParserError) else "")
        raise type(error)(f"read_csv: failed to parse {where}: {error}.{hint}") if _can_rebuild(error) else error
    if path_column is not None and (order is None or path_column in order):
        frame[path_column] = pd.Categorical([path] * len(frame), categories=paths)
    if order is not None:
        frame = frame[list(order)]
    return frame


def _can_rebuild(error: Exception) -> bool:
    try:
        type(error)("x")
        return True
    except Exception:
        return False


class _CSVDtypeError(ValueError):
    pass


def _dtype_error(path, where, frame, dtypes, cause) -> Exception:
    for column, expected in dtypes.items():
        if column in frame and str(frame[column].dtype) != str(expected):
            got = frame[column].dtype
            return _CSVDtypeError(
                f"read_csv: in {where}, column {column!r} holds values of dtype {got}, but the dtypes inferred "
                f"from the start of the first file say {expected}. Pass the dtype explicitly, e.g. "
                f"read_csv(..., dtype={{{column!r}: '{_suggest(got, expected)}'}}), or a larger sample=. ({cause})"
            )
    return _CSVDtypeError(f"read_csv: could not parse {where} with the inferred dtypes {dtypes}: {cause}. "
                          "Pass dtype= for the offending columns.")


def _suggest(got, expected) -> str:
    if pd.api.types.is_integer_dtype(expected) and pd.api.types.is_float_dtype(got):
        return "float64"
    return str(got) if str(got) != "object" else "object"


class ReadCSV(FrameExpr):
    """Blocks of CSV files, parsed with pandas; ``columns_`` narrows what is parsed."""

    _parameters = ["blocks", "headers", "kwargs", "meta_", "columns_", "dtypes_", "path_column"]
    _defaults = {"columns_": None, "path_column": None}
    _is_blockwise = True

    def _compute_meta(self):
        if self.columns_ is None:
            return self.meta_
        return self.meta_[list(self.columns_)]

    def _compute_divisions(self):
        return (None,) * (len(self.blocks) + 1)

    def _task(self, index):
        path, offset, length, compression = self.blocks[index]
        columns = self.columns_
        parsed = columns
        if self.path_column is not None and columns is not None:
            # the path column is not in the file; with nothing else asked for, parse one column for the row count
            parsed = [c for c in columns if c != self.path_column] or [self.meta_.columns[0]]
        return Task(self._key(index), _read_csv_block, path, offset, length, self.headers[path], self.kwargs,
                    parsed, self.dtypes_, compression, columns, self.path_column, list(self.headers))

    def _explain_args(self):
        shown = {"files": len(self.headers), "blocks": len(self.blocks)}
        if self.columns_ is not None:
            shown["usecols"] = list(self.columns_)
        return shown

    def _simplify_up(self, parent, dependents):
        if "index_col" in self.kwargs and self.kwargs["index_col"] not in (None, False):
            return None  # usecols would also need the index column; keep it simple
        return _narrow_reader_columns(self, parent, dependents, "columns_")


def read_csv(urlpath, blocksize: int | None | str = "default", sample: int = SAMPLE_BYTES,
             compression: str | None = "infer", include_path_column: bool | str = False, **kwargs):
    """Read CSV files (a path, a glob, a directory or a list) into a DataFrame.

    ``blocksize`` bytes per partition (default ``config dataframe.blocksize``,
    64 MiB; ``None``: one partition per file). ``include_path_column=True``
    (or a name) adds a categorical column ``path`` naming each row's file, as
    in Dask. Other keyword arguments go to ``pandas.read_csv``. Each
    partition's index starts at 0, as in Dask.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "a.csv"), "w") as f:
    ...     _ = f.write("x,y\\n1,a\\n2,b\\n3,c\\n")
    >>> df = read_csv(os.path.join(d, "*.csv"), blocksize=8)
    >>> df.npartitions, df.x.sum().compute(scheduler="sync")
    (2, np.int64(6))
    """
    for bad in ("nrows", "iterator", "chunksize"):
        if bad in kwargs:
            raise ValueError(f"read_csv: {bad}= is not supported on partitioned data; use head() or blocksize=")
    if blocksize == "default":
        blocksize = config.get("dataframe.blocksize", 64 * 2**20)
    paths = expand_paths(urlpath)
    header_lines = _header_line_count(kwargs)
    blocks, headers = [], {}
    for path in paths:
        comp = _compression_of(path, compression)
        if comp is not None or blocksize is None:
            blocks.append((path, 0, None, comp))
            headers[path] = b""
            continue
        size = os.path.getsize(path)
        headers[path] = _read_head_lines(path, header_lines) if header_lines else b""
        step = max(int(blocksize), 1)
        for offset in range(0, max(size, 1), step):
            blocks.append((path, offset, step, None))
    _check_usecols(paths[0], _compression_of(paths[0], compression), kwargs)
    meta = _infer_meta(paths, compression, sample, kwargs)
    dtypes = None
    if "converters" not in kwargs:
        dtypes = {c: str(dt) for c, dt in meta.dtypes.items()
                  if not (pd.api.types.is_datetime64_any_dtype(dt) or isinstance(dt, pd.PeriodDtype))}
        if isinstance(kwargs.get("dtype"), (str, type)) or (kwargs.get("dtype") is not None
                                                             and not isinstance(kwargs.get("dtype"), dict)):
            dtypes = None
    path_column = None
    if include_path_column:
        # as in Dask: a categorical column naming the file each row came from
        path_column = "path" if include_path_column is True else str(include_path_column)
        if path_column in meta.columns:
            raise ValueError(f"read_csv: include_path_column={path_column!r} is already a column of the files; "
                             "pass another name, e.g. include_path_column='source_file'")
        meta = meta.assign(**{path_column: pd.Categorical([], categories=list(headers))})
    return new_collection(ReadCSV(tuple(blocks), headers, kwargs, meta, None, dtypes, path_column))


def _check_usecols(path: str, compression: str | None, kwargs: dict) -> None:
    """A ``usecols`` name the file does not have fails here, listing the columns it does have."""
    wanted = kwargs.get("usecols")
    if not isinstance(wanted, (list, tuple)) or not all(isinstance(c, str) for c in wanted):
        return
    header_kwargs = {k: v for k, v in kwargs.items() if k not in ("usecols", "dtype", "parse_dates", "converters")}
    try:
        available = list(pd.read_csv(path, compression=compression, nrows=0, **header_kwargs).columns)
    except Exception:  # noqa: BLE001 - the sampling below reports whatever is wrong with the file
        return
    missing = [c for c in wanted if c not in available]
    if missing:
        raise KeyError(f"read_csv: usecols {missing} not found in {path!r}; the available columns are {available}")


def _infer_meta(paths: list, compression: str | None, sample: int, kwargs: dict) -> pd.DataFrame:
    """Columns and dtypes from the start of the first file that holds rows.

    A file with only a header (``to_csv`` writes one for an empty partition)
    would make every column ``object``; later files are sampled instead.
    """
    head = None
    for path in paths:
        head = _sample_head(path, _compression_of(path, compression), sample, kwargs)
        if len(head):
            break
    return make_meta(head)


def _sample_head(path: str, compression: str | None, sample: int, kwargs: dict) -> pd.DataFrame:
    if compression is not None:
        return pd.read_csv(path, compression=compression, nrows=1000, **kwargs)
    with open(path, "rb") as f:
        data = f.read(sample)
        if len(data) == sample:
            data = data[: data.rfind(b"\n") + 1] or data
    try:
        return pd.read_csv(io.BytesIO(data), **kwargs)
    except Exception as error:
        raise type(error)(f"read_csv: could not read the start of {path!r} to learn the columns: {error}") \
            if _can_rebuild(error) else error


# ---------------------------------------------------------------------- writing


def _write_csv_partition(part, filename, kwargs, after=None):
    part.to_csv(filename, **kwargs)
    return filename


def _gather(*names):
    return list(names)


def to_csv(df, filename, single_file: bool = False, name_function=None, compute: bool = True,
           scheduler=None, header_first_partition_only: bool = False, **kwargs):
    """Write one CSV file per partition, or one file with ``single_file=True``.

    ``filename`` holds a ``*`` replaced by the partition number (or by
    ``name_function(i)``); without a ``*`` it is a directory that receives
    ``0.part``, ``1.part``, ... With ``single_file=True`` the partitions are
    appended in order to ``filename`` with the header written once
    (``header_first_partition_only=True`` does the same across separate
    files). Returns the list of files written (or a Delayed of it with
    ``compute=False``).
    """
    from ...delayed import Delayed
    from ..fusion import fused_graph

    if isinstance(df, _Collection) and not isinstance(df, DataFrame):
        df = df.to_frame()
    plan = df._plan()
    graph = fused_graph(plan)
    token = plan._name.rsplit("-", 1)[-1]
    name = f"to-csv-{token}"
    n = plan.npartitions
    filename = os.fspath(filename)
    keys = []
    if single_file:
        previous = None
        for i in range(n):
            key = (name, i)
            kw = dict(kwargs)
            if i > 0:
                kw["mode"] = "a"
                kw["header"] = False
            after = Ref(previous) if previous is not None else None
            graph[key] = Task(key, _write_csv_partition, Ref(plan._key(i)), filename, kw, after)
            previous = key
        final_key = (name + "-done", 0)
        graph[final_key] = Task(final_key, _gather, Ref(previous))
        result = Delayed(final_key, None, graph=graph)
        return result.compute(scheduler=scheduler) if compute else result
    if "*" in filename:
        names = [filename.replace("*", name_function(i) if name_function else str(i)) for i in range(n)]
    else:
        os.makedirs(filename, exist_ok=True)
        names = [os.path.join(filename, f"{name_function(i) if name_function else i}.part") for i in range(n)]
    parent = os.path.dirname(names[0])
    if parent:
        os.makedirs(parent, exist_ok=True)
    for i in range(n):
        key = (name, i)
        kw = dict(kwargs, header=False) if header_first_partition_only and i > 0 else kwargs
        graph[key] = Task(key, _write_csv_partition, Ref(plan._key(i)), names[i], kw)
        keys.append(key)
    final_key = (name + "-done", 0)
    graph[final_key] = Task(final_key, _gather, *[Ref(k) for k in keys])
    result = Delayed(final_key, None, graph=graph)
    return result.compute(scheduler=scheduler) if compute else result
