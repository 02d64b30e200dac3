"""Traceback objects rebuilt from the text of a traceback formatted on a worker.

Traceback objects cannot travel between processes, so a worker sends the
``traceback.format_exception`` text of a failed task. ``rebuild_traceback``
turns that text back into a chain of real ``types.TracebackType`` objects
(one per ``File "...", line N, in name`` line of the innermost exception),
so the standard tools work on it: ``traceback.format_tb``,
``traceback.extract_tb``, ``exception.with_traceback``. The frames are
stand-ins (their code has the original file and function name, nothing
else): the source lines shown are read from this machine's copy of the files.

>>> import traceback
>>> text = '''Traceback (most recent call last):
...   File "/nowhere/tasks.py", line 7, in run
...   File "/nowhere/tasks.py", line 3, in parse
... ValueError: invalid literal for int() with base 10: 'x'
... '''
>>> tb = rebuild_traceback(text)
>>> [(f.filename, f.lineno, f.name) for f in traceback.extract_tb(tb)]
[('/nowhere/tasks.py', 7, 'run'), ('/nowhere/tasks.py', 3, 'parse')]
>>> rebuild_traceback("no frames here") is None
True
"""

from __future__ import annotations

import re
import sys
import types

__all__ = ["rebuild_traceback", "parse_frames"]

_HEADER = "Traceback (most recent call last):"
_FRAME_LINE = re.compile(r'^  File "(?P<filename>.*)", line (?P<lineno>\d+), in (?P<name>.+)$')


def parse_frames(text: str) -> list[tuple[str, int, str]]:
    """``(filename, lineno, function name)`` of each frame of the innermost (last) traceback in ``text``.

    >>> parse_frames('Traceback (most recent call last):\\n  File "a.py", line 2, in f\\nKeyError: 1')
    [('a.py', 2, 'f')]
    """
    block = text.rsplit(_HEADER, 1)[-1]  # chained exceptions come first; the raised one is last
    frames = []
    for line in block.splitlines():
        match = _FRAME_LINE.match(line)
        if match:
            frames.append((match["filename"], int(match["lineno"]), match["name"]))
    return frames


def rebuild_traceback(text: str | None) -> types.TracebackType | None:
    """A traceback object with the frames listed in ``text``; ``None`` when it lists none."""
    if not isinstance(text, str):
        return None
    tb = None
    for filename, lineno, name in reversed(parse_frames(text)):
        # tb_lasti=-1: no instruction, so formatting uses tb_lineno rather than the
        # stand-in code's own positions (which would point at the wrong line and columns).
        tb = types.TracebackType(tb, _stand_in_frame(filename, name), -1, lineno)
    return tb


def _stand_in_frame(filename: str, name: str) -> types.FrameType:
    """A finished frame whose code names ``filename`` and function ``name``."""
    code = compile("_frame = _getframe()", filename, "exec").replace(co_name=name, co_qualname=name)
    namespace = {"_getframe": sys._getframe, "__name__": "shoal.distributed.remote_traceback"}
    exec(code, namespace)
    return namespace.pop("_frame")
