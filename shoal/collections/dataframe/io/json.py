"""``read_json`` and ``to_json`` for line-delimited JSON (one record per line).

Files are split into blocks of about ``blocksize`` bytes at line boundaries
(the same rule as ``read_csv``: a block owns the lines that start in it);
``blocksize=None`` reads each file whole, which also allows non-line JSON.
"""

from __future__ import annotations

import io
import os

import pandas as pd

from ....taskgraph.core import Ref, Task
from ..core import DataFrame, _Collection
from .csv import expand_paths, read_line_block
from .pandas import from_map

__all__ = ["read_json", "to_json"]


def _read_json_block(block, lines, kwargs, meta):
    path, offset, length = block
    if length is None:
        frame = pd.read_json(path, lines=lines, **kwargs)
    else:
        data = read_line_block(path, offset, length)
        if not data.strip():
            return meta
        frame = pd.read_json(io.BytesIO(data), lines=True, **kwargs)
    if meta is not None and len(frame) == 0 and len(frame.columns) == 0:
        return meta  # an empty file (pandas writes one for an empty partition) has no columns to check
    if meta is not None and list(frame.columns) == list(meta.columns):
        wrong = {c: meta[c].dtype for c in meta.columns if frame[c].dtype != meta[c].dtype}
        if wrong:
            try:
                frame = frame.astype(wrong)
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"read_json: {path!r} (bytes {offset}-{offset + (length or 0)}) has dtypes that differ from "
                    f"those of the first block ({wrong}): {error}. Pass dtype={{column: dtype}}."
                ) from error
    return frame


def read_json(urlpath, lines: bool = True, blocksize: int | None = None, meta=None, **kwargs):
    """Read JSON files into a DataFrame: one partition per file, or per block with ``blocksize`` (lines only)."""
    if blocksize is not None and not lines:
        raise ValueError("read_json: blocksize= needs lines=True (only line-delimited JSON can be split)")
    paths = expand_paths(urlpath, "read_json")
    blocks = []
    for path in paths:
        if blocksize is None:
            blocks.append((path, 0, None))
        else:
            size = os.path.getsize(path)
            blocks.extend((path, offset, blocksize) for offset in range(0, max(size, 1), blocksize))
    if meta is None:
        meta = _infer_meta(blocks, lines, kwargs)
    return from_map(_ReadJSON(lines, kwargs, meta), blocks, meta=meta)


def _infer_meta(blocks: list, lines: bool, kwargs: dict) -> pd.DataFrame:
    """The columns and dtypes of the first block holding any records (empty files, e.g. written for
    empty partitions, have none to learn from)."""
    for block in blocks:
        frame = _read_json_block(block, lines, kwargs, None)  # None: the block holds no lines
        if frame is not None and len(frame.columns):
            return frame.iloc[:0]
    return pd.DataFrame()


class _ReadJSON:
    __name__ = "read_json"

    def __init__(self, lines, kwargs, meta):
        self.lines, self.kwargs, self.meta = lines, kwargs, meta

    def __call__(self, block):
        return _read_json_block(block, self.lines, self.kwargs, self.meta)


def _write_json_partition(part, filename, kwargs):
    part.to_json(filename, **kwargs)
    return filename


def _gather(*names):
    return list(names)


def to_json(df, filename, orient: str = "records", lines: bool = True, compute: bool = True, scheduler=None,
            **kwargs):
    """Write one JSON file per partition (``*`` in ``filename`` becomes the partition number)."""
    from ...delayed import Delayed
    from ..fusion import fused_graph

    if isinstance(df, _Collection) and not isinstance(df, DataFrame):
        df = df.to_frame()
    filename = os.fspath(filename)
    if "*" not in filename:
        os.makedirs(filename, exist_ok=True)
        filename = os.path.join(filename, "*.part")
    plan = df._plan()
    graph = fused_graph(plan)
    name = "to-json-" + plan._name.rsplit("-", 1)[-1]
    names = [filename.replace("*", str(i)) for i in range(plan.npartitions)]
    os.makedirs(os.path.dirname(names[0]) or ".", exist_ok=True)
    keys = []
    for i, target in enumerate(names):
        key = (name, i)
        graph[key] = Task(key, _write_json_partition, Ref(plan._key(i)), target,
                          dict(kwargs, orient=orient, lines=lines))
        keys.append(key)
    final = (name + "-done", 0)
    graph[final] = Task(final, _gather, *[Ref(k) for k in keys])
    result = Delayed(final, None, graph=graph)
    return result.compute(scheduler=scheduler) if compute else result
