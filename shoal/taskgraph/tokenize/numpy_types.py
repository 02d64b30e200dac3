"""Normalizers for NumPy arrays, scalars, dtypes and ufuncs.

Registered lazily: nothing here runs (or imports NumPy) until the first object
of a NumPy type is tokenized. Arrays are hashed by their logical (C-order)
content, so a view and a copy of the same values get the same token.
"""

from __future__ import annotations

from .builtin_types import normalize_bytes
from .callables import importable_name
from .dispatch import normalize_token, register, register_lazy
from .guards import type_name
from .hashing import content_digest


@register_lazy("numpy")
def _register_numpy() -> None:
    import numpy as np

    def normalize_dtype(dtype) -> tuple:
        # str(dtype) names structured fields; dtype.str carries byte order.
        return ("np.dtype", dtype.str, str(dtype))

    def array_content(arr) -> tuple:
        if arr.dtype.hasobject:
            # Element by element: each is an arbitrary Python object.
            return ("objects", *map(normalize_token, arr.ravel(order="C").tolist()))
        if arr.flags.c_contiguous and arr.dtype.itemsize > 0:
            data = arr.reshape(-1).view(np.uint8)
        else:  # views, Fortran order: hash the logical (C-order) content
            data = arr.tobytes(order="C")
        return ("bytes", content_digest(data))

    @register(np.ndarray)
    def normalize_array(arr) -> tuple:
        dtype = normalize_dtype(arr.dtype)
        return ("np.ndarray", type_name(type(arr)), arr.shape, dtype, array_content(arr))

    @register(np.ma.MaskedArray)
    def normalize_masked(arr) -> tuple:
        return (
            "np.ma",
            normalize_array(arr.data),
            normalize_array(np.ma.getmaskarray(arr)),
            normalize_token(arr.fill_value),
        )

    @register(np.generic)
    def normalize_scalar(obj) -> tuple:
        if obj.dtype.hasobject:  # pragma: no cover - numpy never makes object scalars
            return ("np.scalar", normalize_token(obj.item()))
        return ("np.scalar", normalize_dtype(obj.dtype), normalize_bytes(obj.tobytes()))

    register(np.dtype, normalize_dtype)

    @register(np.ufunc)
    def normalize_ufunc(obj) -> tuple:
        name = importable_name(obj)
        return ("np.ufunc", *name) if name else ("np.ufunc", obj.__name__)
