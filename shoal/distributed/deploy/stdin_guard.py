"""Run a command until our standard input closes: ``python -m shoal.distributed.deploy.stdin_guard -- CMD ...``.

``SSHCluster`` starts each remote scheduler and worker through this guard.
An ssh session's remote command does not die when the local ``ssh``
process does (without a terminal nobody sends it SIGHUP), but its standard
input does close. So the guard watches stdin: at end of file (the cluster
closed it, or the connection dropped, or the local side was killed) it sends
SIGTERM to the command (a clean shutdown), and SIGKILL after ``--grace``
seconds; then whatever the command started and left behind is killed too.
SIGTERM/SIGINT/SIGHUP to the guard do the same. It exits with the
command's exit status; a command that ends on its own ends the guard.

The command's output goes through the guard, which drops it once its own
stdout breaks: a dropped connection must not turn the command's next
``print`` into a BrokenPipeError halfway through its clean shutdown.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading

__all__ = ["main"]


def _watch_stdin(stop: threading.Event) -> None:
    # os.read on the raw descriptor: a thread blocked in sys.stdin's buffered reader would hold
    # its lock and abort the interpreter at exit ("could not acquire lock ... at shutdown").
    try:
        while os.read(0, 65536):
            pass  # input is not meant for the command; only its end matters
    except OSError:
        pass
    stop.set()


def _relay_output(source, stop: threading.Event) -> None:
    """Copy the command's output to ours, then drop it once ours is gone (the connection dropped)."""
    out = sys.stdout.buffer
    for line in iter(source.readline, b""):
        if out is None:
            continue
        try:
            out.write(line)
            out.flush()
        except (OSError, ValueError):
            out = None
            stop.set()  # nobody listens any more: as good as end of input
    source.close()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
    # Its own process group, so whatever it starts (a nanny's worker) can be ended with it.
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    relay = threading.Thread(target=_relay_output, args=(child.stdout, stop), daemon=True)
    relay.start()
    threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
    # Poll rather than block in wait(): the main thread must stay free for signal handlers.
    while child.poll() is None and not stop.wait(0.1):
        pass
    if child.poll() is None:
        child.terminate()  # the command alone: it shuts down what it started, in its own order
        try:
            child.wait(args.grace)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    _kill_group(child.pid)  # anything of the command's still running is an orphan now
    relay.join(5)  # the last lines (a shutdown message, a traceback) still reach us
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


if __name__ == "__main__":
    sys.exit(main())
