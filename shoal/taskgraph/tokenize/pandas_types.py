"""Normalizers for pandas objects: indexes, series, frames, extension arrays,
dtypes and scalars.

Registered lazily: nothing here runs (or imports pandas) until the first object
of a pandas type is tokenized. Column data is hashed through its array (see
``normalize_extension_array``), so a frame's token follows its values, index
and column labels, never its memory layout.
"""

from __future__ import annotations

from .dispatch import normalize_token, register, register_lazy
from .guards import type_name
from .hashing import content_digest


@register_lazy("pandas")
def _register_pandas() -> None:
    import numpy as np
    import pandas as pd
    from pandas.api.extensions import ExtensionArray, ExtensionDtype
    from pandas.api.types import infer_dtype
    from pandas.arrays import NumpyExtensionArray

    hash_array = pd.util.hash_array

    def hashed(values) -> str:
        return content_digest(np.ascontiguousarray(values, dtype=np.uint64))

    @register(pd.Index)
    def normalize_index(idx) -> tuple:
        if isinstance(idx, pd.RangeIndex):  # cheap: never materialize the values
            content = (("range", idx.start, idx.stop, idx.step),)
        elif isinstance(idx, pd.MultiIndex):
            content = tuple(normalize_token(idx.get_level_values(i).array) for i in range(idx.nlevels))
        else:
            content = (normalize_token(idx.array),)
        return ("pd.Index", type(idx).__name__, normalize_token(list(idx.names)), *content)

    @register(pd.Series)
    def normalize_series(s) -> tuple:
        return ("pd.Series", normalize_token(s.name), normalize_token(s.index), normalize_token(s.array))

    @register(pd.DataFrame)
    def normalize_frame(df) -> tuple:
        columns = tuple(normalize_token(df.iloc[:, i].array) for i in range(df.shape[1]))
        return ("pd.DataFrame", normalize_token(df.columns), normalize_token(df.index), *columns)

    @register(ExtensionArray)
    def normalize_extension_array(arr) -> tuple:
        if isinstance(arr, NumpyExtensionArray):
            values = arr.to_numpy()
            if values.dtype.hasobject and infer_dtype(values, skipna=False) == "string":
                # Fast path for the common object column of str; hash_array would
                # conflate 1 and "1" in mixed columns, so those go element-wise.
                return ("pd.strings", len(values), hashed(hash_array(values)))
            return ("pd.numpy", normalize_token(values))
        if isinstance(arr, pd.Categorical):
            content = normalize_token(arr.codes)
        else:
            # The NA mask is hashed too, because hash_array's hash for NA could
            # coincide with a real value's.
            content = (hashed(hash_array(arr)), normalize_token(np.asarray(arr.isna())))
        return ("pd.array", type(arr).__name__, normalize_token(arr.dtype), len(arr), content)

    @register(pd.api.types.CategoricalDtype)
    def normalize_categorical_dtype(dtype) -> tuple:
        categories = None if dtype.categories is None else normalize_token(dtype.categories)
        return ("pd.CategoricalDtype", categories, dtype.ordered)

    @register(ExtensionDtype)
    def normalize_extension_dtype(dtype) -> tuple:
        return ("pd.dtype", type_name(type(dtype)), str(dtype), repr(dtype))

    @register(pd.Timestamp)
    def normalize_timestamp(ts) -> tuple:
        return ("pd.Timestamp", ts.isoformat(), ts.unit, str(ts.tz))

    @register(pd.Timedelta)
    def normalize_pd_timedelta(td) -> tuple:
        return ("pd.Timedelta", td.isoformat(), td.unit)

    @register(type(pd.NaT))
    def normalize_nat(obj) -> tuple:
        return ("pd.NaT",)

    @register(type(pd.NA))
    def normalize_na(obj) -> tuple:
        return ("pd.NA",)

    @register(pd.Period)
    def normalize_period(p) -> tuple:
        return ("pd.Period", str(p), p.freqstr)

    @register(pd.Interval)
    def normalize_interval(iv) -> tuple:
        return ("pd.Interval", normalize_token(iv.left), normalize_token(iv.right), iv.closed)

    @register(pd.tseries.offsets.BaseOffset)
    def normalize_offset(offset) -> tuple:
        return ("pd.offset", type(offset).__name__, offset.freqstr, offset.n)
