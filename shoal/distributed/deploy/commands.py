"""Run a resource manager's command (``sbatch``, ``scancel``, ``ssh``...) with errors that say what to do.

>>> run_command(["echo", "hello"])
'hello\\n'
>>> run_command(["no-such-command-xyz"])
Traceback (most recent call last):
...
FileNotFoundError: 'no-such-command-xyz' was not found on PATH; install it or put its directory on PATH.
"""

from __future__ import annotations

import shlex
import subprocess

__all__ = ["CommandError", "run_command"]


class CommandError(RuntimeError):
    """A command exited with a non-zero status; ``returncode``, ``stdout`` and ``stderr`` say why."""

    def __init__(self, argv: list, returncode: int, stdout: str, stderr: str):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr
        detail = (stderr or stdout).strip() or "(no output)"
        super().__init__(f"`{shlex.join(argv)}` failed with exit status {returncode}: {detail}")


def run_command(argv: list, *, input: str | None = None, timeout: float = 60.0) -> str:
    """Run ``argv``, feed it ``input``, and return its standard output.

    Raises ``CommandError`` on a non-zero exit, ``FileNotFoundError`` when the
    program is missing and ``TimeoutError`` after ``timeout`` seconds (the
    command is killed), so a hung controller never hangs the caller.
    """
    try:
        done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        raise FileNotFoundError(f"{argv[0]!r} was not found on PATH; install it or put its directory on PATH.") \
            from None
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"`{shlex.join(argv)}` did not finish within {timeout} s.") from None
    if done.returncode != 0:
        raise CommandError(list(argv), done.returncode, done.stdout, done.stderr)
    return done.stdout
