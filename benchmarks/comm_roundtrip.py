"""Round-trip latency and throughput of shoal's TCP comm on loopback.

    python -m benchmarks.comm_roundtrip            # shoal only
    python -m benchmarks.comm_roundtrip --dask     # and dask.distributed's comm, same workload

Latency: median (and p90) of ``--n`` round trips of a small message
(``{"op": "ping", "i": i}``) written by a client and echoed by the server.
Throughput: a ``--mb`` MB float64 array of random (incompressible) data
sent client -> server, the server answering with a tiny ack; the best and
median of ``--repeat`` sends, in MB/s of payload.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np


async def measure(connect, listen_and_start, n: int, mb: int, repeat: int) -> dict:
    async def echo(comm):
        try:
            while True:
                msg = await comm.read()
                await comm.write(msg if isinstance(msg, dict) and msg.get("op") == "ping" else "ack")
        except Exception:
            pass

    listener, address, stop = await listen_and_start(echo)
    try:
        comm = await connect(address)
        for i in range(100):  # warm up
            await comm.write({"op": "ping", "i": i})
            await comm.read()
        latencies = []
        for i in range(n):
            start = time.perf_counter()
            await comm.write({"op": "ping", "i": i})
            await comm.read()
            latencies.append(time.perf_counter() - start)
        array = np.random.default_rng(0).random(mb * 10**6 // 8)
        rates = []
        for _ in range(repeat):
            start = time.perf_counter()
            await comm.write({"op": "data", "array": array})
            assert await comm.read() == "ack"
            rates.append(array.nbytes / (time.perf_counter() - start) / 1e6)
        await comm.close()
    finally:
        await stop()
    latencies.sort()
    return {
        "median_us": statistics.median(latencies) * 1e6,
        "p90_us": latencies[int(0.9 * len(latencies))] * 1e6,
        "best_MBps": max(rates),
        "median_MBps": statistics.median(rates),
    }


async def shoal_case(n, mb, repeat):
    from shoal.distributed.comm import connect, listen

    async def start(handler):
        listener = await listen("tcp://127.0.0.1:0", handler)
        return listener, listener.contact_address, listener.stop

    return await measure(lambda a: connect(a, timeout=10), start, n, mb, repeat)


async def dask_case(n, mb, repeat):
    from distributed.comm import connect, listen
    from distributed.protocol import to_serialize

    async def start(handler):
        async def wrapped(comm):
            await handler(comm)

        listener = listen("tcp://127.0.0.1:0", wrapped)
        await listener.start()

        async def stop():
            listener.stop()

        return listener, listener.contact_address, stop

    async def connect_(address):
        comm = await connect(address, timeout=10)
        write = comm.write

        async def write_wrapped(msg):
            # Dask sends arrays out-of-band only when wrapped in to_serialize.
            if isinstance(msg, dict) and "array" in msg:
                msg = {**msg, "array": to_serialize(msg["array"])}
            return await write(msg)

        comm.write = write_wrapped
        return comm

    return await measure(connect_, start, n, mb, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="small-message round trips (default 1000)")
    parser.add_argument("--mb", type=int, default=100, help="array size in MB (default 100)")
    parser.add_argument("--repeat", type=int, default=5, help="large sends (default 5)")
    parser.add_argument("--dask", action="store_true", help="also measure dask.distributed's TCP comm")
    args = parser.parse_args()
    cases = [("shoal", shoal_case)] + ([("dask", dask_case)] if args.dask else [])
    print(f"{'':6} {'median RTT':>11} {'p90 RTT':>9} {'best MB/s':>10} {'median MB/s':>12}")
    for name, case in cases:
        r = asyncio.run(case(args.n, args.mb, args.repeat))
        print(
            f"{name:6} {r['median_us']:>8.0f} us {r['p90_us']:>6.0f} us "
            f"{r['best_MBps']:>10.0f} {r['median_MBps']:>12.0f}"
        )


if __name__ == "__main__":
    main()
