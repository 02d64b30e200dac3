"""shoal.dataframe: partitioned pandas DataFrames, computed in parallel (``import shoal.dataframe as dd``)."""

from .collections.dataframe.core import DataFrame, Index, Scalar, Series, map_partitions
from .collections.dataframe.io.pandas import from_delayed, from_dict, from_map, from_pandas
from .collections.dataframe.meta import make_meta, meta_nonempty
from .collections.dataframe.io.csv import read_csv, to_csv
from .collections.dataframe.io.parquet import read_parquet, to_parquet
from .collections.dataframe.io.json import read_json, to_json
from .collections.dataframe.io.array import from_array
from .collections.dataframe.merge import merge
from .collections.dataframe.concat import concat
from .collections.dataframe.merge_asof import merge_asof
from .collections.dataframe.reshape import get_dummies, melt, pivot_table
