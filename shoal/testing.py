"""``assert_eq``: the one comparison helper of shoal's tests.

It computes whatever is lazy, then compares the way NumPy and pandas' own
testing helpers do: dtype, shape or index, and values (NaN equal to NaN,
floats within a tolerance). Later collections extend it with checks of
their metadata (chunks, divisions).

>>> from shoal import delayed
>>> from operator import add
>>> assert_eq(delayed(add)(1, 2), 3)
>>> assert_eq([1.0, {"a": (2, 3)}], [1.0 + 1e-12, {"a": (2, 3)}])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .taskgraph.protocol import is_collection

__all__ = ["assert_eq"]

_RTOL = 1e-7
_ATOL = 1e-9


def assert_eq(a: Any, b: Any, check_dtype: bool = True, **kwargs: Any) -> None:
    """Assert that ``a`` and ``b`` hold the same data.

    Either side may be a shoal collection: it is computed first, with the
    ``scheduler=`` keyword (default ``'sync'``, so a failure is easy to
    debug). Other keywords go to pandas' ``assert_*_equal`` functions when
    pandas objects are compared (e.g. ``check_names=False``).
    """
    scheduler = kwargs.pop("scheduler", "sync")
    a = _computed(a, scheduler)
    b = _computed(b, scheduler)
    _compare(a, b, check_dtype, kwargs, path="")


def _computed(value: Any, scheduler: Any) -> Any:
    if is_collection(value):
        from .base import compute

        (value,) = compute(value, scheduler=scheduler)
    return value


def _compare(a: Any, b: Any, check_dtype: bool, pandas_kwargs: dict, path: str) -> None:
    where = f" at {path}" if path else ""
    if isinstance(a, (pd.DataFrame, pd.Series, pd.Index)) or isinstance(b, (pd.DataFrame, pd.Series, pd.Index)):
        _compare_pandas(a, b, check_dtype, pandas_kwargs, where)
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        _compare_arrays(np.asarray(a), np.asarray(b), check_dtype, where)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        assert type(a) is type(b), f"types differ{where}: {type(a).__name__} != {type(b).__name__}"
        assert len(a) == len(b), f"lengths differ{where}: {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(x, y, check_dtype, pandas_kwargs, f"{path}[{i}]")
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"dict keys differ{where}: {sorted(map(repr, a))} != {sorted(map(repr, b))}"
        for k in a:
            _compare(a[k], b[k], check_dtype, pandas_kwargs, f"{path}[{k!r}]")
    elif _is_float(a) or _is_float(b):
        assert _is_number(a) and _is_number(b), f"values differ{where}: {a!r} != {b!r}"
        if check_dtype and isinstance(a, np.generic) and isinstance(b, np.generic):
            assert a.dtype == b.dtype, f"dtypes differ{where}: {a.dtype} != {b.dtype}"
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), f"values differ{where}: {a!r} != {b!r}"
        else:
            assert math.isclose(a, b, rel_tol=_RTOL, abs_tol=_ATOL), f"values differ{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"values differ{where}: {a!r} != {b!r}"


def _compare_pandas(a, b, check_dtype: bool, kwargs: dict, where: str) -> None:
    assert type(a) is type(b), f"types differ{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_dtype=check_dtype, **kwargs)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_dtype=check_dtype, **kwargs)
    else:
        pd.testing.assert_index_equal(a, b, exact=check_dtype, **kwargs)


def _compare_arrays(a: np.ndarray, b: np.ndarray, check_dtype: bool, where: str) -> None:
    if check_dtype:
        assert a.dtype == b.dtype, f"dtypes differ{where}: {a.dtype} != {b.dtype}"
    assert a.shape == b.shape, f"shapes differ{where}: {a.shape} != {b.shape}"
    if np.issubdtype(a.dtype, np.inexact) or np.issubdtype(b.dtype, np.inexact):
        np.testing.assert_allclose(a, b, rtol=_RTOL, atol=_ATOL, equal_nan=True, err_msg=where.strip())
    else:
        np.testing.assert_array_equal(a, b, err_msg=where.strip())


def _is_float(x: Any) -> bool:
    return isinstance(x, (float, np.floating))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
