"""Re-raising a task's exception in the caller, as the user would expect it.

The exception keeps its type and message. Frames of shoal's own machinery are
cut from the front of its traceback, so the first frame shown is the user's
function. A traceback from another process travels as text and is attached
as the exception's cause, the way ``concurrent.futures`` does it.
"""

from __future__ import annotations

import os
import traceback
from types import TracebackType
from typing import Hashable

_SHOAL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INTERNAL_DIRS = (os.path.join(_SHOAL_DIR, "schedulers"), os.path.join(_SHOAL_DIR, "taskgraph"))


class RemoteTraceback(Exception):
    """Carries the formatted traceback of an exception raised elsewhere."""

    def __init__(self, text: str):
        self.text = text
        super().__init__(text)

    def __str__(self) -> str:
        return self.text


def trim_traceback(tb: TracebackType | None) -> TracebackType | None:
    """Drop leading frames that belong to the engine or the graph model."""
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        tb = tb.tb_next
    return tb


def format_remote_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` as text, user's frames first."""
    lines = traceback.format_exception(type(exc), exc, trim_traceback(exc.__traceback__))
    return "".join(lines)


def reraise_task_error(key: Hashable, exc: BaseException, remote_tb: str | None, where: str):
    """Raise ``exc`` from task ``key`` in the caller's thread."""
    if remote_tb:
        exc.__cause__ = RemoteTraceback(f'\n"""\nTraceback from the {where} worker:\n{remote_tb}"""')
    if hasattr(exc, "add_note"):
        note = f"(raised by task {key!r} on the {where} scheduler)"
        if note not in getattr(exc, "__notes__", ()):
            exc.add_note(note)
    raise exc.with_traceback(trim_traceback(exc.__traceback__))
