"""Text files in and out, compared with reading the files in plain Python."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os

import pytest

import shoal.bag as db
from shoal.testing import assert_eq

OPENERS = {"": open, ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def write(path, text: str, encoding="utf-8") -> str:
    ext = os.path.splitext(str(path))[1]
    with OPENERS.get(ext, open)(path, "wt", encoding=encoding, newline="") as f:
        f.write(text)
    return str(path)


def plain_lines(paths) -> list[str]:
    lines = []
    for p in paths:
        with OPENERS.get(os.path.splitext(p)[1], open)(p, "rt", encoding="utf-8") as f:
            lines.extend(f.readlines())
    return lines


TEXTS = [
    "alpha beta\ngamma\n\ndelta epsilon zeta\n",
    "no final newline\nsecond",
    "",
    "windows\r\nline endings\r\nand old mac\rtoo\n",
    "ünïcödé ✓ text\nform\x0cfeed stays in its line\n",
]


@pytest.mark.parametrize("ext", ["", ".gz", ".bz2", ".xz"])
def test_read_text_matches_python(tmp_path, ext, scheduler):
    paths = [write(tmp_path / f"f{i}.txt{ext}", t) for i, t in enumerate(TEXTS)]
    b = db.read_text(str(tmp_path / f"f*.txt{ext}"))
    assert b.npartitions == len(TEXTS)  # one partition per file, the empty one included
    assert_eq(b, plain_lines(paths), scheduler=scheduler)
    assert_eq(db.read_text(paths[::-1]), plain_lines(paths[::-1]), scheduler=scheduler)


@pytest.mark.parametrize("files_per_partition", [1, 2, 3, 10])
def test_files_per_partition_groups_small_files(tmp_path, files_per_partition, scheduler):
    exts = ["", ".gz", ".bz2", ".xz", ""]
    paths = [write(tmp_path / f"f{i}.txt{ext}", t) for i, (t, ext) in enumerate(zip(TEXTS, exts))]
    b = db.read_text(str(tmp_path / "f*"), files_per_partition=files_per_partition)
    assert b.npartitions == -(-len(paths) // files_per_partition)
    assert_eq(b, plain_lines(paths), scheduler=scheduler)
    with_paths = db.read_text(paths, files_per_partition=files_per_partition, include_path=True)
    assert_eq(with_paths, [(line, p) for p in paths for line in plain_lines([p])], scheduler=scheduler)


def test_files_per_partition_refuses_bad_values(tmp_path):
    path = write(tmp_path / "a.txt", "a\n")
    with pytest.raises(ValueError, match="not both"):
        db.read_text(path, blocksize=10, files_per_partition=2)
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="files_per_partition must be a positive integer"):
            db.read_text(path, files_per_partition=bad)


@pytest.mark.parametrize("blocksize", [1, 7, 20, 64, 10_000])
def test_blocksize_splits_at_line_boundaries(tmp_path, blocksize):
    text = "".join(f"line {i} " + "x" * (i % 13) + "\n" for i in range(60)) + "last without newline"
    path = write(tmp_path / "big.txt", text)
    b = db.read_text(path, blocksize=blocksize)
    assert b.npartitions == -(-len(text.encode()) // blocksize)
    assert_eq(b, plain_lines([path]))
    # every line in exactly one block, also with multi-byte characters at block edges
    path2 = write(tmp_path / "wide.txt", "".join(f"é{i}ü✓\n" for i in range(40)))
    assert_eq(db.read_text(path2, blocksize=blocksize), plain_lines([path2]))


def test_blocksize_string_and_compressed_blocks_refused(tmp_path):
    path = write(tmp_path / "a.txt", "a\nb\n" * 100)
    assert db.read_text(path, blocksize="100 B").npartitions == 4
    gz = write(tmp_path / "a.txt.gz", "a\n")
    with pytest.raises(ValueError, match="cannot split"):
        db.read_text(gz, blocksize=10)
    # a whole number of bytes written as a float (blocksize=64e6) is taken, as Dask does
    by_float = db.read_text(path, blocksize=1e2)
    assert by_float.npartitions == 4
    assert_eq(by_float, plain_lines([path]))
    for bad in (2.5, 0, -3, "many"):
        with pytest.raises(ValueError, match="blocksize|as a size"):
            db.read_text(path, blocksize=bad)


@pytest.mark.parametrize("blocksize", [None, 3, 16])
def test_utf8_with_a_byte_order_mark_splits_into_blocks(tmp_path, blocksize):
    path = write(tmp_path / "bom.txt", "".join(f"héllo {i}\n" for i in range(9)), encoding="utf-8-sig")
    with open(path, encoding="utf-8-sig") as f:
        expected = f.readlines()
    assert_eq(db.read_text(path, encoding="utf-8-sig", blocksize=blocksize), expected)


def test_utf16_reads_whole_files_and_refuses_blocks(tmp_path):
    path = write(tmp_path / "u16.txt", "ä\nb\n", encoding="utf-16")
    assert db.read_text(path, encoding="utf-16").compute(scheduler="sync") == ["ä\n", "b\n"]
    with pytest.raises(ValueError, match="blocksize=None"):
        db.read_text(path, encoding="utf-16", blocksize=4)
    with pytest.raises(LookupError, match="nope"):
        db.read_text(path, encoding="nope")
    # refused at once, not at the first undecodable byte of some task
    with pytest.raises(LookupError, match="unknown errors='bogus'"):
        db.read_text(path, encoding="utf-16", errors="bogus")


def test_include_path_and_encoding(tmp_path, scheduler):
    p1 = write(tmp_path / "x.txt", "1\n2\n")
    p2 = write(tmp_path / "y.txt", "héllo\n", encoding="latin-1")
    got = db.read_text([p1], include_path=True).compute(scheduler=scheduler)
    assert got == [("1\n", p1), ("2\n", p1)]
    assert db.read_text(p2, encoding="latin-1").compute(scheduler=scheduler) == ["héllo\n"]
    assert db.read_text(p2, errors="replace").compute(scheduler=scheduler) == ["h\ufffdllo\n"]
    assert db.read_text(p2, errors="ignore").compute(scheduler=scheduler) == ["hllo\n"]


def test_json_lines_round_trip(tmp_path, scheduler):
    records = [{"id": i, "user": f"u{i % 4}", "ok": i % 3 == 0} for i in range(25)]
    b = db.from_sequence(records, npartitions=3)
    written = b.map(json.dumps).to_textfiles(str(tmp_path / "out" / "*.json.gz"), scheduler=scheduler)
    assert written == [str(tmp_path / "out" / f"{i}.json.gz") for i in range(3)]
    back = db.read_text(str(tmp_path / "out" / "*.json.gz")).map(json.loads)
    assert_eq(back, records, scheduler=scheduler)


def test_to_textfiles_names_directories_and_endlines(tmp_path):
    b = db.from_sequence(["a", "b", "c"], npartitions=2)
    paths = b.to_textfiles(str(tmp_path / "d"), name_function=lambda i: f"part-{i:02}", last_endline=True)
    assert [os.path.basename(p) for p in paths] == ["part-00.part", "part-01.part"]
    assert "".join(open(p).read() for p in paths) == "a\nb\nc\n"
    plain = b.to_textfiles(str(tmp_path / "e-*.txt"))
    assert [open(p).read() for p in plain] == ["a", "b\nc"]
    lazy = b.to_textfiles([str(tmp_path / "l1.bz2"), str(tmp_path / "l2.bz2")], compute=False)
    assert not os.path.exists(tmp_path / "l1.bz2")
    for d in lazy:
        d.compute(scheduler="sync")
    assert bz2.open(tmp_path / "l2.bz2", "rt").read() == "b\nc"
    with pytest.raises(TypeError, match="writes strings"):
        db.from_sequence([1]).to_textfiles(str(tmp_path / "bad-*.txt"), scheduler="sync")


def test_to_textfiles_of_many_partitions_reads_back_in_order(tmp_path):
    # default names are zero-padded, so the sorted glob is the partition order ("10" after "09")
    records = [{"i": i} for i in range(25)]
    b = db.from_sequence(records, npartitions=12).map(json.dumps)
    written = b.to_textfiles(str(tmp_path / "out" / "*.json"), scheduler="sync")
    assert written == sorted(written) and len(written) == 12
    assert os.path.basename(written[10]) == "10.json" and os.path.basename(written[2]) == "02.json"
    assert_eq(db.read_text(str(tmp_path / "out" / "*.json")).map(json.loads), records)
    with pytest.warns(UserWarning, match="do not sort in partition order"):
        b.to_textfiles(str(tmp_path / "unpadded" / "*.json"), name_function=str, scheduler="sync")
    with pytest.raises(ValueError, match="more than one partition"):
        b.to_textfiles(str(tmp_path / "same" / "*.json"), name_function=lambda i: "x")
    assert not os.path.exists(tmp_path / "same")


# ------------------------------------------------------------------ bad input


def test_glob_matching_nothing_names_the_pattern(tmp_path):
    pattern = str(tmp_path / "nothing-*.log")
    with pytest.raises(FileNotFoundError, match="nothing-\\*.log"):
        db.read_text(pattern)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        db.read_text(str(tmp_path / "missing.txt"))


def test_unsupported_compression_suffix_is_refused_by_name(tmp_path):
    path = tmp_path / "logs.jsonl.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd not text")
    with pytest.raises(ValueError, match="zstd-compressed.*compression=None"):
        db.read_text(str(path))
    with pytest.raises(ValueError, match="zip-compressed"):
        db.from_sequence(["a"]).to_textfiles(str(tmp_path / "out" / "*.zip"))
    # compression=None reads the bytes as text, as asked
    assert db.read_text(str(path), compression=None, errors="replace").count().compute(scheduler="sync") == 1


def test_directories_are_refused_by_name_and_skipped_by_globs(tmp_path):
    (tmp_path / "sub").mkdir()
    paths = [write(tmp_path / f"{i}.log", f"line {i}\nmore {i}\n") for i in range(2)]
    with pytest.raises(IsADirectoryError, match="is a directory.*glob"):
        db.read_text(str(tmp_path))
    # 'dir/*' also matches the sub-directory: only the files are read
    assert_eq(db.read_text(str(tmp_path / "*")), plain_lines(paths))
    with pytest.raises(FileNotFoundError, match="matches no files"):
        db.read_text(str(tmp_path / "s*"))


@pytest.mark.parametrize("blocksize", [None, 16])
def test_undecodable_byte_names_file_and_offset(tmp_path, scheduler, blocksize):
    good = "fine line\n" * 5
    path = tmp_path / "bad.txt"
    path.write_bytes(good.encode() + b"broken \xff byte\n" + b"more\n")
    offset = len(good.encode()) + len(b"broken ")
    with pytest.raises(UnicodeDecodeError) as info:
        db.read_text(str(path), blocksize=blocksize).compute(scheduler=scheduler)
    message = str(info.value)
    assert str(path) in message and f"offset {offset}" in message and "errors=" in message


def test_undecodable_byte_in_compressed_file(tmp_path):
    path = tmp_path / "bad.txt.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"ok\n\xfe\n")
    with pytest.raises(UnicodeDecodeError, match="offset 3 of the decompressed text"):
        db.read_text(str(path)).compute(scheduler="sync")


def boom(x):
    return 1 / (x - 13)


def test_exception_in_map_keeps_type_and_names_the_partition(scheduler):
    b = db.from_sequence(range(20), npartitions=4).map(boom)
    with pytest.raises(ZeroDivisionError) as info:
        b.compute(scheduler=scheduler)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "partition 2 of the bag" in notes and "map(boom)" in notes
    with pytest.raises(ZeroDivisionError):
        b.sum().compute(scheduler=scheduler)


def boom_pair(x, y):
    return boom(x) + y


@pytest.mark.parametrize("how", ["method", "module"])
def test_exception_in_map_over_two_bags_names_the_function_and_partition(scheduler, how):
    a = db.from_sequence(range(20), npartitions=4)
    pairs = a.map(boom_pair, a) if how == "method" else db.map(boom_pair, a, y=a)
    with pytest.raises(ZeroDivisionError) as info:
        pairs.compute(scheduler=scheduler)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "partition 2 of the bag" in notes and "map(boom_pair)" in notes


def test_to_dataframe_partitions_match_pandas():
    import pandas as pd

    import shoal.dataframe as dd

    records = [{"a": i, "b": f"s{i}"} for i in range(10)]
    frame = db.from_sequence(records, npartitions=3).to_dataframe()
    assert isinstance(frame, dd.DataFrame) and frame.npartitions == 3
    got = frame.compute(scheduler="sync").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, pd.DataFrame(records))


def test_to_dataframe_gives_every_partition_the_inferred_columns(shape):
    import pandas as pd

    # keys in another order, a missing key, empty partitions: every partition
    # still has the columns and dtypes learned from the first elements
    records = [{"a": i, "b": f"s{i}"} if i % 4 else {"b": f"s{i}", "a": i} for i in range(18)] + [{"a": 18}]
    frame = shape(records).to_dataframe()
    assert list(frame.columns) == list(pd.DataFrame(records).columns)
    got = frame.compute(scheduler="sync").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, pd.DataFrame(records))


def test_to_dataframe_meta_forms_and_a_value_that_does_not_fit():
    import pandas as pd

    records = [{"a": i, "b": f"s{i}", "c": i * 2} for i in range(7)]
    bag = db.from_sequence(records, npartitions=3)
    expected = pd.DataFrame(records)[["b", "a"]].astype({"a": "float64"})
    for meta in ({"b": "str", "a": "float64"}, [("b", "str"), ("a", "float64")], expected.iloc[:0]):
        got = bag.to_dataframe(meta=meta).compute(scheduler="sync").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected)
    with pytest.raises(TypeError, match="list of"):
        bag.to_dataframe(meta=5)
    # the first elements make column 'a' int64; a None later does not fit it
    late_none = db.from_sequence([{"a": i} for i in range(6)] + [{"a": None}], npartitions=2)
    with pytest.raises(ValueError, match="column 'a'.*meta="):
        late_none.to_dataframe().compute(scheduler="sync")
    # nor in a bool column, where pandas would quietly make it False
    late_none_flag = db.from_sequence([{"a": True}] * 6 + [{"a": None}], npartitions=2)
    with pytest.raises(ValueError, match="column 'a'.*missing value"):
        late_none_flag.to_dataframe().compute(scheduler="sync")
    got = late_none.to_dataframe(meta={"a": "float64"}).compute(scheduler="sync").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, pd.DataFrame([{"a": i} for i in range(6)] + [{"a": None}], dtype="float64"))
