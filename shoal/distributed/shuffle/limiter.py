"""``ByteLimiter``: at most so many bytes in flight, for back-pressure on one peer.

>>> import asyncio
>>> async def demo():
...     limiter = ByteLimiter(100)
...     await limiter.acquire(60)
...     waiter = asyncio.ensure_future(limiter.acquire(60))  # 120 > 100: waits
...     await asyncio.sleep(0)
...     blocked = not waiter.done()
...     limiter.release(60)
...     await waiter
...     return blocked, limiter.in_flight
>>> asyncio.run(demo())
(True, 60)
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["ByteLimiter"]


class ByteLimiter:
    """Admit ``acquire(n)`` while the bytes in flight stay at most ``limit``; one item
    bigger than ``limit`` goes when nothing else is in flight (so it cannot wait forever).
    First come, first served. Use on one event loop."""

    def __init__(self, limit: int):
        self.limit = max(1, int(limit))
        self.in_flight = 0
        self._waiters: deque = deque()  # (nbytes, future)

    def _fits(self, nbytes: int) -> bool:
        return self.in_flight == 0 or self.in_flight + nbytes <= self.limit

    async def acquire(self, nbytes: int) -> None:
        if not self._waiters and self._fits(nbytes):
            self.in_flight += nbytes
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((nbytes, future))
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(nbytes)  # admitted just as we were cancelled: give it back
            else:
                self._waiters.remove((nbytes, future))
            raise

    def release(self, nbytes: int) -> None:
        self.in_flight = max(0, self.in_flight - nbytes)
        while self._waiters and self._fits(self._waiters[0][0]):
            waiting, future = self._waiters.popleft()
            if future.done():
                continue
            self.in_flight += waiting
            future.set_result(None)
