"""``merge`` / ``join`` (``merge.py``) compared with pandas, for every strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shoal
import shoal.dataframe as dd
from shoal.collections.dataframe.shuffle import Shuffle

from conftest import PARTITIONINGS, make_pandas, partitioned


def _right_pandas(seed=1, n=40):
    """Keys overlapping the left side's (ints, nullable ints with NA, strings with None, categoricals)."""
    rng = np.random.default_rng(seed)
    keys = make_pandas(n, seed=seed)[["i", "n", "s", "c", "k"]]
    keys["i"] = rng.integers(0, 120, n)
    keys["r"] = rng.normal(size=n)
    keys["k"] = keys["k"] * 2  # half the k values have no match
    return keys.set_index(pd.Index(np.arange(n) * 3, name="idx"))


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    order = frame.astype(object).where(frame.notna(), "~null").astype(str)
    return frame.iloc[np.lexsort([order[c].to_numpy() for c in reversed(frame.columns)])].reset_index(drop=True)


def _assert_same_rows(got, expected):
    pd.testing.assert_frame_equal(_normalised(got), _normalised(expected), check_dtype=True)


def _expected_semi(left, right, on, anti=False):
    mask = left[on].isin(right[on]) if isinstance(on, str) else pd.MultiIndex.from_frame(left[on]).isin(
        pd.MultiIndex.from_frame(right[on]))
    return left[~mask] if anti else left[mask]


HOWS = ["inner", "left", "right", "outer", "leftsemi", "leftanti"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("strategy", ["hash", "broadcast"])
@pytest.mark.parametrize("on", ["i", "n", "s", "c", ["k", "s"]])
def test_merge_on_columns_matches_pandas(pdf, how, strategy, on):
    right = _right_pandas()
    left_df = partitioned(pdf, "empty-parts" if on == "s" else "unknown")
    right_df = dd.from_pandas(right, npartitions=3)
    if strategy == "broadcast" and how == "outer":
        return  # never broadcast (checked in test_broadcast_choices)
    result = left_df.merge(right_df, how=how, on=on, broadcast=strategy == "broadcast")
    assert f"strategy='{strategy}'" in result.explain_text()
    if how in ("leftsemi", "leftanti"):
        expected = _expected_semi(pdf, right, on, anti=how == "leftanti")
    else:
        expected = pdf.merge(right, how=how, on=on)
    _assert_same_rows(result.compute(), expected)


@pytest.mark.parametrize("how", PARTITIONINGS)
def test_merge_partitionings_and_schedulers(pdf, how, local_scheduler):
    right = _right_pandas()
    result = partitioned(pdf, how).merge(dd.from_pandas(right, npartitions=2), how="outer", on="i",
                                         suffixes=("_l", "_r"), indicator=True)
    _assert_same_rows(result.compute(scheduler=local_scheduler),
                      pdf.merge(right, how="outer", on="i", suffixes=("_l", "_r"), indicator=True))


def test_merge_on_processes(pdf):
    right = _right_pandas()
    for kw in ({"broadcast": True}, {"broadcast": False, "shuffle_method": "disk"}):
        result = dd.from_pandas(pdf, npartitions=3).merge(dd.from_pandas(right, npartitions=2), on="s", **kw)
        _assert_same_rows(result.compute(scheduler="processes"), pdf.merge(right, on="s"))


@pytest.mark.parametrize("method", ["tasks", "disk"])
def test_merge_left_on_right_on(pdf, method):
    right = _right_pandas().rename(columns={"i": "key"})
    result = dd.from_pandas(pdf, npartitions=4).merge(dd.from_pandas(right, npartitions=3), left_on="i",
                                                      right_on="key", how="left", broadcast=False,
                                                      shuffle_method=method)
    _assert_same_rows(result.compute(), pdf.merge(right, left_on="i", right_on="key", how="left"))


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_index_join_with_known_divisions_needs_no_shuffle(pdf, how):
    right = _right_pandas().drop(columns=["i", "n", "s", "c", "k"])
    left_df = dd.from_pandas(pdf, npartitions=4)
    right_df = dd.from_pandas(right, npartitions=3)  # other divisions: both are moved to the union
    result = left_df.merge(right_df, how=how, left_index=True, right_index=True)
    assert not list(result.optimize().expr.find_operations(Shuffle))
    assert "strategy='aligned'" in result.explain_text()
    assert result.known_divisions
    expected = pdf.merge(right, how=how, left_index=True, right_index=True)
    pd.testing.assert_frame_equal(result.compute().sort_index(), expected.sort_index())
    joined = left_df.join(right_df, how=how)
    pd.testing.assert_frame_equal(joined.compute().sort_index(), pdf.join(right, how=how).sort_index())


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_index_join_of_ranges_that_start_and_end_apart(how):
    # the union of the divisions reaches past each side's range: those partitions of it are empty
    left = pd.DataFrame({"x": np.arange(30)}, index=np.arange(30))
    right = pd.DataFrame({"y": np.arange(20) * 0.5}, index=np.arange(15, 35))
    result = dd.from_pandas(left, npartitions=3).merge(dd.from_pandas(right, npartitions=2), how=how,
                                                        left_index=True, right_index=True)
    assert "strategy='aligned'" in result.explain_text()
    pd.testing.assert_frame_equal(result.compute().sort_index(),
                                  left.merge(right, how=how, left_index=True, right_index=True).sort_index())


def test_index_join_with_unknown_divisions_shuffles_on_the_index(pdf):
    right = _right_pandas()[["r"]]
    result = dd.from_pandas(pdf, npartitions=3, sort=False).merge(
        dd.from_pandas(right, npartitions=2, sort=False), left_index=True, right_index=True, broadcast=False)
    assert "strategy='hash'" in result.explain_text()
    pd.testing.assert_frame_equal(result.compute().sort_index(),
                                  pdf.merge(right, left_index=True, right_index=True).sort_index())


def test_join_on_a_column(pdf):
    right = _right_pandas()[["r"]].reset_index().drop_duplicates("idx").set_index("idx")
    result = dd.from_pandas(pdf, npartitions=3).join(dd.from_pandas(right, npartitions=2), on="i", how="inner")
    _assert_same_rows(result.compute(), pdf.join(right, on="i", how="inner"))


def test_already_partitioned_sides_are_not_shuffled_again(pdf):
    right = _right_pandas()
    third = pd.DataFrame({"i": np.arange(0, 100, 3), "z": np.arange(0, 100, 3) * 10})
    left_df = dd.from_pandas(pdf, npartitions=4).shuffle("i")
    right_df = dd.from_pandas(right, npartitions=2).shuffle("i", npartitions=4)
    merged = left_df.merge(right_df, on="i", broadcast=False)
    assert len(list(merged.optimize().expr.find_operations(Shuffle))) == 2  # one per side, from the user's shuffles
    assert "already hash-partitioned alike" in merged.explain_text()
    again = merged.merge(dd.from_pandas(third, npartitions=3), on="i", broadcast=False)
    assert len(list(again.optimize().expr.find_operations(Shuffle))) == 3  # only the new side is shuffled
    _assert_same_rows(again.compute(), pdf.merge(right, on="i").merge(third, on="i"))


def test_broadcast_choices(pdf):
    right = _right_pandas()
    big = dd.from_pandas(pdf, npartitions=4)
    one = dd.from_pandas(right, npartitions=1)
    assert "small='right'" in big.merge(one, on="i").explain_text()
    assert "small='left'" in one.merge(big, on="i", how="right").explain_text()
    assert "strategy='hash'" in big.merge(one, on="i", how="outer").explain_text()
    two = dd.from_pandas(right, npartitions=2)
    assert "<= broadcast-bytes" in big.merge(two, on="i").explain_text()
    with shoal.config.set({"dataframe.broadcast-bytes": 10}):
        assert "strategy='hash'" in big.merge(two, on="i").explain_text()
    with pytest.raises(ValueError, match="broadcast=True is not possible for how='outer'"):
        big.merge(two, on="i", how="outer", broadcast=True)


def test_mixed_key_dtypes_coerce_as_pandas_does():
    left = pd.DataFrame({"k": [1, 2, 3, 4] * 5, "x": range(20)})
    right = pd.DataFrame({"k": [1.0, 3.0, 5.0, np.nan], "y": list("abcd")})
    result = dd.from_pandas(left, npartitions=3).merge(dd.from_pandas(right, npartitions=2), on="k", how="outer",
                                                      broadcast=False)
    _assert_same_rows(result.compute(), left.merge(right, on="k", how="outer"))


def _as_units(unit, tz=None):
    def make(days):
        times = pd.Series(pd.to_datetime(days, unit="D"))
        return (times.dt.tz_localize(tz) if tz else times).astype(
            f"datetime64[{unit}, {tz}]" if tz else f"datetime64[{unit}]")
    return make


@pytest.mark.parametrize("left_keys, right_keys", [
    (_as_units("ns"), _as_units("us")),  # the same instants, counted in other units
    (_as_units("s", "Europe/Paris"), _as_units("ns", "Europe/Paris")),
    (lambda v: pd.Series(pd.to_timedelta(v, unit="h")).astype("timedelta64[ms]"),
     lambda v: pd.Series(pd.to_timedelta(v, unit="h")).astype("timedelta64[ns]")),
    (lambda v: pd.Series(pd.Categorical(v)), lambda v: pd.Series(v.astype("float64"))),  # categories of ints
    (lambda v: pd.Series(list(v), dtype=object), lambda v: pd.Series(list(v.astype(float)), dtype=object)),
    (lambda v: pd.Series([True if x == 1 else x for x in v], dtype=object),
     lambda v: pd.Series([None if x == 3 else x for x in v], dtype=object)),
])
@pytest.mark.parametrize("how", ["inner", "outer"])
def test_keys_of_different_dtypes_that_pandas_matches(left_keys, right_keys, how):
    rng = np.random.default_rng(11)
    left_values, right_values = rng.integers(0, 8, 50), rng.integers(0, 10, 20)
    left = pd.DataFrame({"k": left_keys(left_values), "x": np.arange(50)})
    right = pd.DataFrame({"k": right_keys(right_values), "y": np.arange(20)})
    result = dd.from_pandas(left, npartitions=4).merge(dd.from_pandas(right, npartitions=3), on="k", how=how,
                                                       broadcast=False)
    assert "strategy='hash'" in result.explain_text()
    got, expected = result.compute(), left.merge(right, on="k", how=how)
    key = lambda frame: frame.sort_values(["x", "y"], ignore_index=True)[["x", "y"]]
    pd.testing.assert_frame_equal(key(got), key(expected))  # the same pairs of rows met


def test_bad_merges_name_the_problem(pdf):
    right = _right_pandas()
    left_df, right_df = dd.from_pandas(pdf, npartitions=2), dd.from_pandas(right, npartitions=2)
    with pytest.raises(KeyError, match=r"'f' not found on the right side; the left columns are .* right columns"):
        left_df.merge(right_df, on="f")
    with pytest.raises(KeyError, match="'zz' not found on the left side"):
        left_df.merge(right_df, left_on="zz", right_on="i")
    with pytest.raises(ValueError, match=r"left key dtypes \{'i': 'int64'\}, right key dtypes \{'s': 'str'\}"):
        left_df.merge(right_df, left_on="i", right_on="s")
    with pytest.raises(ValueError, match="how='cross'"):
        left_df.merge(right_df, on="i", how="cross")


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_merge_and_join_with_a_pandas_side(pdf, how):
    right = _right_pandas()
    left_df = dd.from_pandas(pdf, npartitions=3)
    _assert_same_rows(left_df.merge(right, on="i", how=how).compute(), pdf.merge(right, on="i", how=how))
    _assert_same_rows(dd.merge(pdf, dd.from_pandas(right, npartitions=2), on="k", how=how).compute(),
                      pdf.merge(right, on="k", how=how))
    by_key = right[["r"]].assign(key=right.i).drop_duplicates("key").set_index("key")
    _assert_same_rows(left_df.join(by_key, on="i", how=how).compute(), pdf.join(by_key, on="i", how=how))
    _assert_same_rows(left_df.join(by_key.r, on="i", how=how).compute(), pdf.join(by_key.r, on="i", how=how))


@pytest.mark.parametrize("how", ["inner", "left", "right", "outer"])
def test_merge_on_an_index_name(how):
    # pandas reads on= as an index level when a side has no such column but an index of that name
    rng = np.random.default_rng(5)
    left = pd.DataFrame({"k": rng.integers(0, 8, 30), "a": rng.normal(size=30)})
    right = pd.DataFrame({"k": rng.integers(0, 10, 12), "b": np.arange(12)})
    indexed_left, indexed_right = left.set_index("k"), right.set_index("k")
    for lhs, rhs in [(indexed_left, right), (left, indexed_right), (indexed_left, indexed_right)]:
        result = dd.from_pandas(lhs, npartitions=3).merge(dd.from_pandas(rhs, npartitions=2), on="k", how=how)
        expected = lhs.merge(rhs, on="k", how=how)
        got = result.compute()
        if expected.index.name == "k":  # both sides indexed: an index join, the result indexed by k
            pd.testing.assert_frame_equal(got.sort_index(kind="stable").sort_values(["k", "a", "b"]),
                                          expected.sort_index(kind="stable").sort_values(["k", "a", "b"]))
        else:
            _assert_same_rows(got, expected)


@pytest.mark.parametrize("how", ["left_anti", "right_anti"])
@pytest.mark.parametrize("strategy", ["hash", "broadcast", "aligned"])
def test_pandas_anti_joins(pdf, how, strategy):
    # pandas 3's anti joins keep the other side's columns (null); null keys match each other
    right = _right_pandas()
    if strategy == "aligned":
        lhs, rhs = pdf[["f", "b"]], right[["r"]].iloc[::2]
        result = dd.from_pandas(lhs, npartitions=4).merge(dd.from_pandas(rhs, npartitions=3), how=how,
                                                           left_index=True, right_index=True)
        assert "strategy='aligned'" in result.explain_text()
        expected = lhs.merge(rhs, how=how, left_index=True, right_index=True)
        pd.testing.assert_frame_equal(result.compute().sort_index(), expected.sort_index())
        return
    left_df, right_df = partitioned(pdf, "empty-parts"), dd.from_pandas(right, npartitions=3)
    result = left_df.merge(right_df, on="n", how=how, broadcast=strategy == "broadcast")
    assert f"strategy='{strategy}'" in result.explain_text()
    _assert_same_rows(result.compute(), pdf.merge(right, on="n", how=how))


@pytest.mark.parametrize("how", ["left", "inner", "outer"])
def test_join_suffixes(pdf, how):
    right = _right_pandas()[["r", "k"]]
    left_df, right_df = dd.from_pandas(pdf, npartitions=3), dd.from_pandas(right, npartitions=2)
    expected = pdf.join(right, how=how, suffixes=("_l", "_r"))  # pandas 3's spelling
    got = left_df.join(right_df, how=how, suffixes=("_l", "_r")).compute()
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index())
    by_lsuffix = left_df.join(right_df, how=how, rsuffix="_r").compute()
    assert list(by_lsuffix.columns) == list(pdf.columns) + ["r", "k_r"]
    with pytest.raises(ValueError, match=r"columns overlap but no suffix was given: \['k'\]; pass suffixes="):
        left_df.join(right_df, how=how)
    with pytest.raises(ValueError, match="not both"):
        left_df.join(right_df, how=how, lsuffix="_a", suffixes=("_l", "_r"))


@pytest.mark.parametrize("strategy", ["hash", "broadcast"])
def test_indicator_named_by_a_string(pdf, strategy):
    right = _right_pandas()
    result = dd.from_pandas(pdf, npartitions=3).merge(dd.from_pandas(right, npartitions=2), on="i", how="left",
                                                      indicator="source", broadcast=strategy == "broadcast")
    expected = pdf.merge(right, on="i", how="left", indicator="source")
    assert list(result.columns) == list(expected.columns)
    _assert_same_rows(result.compute(), expected)


def test_cross_join(pdf):
    grid = pd.DataFrame({"scale": [0.5, 1.0, 2.0], "k": [7, 8, 9]})
    left_df = partitioned(pdf[["i", "k", "s"]], "empty-parts")
    for right in (dd.from_pandas(grid, npartitions=1), grid):
        result = left_df.merge(right, how="cross")
        assert "strategy='broadcast'" in result.explain_text()
        _assert_same_rows(result.compute(), pdf[["i", "k", "s"]].merge(grid, how="cross"))
    small_left = dd.from_pandas(grid, npartitions=1).merge(left_df, how="cross", suffixes=("_l", "_r"))
    assert "small='left'" in small_left.explain_text()
    _assert_same_rows(small_left.compute(), grid.merge(pdf[["i", "k", "s"]], how="cross", suffixes=("_l", "_r")))
    with pytest.raises(ValueError, match="how='cross' pairs every row with every row; give no on="):
        left_df.merge(grid, how="cross", on="k")
    with pytest.raises(ValueError, match="drop broadcast=False"):
        left_df.merge(grid, how="cross", broadcast=False)


def test_merge_keys_must_be_names(pdf):
    left_df = dd.from_pandas(pdf, npartitions=2)
    with pytest.raises(TypeError, match="left_on= takes column names, got a Series; assign it as a column"):
        left_df.merge(left_df, left_on=left_df.i, right_on="i")


@pytest.mark.parametrize("how", ["inner", "left"])
def test_skewed_join_spreads_heavy_keys(how, local_scheduler):
    rng = np.random.default_rng(0)
    n = 20_000
    keys = np.where(rng.random(n) < 0.5, 7, rng.integers(0, 5000, n)).astype(float)
    keys[::97] = np.nan
    left = pd.DataFrame({"k": keys, "x": np.arange(n)})
    right = pd.DataFrame({"k": np.arange(0, 6000, dtype=float), "y": np.arange(6000) % 13})
    right = pd.concat([right, pd.DataFrame({"k": [7.0, np.nan], "y": [100, 200]})], ignore_index=True)
    left_df, right_df = dd.from_pandas(left, npartitions=8), dd.from_pandas(right, npartitions=4)
    plain = left_df.merge(right_df, on="k", how=how, broadcast=False)
    spread = left_df.merge(right_df, on="k", how=how, broadcast=False, skew=True)
    assert "skew: 1 heavy left key(s) (7.0)" in spread.explain_text()
    sizes = {}
    for label, result in (("plain", plain), ("spread", spread)):
        parts = shoal.compute(*result.to_delayed(), scheduler=local_scheduler)
        sizes[label] = [len(p) for p in parts]
        _assert_same_rows(pd.concat(parts), left.merge(right, on="k", how=how))
    assert max(sizes["plain"]) > 3 * np.median(sizes["plain"])  # one partition holds the heavy key
    assert max(sizes["spread"]) <= 3 * np.median(sizes["spread"])
    with shoal.config.set({"dataframe.merge.skew": True}):
        uniform = dd.from_pandas(right, npartitions=3).merge(right_df, on="k", broadcast=False)
        assert "skew" not in uniform.explain_text()  # no heavy key: a plain hash join


@pytest.mark.parametrize("how", ["inner", "right"])
def test_skewed_join_spreads_heavy_right_keys(how):
    # the heavy key is on the right: the join runs mirrored (right spread, left rows copied), columns put back
    rng = np.random.default_rng(1)
    n = 20_000
    keys = np.where(rng.random(n) < 0.5, 7, rng.integers(0, 5000, n)).astype(float)
    keys[::89] = np.nan
    right = pd.DataFrame({"key": keys, "y": np.arange(n), "v": np.arange(n) % 5})
    left = pd.DataFrame({"k": np.arange(0, 6000), "x": np.arange(6000) % 13, "v": 0.5})  # int keys vs float keys
    left_df, right_df = dd.from_pandas(left, npartitions=4), dd.from_pandas(right, npartitions=8)
    spread = left_df.merge(right_df, left_on="k", right_on="key", how=how, broadcast=False, skew=True)
    assert "skew: 1 heavy right key(s) (7.0)" in spread.explain_text()
    expected = left.merge(right, left_on="k", right_on="key", how=how)
    assert list(spread.columns) == list(expected.columns)
    parts = shoal.compute(*spread.to_delayed())
    sizes = [len(p) for p in parts]
    assert max(sizes) <= 3 * np.median(sizes)
    _assert_same_rows(pd.concat(parts), expected)


@pytest.mark.parametrize("broadcast", [True, False])
def test_projection_is_pushed_below_the_merge(pdf, broadcast):
    right = _right_pandas()[["i", "r"]]
    left_df = dd.from_pandas(pdf, npartitions=3)
    result = left_df.merge(dd.from_pandas(right, npartitions=2), on="i", broadcast=broadcast)[["f", "r"]]
    plan = result.optimize().expr
    readers = list(plan.find_operations(dd.from_pandas(pdf, npartitions=1).expr.__class__))
    assert sorted(len(r.columns) for r in readers) == [2, 2]  # left reads i and f only; right i and r
    _assert_same_rows(result.compute(), pdf.merge(right, on="i")[["f", "r"]])
    # shared non-key columns get suffixes: nothing is pushed, the result is still right
    both = left_df.merge(dd.from_pandas(_right_pandas(), npartitions=2), on="i", broadcast=broadcast)[["s_x", "r"]]
    _assert_same_rows(both.compute(), pdf.merge(_right_pandas(), on="i")[["s_x", "r"]])


@pytest.mark.parametrize("how", ["inner", "left", "right"])
@pytest.mark.parametrize("broadcast", [True, False])
def test_filters_are_pushed_below_the_merge(pdf, how, broadcast):
    from shoal.collections.dataframe.blockwise import Filter
    from shoal.collections.dataframe.merge import BlockwiseMerge, BroadcastMerge

    right = _right_pandas()[["i", "r"]]
    merged = dd.from_pandas(pdf, npartitions=3).merge(dd.from_pandas(right, npartitions=2), on="i", how=how,
                                                     broadcast=broadcast if how != "right" or not broadcast else None)
    on_left = merged[(merged.f > 0) & (merged.k != 2)]
    on_right = merged[merged.r < 0.5]
    for result, expected in ((on_left, lambda m: m[(m.f > 0) & (m.k != 2)]), (on_right, lambda m: m[m.r < 0.5])):
        plan = result.optimize().expr
        pushed = not isinstance(plan, Filter)
        pushable = (result is on_left and how in ("inner", "left")) or (result is on_right and how in ("inner", "right"))
        assert pushed == pushable
        if pushed:
            (node,) = plan.find_operations(BlockwiseMerge, BroadcastMerge)
            assert list(node.find_operations(Filter))
        _assert_same_rows(result.compute(), expected(pdf.merge(right, on="i", how=how)))
