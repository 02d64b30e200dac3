"""read_csv / to_csv against pandas."""

from __future__ import annotations

import gzip
import io
import os

import numpy as np
import pandas as pd
import pytest

import shoal.dataframe as dd
from shoal.collections.dataframe.io import csv as csv_module
from shoal.testing import assert_eq


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    f[::9] = np.nan
    return pd.DataFrame({
        "a": rng.integers(0, 1000, n),
        "f": f,
        "s": pd.array(rng.choice(["x", "yy", None], n), dtype="str"),
        "d": pd.date_range("2020-01-01", periods=n, freq="h").astype(str),
    })


@pytest.fixture
def csv_dir(tmp_path):
    pdf = _table()
    pdf.iloc[:100].to_csv(tmp_path / "part-0.csv", index=False)
    pdf.iloc[100:220].to_csv(tmp_path / "part-1.csv", index=False)
    pdf.iloc[220:].to_csv(tmp_path / "part-2.csv", index=False)
    return tmp_path, pdf


@pytest.mark.parametrize("blocksize", [None, 500, 1237, 64 * 2**20])
def test_blocks_split_at_line_boundaries(csv_dir, blocksize):
    path, pdf = csv_dir
    df = dd.read_csv(str(path / "part-*.csv"), blocksize=blocksize)
    if blocksize == 500:
        assert df.npartitions > 6
    result = df.compute(scheduler="sync")
    assert len(result) == len(pdf)  # every line exactly once, header once per file
    pd.testing.assert_frame_equal(result.reset_index(drop=True), pdf)


def test_paths_lists_and_kwargs_pass_through(csv_dir):
    path, pdf = csv_dir
    files = [str(path / f"part-{i}.csv") for i in range(3)]
    df = dd.read_csv(files, blocksize=700, parse_dates=["d"], dtype={"a": "float64"})
    expected = pd.concat([pd.read_csv(f, parse_dates=["d"], dtype={"a": "float64"}) for f in files])
    assert df.dtypes.equals(expected.dtypes)
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), expected.reset_index(drop=True))
    usecols = dd.read_csv(files, usecols=["a", "s"], blocksize=900)
    assert list(usecols.columns) == ["a", "s"]
    assert_eq(usecols.a.sum(), pdf.a.sum())


def test_skiprows_header_repeated_in_every_block(tmp_path):
    pdf = _table(200)
    with open(tmp_path / "f.csv", "w") as f:
        f.write("# comment line\n")
        pdf.to_csv(f, index=False)
    df = dd.read_csv(str(tmp_path / "f.csv"), skiprows=1, blocksize=600)
    assert df.npartitions > 3
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), pd.read_csv(tmp_path / "f.csv", skiprows=1))


def test_compression_by_extension(tmp_path):
    pdf = _table(150)
    with gzip.open(tmp_path / "f.csv.gz", "wt") as f:
        pdf.to_csv(f, index=False)
    df = dd.read_csv(str(tmp_path / "*.csv.gz"), blocksize=100)
    assert df.npartitions == 1  # a compressed file cannot be split
    pd.testing.assert_frame_equal(df.compute(), pdf)


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no files match the pattern .*nothing-\*\.csv"):
        dd.read_csv(str(tmp_path / "nothing-*.csv"))


def test_dtype_mismatch_names_file_column_and_fix(tmp_path):
    lines = ["a,b"] + [f"{i},{i}" for i in range(2000)] + ["1.5,3"]
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    df = dd.read_csv(str(tmp_path / "bad.csv"), blocksize=3000, sample=1000)
    with pytest.raises(ValueError, match=r"bad\.csv.*column 'a'.*float64.*int64.*dtype=\{'a': 'float64'\}"):
        df.compute(scheduler="sync")
    fixed = dd.read_csv(str(tmp_path / "bad.csv"), blocksize=3000, sample=1000, dtype={"a": "float64"})
    pd.testing.assert_frame_equal(fixed.compute().reset_index(drop=True),
                                  pd.read_csv(tmp_path / "bad.csv", dtype={"a": "float64"}))


def test_projection_pushdown_parses_only_used_columns(csv_dir, monkeypatch):
    path, pdf = csv_dir
    parsed = []
    original = csv_module._parse

    def recording(buffer, kwargs):
        parsed.append(kwargs.get("usecols"))
        return original(buffer, kwargs)

    monkeypatch.setattr(csv_module, "_parse", recording)
    df = dd.read_csv(str(path / "*.csv"), blocksize=2000)
    query = df[df.a > 500].f.sum()
    readers = list(query.optimize().expr.find_operations(csv_module.ReadCSV))
    assert [r.columns_ for r in readers] == [["a", "f"]]
    assert_eq(query, pdf[pdf.a > 500].f.sum())
    assert parsed and all(cols == ["a", "f"] for cols in parsed)
    with __import__("shoal").config.set({"dataframe.optimize": False}):
        assert_eq(query, pdf[pdf.a > 500].f.sum())  # unoptimized plan: same answer


def test_to_csv_one_file_per_partition_and_single_file(tmp_path):
    pdf = _table(120)
    df = dd.from_pandas(pdf, npartitions=3)
    files = df.to_csv(str(tmp_path / "out-*.csv"), index=False)
    assert files == [str(tmp_path / f"out-{i}.csv") for i in range(3)]
    back = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    pd.testing.assert_frame_equal(back, pdf)
    single = df.to_csv(str(tmp_path / "all.csv"), single_file=True, index=False)
    assert single == [str(tmp_path / "all.csv")]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "all.csv"), pdf)
    directory = df.to_csv(str(tmp_path / "dir"), index=False)
    assert sorted(os.listdir(tmp_path / "dir")) == ["0.part", "1.part", "2.part"] and len(directory) == 3
    pd.testing.assert_frame_equal(dd.read_csv(str(tmp_path / "dir" / "*.part")).compute().reset_index(drop=True), pdf)


def test_read_csv_on_every_scheduler(csv_dir, scheduler):
    path, pdf = csv_dir
    df = dd.read_csv(str(path / "*.csv"), blocksize=1500)
    assert_eq(df.groupby("s").a.sum(), pdf.groupby("s").a.sum(), scheduler=scheduler)


def test_writers_can_return_a_delayed(tmp_path):
    pdf = _table(50)
    df = dd.from_pandas(pdf, npartitions=2)
    lazy = df.to_csv(str(tmp_path / "x-*.csv"), index=False, compute=False)
    assert not (tmp_path / "x-0.csv").exists()
    assert lazy.compute(scheduler="sync") == [str(tmp_path / "x-0.csv"), str(tmp_path / "x-1.csv")]
    lazy = df.to_parquet(str(tmp_path / "pq"), compute=False)
    assert len(lazy.compute(scheduler="sync")) == 2
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pq").reset_index(drop=True), pdf)


def test_pushdown_keeps_parse_dates_of_unused_columns_valid(csv_dir):
    path, pdf = csv_dir
    df = dd.read_csv(str(path / "*.csv"), parse_dates=["d"], blocksize=1500)
    assert_eq(df.a.sum(), pdf.a.sum())
    assert_eq(df.d.max(), pd.to_datetime(pdf.d).max())


@pytest.mark.parametrize("blocksize", [None, 400])
def test_dtypes_come_from_the_first_file_with_rows(tmp_path, blocksize):
    # to_csv writes a header-only file for an empty partition; learnt from it, every column was object
    pdf = _table(80)
    df = dd.from_pandas(pdf, npartitions=4)
    kept = df[(df.a < 700) & (df.index >= 20)]  # the first partition (rows 0-19) is left empty
    kept.to_csv(str(tmp_path / "out-*.csv"), index=False)
    back = dd.read_csv(str(tmp_path / "out-*.csv"), blocksize=blocksize)
    expected = pdf[(pdf.a < 700) & (pdf.index >= 20)].reset_index(drop=True)
    assert back.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(back.compute().reset_index(drop=True), expected)


def test_a_block_cut_inside_a_quoted_newline_says_to_read_whole_files(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('a,b\n1,"x\ny"\n2,z\n' * 30)
    with pytest.raises(pd.errors.ParserError, match="blocksize=None"):
        dd.read_csv(str(path), blocksize=40).compute(scheduler="sync")
    pd.testing.assert_frame_equal(dd.read_csv(str(path), blocksize=None).compute(), pd.read_csv(path))


def test_usecols_naming_a_missing_column_lists_the_available_ones(tmp_path):
    path = tmp_path / "x.csv"
    _table(20).to_csv(path, index=False)
    with pytest.raises(KeyError, match=r"\['nope'\].*available columns are \['a', 'f', 's', 'd'\]"):
        dd.read_csv(str(path), usecols=["a", "nope"])
    assert_eq(dd.read_csv(str(path), usecols=["f", "a"]), pd.read_csv(path, usecols=["f", "a"]))


def test_header_first_partition_only(tmp_path):
    # Dask's option was passed on to pandas, which refused it inside a task
    pdf = _table(30)
    files = dd.from_pandas(pdf, npartitions=3).to_csv(str(tmp_path / "out-*.csv"), index=False,
                                                     header_first_partition_only=True)
    first, *rest = [open(f).readline() for f in files]
    assert first.strip() == ",".join(pdf.columns) and all(line.split(",")[0] != "a" for line in rest)
    joined = "".join(open(f).read() for f in files)
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(joined)), pd.read_csv(io.StringIO(pdf.to_csv(index=False))))


@pytest.mark.parametrize("blocksize", [None, 300])
def test_include_path_column(tmp_path, blocksize):
    # Dask's read_csv option was handed to pandas, which refused it
    pdf = _table(60)
    files = [str(tmp_path / f"part{i}.csv") for i in range(3)]
    for i, name in enumerate(files):
        pdf.iloc[i * 20:(i + 1) * 20].to_csv(name, index=False)
    expected = pd.concat([pd.read_csv(f).assign(path=f) for f in files], ignore_index=True)
    expected["path"] = pd.Categorical(expected["path"], categories=files)
    df = dd.read_csv(str(tmp_path / "part*.csv"), include_path_column=True, blocksize=blocksize)
    pd.testing.assert_frame_equal(df.compute().reset_index(drop=True), expected)
    # projection pushdown: the path column is added, never asked of pandas
    pd.testing.assert_frame_equal(df[["a", "path"]].compute().reset_index(drop=True), expected[["a", "path"]])
    pd.testing.assert_series_equal(df.path.compute().reset_index(drop=True), expected.path)
    assert_eq(df.groupby("path").a.sum(), expected.groupby("path", observed=True).a.sum())
    named = dd.read_csv(str(tmp_path / "part*.csv"), include_path_column="source", blocksize=blocksize)
    assert list(named.columns) == [*pdf.columns, "source"]
    with pytest.raises(ValueError, match="already a column"):
        dd.read_csv(str(tmp_path / "part*.csv"), include_path_column="a")
