"""dumps/loads: msgpack header, pickled values, out-of-band buffers, compression, errors."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pandas as pd
import pytest

from shoal.distributed.comm import serialize
from shoal.distributed.comm.errors import DeserializationError, MalformedMessageError, SerializationError
from shoal.distributed.comm.serialize import dumps, frames_nbytes, loads


def add_one(x):
    return x + 1


def test_plain_structures_round_trip_exactly():
    msg = {
        "op": "compute",
        "int": -(2**62),
        "big": 2**80,  # beyond msgpack: pickled, still equal
        "float": 0.1,
        "none": None,
        "bool": True,
        "bytes": b"\x00\xff" * 10,
        "nested": [[1, 2], {"a": [None, "x"]}],
        "key": ("x", 0, 1),
        ("tuple", "as", "key"): [("a", 1), ()],
        5: "int key",
    }
    result = loads(dumps(msg))
    assert result == msg
    assert type(result["key"]) is tuple
    assert type(result["nested"][0]) is list
    assert ("tuple", "as", "key") in result


def test_builtin_subclasses_keep_their_type():
    msg = [np.float64(2.5), np.int32(7), frozenset({1, 2}), {1, 2}]
    result = loads(dumps(msg))
    assert result == msg
    assert [type(v) for v in result] == [type(v) for v in msg]


def test_arrays_dataframes_and_functions_inside_messages():
    rng = np.random.default_rng(0)
    array = rng.random((300, 200))
    frame = pd.DataFrame({"x": np.arange(5000), "y": rng.random(5000), "s": ["a", "b"] * 2500})
    msg = {
        "op": "task",
        "args": [array, {"df": frame, "series": frame["y"]}],
        "function": add_one,
        "lambda": lambda v: v * 3,
        "closure": (lambda k: (lambda v: v + k))(10),
    }
    result = loads(dumps(msg))
    np.testing.assert_array_equal(result["args"][0], array)
    pd.testing.assert_frame_equal(result["args"][1]["df"], frame)
    pd.testing.assert_series_equal(result["args"][1]["series"], frame["y"])
    assert result["function"](1) == 2
    assert result["lambda"](2) == 6
    assert result["closure"](1) == 11


def test_large_array_is_an_out_of_band_view_of_the_original_memory():
    array = np.random.default_rng(1).random(100 * 2**20 // 8)  # 100 MiB
    frames = dumps({"data": array})
    data_frames = [f for f in frames if frames_nbytes([f]) == array.nbytes]
    assert len(data_frames) == 1
    frame = data_frames[0]
    # No copy on the sending side: the frame is a view of the array's own buffer.
    assert isinstance(frame, memoryview)
    assert frame.obj is array
    assert np.frombuffer(frame, dtype=np.uint8).ctypes.data == array.ctypes.data
    # The header and body stay small: the data is not copied into them.
    assert frames_nbytes(frames) - array.nbytes < 10_000
    result = loads(frames)["data"]
    np.testing.assert_array_equal(result, array)
    assert np.shares_memory(result, array)  # loads built the array on the frame itself


def test_dataframe_columns_travel_out_of_band():
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"x": rng.random(1_000_000), "y": np.arange(1_000_000)})
    frames = dumps({"df": frame})
    column = frame["x"].to_numpy()
    views = [f for f in frames if isinstance(f, memoryview)]
    assert any(np.shares_memory(np.frombuffer(v, dtype=np.uint8), column.view(np.uint8)) for v in views)
    assert frames_nbytes(frames) - frame.memory_usage(index=False).sum() < 10_000
    pd.testing.assert_frame_equal(loads(frames)["df"], frame)


def test_small_buffers_stay_inside_the_pickle():
    frames = dumps({"a": np.arange(10)})
    assert len(frames) == 3  # header, body, one pickle frame and no buffer frame
    np.testing.assert_array_equal(loads(frames)["a"], np.arange(10))


def test_same_object_twice_is_sent_once():
    array = np.ones(100_000)
    frames = dumps([array, array])
    assert frames_nbytes(frames) < 1.5 * array.nbytes
    first, second = loads(frames)
    assert first is second
    np.testing.assert_array_equal(first, array)


def test_non_contiguous_array_round_trips():
    array = np.arange(200_000, dtype="f8").reshape(400, 500)[:, ::3]
    np.testing.assert_array_equal(loads(dumps(array)), array)
    fortran = np.asfortranarray(np.arange(200_000, dtype="i4").reshape(400, 500))
    np.testing.assert_array_equal(loads(dumps(fortran)), fortran)


def test_pickle_buffer_in_message_travels_as_raw_frame():
    payload = bytes(range(256)) * 1000
    frames = dumps({"raw": pickle.PickleBuffer(payload)})
    assert any(isinstance(f, memoryview) and f.obj is payload for f in frames)
    result = loads(frames)["raw"]
    assert bytes(result) == payload


def test_frames_that_went_through_bytes_still_load():
    # What a receiver sees: independent byte copies of every frame.
    array = np.arange(50_000)
    frames = [bytes(f) for f in dumps({"a": array, "k": ("x", 1)})]
    result = loads(frames)
    np.testing.assert_array_equal(result["a"], array)
    assert result["k"] == ("x", 1)


def test_unserializable_value_names_type_and_place():
    with pytest.raises(SerializationError, match=r"_thread.lock.*\['args'\]\[1\]\['lock'\]"):
        dumps({"args": [1, {"lock": threading.Lock()}]})


def test_malformed_frames_raise_malformed_message_error():
    good = dumps({"a": np.arange(100_000)})
    with pytest.raises(MalformedMessageError):
        loads([b"\xc1garbage", good[1]])  # 0xc1 is never valid msgpack
    with pytest.raises(MalformedMessageError, match="frames"):
        loads(good[:-1])  # header announces one frame more
    with pytest.raises(MalformedMessageError):
        loads([good[0], b"\xc1"] + good[2:])
    with pytest.raises(MalformedMessageError, match="format"):
        loads([serialize.msgpack.packb({"version": 99}), good[1]])


class _Unloadable:
    def __reduce__(self):
        return (_fail_on_load, ())


def _fail_on_load():
    raise RuntimeError("cannot be rebuilt here")


def test_value_that_cannot_be_unpickled_raises_deserialization_error_naming_type():
    frames = dumps({"v": _Unloadable()})
    with pytest.raises(DeserializationError, match="_Unloadable.*cannot be rebuilt here"):
        loads(frames)




def test_lz4_compresses_compressible_frames_and_skips_random_ones():
    pytest.importorskip("lz4")
    zeros = np.zeros(1_000_000)
    noise = np.random.default_rng(2).random(1_000_000)
    frames = dumps({"zeros": zeros, "noise": noise}, compression="lz4")
    assert frames_nbytes(frames) < noise.nbytes + zeros.nbytes / 10
    assert any(isinstance(f, memoryview) and f.obj is noise for f in frames)  # random data left as is
    result = loads(frames)
    np.testing.assert_array_equal(result["zeros"], zeros)
    np.testing.assert_array_equal(result["noise"], noise)
    result["zeros"][0] = 1.0  # decompressed data is writable, like data read from a socket


def test_compression_off_or_small_frames_leave_frames_alone():
    small = np.zeros(1000)
    frames = dumps({"a": small}, compression="lz4")
    assert serialize.msgpack.unpackb(frames[0])["compression"] is None
    assert serialize.msgpack.unpackb(dumps({"a": np.zeros(1_000_000)})[0])["compression"] is None
