"""Run a command until our standard input closes: ``python -m shoal.distributed.deploy.stdin_guard -- CMD ...``.

``SSHCluster`` starts each remote scheduler and worker through this guard.
An ssh session's remote command does not die when the local ``ssh``
process does (without a terminal nobody sends it SIGHUP), but its standard
input does close. So the guard watches stdin: at end of file (the cluster
closed it, or the connection dropped, or the local side was killed) it sends
SIGTERM to the command (a clean shutdown), and SIGKILL after ``--grace``
seconds. SIGTERM/SIGINT/SIGHUP to the guard do the same. It exits with the
command's exit status; a command that ends on its own ends the guard.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading

__all__ = ["main"]


def _watch_stdin(stop: threading.Event) -> None:
    try:
        while sys.stdin.buffer.read1(65536):
            pass  # input is not meant for the command; only its end matters
    except (OSError, ValueError):
        pass
    stop.set()


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoal.distributed.deploy.stdin_guard",
                                     description="Run CMD; terminate it when standard input closes.")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds between SIGTERM and SIGKILL (default 10)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
    # Poll rather than block in wait(): the main thread must stay free for signal handlers.
    while child.poll() is None and not stop.wait(0.1):
        pass
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(args.grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


if __name__ == "__main__":
    sys.exit(main())
