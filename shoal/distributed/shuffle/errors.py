"""The error a p2p shuffle task raises when its run was abandoned."""

from __future__ import annotations

__all__ = ["ShuffleRestart"]


class ShuffleRestart(RuntimeError):
    """This run of a p2p shuffle was abandoned (a participating worker left, or data of
    the run went missing); the scheduler runs the shuffle again under a new run id.

    A task raising it has normally been released by the scheduler already (its
    inputs were invalidated), so the error is dropped; it reaches the user only
    when a shuffle cannot make progress at all (e.g. no worker stays up).
    """
