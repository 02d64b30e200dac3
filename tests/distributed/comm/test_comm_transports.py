"""Behaviour every transport shares, run on tcp and inproc: round trips, concurrency, closing."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from shoal.distributed.comm import CommClosedError, ConnectError, connect, listen


def square(x):
    return x * x


async def echo_forever(comm):
    while True:
        await comm.write(await comm.read())


def test_round_trip_of_nested_values(run, listen_address):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.integers(0, 100, 1000), "b": rng.random(1000)})
    array = rng.random((500, 300))
    message = {
        "op": "compute",
        "key": ("square", 3),
        "function": square,
        "lambda": lambda x: x - 1,
        "data": [array, {"frame": frame, "blob": b"\x00\x01" * 50_000}],
        "empty": [[], {}, ()],
    }

    async def scenario():
        async with listen(listen_address, echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            await comm.write(message)
            reply = await comm.read()
            await comm.close()
        return reply

    reply = run(scenario)
    assert reply["op"] == "compute" and reply["key"] == ("square", 3)
    assert reply["function"](7) == 49 and reply["lambda"](7) == 6
    np.testing.assert_array_equal(reply["data"][0], array)
    pd.testing.assert_frame_equal(reply["data"][1]["frame"], frame)
    assert reply["data"][1]["blob"] == b"\x00\x01" * 50_000
    assert reply["empty"] == [[], {}, ()]


def test_many_messages_keep_their_order(run, listen_address):
    async def scenario():
        async with listen(listen_address, echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            for i in range(200):
                await comm.write({"i": i})
            replies = [(await comm.read())["i"] for _ in range(200)]
            await comm.close()
        return replies

    assert run(scenario) == list(range(200))


def test_concurrent_writers_do_not_interleave(run, listen_address):
    arrays = [np.full(50_000, i, dtype="i8") for i in range(20)]

    async def scenario():
        async with listen(listen_address, echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            await asyncio.gather(*(comm.write({"i": i, "a": a}) for i, a in enumerate(arrays)))
            replies = [await comm.read() for _ in arrays]
            await comm.close()
        return replies

    replies = run(scenario)
    assert sorted(r["i"] for r in replies) == list(range(20))
    for reply in replies:
        np.testing.assert_array_equal(reply["a"], arrays[reply["i"]])


def test_many_concurrent_connections(run, listen_address):
    n = 50

    async def add_id(comm):
        while True:
            msg = await comm.read()
            await comm.write({"id": msg["id"], "total": sum(msg["values"])})

    async def client(address, i):
        comm = await connect(address, timeout=10)
        try:
            results = []
            for round_ in range(5):
                values = list(range(i + round_))
                await comm.write({"id": i, "values": values})
                results.append((await comm.read())["total"] == sum(values))
            return all(results)
        finally:
            await comm.close()

    async def scenario():
        async with listen(listen_address, add_id) as listener:
            ok = await asyncio.gather(*(client(listener.contact_address, i) for i in range(n)))
            return ok, len(listener.active_comms)

    ok, _ = run(scenario)
    assert ok == [True] * n


def test_read_after_close_raises_comm_closed(run, listen_address):
    async def scenario():
        async with listen(listen_address, echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            await comm.close()
            assert comm.closed()
            with pytest.raises(CommClosedError):
                await comm.read()
            with pytest.raises(CommClosedError):
                await comm.write({"x": 1})
            comm.abort()  # idempotent, no error

    run(scenario)


def test_peer_close_ends_pending_read_after_delivered_messages(run, listen_address):
    async def say_goodbye(comm):
        await comm.write("first")
        await comm.write("last")
        await comm.close()

    async def scenario():
        async with listen(listen_address, say_goodbye) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            received = [await comm.read(), await comm.read()]
            with pytest.raises(CommClosedError):
                await comm.read()
            assert comm.closed()
            comm.abort()
        return received

    assert run(scenario) == ["first", "last"]


def test_abort_wakes_a_pending_read(run, listen_address):
    async def silent(comm):
        await comm.read()  # the client never writes

    async def scenario():
        async with listen(listen_address, silent) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            reader = asyncio.ensure_future(comm.read())
            await asyncio.sleep(0.05)
            comm.abort()
            with pytest.raises(CommClosedError):
                await asyncio.wait_for(reader, 5)

    run(scenario)


def test_a_second_concurrent_reader_is_refused_and_reading_resumes_after(run, listen_address):
    async def scenario():
        async with listen(listen_address, echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            first = asyncio.ensure_future(comm.read())
            await asyncio.sleep(0)  # one loop turn: the first read starts and waits for a message
            assert not first.done()
            with pytest.raises(RuntimeError, match="one reader at a time"):
                await comm.read()
            await comm.write({"i": 1})
            got_first = await asyncio.wait_for(first, 10)
            await comm.write({"i": 2})
            got_next = await asyncio.wait_for(comm.read(), 10)  # the first read is over: a new one may start
            await comm.close()
        return got_first, got_next

    assert run(scenario) == ({"i": 1}, {"i": 2})


def test_listener_stop_closes_server_ends(run, listen_address):
    async def scenario():
        listener = await listen(listen_address, echo_forever)
        comm = await connect(listener.contact_address, timeout=10)
        await comm.write("ping")
        assert await comm.read() == "ping"
        await listener.stop()
        assert not listener.active_comms
        with pytest.raises(CommClosedError):
            await comm.read()
        comm.abort()
        # Stopped means stopped: nothing accepts connections there any more.
        with pytest.raises(ConnectError):
            await connect(listener.contact_address, timeout=0.3)

    run(scenario)


def test_stop_cancels_a_handler_that_ignores_its_comm(run, listen_address):
    finished = []

    async def stuck(comm):
        try:
            await asyncio.sleep(30)
        finally:
            finished.append(True)

    async def scenario():
        listener = await listen(listen_address, stuck)
        comm = await connect(listener.contact_address, timeout=10)
        await listener.stop(timeout=0.2)
        comm.abort()

    run(scenario, timeout=10)
    assert finished == [True]


def test_handler_exception_is_logged_and_others_keep_working(run, listen_address, caplog):
    async def picky(comm):
        msg = await comm.read()
        if msg == "boom":
            raise ValueError("handler refused boom")
        await comm.write(msg)

    async def scenario():
        async with listen(listen_address, picky) as listener:
            bad = await connect(listener.contact_address, timeout=10)
            await bad.write("boom")
            with pytest.raises(CommClosedError):
                await bad.read()
            good = await connect(listener.contact_address, timeout=10)
            await good.write("fine")
            assert await good.read() == "fine"
            await good.close()
            bad.abort()

    run(scenario)
    assert "handler refused boom" in caplog.text


def test_comm_addresses_and_handshake_info(run, listen_address):
    seen = {}

    async def record(comm):
        seen["server"] = (comm.local_address, comm.peer_address)
        await comm.write("hi")
        await comm.read()  # wait for the client to close

    async def scenario():
        async with listen(listen_address, record) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            assert await comm.read() == "hi"
            seen["client"] = (comm.local_address, comm.peer_address)
            seen["contact"] = listener.contact_address
            seen["peer_info"] = comm.peer_info
            await comm.close()

    run(scenario)
    assert seen["client"][1] == seen["contact"] == seen["server"][0]
    assert seen["server"][1] == seen["client"][0]
    assert seen["peer_info"]["op"] == "handshake" and seen["peer_info"]["protocol"] >= 1
