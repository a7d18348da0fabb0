"""One APScheduler 3 job per running bot, in the bot's own process, ticked in batches by slot.

Every scheduled bot has its job `bot:{id}` (an interval trigger, `max_instances=1`, `coalesce=True`):
it is how the rest of the app sees that the bot is scheduled (`is_scheduled`, `scheduled_bot_ids`,
`schedule`/`unschedule` are idempotent), but the job itself is kept paused. The ticks come from
one APScheduler job per *slot*: the interval is cut into `slots` slots (10 ms each by default) and
the bots whose offset (a hash of the bot id, `jitter`) falls in slot k are ticked by job `slot:{k}`,
which fires at the slot's time every interval. Why: APScheduler costs about 50 us of bookkeeping
per job run (trigger maths, job store update, executor task, events), i.e. a quarter of a core for
5,000 one-second jobs before any bot does anything; 100 slot jobs a second cost almost nothing.

The per-bot guarantees are kept by the slot job: a bot's tick never runs twice at once (a bot still
busy when its slot comes round skips that tick, as APScheduler's max_instances=1 would; the next one
coalesces), and a slot late past the misfire grace time runs once (coalesce). A bot's tick starts
synchronously inside the slot job; only a tick that actually waits for I/O becomes an asyncio task
(`_start`), so a quiet tick costs neither an APScheduler run nor a task.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import zlib
from collections.abc import Awaitable, Callable, Coroutine, Generator
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

TickFn = Callable[[int], Awaitable[None]]
SLOT_SECONDS = 0.01

log = logging.getLogger(__name__)


def job_id(bot_id: int) -> str:
    return f"bot:{bot_id}"


def slot_job_id(slot: int) -> str:
    return f"slot:{slot}"


def jitter(bot_id: int, interval: float) -> float:
    """Offset (seconds, 0 <= x < interval) of the bot's ticks inside the interval; stable per bot."""
    return (zlib.crc32(f"bot:{bot_id}".encode()) % 10_000) / 10_000 * interval


class BotScheduler:
    """Schedules `tick(bot_id)` every `interval` seconds for each scheduled bot (see the module
    docstring); `tick` is looked up at each call, so it may be replaced after construction."""

    def __init__(
        self,
        tick: TickFn,
        *,
        interval: float = 1.0,
        misfire_grace_time: int | None = None,
        scheduler: AsyncIOScheduler | None = None,
        slots: int | None = None,
    ) -> None:
        self.tick = tick
        self.interval = interval
        self.misfire_grace_time = misfire_grace_time or max(1, int(interval * 2))
        self.scheduler = scheduler or AsyncIOScheduler(timezone=UTC)
        self.slots = slots or max(1, min(1000, round(interval / SLOT_SECONDS)))
        self._epoch = math.floor(time.time())  # slot k fires at epoch + (k / slots + m) x interval
        self._members: dict[int, dict[int, None]] = {}  # slot -> bot ids (insertion ordered)
        self._slot_of: dict[int, int] = {}
        self._running: set[int] = set()  # bots whose tick is in progress
        self._again: set[int] = set()  # bots kicked while their tick ran: one more tick right after it
        self._tasks: set[asyncio.Task[Any]] = set()  # ticks that wait for I/O
        self._closed = False  # after shutdown no tick starts (a slot job already fired included)

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def start(self) -> None:
        self._closed = False
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        """No tick starts from now on; the ticks under way are cancelled (`wait_closed` waits for
        them to end)."""
        self._closed = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for task in list(self._tasks):  # as APScheduler cancels its running jobs
            task.cancel()

    async def wait_closed(self) -> None:
        """After `shutdown`: until the ticks it cancelled have ended."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    # ---- the API: one job per bot

    def slot_of(self, bot_id: int) -> int:
        return min(self.slots - 1, int(jitter(bot_id, self.interval) / self.interval * self.slots))

    def phase(self, bot_id: int) -> float:
        """When in the interval the bot ticks: it is due at epoch + phase + k x interval (unix time)."""
        return self._epoch + self.slot_of(bot_id) * self.interval / self.slots

    def schedule(self, bot_id: int) -> None:
        """Add (or replace) the bot's job; its first tick comes within one interval."""
        self.scheduler.add_job(
            self._tick_one,
            "interval",
            seconds=self.interval,
            args=[bot_id],
            id=job_id(bot_id),
            name=job_id(bot_id),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.misfire_grace_time,
            next_run_time=None,  # paused: its slot job runs it
            replace_existing=True,
        )
        slot = self.slot_of(bot_id)
        self._slot_of[bot_id] = slot
        members = self._members.get(slot)
        if members is None:
            members = self._members[slot] = {}
            self._add_slot_job(slot)
        members[bot_id] = None

    def unschedule(self, bot_id: int) -> bool:
        slot = self._slot_of.pop(bot_id, None)
        if slot is not None:
            members = self._members.get(slot)
            if members is not None:
                members.pop(bot_id, None)
                if not members:
                    del self._members[slot]
                    try:
                        self.scheduler.remove_job(slot_job_id(slot))
                    except JobLookupError:
                        pass
        try:
            self.scheduler.remove_job(job_id(bot_id))
        except JobLookupError:
            return False
        return True

    def is_scheduled(self, bot_id: int) -> bool:
        return self.scheduler.get_job(job_id(bot_id)) is not None

    def scheduled_bot_ids(self) -> list[int]:
        jobs = self.scheduler.get_jobs()
        return sorted(int(job.id.split(":", 1)[1]) for job in jobs if job.id.startswith("bot:"))

    # ---- slots

    def _add_slot_job(self, slot: int) -> None:
        now = time.time()
        base = self._epoch + slot * self.interval / self.slots
        first = base + max(0, math.ceil((now - base) / self.interval)) * self.interval
        self.scheduler.add_job(
            self._run_slot,
            "interval",
            seconds=self.interval,
            args=[slot],
            id=slot_job_id(slot),
            name=slot_job_id(slot),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.misfire_grace_time,
            next_run_time=datetime.fromtimestamp(first, UTC),
            replace_existing=True,
        )

    async def _run_slot(self, slot: int) -> None:
        members = self._members.get(slot)
        if not members:
            return
        for bot_id in list(members):
            if bot_id not in self._running and bot_id in self._slot_of:
                self._start(bot_id)

    def kick(self, bot_id: int) -> None:
        """Tick a scheduled bot now, out of turn (its exchange pushed a change of one of its orders):
        at once when it is idle, right after the tick in progress otherwise; never two at once."""
        if bot_id not in self._slot_of:
            return
        if bot_id in self._running:
            self._again.add(bot_id)
        else:
            self._start(bot_id)

    async def _tick_one(self, bot_id: int) -> None:
        """What the bot's own job would run (it is paused; kept so that resuming it works)."""
        if bot_id not in self._running:
            self._start(bot_id)

    def _start(self, bot_id: int) -> None:
        """Run the bot's tick now, inline; it becomes a task only if it has to wait."""
        if self._closed:
            return
        self._running.add(bot_id)
        coro = self._guarded(bot_id)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return
        task = asyncio.get_running_loop().create_task(_resume(coro, waiting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, bot_id: int) -> None:
        try:
            await self.tick(bot_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("bot %d: tick raised", bot_id)
        finally:
            self._running.discard(bot_id)
            if bot_id in self._again:
                self._again.discard(bot_id)
                if bot_id in self._slot_of:
                    self._start(bot_id)


class _Resume:
    """Continues a coroutine that already ran up to its first suspension (`waiting` is what it
    yielded) inside the task awaiting this: results and exceptions (cancellation) pass through."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                value = yield waiting
            except BaseException as exc:
                try:
                    waiting = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    waiting = coro.send(value)
                except StopIteration as stop:
                    return stop.value


async def _resume(coro: Coroutine[Any, Any, Any], waiting: Any) -> Any:
    return await _Resume(coro, waiting)
