"""Run task graphs on this machine: sync, threads and processes."""

from .callbacks import Callback
from .registry import get_scheduler, register_scheduler, scheduler_names, unregister_scheduler

__all__ = ["Callback", "get_scheduler", "register_scheduler", "scheduler_names", "unregister_scheduler"]
