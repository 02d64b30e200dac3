"""How a collection shows itself without computing: its structure (columns, dtypes, divisions).

Like Dask's repr: one row of dtypes, then one row of ``...`` per partition,
labelled by the divisions when they are known.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["structure_repr", "structure_html"]


def _is_index(coll) -> bool:
    return isinstance(coll._meta, pd.Index)

def _division_labels(coll) -> list:
    n = coll.npartitions
    if coll.known_divisions:
        return [str(d) for d in coll.divisions]
    return [""] * (n + 1)


def _structure_frame(coll) -> pd.DataFrame:
    meta = coll._meta
    if isinstance(meta, pd.DataFrame):
        dtypes = [str(d) for d in meta.dtypes]
        columns = list(meta.columns)
    else:
        dtypes = [str(meta.dtype)]
        columns = [meta.name if meta.name is not None else ""]
    rows = [dtypes] + [["..."] * len(columns) for _ in range(coll.npartitions)]
    index = _division_labels(coll)
    frame = pd.DataFrame(rows, columns=columns, index=pd.Index(index, name=f"npartitions={coll.npartitions}"))
    return frame


def structure_repr(coll) -> str:
    kind = type(coll).__name__
    lines = [f"shoal {kind} Structure:"]
    if _is_index(coll) or not (isinstance(coll._meta, (pd.DataFrame, pd.Series))):
        lines.append(f"  dtype={getattr(coll._meta, 'dtype', '?')}, name={getattr(coll._meta, 'name', None)!r}, "
                     f"npartitions={coll.npartitions}")
    else:
        lines.append(_structure_frame(coll).to_string())
    lines.append(f"shoal Name: {coll._expr._funcname}, {sum(1 for _ in coll._expr.walk())} expressions")
    return "\n".join(lines)


def structure_html(coll) -> str:
    kind = type(coll).__name__
    if _is_index(coll):
        body = f"<pre>{structure_repr(coll)}</pre>"
    else:
        body = _structure_frame(coll).to_html()
    return (f"<div><strong>shoal {kind} Structure:</strong></div>{body}"
            f"<div>shoal Name: {coll._expr._funcname}, {sum(1 for _ in coll._expr.walk())} expressions</div>")
