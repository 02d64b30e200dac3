"""Text files in and out: ``read_text``, ``to_textfiles``, and ``to_dataframe``.

Each partition of ``read_text`` is read by its own task *in the worker*:
the task holds a path and a byte range, never the data, so on the processes
scheduler only results travel. Uncompressed files split into ``blocksize``
blocks at line boundaries: a line belongs to the block in which its first
byte lies, so every line is read exactly once. Compressed files (gzip, bz2,
xz) cannot be split and are one partition each.

Lines keep their line ending (``"text\\n"``), as iterating over a file does,
with universal newlines (``\\r\\n`` and ``\\r`` become ``\\n``).
"""

from __future__ import annotations

import bz2
import codecs
import glob
import gzip
import io
import lzma
import numbers
import os
import warnings
from typing import Any, Callable

from ...taskgraph.core import Ref, Task
from ...taskgraph.expr import Expr

__all__ = ["read_text", "to_textfiles", "to_dataframe", "TextDecodeError", "ReadText", "ReadTextFiles"]

COMPRESSIONS = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
EXTENSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".xz": "xz"}
UNSUPPORTED_EXTENSIONS = {".zst": "zstd", ".zstd": "zstd", ".zip": "zip", ".lz4": "lz4", ".snappy": "snappy",
                          ".7z": "7z"}


class TextDecodeError(UnicodeDecodeError):
    """Bytes of a file that its encoding cannot decode; the message names file and offset."""

    def __str__(self) -> str:
        return self.reason


def infer_compression(path: str, compression: str | None) -> str | None:
    """``'gzip'``/``'bz2'``/``'xz'`` from the extension with ``'infer'``; else ``compression``.

    >>> infer_compression("logs/a.json.gz", "infer"), infer_compression("a.txt", "infer")
    ('gzip', None)
    """
    if compression == "infer":
        extension = os.path.splitext(str(path))[1].lower()
        if extension in UNSUPPORTED_EXTENSIONS:
            # read as text they would fail with a confusing decode error (or be written uncompressed)
            raise ValueError(
                f"{path!r} looks {UNSUPPORTED_EXTENSIONS[extension]}-compressed, which shoal.bag does not read or "
                f"write; use gzip (.gz), bz2 (.bz2) or xz (.xz), or pass compression=None to treat it as plain text"
            )
        return EXTENSIONS.get(extension)
    if compression is not None and compression not in COMPRESSIONS:
        raise ValueError(
            f"compression={compression!r} is not supported; use one of {sorted(COMPRESSIONS)}, 'infer' or None"
        )
    return compression


def expand_paths(urlpath: Any) -> list[str]:
    """Paths from a path, a glob pattern, or a list of them; sorted within each pattern."""
    patterns = [urlpath] if isinstance(urlpath, (str, os.PathLike)) else list(urlpath)
    if not patterns:
        raise ValueError("read_text: no paths given")
    paths: list[str] = []
    for pattern in patterns:
        pattern = os.fspath(pattern)
        if glob.has_magic(pattern):
            # files only: ``logs/*`` should not fail on a sub-directory it also matches
            found = sorted(p for p in glob.glob(pattern) if not os.path.isdir(p))
            if not found:
                raise FileNotFoundError(
                    f"read_text: the pattern {pattern!r} matches no files; check the directory and the pattern"
                )
            paths.extend(found)
        elif not os.path.exists(pattern):
            raise FileNotFoundError(f"read_text: no such file {pattern!r}")
        elif os.path.isdir(pattern):
            raise IsADirectoryError(
                f"read_text: {pattern!r} is a directory; to read the files in it pass a glob pattern such as "
                f"{os.path.join(pattern, '*')!r}"
            )
        else:
            paths.append(pattern)
    return paths


# ------------------------------------------------------------------ reading


def read_block(path: str, start: int, length: int | None, compression: str | None,
               encoding: str, errors: str, include_path: bool) -> list:
    """The lines of ``path`` whose first byte lies in ``[start, start + length)`` (all with None)."""
    if compression is not None:
        with COMPRESSIONS[compression](path, "rb") as f:
            data = f.read()
        begin, where = 0, "of the decompressed text "
    else:
        with open(path, "rb") as f:
            begin, data = _read_lines_in_range(f, start, length)
        where = ""
    text = _decode(data, path, begin, where, encoding, errors)
    if "\r" in text or not _only_newlines(text):
        lines = io.StringIO(text, newline=None).readlines()  # universal newlines, split at \n only
    else:
        lines = text.splitlines(True)
    if include_path:
        return [(line, path) for line in lines]
    return lines


def _only_newlines(text: str) -> bool:
    # str.splitlines (fast, in C) also splits at \v, \f, \x1c-\x1e, \x85,
    # \u2028 and \u2029, which files do not: use it only when none occur.
    return not any(ch in text for ch in "\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _read_lines_in_range(f, start: int, length: int | None) -> tuple[int, bytes]:
    """``(offset of the first byte read, the bytes of the block's lines)``."""
    if length is None:
        return 0, f.read()
    if start > 0:
        # The line running across ``start`` belongs to the previous block:
        # skip to just after the newline at or after ``start - 1``.
        f.seek(start - 1)
        f.readline()
    begin = f.tell()
    end = start + length
    if begin >= end:
        return begin, b""
    data = f.read(end - begin)
    if data and not data.endswith(b"\n"):
        data += f.readline()  # finish the last line that starts inside the block
    return begin, data


def _decode(data: bytes, path: str, begin: int, where: str, encoding: str, errors: str) -> str:
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError as err:
        offset = begin + err.start  # ``data`` starts at byte ``begin`` of the file
        bad = data[err.start:err.end]
        reason = (
            f"cannot decode byte(s) {bad!r} at offset {offset} {where}of file {path!r} "
            f"as {encoding} ({err.reason}). Pass encoding= with the file's real encoding, or "
            "errors='replace' (or 'ignore') to read_text to substitute undecodable bytes."
        )
        raise TextDecodeError(encoding, bad, 0, len(bad), reason) from None


class ReadText(Expr):
    """Lines of text files: ``blocks`` is a tuple of ``(path, start, length, compression, mtime)``."""

    _parameters = ["blocks", "encoding", "errors", "include_path"]

    @property
    def npartitions(self) -> int:
        return len(self.blocks)

    def _task(self, index: int):
        path, start, length, compression, _ = self.blocks[index]
        return Task(self._key(index), read_block, path, start, length, compression, self.encoding, self.errors,
                    self.include_path)

    def _explain_args(self) -> dict:
        return {"files": len({b[0] for b in self.blocks})}


def read_files(blocks: tuple, encoding: str, errors: str, include_path: bool) -> list:
    """The lines of several whole files, one after another (``files_per_partition``)."""
    lines: list = []
    for path, start, length, compression, _ in blocks:
        lines.extend(read_block(path, start, length, compression, encoding, errors, include_path))
    return lines


class ReadTextFiles(Expr):
    """Lines of text files, several files a partition: ``groups`` is a tuple of tuples of blocks."""

    _parameters = ["groups", "encoding", "errors", "include_path"]

    @property
    def npartitions(self) -> int:
        return len(self.groups)

    def _task(self, index: int):
        return Task(self._key(index), read_files, self.groups[index], self.encoding, self.errors, self.include_path)

    def _explain_args(self) -> dict:
        return {"files": sum(len(g) for g in self.groups)}


def read_text(urlpath: Any, blocksize: int | str | None = None, compression: str | None = "infer",
              encoding: str = "utf-8", errors: str = "strict", include_path: bool = False,
              files_per_partition: int | None = None):
    """A bag of the lines of text files: a path, a glob pattern, or a list of them.

    One partition per file, or per ``blocksize`` bytes of uncompressed files
    (``"64 MiB"`` style strings work), or per ``files_per_partition`` files
    (for many small files). Compression is inferred from the extension
    (``.gz``, ``.bz2``, ``.xz``). ``include_path=True`` gives ``(line, path)``
    pairs.
    """
    from .core import Bag

    if files_per_partition is not None:
        if blocksize is not None:
            raise ValueError("read_text: give blocksize (split files) or files_per_partition (group them), not both")
        if not isinstance(files_per_partition, numbers.Integral) or files_per_partition < 1:
            raise ValueError(
                f"read_text: files_per_partition must be a positive integer, got {files_per_partition!r}"
            )
    if isinstance(blocksize, str):
        blocksize = parse_bytes(blocksize)
    if isinstance(blocksize, float) and blocksize.is_integer():
        blocksize = int(blocksize)  # blocksize=64e6 is a whole number of bytes, as Dask takes it
    if blocksize is not None and (not isinstance(blocksize, numbers.Integral) or blocksize < 1):
        raise ValueError(f"read_text: blocksize must be a positive number of bytes, got {blocksize!r}")
    paths = expand_paths(urlpath)
    # Encoding two newlines (also fails now, naming an unknown encoding, not in
    # every task) shows whether a newline is the byte b"\n" after any byte
    # order mark: true of utf-8-sig, false of utf-16.
    newline_is_byte = "\n\n".encode(encoding).endswith(b"\n\n")
    try:
        codecs.lookup_error(errors)  # else an unknown handler would fail only at the first bad byte
    except LookupError:
        raise LookupError(
            f"read_text: unknown errors={errors!r}; use 'strict', 'replace', 'ignore', 'backslashreplace' "
            "or 'surrogateescape'"
        ) from None
    if blocksize is not None and not newline_is_byte:
        raise ValueError(
            f"read_text: blocksize splits files at b'\\n' bytes, which {encoding} does not use for a newline; "
            "pass blocksize=None to read each file as one partition"
        )
    blocks = []
    for path in paths:
        comp = infer_compression(path, compression)
        stat = os.stat(path)
        if blocksize is None or comp is not None:
            if blocksize is not None:
                raise ValueError(
                    f"read_text: cannot split the {comp}-compressed file {path!r} into blocks; "
                    "pass blocksize=None to read each compressed file as one partition"
                )
            blocks.append((path, 0, None, comp, stat.st_mtime_ns))
            continue
        size = stat.st_size
        for start in range(0, max(size, 1), blocksize):
            blocks.append((path, start, blocksize, None, stat.st_mtime_ns))
    if files_per_partition is not None:
        groups = tuple(tuple(blocks[i:i + files_per_partition]) for i in range(0, len(blocks), files_per_partition))
        return Bag(ReadTextFiles(groups, encoding, errors, include_path))
    return Bag(ReadText(tuple(blocks), encoding, errors, include_path))


_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(text: str) -> int:
    """``"64 MiB"`` -> 67108864, ``"1kB"`` -> 1000.

    >>> parse_bytes("64 MiB"), parse_bytes("1kB"), parse_bytes("10")
    (67108864, 1000, 10)
    """
    s = text.strip().lower().replace(" ", "")
    digits = s.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = s[len(digits):] or "b"
    if unit not in _UNITS or not digits:
        raise ValueError(f"cannot read {text!r} as a size; write it like '64 MiB', '100 kB' or 1000000")
    return int(float(digits) * _UNITS[unit])


# ------------------------------------------------------------------ writing


def write_partition(partition: list, path: str, compression: str | None, encoding: str,
                    last_endline: bool) -> str:
    """Write the elements (strings) of one partition as lines; returns ``path``."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    opener = COMPRESSIONS[compression] if compression else open
    with opener(path, "wt", encoding=encoding) as f:
        for i, line in enumerate(partition):
            if not isinstance(line, str):
                raise TypeError(
                    f"to_textfiles writes strings, but element {i} of the partition for {path!r} is "
                    f"{type(line).__name__}: {line!r:.60}; map the bag to str (e.g. json.dumps) first"
                )
            if i:
                f.write("\n")
            f.write(line)
        if last_endline and partition:
            f.write("\n")
    return path


def output_paths(path: Any, npartitions: int, name_function: Callable[[int], str] | None) -> list[str]:
    """One file name per partition: from a list, a ``*`` pattern, or a directory.

    The default names are the partition numbers zero-padded to one width, as
    in Dask, so that the sorted order ``read_text`` reads a glob in is the
    partition order (``"10"`` would sort before ``"2"``).

    >>> output_paths("out/*.txt", 2, None)
    ['out/0.txt', 'out/1.txt']
    >>> output_paths("out/*.txt", 11, None)[9:]
    ['out/09.txt', 'out/10.txt']
    >>> output_paths("out", 2, lambda i: f"{i:03}")
    ['out/000.part', 'out/001.part']
    """
    if name_function is None:
        width = len(str(max(npartitions - 1, 0)))
        name_function = f"{{:0{width}d}}".format
    if not isinstance(path, (str, os.PathLike)):
        paths = [os.fspath(p) for p in path]
        if len(paths) != npartitions:
            raise ValueError(f"to_textfiles: {len(paths)} paths given for {npartitions} partitions; give one per partition")
        return paths
    path = os.fspath(path)
    if path.count("*") > 1:
        raise ValueError(f"to_textfiles: the path {path!r} may hold at most one '*'")
    names = [name_function(i) for i in range(npartitions)]
    if len(set(names)) != len(names):
        repeated = next(n for n in names if names.count(n) > 1)
        raise ValueError(
            f"to_textfiles: name_function gives the name {repeated!r} to more than one partition, so they "
            "would overwrite each other's file; give each partition number its own name"
        )
    if names != sorted(names):
        warnings.warn(
            "to_textfiles: the names from name_function do not sort in partition order, so reading the "
            "files back with a glob (read_text sorts what it matches) gives the partitions in another order; "
            "zero-pad the numbers (e.g. lambda i: f'{i:05d}') to keep the order", UserWarning, stacklevel=3,
        )
    if "*" in path:
        return [path.replace("*", name) for name in names]
    return [os.path.join(path, f"{name}.part") for name in names]


def to_textfiles(bag, path: Any, name_function: Callable | None = None, compression: str | None = "infer",
                 encoding: str = "utf-8", compute: bool = True, last_endline: bool = False, **kwargs):
    """Write each partition to its own text file, one element (a ``str``) per line.

    ``path`` is a directory (files ``0.part``, ``1.part``, ...), a pattern
    with one ``*`` replaced by ``name_function(i)`` (default ``str``), or a
    list of paths. Compression is inferred from the extension. Returns the
    paths written, or with ``compute=False`` one ``Delayed`` per file.
    """
    from .core import Bag

    paths = output_paths(path, bag.npartitions, name_function)
    writes = []
    for p in paths:
        writes.append((p, infer_compression(p, compression)))
    written = Bag(MapWrite(bag.expr, tuple(writes), encoding, last_endline))
    if not compute:
        return written.to_delayed()
    return written.compute(**kwargs)


class MapWrite(Expr):
    """Write partition ``i`` of ``bag`` to ``writes[i]``; each output partition is ``[path]``."""

    _parameters = ["bag", "writes", "encoding", "last_endline"]

    def _task(self, index: int):
        path, compression = self.writes[index]
        return Task(self._key(index), _write_listed, Ref(self.bag._key(index)), path, compression,
                    self.encoding, self.last_endline)


def _write_listed(partition: list, path: str, compression, encoding: str, last_endline: bool) -> list:
    return [write_partition(partition, path, compression, encoding, last_endline)]


# ------------------------------------------------------------------ dataframes


def partition_to_frame(partition: list, columns: Any, meta: Any):
    import pandas as pd

    if meta is not None:
        frame = pd.DataFrame(partition, columns=list(meta.columns))
        if len(frame) == 0:
            return meta.iloc[:0].copy()
        for name, dtype in meta.dtypes.items():
            if frame[name].dtype != dtype:
                frame[name] = _as_meta_dtype(frame[name], name, dtype)
        return frame
    return pd.DataFrame(partition, columns=columns)


def _as_meta_dtype(column, name: Any, dtype: Any):
    try:
        converted = column.astype(dtype)
        missing = int(column.isna().sum())
        if missing and int(converted.isna().sum()) < missing:
            # bool has no missing value: astype would quietly make None False
            raise ValueError(f"{missing} missing value(s) cannot be held by {dtype}")
        return converted
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"to_dataframe: column {name!r} holds values that do not fit its dtype {dtype} ({err}); "
            "the dtypes come from meta=, or when it is not given from the first elements of the bag: "
            "pass meta={column: dtype, ...} with a dtype every element fits (e.g. 'float64' or 'object')"
        ) from err


def to_dataframe(bag, meta: Any = None, columns: Any = None):
    """The bag as a dataframe, one pandas ``DataFrame`` per partition.

    Elements are dicts (columns by key), tuples or lists (columns by
    position). ``meta`` (an empty ``pandas.DataFrame``, a dict
    ``{column: dtype}`` or a list of ``(column, dtype)`` pairs) fixes the
    columns and dtypes; without it they are inferred from the first elements
    (with ``columns`` naming or ordering them). Either way every partition
    gets exactly those columns and dtypes: a missing key becomes NaN, a key
    the meta lacks is dropped. Returns a ``shoal.dataframe.DataFrame``.
    """
    import pandas as pd

    if meta is not None and not isinstance(meta, pd.DataFrame):
        if isinstance(meta, dict):
            meta = meta.items()
        try:
            meta = pd.DataFrame({k: pd.Series([], dtype=v) for k, v in meta})
        except (TypeError, ValueError):
            raise TypeError(
                "to_dataframe: meta must be an empty pandas DataFrame, a dict {column: dtype} or a list of "
                f"(column, dtype) pairs, got {type(meta).__name__}: {meta!r:.60}"
            ) from None
    if meta is None:
        # As Dask does: learn the columns and dtypes from the first elements,
        # then give every partition those, so partitions whose records lack a
        # key, order keys differently or are empty still agree with the meta.
        meta = partition_to_frame(bag.take(5, warn=False), columns, None).iloc[:0]
    frames = bag.map_partitions(_frame_in_list, columns, meta.iloc[:0])
    parts = [d[0] for d in frames.to_delayed()]
    from ..dataframe.io.pandas import from_delayed as df_from_delayed

    return df_from_delayed(parts, meta=meta.iloc[:0])


def _frame_in_list(partition: list, columns: Any, meta: Any) -> list:
    return [partition_to_frame(partition, columns, meta)]
