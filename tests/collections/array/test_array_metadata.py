"""Every operation's chunks and dtype match the blocks it actually computes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import shoal
import shoal.array as sa

rng = np.random.default_rng(11)
A = rng.standard_normal((7, 9))
INTS = rng.integers(0, 10, size=(7, 9))


def _cases():
    x = sa.from_array(A, chunks=(3, 4))
    i = sa.from_array(INTS, chunks=(2, 5))
    v = sa.from_array(A[0], chunks=4)
    return {
        "elementwise": (x + 1) * i,
        "broadcast": x + v,
        "ufunc": np.sin(x),
        "astype": i.astype("f4"),
        "compare": x > i,
        "slice": x[1:6:2, ::-3],
        "int-and-none": x[3, None, 2:],
        "pushdown": (x * 2)[::2, 1],
        "sum-axis0": x.sum(axis=0),
        "mean-keepdims": x.mean(axis=1, keepdims=True),
        "var-int": i.var(axis=0),
        "argmax": x.argmax(axis=1),
        "total": i.sum(),
        "rechunk": x.rechunk((5, 2)),
        "transpose": x.T,
        "concatenate": sa.concatenate([x, x[:2]]),
        "stack": sa.stack([x, x], axis=1),
        "reshape": x.reshape(9, 7),
        "ravel": x.ravel(),
        "matmul": x @ x.T,
        "tensordot": sa.tensordot(x, x, axes=([1], [1])),
        "einsum": sa.einsum("ij,ij->i", x, x),
        "cumsum": x.cumsum(axis=1),
        "take": x[[4, 0, 6]],
        "vindex": x.vindex[[0, 6], [8, 1]],
        "mask": x[x > 0],
        "map_blocks": x.map_blocks(lambda b: b[:1], chunks=((1, 1, 1), x.chunks[1]), dtype=float),
        "map_overlap": x.map_overlap(lambda b: b * 2, depth=1, boundary="reflect"),
        "pad": np.pad(x, 2, mode="edge"),
        "repeat": np.repeat(x, 2, axis=0),
        "unique": sa.unique(i),
        "bincount": sa.bincount(i.ravel()),
        "histogram": sa.histogram(x, bins=4, range=(-1, 1))[0],
        "topk": sa.topk(x, 5),
        "percentile": np.percentile(x, [10, 90], axis=0),
        "qr-q": sa.linalg.qr(sa.from_array(A.T, chunks=(9, 7)))[0],
        "norm": sa.linalg.norm(x, axis=1),
        "random": sa.random.default_rng(1).integers(0, 5, size=(6, 5), chunks=(4, 2)),
        "linspace": sa.linspace(0, 1, 11, chunks=3),
        "eye": sa.eye(5, 7, 1, chunks=3),
        "where": sa.where(x > 0, i, 0.5),
        "blocks": x.blocks[1:, ::2],
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_chunks_and_dtype_match_the_computed_blocks(name):
    x = _cases()[name]
    blocks = x.to_delayed()
    computed = shoal.compute(*blocks.ravel().tolist(), scheduler="sync")
    for idx, block in zip(np.ndindex(*x.numblocks), computed):
        block = np.asarray(block)
        assert block.dtype == x.dtype, f"{name}: block {idx} has dtype {block.dtype}, metadata says {x.dtype}"
        for axis, i in enumerate(idx):
            expected = x.chunks[axis][i]
            if not (isinstance(expected, float) and math.isnan(expected)):
                assert block.shape[axis] == expected, (
                    f"{name}: block {idx} is {block.shape[axis]} long on axis {axis}, chunks say {expected}"
                )
        assert block.ndim == x.ndim, f"{name}: block {idx} has {block.ndim} dimensions, the array {x.ndim}"
