"""One WAL flush for every commit waiting on it: the durability barrier of ``flush_after``.

A create commits without waiting for the disk (``flush_after_commit``) and is answered only once
``tb_flush_wal`` has committed after it: that flush's commit waits until the WAL is on disk up to
its own commit record, which lies after every commit made before the flush began. So one flush
serves every commit that asked for one before it began. One already running when a commit asks
may have begun before that commit and is not enough; the next one is, and it serves everyone who
asked while the first ran. Under load, creates then share their flushes (a group commit, as
PostgreSQL's own WAL writer groups its writes) instead of each running its own transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class FlushGroup:
    """Run ``flush`` for a caller whose commit has returned, unless a flush that began after the
    caller asked has already finished. Flushes run one at a time, in the order asked."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._begun = 0  # flushes begun (numbered from 1)
        self._done = 0  # the newest flush finished without error

    async def after_commit(self, flush: Callable[[], Awaitable[object]]) -> None:
        # Every flush numbered from here on begins after this call, so after the caller's commit.
        wanted = self._begun + 1
        async with self._lock:
            if self._done >= wanted:
                return  # someone else's flush, begun after this call, is on disk
            self._begun += 1
            number = self._begun
            # A failure is this caller's (the error reaches it); the next in line runs its own.
            await flush()
            self._done = number
