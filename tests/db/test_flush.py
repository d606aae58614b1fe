"""FlushGroup: a caller returns only after a flush that began after it asked; callers share."""

from __future__ import annotations

import asyncio

import pytest

from app.db.flush import FlushGroup


class Recorder:
    """A flush that records when each began and ended (a step counter), and can be held."""

    def __init__(self) -> None:
        self.step = 0
        self.flushes: list[tuple[int, int]] = []  # (began, ended)
        self.hold: asyncio.Event | None = None
        self.fail_next = False

    def tick(self) -> int:
        self.step += 1
        return self.step

    async def flush(self) -> None:
        began = self.tick()
        if self.hold is not None:
            await self.hold.wait()
        await asyncio.sleep(0)
        if self.fail_next:
            self.fail_next = False
            self.tick()
            raise ConnectionError("flush lost")
        self.flushes.append((began, self.tick()))


async def caller(group: FlushGroup, rec: Recorder, seen: list[tuple[int, int]]) -> None:
    asked = rec.tick()
    await group.after_commit(rec.flush)
    seen.append((asked, rec.tick()))


def served(rec: Recorder, asked: int, returned: int) -> bool:
    """Some flush began after the caller asked and ended before it returned."""
    return any(asked < began and ended < returned for began, ended in rec.flushes)


class TestFlushGroup:
    async def test_one_caller_at_a_time_each_gets_its_own_flush(self) -> None:
        group, rec = FlushGroup(), Recorder()
        seen: list[tuple[int, int]] = []
        for _ in range(3):
            await caller(group, rec, seen)
        assert len(rec.flushes) == 3
        assert all(served(rec, a, r) for a, r in seen)

    async def test_callers_during_a_flush_share_the_next_one(self) -> None:
        group, rec = FlushGroup(), Recorder()
        seen: list[tuple[int, int]] = []
        rec.hold = asyncio.Event()
        first = asyncio.create_task(caller(group, rec, seen))
        await asyncio.sleep(0)  # the first flush has begun and is held
        assert rec.flushes == [] and rec.step == 2
        rest = [asyncio.create_task(caller(group, rec, seen)) for _ in range(5)]
        await asyncio.sleep(0)
        rec.hold.set()
        await asyncio.gather(first, *rest)
        # The running flush began before the five asked, so it serves only the first; one more
        # serves all five.
        assert len(rec.flushes) == 2
        assert len(seen) == 6
        assert all(served(rec, a, r) for a, r in seen), (rec.flushes, seen)

    async def test_a_flush_begun_before_a_caller_asked_never_serves_it(self) -> None:
        group, rec = FlushGroup(), Recorder()
        seen: list[tuple[int, int]] = []
        rec.hold = asyncio.Event()
        first = asyncio.create_task(caller(group, rec, seen))
        await asyncio.sleep(0)
        late = asyncio.create_task(caller(group, rec, seen))
        await asyncio.sleep(0)
        rec.hold.set()
        await asyncio.gather(first, late)
        (late_asked, late_returned) = seen[1]
        first_flush = rec.flushes[0]
        assert first_flush[0] < late_asked  # begun before the late caller asked...
        assert served(rec, late_asked, late_returned)  # ...so a second one served it
        assert len(rec.flushes) == 2

    async def test_a_failed_flush_fails_its_caller_and_the_next_runs_its_own(self) -> None:
        group, rec = FlushGroup(), Recorder()
        seen: list[tuple[int, int]] = []
        rec.hold = asyncio.Event()
        rec.fail_next = True
        first = asyncio.create_task(caller(group, rec, seen))
        await asyncio.sleep(0)
        second = asyncio.create_task(caller(group, rec, seen))
        await asyncio.sleep(0)
        rec.hold.set()
        with pytest.raises(ConnectionError):
            await first
        await second
        assert len(seen) == 1 and served(rec, *seen[0])
        assert len(rec.flushes) == 1
