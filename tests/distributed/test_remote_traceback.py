"""Traceback objects rebuilt from a worker's formatted traceback text."""

from __future__ import annotations

import traceback

from shoal.distributed.remote_traceback import rebuild_traceback


def inner(value):
    return int(value)


def outer(value):
    try:
        return inner(value)
    except ValueError as error:
        raise KeyError(value) from error


def test_rebuilt_traceback_matches_the_original_frames_of_the_raised_exception():
    try:
        outer("x")
    except KeyError as error:
        original = error
    text = "".join(traceback.format_exception(original))  # what a worker sends
    rebuilt = rebuild_traceback(text)
    want = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(original.__traceback__)]
    got = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(rebuilt)]
    assert got == want  # the raised exception's frames, not those of its cause
    assert traceback.format_tb(rebuilt) == traceback.format_tb(original.__traceback__)
    # Usable where Python wants a real traceback.
    assert KeyError("x").with_traceback(rebuilt).__traceback__ is rebuilt


def test_text_without_frames_gives_none():
    assert rebuild_traceback(None) is None
    assert rebuild_traceback("ValueError: no frames\n") is None
