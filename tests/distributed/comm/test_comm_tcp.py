"""TCP-specific behaviour: large messages, limits, bad peers, handshake, connect failures."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time

import numpy as np
import pytest

import shoal
from shoal.distributed.comm import (
    CommClosedError,
    ConnectError,
    MessageTooLargeError,
    SerializationError,
    connect,
    dumps,
    listen,
    loads,
    parse_address,
    parse_host_port,
)
from shoal.distributed.comm.handshake import local_handshake
from shoal.distributed.comm.tcp import frame_prefix

LOCAL = "tcp://127.0.0.1:0"


async def echo_forever(comm):
    while True:
        await comm.write(await comm.read())


def encode(msg) -> bytes:
    """One message exactly as it goes on the wire."""
    frames = dumps(msg)
    return frame_prefix([memoryview(f).nbytes for f in frames]) + b"".join(bytes(f) for f in frames)


async def read_wire_message(reader: asyncio.StreamReader):
    (n,) = struct.unpack("<Q", await reader.readexactly(8))
    lengths = struct.unpack(f"<{n}Q", await reader.readexactly(8 * n))
    return loads([await reader.readexactly(length) for length in lengths])


async def open_raw(address: str):
    host, port = parse_host_port(parse_address(address)[1])
    return await asyncio.open_connection(host, port)


async def wait_closed_by_server(reader, writer) -> None:
    """Read until the server closes the connection; fails the test if it does not within 5 s."""
    try:
        while await asyncio.wait_for(reader.read(65536), 5):
            pass
    except ConnectionResetError:
        pass  # closing with our unread bytes pending makes the kernel send RST
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionResetError:
        pass


async def assert_listener_still_serves(address: str) -> None:
    comm = await connect(address, timeout=10)
    value = np.arange(100_000)
    await comm.write({"value": value})
    np.testing.assert_array_equal((await comm.read())["value"], value)
    await comm.close()


def test_listens_on_loopback_by_default(run):
    async def scenario():
        async with listen("tcp://", echo_forever) as a, listen("tcp://:0", echo_forever) as b:
            return a.contact_address, b.contact_address

    for address in run(scenario):
        host, port = parse_host_port(parse_address(address)[1])
        assert host == "127.0.0.1" and port > 0


def test_large_message_round_trip_over_tcp(run):
    # 200 MiB of incompressible data, so the bytes really cross the socket.
    array = np.random.default_rng(4).random(200 * 2**20 // 8)

    async def scenario():
        async with listen(LOCAL, echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            sent = await comm.write({"op": "big", "array": array})
            reply = await comm.read()
            await comm.close()
        return sent, reply

    sent, reply = run(scenario, timeout=120)
    assert sent > array.nbytes
    assert reply["op"] == "big"
    assert reply["array"].dtype == array.dtype and reply["array"].shape == array.shape
    assert np.array_equal(reply["array"], array)
    assert not np.shares_memory(reply["array"], array)
    reply["array"][0] = -1.0  # received data is writable


def test_lz4_is_negotiated_and_used_when_installed(run):
    pytest.importorskip("lz4")
    zeros = np.zeros(2_000_000)
    received = {}

    async def measure(comm):
        msg = await comm.read()
        received["zeros"] = msg["zeros"]
        await comm.write("ok")
        await comm.read()

    async def scenario():
        async with listen(LOCAL, measure) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            nbytes = await comm.write({"zeros": zeros})
            assert await comm.read() == "ok"
            codec = comm.compression
            await comm.close()
        return codec, nbytes

    codec, nbytes = run(scenario)
    assert codec == "lz4"
    assert nbytes < zeros.nbytes / 10
    np.testing.assert_array_equal(received["zeros"], zeros)


def test_compression_can_be_switched_off(run):
    async def scenario():
        with shoal.config.set({"distributed.comm.compression": None}):
            async with listen(LOCAL, echo_forever) as listener:
                comm = await connect(listener.contact_address, timeout=10)
                nbytes = await comm.write(np.zeros(1_000_000))
                reply = await comm.read()
                codec = comm.compression
                await comm.close()
        return codec, nbytes, reply

    codec, nbytes, reply = run(scenario)
    assert codec is None and nbytes > 8_000_000
    np.testing.assert_array_equal(reply, np.zeros(1_000_000))


def test_connect_where_nothing_listens_fails_within_timeout_naming_address(run):
    # A port that was free a moment ago: bind, read the port, close.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"

    async def scenario():
        start = time.monotonic()
        with pytest.raises(ConnectError) as info:
            await connect(address, timeout=0.5)
        return time.monotonic() - start, info.value

    elapsed, error = run(scenario)
    assert elapsed < 5.0  # ten times the timeout: a loaded machine adds delays, a hang would take 30 s
    assert isinstance(error, OSError)
    assert address in str(error) and error.address == address
    assert "ConnectionRefusedError" in str(error)


def test_connect_to_server_that_never_handshakes_fails_within_timeout(run):
    connections = []

    async def mute_server(reader, writer):
        connections.append(writer)
        await reader.read()  # accept the TCP connection, never answer
        writer.close()

    async def scenario():
        server = await asyncio.start_server(mute_server, "127.0.0.1", 0)
        address = f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        start = time.monotonic()
        try:
            with pytest.raises(ConnectError, match=f"{address} within 0.5 s.*TimeoutError"):
                await connect(address, timeout=0.5)
        finally:
            server.close()
            for writer in connections:
                writer.close()
            await server.wait_closed()
        return time.monotonic() - start, len(connections)

    elapsed, attempts = run(scenario)
    assert elapsed < 5.0  # ten times the timeout: a loaded machine adds delays, a hang would take 30 s
    assert attempts >= 1


def test_garbage_closes_that_connection_only(run, caplog):
    async def scenario():
        async with listen(LOCAL, echo_forever) as listener:
            reader, writer = await open_raw(listener.contact_address)
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await wait_closed_by_server(reader, writer)
            await assert_listener_still_serves(listener.contact_address)

    with caplog.at_level(logging.WARNING, logger="shoal.distributed.comm"):
        run(scenario)
    assert "non-shoal program" in caplog.text


def test_too_large_length_before_handshake_is_refused_without_allocating(run, caplog):
    async def scenario():
        async with listen(LOCAL, echo_forever) as listener:
            reader, writer = await open_raw(listener.contact_address)
            writer.write(frame_prefix([2**40, 0]))  # announces 1 TiB
            await wait_closed_by_server(reader, writer)
            await assert_listener_still_serves(listener.contact_address)

    run(scenario)
    assert "more than the limit before the handshake" in caplog.text


def test_oversized_message_after_handshake_closes_that_connection_only(run, caplog):
    async def scenario():
        with shoal.config.set({"distributed.comm.max-message-size": "1 MiB"}):
            async with listen(LOCAL, echo_forever) as listener:
                reader, writer = await open_raw(listener.contact_address)
                writer.write(encode(local_handshake()))
                server_handshake = await asyncio.wait_for(read_wire_message(reader), 5)
                assert server_handshake["max-message-size"] == 2**20
                writer.write(frame_prefix([100, 2**21]))  # 2 MiB body: over the limit
                await wait_closed_by_server(reader, writer)
                await assert_listener_still_serves(listener.contact_address)

    run(scenario)
    assert "more than distributed.comm.max-message-size (1.00 MiB)" in caplog.text


def test_malformed_message_after_handshake_closes_that_connection_only(run, caplog):
    async def scenario():
        async with listen(LOCAL, echo_forever) as listener:
            reader, writer = await open_raw(listener.contact_address)
            writer.write(encode(local_handshake()))
            await asyncio.wait_for(read_wire_message(reader), 5)
            writer.write(frame_prefix([4, 3]) + b"\xc1bad\xc1\xc1\xc1")  # 0xc1 is never valid msgpack
            await wait_closed_by_server(reader, writer)
            await assert_listener_still_serves(listener.contact_address)

    run(scenario)
    assert "malformed message" in caplog.text


def test_peer_vanishing_mid_message_closes_only_its_connection(run, caplog):
    handler_errors = []

    async def recording_echo(comm):
        try:
            await echo_forever(comm)
        except CommClosedError as error:
            handler_errors.append(error)
            raise

    async def scenario():
        async with listen(LOCAL, recording_echo) as listener:
            reader, writer = await open_raw(listener.contact_address)
            raw_port = writer.get_extra_info("sockname")[1]
            writer.write(encode(local_handshake()))
            await asyncio.wait_for(read_wire_message(reader), 5)
            writer.write(frame_prefix([100, 1000]) + b"only part of it")
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            for _ in range(500):  # bounded wait for the server to notice
                if handler_errors:
                    break
                await asyncio.sleep(0.01)
            assert handler_errors, "the server did not notice the vanished peer"
            first = str(handler_errors[0])
            await assert_listener_still_serves(listener.contact_address)
            return raw_port, first

    raw_port, first_error = run(scenario)
    assert f"127.0.0.1:{raw_port} is closed (reading)" in first_error


def test_writer_refuses_message_larger_than_peer_accepts_and_stays_open(run):
    async def scenario():
        with shoal.config.set({"distributed.comm.max-message-size": "1 MiB"}):
            async with listen(LOCAL, echo_forever) as listener:
                comm = await connect(listener.contact_address, timeout=10)
                with pytest.raises(MessageTooLargeError, match="nothing was sent"):
                    await comm.write(np.random.default_rng(5).random(300_000))
                assert not comm.closed()
                await comm.write("still fine")
                reply = await comm.read()
                await comm.close()
        return reply

    assert run(scenario) == "still fine"


def test_unserializable_message_raises_and_comm_stays_open(run):
    async def scenario():
        async with listen(LOCAL, echo_forever) as listener:
            comm = await connect(listener.contact_address, timeout=10)
            with pytest.raises(SerializationError, match="socket"):
                await comm.write({"result": socket.socket()})
            await comm.write("next")
            reply = await comm.read()
            await comm.close()
        return reply

    assert run(scenario) == "next"


def test_server_refuses_client_with_other_protocol_version(run, caplog):
    async def scenario():
        async with listen(LOCAL, echo_forever) as listener:
            reader, writer = await open_raw(listener.contact_address)
            writer.write(encode({**local_handshake(), "protocol": 999}))
            await wait_closed_by_server(reader, writer)
            await assert_listener_still_serves(listener.contact_address)

    run(scenario)
    assert "speaks shoal comm protocol 999" in caplog.text


class _RunsCodeWhenUnpickled:
    ran = []

    def __reduce__(self):
        return (_RunsCodeWhenUnpickled.ran.append, ("unpickled!",))


def test_nothing_is_unpickled_before_the_handshake(run, caplog):
    async def scenario():
        async with listen(LOCAL, echo_forever) as listener:
            reader, writer = await open_raw(listener.contact_address)
            writer.write(encode({**local_handshake(), "extra": _RunsCodeWhenUnpickled()}))
            await wait_closed_by_server(reader, writer)
            await assert_listener_still_serves(listener.contact_address)

    run(scenario)
    assert _RunsCodeWhenUnpickled.ran == []
    assert "pickled value(s), which are not accepted here" in caplog.text


def test_client_refuses_server_with_other_protocol_version(run):
    async def fake_server(reader, writer):
        writer.write(encode({**local_handshake(), "protocol": 999}))
        await writer.drain()
        await reader.read()  # until the client hangs up
        writer.close()

    async def scenario():
        server = await asyncio.start_server(fake_server, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(ConnectError, match="protocol 999.*same shoal version"):
                await connect(f"tcp://127.0.0.1:{port}", timeout=5)
        finally:
            server.close()
            await server.wait_closed()

    run(scenario)


def test_silent_peer_is_dropped_after_handshake_timeout(run, caplog):
    async def scenario():
        with shoal.config.set({"distributed.comm.timeouts.handshake": 0.2}):
            async with listen(LOCAL, echo_forever) as listener:
                reader, writer = await open_raw(listener.contact_address)
                await wait_closed_by_server(reader, writer)  # we never send anything

    run(scenario)
    assert "no handshake" in caplog.text
