"""How an Array shows itself: a one-line ``repr`` and a notebook table with a sketch of the block grid."""

from __future__ import annotations

import html
import math
from typing import Any

__all__ = ["array_repr", "array_html", "format_bytes", "grid_svg"]


def format_bytes(n: float) -> str:
    """``1536 -> '1.50 kiB'``.

    >>> format_bytes(100), format_bytes(1536), format_bytes(3 * 2**30)
    ('100 B', '1.50 kiB', '3.00 GiB')
    """
    if isinstance(n, float) and math.isnan(n):
        return "unknown"
    for unit, size in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("kiB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{int(n)} B"


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join("nan" if isinstance(s, float) and math.isnan(s) else str(s) for s in shape) + (
        ",)" if len(shape) == 1 else ")")


def array_repr(x: Any) -> str:
    """``shoal.array<ones, shape=(4, 4), dtype=float64, chunksize=(2, 2), numblocks=(2, 2)>``."""
    name = x.name.rsplit("-", 1)[0]
    return (
        f"shoal.array<{name}, shape={_shape_text(x.shape)}, dtype={x.dtype}, "
        f"chunksize={_shape_text(x.chunksize)}, numblocks={x.numblocks}, chunktype=numpy.ndarray>"
    )


def _task_count(x: Any) -> int:
    return len(x.__shoal_graph__())


def array_html(x: Any) -> str:
    """A table (bytes, shape, chunks, dtype, tasks) beside an SVG of the block grid."""
    block_bytes = math.prod(x.chunksize) * x.dtype.itemsize if x.ndim else x.dtype.itemsize
    rows = [
        ("Bytes", format_bytes(x.nbytes), format_bytes(block_bytes)),
        ("Shape", _shape_text(x.shape), _shape_text(x.chunksize)),
        ("Count", f"{_task_count(x)} tasks", f"{x.npartitions} chunks in {x.ndim} dimensions"),
        ("Type", str(x.dtype), "numpy.ndarray"),
    ]
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(a)}</td><td>{html.escape(c)}</td></tr>" for k, a, c in rows
    )
    table = (
        "<table><thead><tr><td></td><th>Array</th><th>Chunk</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    return (
        f"<table><tr><td>{table}</td><td>{grid_svg(x.chunks)}</td></tr></table>"
    )


def grid_svg(chunks: tuple, size: int = 120) -> str:
    """An SVG of the block grid of the last two axes (a single row for 1-d arrays).

    >>> grid_svg(((2, 2), (3,))).count("<line")
    5
    """
    if not chunks:
        return '<svg width="20" height="20"><rect width="20" height="20" fill="#8B4903" fill-opacity="0.6"/></svg>'
    rows = chunks[-2] if len(chunks) >= 2 else (1,)
    cols = chunks[-1]
    if any(isinstance(c, float) and math.isnan(c) for c in (*rows, *cols)):
        return "<p>(block lengths unknown)</p>"
    total_r, total_c = max(sum(rows), 1), max(sum(cols), 1)
    scale = size / max(total_r, total_c)
    width = max(total_c * scale, 20) if len(chunks) >= 2 else size
    height = max(total_r * scale, 20) if len(chunks) >= 2 else 25
    lines = []
    # Too many lines would hide the grid; show at most 50 per direction.
    row_cuts = _cuts(rows, height)
    col_cuts = _cuts(cols, width)
    for y in row_cuts:
        lines.append(f'<line x1="0" y1="{y:.1f}" x2="{width:.1f}" y2="{y:.1f}" stroke="black"/>')
    for xpos in col_cuts:
        lines.append(f'<line x1="{xpos:.1f}" y1="0" x2="{xpos:.1f}" y2="{height:.1f}" stroke="black"/>')
    return (
        f'<svg width="{width + 10:.0f}" height="{height + 10:.0f}" style="stroke:rgb(0,0,0);stroke-width:1">'
        f'<rect x="0" y="0" width="{width:.1f}" height="{height:.1f}" fill="#ECB172" fill-opacity="0.8"/>'
        + "".join(lines)
        + "</svg>"
    )


def _cuts(blocks: tuple, length: float) -> list[float]:
    total = max(sum(blocks), 1)
    positions = [0.0]
    for b in blocks:
        positions.append(positions[-1] + b / total * length)
    if len(positions) > 51:
        step = len(positions) / 50
        positions = [positions[int(i * step)] for i in range(50)] + [positions[-1]]
    return positions
