"""Command lines: ``shoal-scheduler`` and ``shoal-worker``.

``shoal-scheduler [--host 127.0.0.1] [--port 8786]`` starts a scheduler;
``shoal-worker tcp://HOST:8786 [--nthreads N] [--nworkers K] [--name NAME]``
starts workers that register with it (and register again when the scheduler
restarts, unless ``--no-reconnect``). Each prints a line naming its
address, and shuts down cleanly on SIGINT (Ctrl-C) or SIGTERM. Both bind
127.0.0.1 unless ``--host`` says otherwise.

Each worker runs under a nanny process (``shoal.distributed.nanny``) that
restarts it when it dies, kills it past 95% of ``--memory-limit``, and
serves ``client.restart()``; ``--no-nanny`` runs the worker alone.

TLS: ``--tls-ca-file CA --tls-cert CERT [--tls-key KEY]`` on both makes them
speak ``tls://`` with mutual authentication (see ``shoal.distributed.Security``);
``--require-encryption`` refuses plain ``tcp://``.  The scheduler warns when
it listens beyond the loopback interface without TLS: anyone who can reach
the port can then run code on the cluster.

``python -m shoal.distributed.cli scheduler|worker ...`` runs the same.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import socket
import subprocess
import sys

from .comm import ConnectError, get_backend, parse_host_port

__all__ = ["scheduler_main", "worker_main"]

logger = logging.getLogger("shoal.distributed.cli")


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


def _add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TLS (mutual authentication; all members need certificates from one CA)")
    group.add_argument("--tls-ca-file", default=None, help="PEM file of the CA that signs the cluster's certificates")
    group.add_argument("--tls-cert", default=None, help="PEM certificate of this process (may hold the key too)")
    group.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert (if not inside it)")
    group.add_argument("--require-encryption", action="store_true",
                       help="refuse to listen on or connect to anything but tls:// addresses")


def _security_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """A ``Security`` from the TLS flags, or without any from the ``distributed.comm.tls`` config
    (parser.error, i.e. exit 2, on inconsistent or missing files)."""
    from .security import Security

    try:
        if args.tls_ca_file or args.tls_cert or args.tls_key:
            if not args.tls_ca_file:
                parser.error("--tls-cert/--tls-key need --tls-ca-file (the CA that signs the cluster's certificates)")
            if not args.tls_cert:
                parser.error("--tls-ca-file needs --tls-cert (and --tls-key unless the key is inside the "
                             "certificate file)")
            security = Security(args.tls_ca_file, args.tls_cert, args.tls_key)
        else:
            security = Security.from_config()  # e.g. SHOAL_DISTRIBUTED__COMM__TLS__CA_FILE
    except (OSError, ValueError) as error:
        parser.error(str(error))
    if args.require_encryption:
        if not security.tls_enabled:
            parser.error("--require-encryption needs TLS credentials: give --tls-ca-file, --tls-cert and --tls-key")
        security.require_encryption = True
    return security


def _tls_arguments(args: argparse.Namespace) -> list:
    """The TLS flags of ``args``, to pass on to child worker processes."""
    out = []
    for flag in ("tls_ca_file", "tls_cert", "tls_key"):
        if getattr(args, flag):
            out += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    if args.require_encryption:
        out.append("--require-encryption")
    return out


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP address) only reaches this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, True, False, True)
    """
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False  # cannot tell: warning is the safe side
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def warn_if_exposed(host: str, tls: bool) -> bool:
    """Log a warning (and return True) when a scheduler would listen beyond loopback without TLS."""
    if tls or is_loopback(host):
        return False
    logger.warning(
        "The scheduler listens on %s without TLS: anyone who can reach this port can submit tasks, i.e. run "
        "code on every worker. Give --tls-ca-file/--tls-cert/--tls-key (the same CA to workers and "
        "clients), or listen on 127.0.0.1 only.", host or "all interfaces")
    return True


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 (pick a free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is outside 0..65535 (0 picks a free port)")
    return port


def _nworkers(text: str) -> int | str:
    """An argparse type: a count, a negative count (cores + 1 + N, as Dask) or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (or 'auto')") from None


def _worker_layout(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[int, int]:
    """(worker processes, threads each) from ``--nworkers`` and ``--nthreads`` (parser.error if impossible)."""
    cores = os.cpu_count() or 1
    nworkers, nthreads = args.nworkers, args.nthreads
    if nthreads is not None and nthreads < 0:
        parser.error(f"--nthreads must be at least 1 (or 0 for cores / nworkers), got {nthreads}")
    if nworkers == "auto":
        from .cluster import _default_layout  # the layout LocalCluster picks for worker processes

        nworkers, auto_threads = _default_layout(None, None, True)
        nthreads = nthreads or auto_threads
    elif nworkers < 0:
        nworkers = cores + 1 + nworkers  # -1: one per core
    if nworkers < 1:
        parser.error(f"--nworkers must be at least 1 (or negative: cores + 1 + N, or 'auto'), got {args.nworkers}")
    return nworkers, nthreads or max(1, cores // nworkers)


def _check_local_directory(parser: argparse.ArgumentParser, directory: str | None) -> None:
    """Make ``--local-directory`` now, so a bad path fails at start rather than at the first spill."""
    if directory is None:
        return
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        parser.error(f"--local-directory {directory!r} cannot be created: {error}")
    if not os.access(directory, os.W_OK | os.X_OK):
        parser.error(f"--local-directory {directory!r} is not writable")


def scheduler_parser() -> argparse.ArgumentParser:
    """The command line of ``shoal-scheduler`` (also what tests and docs check commands against)."""
    parser = argparse.ArgumentParser(prog="shoal-scheduler", description="Start a shoal scheduler.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8786, help="port to listen on (default 8786; 0 picks one)")
    parser.add_argument("--heartbeat-timeout", type=float, default=60.0,
                        help="seconds of silence after which a worker is removed")
    parser.add_argument("--dashboard-address", default=None,
                        help="host:port of the dashboard (default: config distributed.scheduler.dashboard-address, "
                             "127.0.0.1:8787; a busy port falls back to a free one)")
    parser.add_argument("--no-dashboard", action="store_true", help="serve no dashboard")
    parser.add_argument("--log-level", default="warning")
    _add_tls_arguments(parser)
    return parser


def scheduler_main(argv: list | None = None) -> int:
    parser = scheduler_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    security = _security_from_args(parser, args)
    from .scheduler import Scheduler, default_dashboard_address

    dashboard_address = None if args.no_dashboard else (args.dashboard_address or default_dashboard_address())
    scheme = "tls" if security.tls_enabled else "tcp"
    warn_if_exposed(args.host, security.tls_enabled)

    async def run() -> None:
        stop = _stop_event_on_signals()
        scheduler = Scheduler(f"{scheme}://{args.host}:{args.port}", heartbeat_timeout=args.heartbeat_timeout,
                              dashboard_address=dashboard_address, security=security)
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
    except ValueError as error:  # e.g. a --dashboard-address that is not host:port
        print(f"shoal-scheduler: {error}", file=sys.stderr)
        return 2
    return 0


def worker_parser() -> argparse.ArgumentParser:
    """The command line of ``shoal-worker`` (also what tests and docs check commands against)."""
    parser = argparse.ArgumentParser(prog="shoal-worker", description="Start shoal workers.")
    parser.add_argument("address", help="the scheduler's address, e.g. tcp://127.0.0.1:8786")
    parser.add_argument("--nthreads", type=int, default=None,
                        help="threads per worker (default, or 0: cores / nworkers)")
    parser.add_argument("--nworkers", type=_nworkers, default=1,
                        help="worker processes to start (default 1; negative: cores + 1 + N; 'auto': as "
                             "LocalCluster chooses)")
    parser.add_argument("--name", default=None, help="worker name (suffixed -0, -1, ... with --nworkers > 1)")
    parser.add_argument("--host", default="127.0.0.1", help="interface workers listen on (default 127.0.0.1)")
    parser.add_argument("--memory-limit", default=None,
                        help="per worker: bytes, a size such as 2GB, 'auto' (the machine's memory / nworkers) "
                             "or 0 for none; results spill to disk and tasks pause as it nears")
    parser.add_argument("--local-directory", default=None,
                        help="where each worker makes its temporary directory for spilled results "
                             "(default: the system's temporary directory)")
    parser.add_argument("--connect-timeout", type=float, default=30.0,
                        help="seconds to keep trying to reach the scheduler")
    parser.add_argument("--no-reconnect", action="store_true",
                        help="exit when the scheduler goes away instead of waiting for it to come back")
    parser.add_argument("--nanny", action=argparse.BooleanOptionalAction, default=True,
                        help="run each worker under a nanny process that restarts it when it dies and kills it "
                             "past 95%% of --memory-limit (default: --nanny)")
    parser.add_argument("--nanny-address", default=None, help=argparse.SUPPRESS)  # set by the nanny for its worker
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when the process PARENT_PID ends (set by LocalCluster and the nanny)")
    parser.add_argument("--log-level", default="warning")
    _add_tls_arguments(parser)
    return parser


def worker_main(argv: list | None = None) -> int:
    parser = worker_parser()
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    args.nworkers, nthreads = _worker_layout(parser, args)
    _check_local_directory(parser, args.local_directory)
    from .memory import parse_memory_limit

    try:
        args.memory_limit = parse_memory_limit(args.memory_limit, args.nworkers)
    except ValueError as error:
        parser.error(str(error))
    security = _security_from_args(parser, args)
    # A bare host:port means tls:// when TLS credentials are given.
    address = args.address if "://" in args.address else f"{'tls' if security.tls_enabled else 'tcp'}://{args.address}"
    scheme, location = address.split("://", 1)
    try:  # a usage error now, not a traceback from inside the worker (or its nanny's worker)
        get_backend(scheme)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except ValueError as error:
        parser.error(f"scheduler address {args.address!r}: {error}")
    if security.require_encryption and scheme != "tls":
        parser.error(f"--require-encryption refuses the unencrypted scheduler address {address!r}; use tls://")
    if args.nworkers > 1:
        return _run_worker_processes(args, address, nthreads)
    if args.nanny:
        return _run_nanny(parser, raw_argv, args, address, security)
    from .worker import Worker

    async def run() -> None:
        stop = _stop_event_on_signals()
        worker = Worker(address, nthreads=nthreads, name=args.name, listen_address=f"{scheme}://{args.host}:0",
                        memory_limit=args.memory_limit, connect_timeout=args.connect_timeout,
                        reconnect=not args.no_reconnect, security=security, nanny=args.nanny_address,
                        local_directory=args.local_directory)
        await worker.start()
        print(f"shoal-worker: Worker at: {worker.address} ({nthreads} threads), scheduler at: {address}",
              flush=True)
        if args.nanny_address:
            await _tell_nanny(args.nanny_address, worker.address, security)
        if args.parent_pid is not None:
            _exit_with_parent(args.parent_pid, stop, "worker")
        await _wait_first(stop.wait(), worker.finished())
        print(f"shoal-worker: Worker at {worker.address} shutting down", flush=True)
        await worker.close()

    try:
        asyncio.run(run())
    except ConnectError as error:
        print(f"shoal-worker: {error}", file=sys.stderr)
        return 1
    return 0


def _exit_with_parent(parent_pid: int, stop: asyncio.Event, what: str) -> None:
    """Set ``stop`` once ``parent_pid`` is gone, so no worker or nanny outlives what started it."""
    from .nanny import watch_parent

    def gone() -> None:
        print(f"shoal-worker: parent process {parent_pid} is gone; the {what} stops", file=sys.stderr, flush=True)
        stop.set()

    task = asyncio.get_running_loop().create_task(watch_parent(parent_pid, gone))
    _background.add(task)  # a reference, so the watcher is not garbage collected


_background: set = set()


async def _tell_nanny(nanny_address: str, worker_address: str, security) -> None:
    """Report to the nanny that started us that the worker has registered (it waits for this)."""
    from .rpc import ConnectionPool

    pool = ConnectionPool(connect_timeout=10.0, connection_args=security.connection_args("worker"))
    try:
        await pool.request(nanny_address, {"op": "worker-started", "address": worker_address, "pid": os.getpid()},
                           timeout=10.0)
    finally:
        pool.close()


def _without_positional(parser: argparse.ArgumentParser, argv: list, value: str) -> list:
    """``argv`` without the positional argument ``value`` (options' own values are skipped, not matched).

    >>> p = argparse.ArgumentParser(); _ = p.add_argument("address"); _ = p.add_argument("--name")
    >>> _without_positional(p, ["--name", "a", "a", "-v"], "a")
    ['--name', 'a', '-v']
    """
    takes_value = {flag for action in parser._actions if action.option_strings and action.nargs != 0
                   for flag in action.option_strings}
    i = 0
    while i < len(argv):
        if argv[i] == value:
            return argv[:i] + argv[i + 1:]
        i += 2 if argv[i] in takes_value else 1
    return list(argv)


def _run_nanny(parser: argparse.ArgumentParser, argv: list, args, address: str, security) -> int:
    """Run a ``Nanny`` that starts the worker with the same arguments (``--no-nanny``) and supervises it."""
    from .nanny import Nanny

    async def run() -> int:
        stop = _stop_event_on_signals()
        nanny = Nanny(address, _without_positional(parser, argv, args.address), memory_limit=args.memory_limit,
                      host=args.host, security=security, start_timeout=args.connect_timeout + 30)
        await nanny.start()
        print(f"shoal-worker: Nanny at: {nanny.address} supervising the worker at {nanny.worker_address} "
              f"(pid {nanny.worker_pid})", flush=True)
        if args.parent_pid is not None:
            _exit_with_parent(args.parent_pid, stop, "nanny")
        await _wait_first(stop.wait(), nanny.finished())
        print(f"shoal-worker: Nanny at {nanny.address} shutting down", flush=True)
        await nanny.close()
        return 1 if nanny.gave_up else 0

    try:
        return asyncio.run(run())
    except (ConnectError, RuntimeError, TimeoutError) as error:
        print(f"shoal-worker: {error}", file=sys.stderr)
        return 1


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
        if args.local_directory is not None:
            command += ["--local-directory", args.local_directory]
        if args.no_reconnect:
            command.append("--no-reconnect")
        if not args.nanny:
            command.append("--no-nanny")
        command += _tls_arguments(args)
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
