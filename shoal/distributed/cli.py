"""Command lines: ``shoal-scheduler`` and ``shoal-worker``.

``shoal-scheduler [--host 127.0.0.1] [--port 8786]`` starts a scheduler;
``shoal-worker tcp://HOST:8786 [--nthreads N] [--nworkers K] [--name NAME]``
starts workers that register with it (and register again when the scheduler
restarts, unless ``--no-reconnect``). Each prints a line naming its
address, and shuts down cleanly on SIGINT (Ctrl-C) or SIGTERM. Both bind
127.0.0.1 unless ``--host`` says otherwise.

``python -m shoal.distributed.cli scheduler|worker ...`` runs the same.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys

from .comm import ConnectError

__all__ = ["scheduler_main", "worker_main"]


def _stop_event_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _wait_first(*awaitables) -> None:
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)


def scheduler_main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shoal-scheduler", description="Start a shoal scheduler.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8786, help="port to listen on (default 8786; 0 picks one)")
    parser.add_argument("--heartbeat-timeout", type=float, default=60.0,
                        help="seconds of silence after which a worker is removed")
    parser.add_argument("--dashboard-address", default=None,
                        help="host:port of the dashboard, e.g. 127.0.0.1:8787 (default: no dashboard)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    from .scheduler import Scheduler

    async def run() -> None:
        stop = _stop_event_on_signals()
        scheduler = Scheduler(f"tcp://{args.host}:{args.port}", heartbeat_timeout=args.heartbeat_timeout,
                              dashboard_address=args.dashboard_address)
        await scheduler.start()
        print(f"shoal-scheduler: Scheduler at: {scheduler.address}", flush=True)
        if scheduler.dashboard is not None:
            print(f"shoal-scheduler: Dashboard at: {scheduler.dashboard.link}", flush=True)
        await stop.wait()
        print("shoal-scheduler: shutting down", flush=True)
        await scheduler.close()

    try:
        asyncio.run(run())
    except OSError as error:
        print(f"shoal-scheduler: could not listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


def worker_main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shoal-worker", description="Start shoal workers.")
    parser.add_argument("address", help="the scheduler's address, e.g. tcp://127.0.0.1:8786")
    parser.add_argument("--nthreads", type=int, default=None, help="threads per worker (default: cores / nworkers)")
    parser.add_argument("--nworkers", type=int, default=1, help="worker processes to start (default 1)")
    parser.add_argument("--name", default=None, help="worker name (suffixed -0, -1, ... with --nworkers > 1)")
    parser.add_argument("--host", default="127.0.0.1", help="interface workers listen on (default 127.0.0.1)")
    parser.add_argument("--memory-limit", default=None,
                        help="per worker: bytes, a size such as 2GB, 'auto' (the machine's memory / nworkers) "
                             "or 0 for none; results spill to disk and tasks pause as it nears")
    parser.add_argument("--connect-timeout", type=float, default=30.0,
                        help="seconds to keep trying to reach the scheduler")
    parser.add_argument("--no-reconnect", action="store_true",
                        help="exit when the scheduler goes away instead of waiting for it to come back")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    if args.nworkers < 1:
        parser.error("--nworkers must be at least 1")
    nthreads = args.nthreads or max(1, (os.cpu_count() or 1) // args.nworkers)
    from .memory import parse_memory_limit

    try:
        args.memory_limit = parse_memory_limit(args.memory_limit, args.nworkers)
    except ValueError as error:
        parser.error(str(error))
    address = args.address if "://" in args.address else f"tcp://{args.address}"
    if args.nworkers > 1:
        return _run_worker_processes(args, address, nthreads)
    from .worker import Worker

    async def run() -> None:
        stop = _stop_event_on_signals()
        worker = Worker(address, nthreads=nthreads, name=args.name, listen_address=f"tcp://{args.host}:0",
                        memory_limit=args.memory_limit, connect_timeout=args.connect_timeout,
                        reconnect=not args.no_reconnect)
        await worker.start()
        print(f"shoal-worker: Worker at: {worker.address} ({nthreads} threads), scheduler at: {address}",
              flush=True)
        await _wait_first(stop.wait(), worker.finished())
        print(f"shoal-worker: Worker at {worker.address} shutting down", flush=True)
        await worker.close()

    try:
        asyncio.run(run())
    except ConnectError as error:
        print(f"shoal-worker: {error}", file=sys.stderr)
        return 1
    return 0


def _run_worker_processes(args, address: str, nthreads: int) -> int:
    """Start ``--nworkers`` single-worker processes and forward SIGINT/SIGTERM to them."""
    procs = []
    for i in range(args.nworkers):
        command = [sys.executable, "-m", "shoal.distributed.cli", "worker", address, "--nthreads", str(nthreads),
                   "--host", args.host, "--log-level", args.log_level,
                   "--connect-timeout", str(args.connect_timeout)]
        if args.name:
            command += ["--name", f"{args.name}-{i}"]
        if args.memory_limit is not None:
            command += ["--memory-limit", str(args.memory_limit)]
        if args.no_reconnect:
            command.append("--no-reconnect")
        procs.append(subprocess.Popen(command))

    def forward(signum, _frame) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    codes = [proc.wait() for proc in procs]
    return max(codes, default=0)


def main(argv: list | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"scheduler": scheduler_main, "worker": worker_main}
    if not argv or argv[0] not in commands:
        print("usage: python -m shoal.distributed.cli {scheduler,worker} [options]", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
