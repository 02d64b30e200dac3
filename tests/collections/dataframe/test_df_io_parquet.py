"""read_parquet / to_parquet against pandas, with hive partitions, filters and column pushdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import shoal.dataframe as dd
from shoal import config
from shoal.collections.dataframe.io import parquet as parquet_module
from shoal.testing import assert_eq


def _table(n=400, seed=0, ncols=3):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "a": np.arange(n),
        "f": rng.normal(size=n),
        "s": pd.array(rng.choice(["x", "y", None], n), dtype="str"),
        "p": rng.choice(["north", "south"], n),
        "n": pd.array(rng.integers(0, 9, n), dtype="Int64"),
        "t": pd.date_range("2022-01-01", periods=n, freq="D", tz="UTC"),
    })
    for j in range(ncols):
        frame[f"x{j}"] = rng.normal(size=n)
    return frame


def _sorted(frame, by=("a",)):
    return frame.sort_values(list(by)).reset_index(drop=True)


def test_roundtrip_file_directory_glob(tmp_path):
    pdf = _table()
    df = dd.from_pandas(pdf, npartitions=4)
    files = df.to_parquet(str(tmp_path / "ds"))
    assert len(files) == 4
    for source in [str(tmp_path / "ds"), str(tmp_path / "ds" / "*.parquet"), files[0]]:
        result = dd.read_parquet(source)
        expected = pd.read_parquet(source if "*" not in source else files)
        assert result.dtypes.equals(expected.dtypes)
        pd.testing.assert_frame_equal(result.compute().reset_index(drop=True), expected.reset_index(drop=True))
    pd.testing.assert_frame_equal(dd.read_parquet(str(tmp_path / "ds")).compute().reset_index(drop=True), pdf)


def test_columns_argument(tmp_path):
    pdf = _table()
    pdf.to_parquet(tmp_path / "one.parquet")
    df = dd.read_parquet(str(tmp_path / "one.parquet"), columns=["f", "s"])
    assert list(df.columns) == ["f", "s"]
    assert_eq(df, pd.read_parquet(tmp_path / "one.parquet", columns=["f", "s"]))
    assert_eq(dd.read_parquet(str(tmp_path / "one.parquet"), columns="f"),
              pd.read_parquet(tmp_path / "one.parquet", columns=["f"])["f"])
    with pytest.raises(KeyError, match="available columns"):
        dd.read_parquet(str(tmp_path / "one.parquet"), columns=["zzz"])


def test_hive_partitions_and_partition_on(tmp_path):
    pdf = _table()
    dd.from_pandas(pdf, npartitions=3).to_parquet(str(tmp_path / "hive"), partition_on="p")
    assert sorted(p.name for p in (tmp_path / "hive").iterdir()) == ["p=north", "p=south"]
    result = dd.read_parquet(str(tmp_path / "hive"))
    expected = pd.read_parquet(tmp_path / "hive")
    assert result.dtypes.equals(expected.dtypes)  # the partition column is categorical, as in pandas
    pd.testing.assert_frame_equal(_sorted(result.compute()), _sorted(expected))


def test_filters_prune_partitions_and_row_groups(tmp_path):
    pdf = _table(1000)
    dd.from_pandas(pdf, npartitions=2).to_parquet(str(tmp_path / "hive"), partition_on="p", row_group_size=100)
    full = dd.read_parquet(str(tmp_path / "hive"), split_row_groups=True)
    filters = [("p", "==", "north"), ("a", ">=", 800)]
    pruned = dd.read_parquet(str(tmp_path / "hive"), filters=filters, split_row_groups=True)
    # south is skipped by its directory; row groups holding only a < 800 by their statistics
    pieces = pruned.expr.pieces
    assert all("p=north" in piece.path for piece in pieces)
    assert len(pieces) < full.npartitions / 4
    expected = pd.read_parquet(tmp_path / "hive", filters=filters)
    pd.testing.assert_frame_equal(_sorted(pruned.compute()), _sorted(expected))
    either = [[("a", "<", 30)], [("a", ">", 990)]]
    pd.testing.assert_frame_equal(_sorted(dd.read_parquet(str(tmp_path / "hive"), filters=either).compute()),
                                  _sorted(pd.read_parquet(tmp_path / "hive", filters=either)))


def _bytes_of(path, columns):
    meta = pq.ParquetFile(path).metadata
    total = 0
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for c in range(group.num_columns):
            chunk = group.column(c)
            if columns is None or chunk.path_in_schema in columns:
                total += chunk.total_compressed_size
    return total


def test_projection_pushdown_reads_only_used_columns(tmp_path, monkeypatch):
    pdf = _table(2000, ncols=8)
    dd.from_pandas(pdf, npartitions=2).to_parquet(str(tmp_path / "wide"))
    read = []
    original = parquet_module._read_fragment

    def recording(fragment, schema, columns, filter_expr):
        read.append((fragment.path, columns))
        return original(fragment, schema, columns, filter_expr)

    monkeypatch.setattr(parquet_module, "_read_fragment", recording)
    df = dd.read_parquet(str(tmp_path / "wide"))
    query = (df.x1 + df.x2)[df.a > 100].sum()
    readers = list(query.optimize().expr.find_operations(parquet_module.ReadParquet))
    assert [r.columns_ for r in readers] == [["a", "x1", "x2"]]
    expected = (pdf.x1 + pdf.x2)[pdf.a > 100].sum()
    assert_eq(query, expected)
    # the used columns, plus the index (written as a column) that keeps the rows' labels
    assert len(read) == 2 and all(cols == ["a", "x1", "x2", "__index_level_0__"] for _, cols in read)
    used = sum(_bytes_of(path, set(cols)) for path, cols in read)
    everything = sum(_bytes_of(path, None) for path, _ in read)
    assert used < 0.4 * everything  # 3 of 14 columns
    with config.set({"dataframe.optimize": False}):
        read.clear()
        assert_eq(query, expected)
        assert all(cols is None for _, cols in read)  # the unoptimized plan reads every column


def test_parquet_on_every_scheduler(tmp_path, scheduler):
    pdf = _table(300)
    dd.from_pandas(pdf, npartitions=3).to_parquet(str(tmp_path / "ds"))
    df = dd.read_parquet(str(tmp_path / "ds"))
    assert_eq(df.groupby("p").f.mean(), pdf.groupby("p").f.mean(), scheduler=scheduler)


def test_len_from_parquet_footers_reads_no_data(tmp_path, monkeypatch):
    pdf = _table(500)
    dd.from_pandas(pdf, npartitions=3).to_parquet(str(tmp_path / "ds"), row_group_size=64)
    monkeypatch.setattr(parquet_module, "_read_fragment", lambda *a: pytest.fail("data was read"))
    for split in (False, True):
        df = dd.read_parquet(str(tmp_path / "ds"), split_row_groups=split)
        count = (df.f.fillna(0) + 1).count_rows()
        plan = count.optimize().expr
        assert type(plan).__name__ == "KnownValue" and plan.value == len(pdf)
        assert len(count.__shoal_graph__()) == 1
        assert len(df) == len(pdf) and len(df.a.astype("float64")) == len(pdf)
    monkeypatch.undo()
    with config.set({"dataframe.optimize": False}):
        assert len(dd.read_parquet(str(tmp_path / "ds"))) == len(pdf)  # unoptimized: counted from the data
    filtered = dd.read_parquet(str(tmp_path / "ds"), filters=[("a", "<", 70)])
    assert len(filtered) == 70  # filters make the count depend on data: no shortcut, still right


def test_filter_on_missing_column_fails_when_built(tmp_path):
    _table(50).to_parquet(tmp_path / "one.parquet")
    with pytest.raises(KeyError, match=r"column 'nope'.*available columns are \['a', 'f'"):
        dd.read_parquet(str(tmp_path / "one.parquet"), filters=[("nope", ">", 1)])


def test_metadata_files_overwrite_and_append(tmp_path):
    pdf = _table(300)
    df = dd.from_pandas(pdf, npartitions=3)
    target = str(tmp_path / "ds")
    df.to_parquet(target)
    assert (tmp_path / "ds" / "_metadata").exists() and (tmp_path / "ds" / "_common_metadata").exists()
    assert pq.read_metadata(tmp_path / "ds" / "_metadata").num_rows == len(pdf)
    assert pq.read_schema(tmp_path / "ds" / "_common_metadata").names[:3] == ["a", "f", "s"]
    pd.testing.assert_frame_equal(pd.read_parquet(target).reset_index(drop=True), pdf)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        df.to_parquet(target)
    df.to_parquet(target, append=True)
    assert len(dd.read_parquet(target).expr.pieces) == 6
    pd.testing.assert_frame_equal(_sorted(dd.read_parquet(target).compute()), _sorted(pd.concat([pdf, pdf])))
    df.partitions[0].to_parquet(target, overwrite=True)
    pd.testing.assert_frame_equal(dd.read_parquet(target).compute(), df.partitions[0].compute())


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("write_index", [None, True])
def test_predicate_pushdown_skips_row_groups_without_changing_results(tmp_path, monkeypatch, split, write_index):
    pdf = _table(1000)
    dd.from_pandas(pdf, npartitions=2).to_parquet(str(tmp_path / "hive"), partition_on="p", row_group_size=100,
                                                  write_index=write_index)
    read = []
    original = parquet_module._read_fragment

    def recording(fragment, schema, columns, filter_expr):
        read.append(fragment.num_row_groups)
        return original(fragment, schema, columns, filter_expr)

    monkeypatch.setattr(parquet_module, "_read_fragment", recording)
    df = dd.read_parquet(str(tmp_path / "hive"), split_row_groups=split)
    queries = [
        df[(df.a > 850) & (df.p == "south")].f,
        df[df.a.isin([3, 997])],
        df[(500 <= df.a) & (df.f > 0)][["a", "s"]],
        df.f + df[df.a > 850].f,  # the reader is also read unfiltered: nothing may be pushed into it
    ]
    for number, query in enumerate(queries):
        readers = list(query.optimize().expr.find_operations(parquet_module.ReadParquet))
        assert any(r.pushed_filters for r in readers) == (number < 3)
        read.clear()
        optimized = query.compute(scheduler="sync")
        optimized_row_groups = sum(read)
        with config.set({"dataframe.optimize": False}):
            read.clear()
            unoptimized = query.compute(scheduler="sync")
            assert sum(read) >= optimized_row_groups
        if isinstance(optimized, pd.DataFrame):
            pd.testing.assert_frame_equal(optimized, unoptimized)
        else:
            pd.testing.assert_series_equal(optimized, unoptimized)
    read.clear()
    df[(df.a > 850) & (df.p == "south")].f.sum().compute(scheduler="sync")
    assert sum(read) <= 4  # of 10 row groups: only those holding a > 850 in p=south
    expected = pdf[(pdf.a > 850) & (pdf.p == "south")].f.sum()
    assert_eq(df[(df.a > 850) & (df.p == "south")].f.sum(), expected)


def test_divisions_from_statistics_of_a_sorted_index(tmp_path):
    pdf = _table(600).set_index("a")
    dd.from_pandas(pdf, npartitions=4).to_parquet(str(tmp_path / "sorted"), write_index=True)
    df = dd.read_parquet(str(tmp_path / "sorted"))
    assert df.known_divisions
    expected_divisions = dd.from_pandas(pdf, npartitions=4).divisions
    assert df.divisions == expected_divisions
    assert_eq(df, pd.read_parquet(tmp_path / "sorted"))
    assert_eq(df.loc[100:130], pdf.loc[100:130])
    shuffled = pdf.sample(frac=1, random_state=0)
    dd.from_pandas(shuffled, npartitions=3, sort=False).to_parquet(str(tmp_path / "unsorted"), write_index=True)
    assert not dd.read_parquet(str(tmp_path / "unsorted")).known_divisions
    narrow = dd.read_parquet(str(tmp_path / "sorted"), columns=["f"])
    assert narrow.divisions == expected_divisions
    assert_eq(narrow, pdf[["f"]])


def test_computing_together_reads_shared_files_once(tmp_path, monkeypatch):
    pdf = _table(400, ncols=4)
    dd.from_pandas(pdf, npartitions=2).to_parquet(str(tmp_path / "ds"), write_index=False)
    read = []
    original = parquet_module._read_fragment

    def recording(fragment, schema, columns, filter_expr):
        read.append(columns)
        return original(fragment, schema, columns, filter_expr)

    monkeypatch.setattr(parquet_module, "_read_fragment", recording)
    df = dd.read_parquet(str(tmp_path / "ds"))
    from shoal import compute

    total, top = compute(df.x0.sum(), df[df.a > 100].x1.max(), scheduler="sync")
    assert len(read) == 2 and all(sorted(cols) == ["a", "x0", "x1"] for cols in read)  # one read per file
    assert_eq(total, pdf.x0.sum())
    assert_eq(top, pdf[pdf.a > 100].x1.max())
    read.clear()
    with config.set({"dataframe.optimize": False}):
        assert compute(df.x0.sum(), df[df.a > 100].x1.max(), scheduler="sync") == (total, top)


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_divisions_from_statistics_of_a_sorted_datetime_index(tmp_path, tz):
    pdf = _table(300).set_index(pd.date_range("2023-03-20", periods=300, freq="h", tz=tz, name="when"))
    expected = dd.from_pandas(pdf, npartitions=3)
    expected.to_parquet(str(tmp_path / "ds"), write_index=True)
    df = dd.read_parquet(str(tmp_path / "ds"))
    assert df.divisions == expected.divisions
    assert_eq(df, pd.read_parquet(tmp_path / "ds"), check_freq=False)  # (concatenation forgets the freq)
    window = slice(pdf.index[100], pdf.index[140])
    assert_eq(df.loc[window], pdf.loc[window], check_freq=False)


@pytest.mark.parametrize("index_name", [None, "a"])
def test_roundtrip_keeps_the_index_labels_of_every_partition(tmp_path, index_name):
    # A RangeIndex kept only as metadata restarted at 0 in every file when read back as one dataset.
    pdf = _table(100)
    if index_name is not None:
        pdf = pdf.set_index(index_name)
    df = dd.from_pandas(pdf, npartitions=4)
    df.to_parquet(str(tmp_path / "ds"))
    back = dd.read_parquet(str(tmp_path / "ds"))
    assert back.divisions == df.divisions
    assert_eq(back, pdf)
    pd.testing.assert_frame_equal(pd.read_parquet(str(tmp_path / "ds")), pdf)
    assert_eq(dd.read_parquet(str(tmp_path / "ds"), columns=["f"], filters=[("f", ">", 0)]), pdf[pdf.f > 0][["f"]])


def test_index_argument_sets_the_index_with_divisions_from_statistics(tmp_path):
    # index= was a NotImplementedError
    pdf = _table(200)
    dd.from_pandas(pdf, npartitions=4).to_parquet(str(tmp_path / "ds"), write_index=False)
    df = dd.read_parquet(str(tmp_path / "ds"), index="a")
    assert df.known_divisions and df.divisions == dd.from_pandas(pdf.set_index("a"), npartitions=4).divisions
    assert_eq(df, pdf.set_index("a"))
    assert_eq(dd.read_parquet(str(tmp_path / "ds"), index="a", columns=["f", "s"]), pdf.set_index("a")[["f", "s"]])
    assert_eq(dd.read_parquet(str(tmp_path / "ds"), index="a", columns="f"), pdf.set_index("a")["f"])
    assert_eq(dd.read_parquet(str(tmp_path / "ds"), index="a", filters=[("a", ">", 120)]),
              pdf[pdf.a > 120].set_index("a"))
    assert_eq(df.loc[40:45], pdf.set_index("a").loc[40:45])
    unsorted = dd.read_parquet(str(tmp_path / "ds"), index="s")  # ranges overlap: divisions unknown
    assert not unsorted.known_divisions
    assert_eq(unsorted, pdf.set_index("s"))
    with pytest.raises(KeyError, match="available columns"):
        dd.read_parquet(str(tmp_path / "ds"), index="nope")
    assert dd.read_parquet(str(tmp_path / "ds"), calculate_divisions=True).npartitions == 4


def test_index_argument_sorts_rows_within_each_piece(tmp_path):
    pdf = _table(100)
    shuffled = pd.concat([pdf.iloc[:50].sample(frac=1, random_state=3), pdf.iloc[50:]], ignore_index=True)
    dd.from_pandas(shuffled, npartitions=2, sort=False).to_parquet(str(tmp_path / "ds"), write_index=False)
    df = dd.read_parquet(str(tmp_path / "ds"), index="a")
    assert df.divisions == (0, 50, 99)
    assert_eq(df, pdf.set_index("a"))


def test_a_missing_filter_column_lists_the_data_columns_only(tmp_path):
    # the index is now written as a column; its internal name is no column a user can filter on by name
    dd.from_pandas(_table(40), npartitions=2).to_parquet(str(tmp_path / "ds"))
    with pytest.raises(KeyError, match="available columns") as raised:
        dd.read_parquet(str(tmp_path / "ds"), filters=[("nope", "==", 1)])
    assert "__index_level_" not in str(raised.value) and "'a'" in str(raised.value)
