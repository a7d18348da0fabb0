"""One APScheduler 3 job per running bot, in the bot's own process.

Job id `bot:{id}`, an interval trigger, `max_instances=1` (a slow tick is never run twice at once),
`coalesce=True` (ticks missed while busy collapse into one) and a small misfire grace time. First
run times are spread over the interval by a hash of the bot id: thousands of one-second jobs that
fire together stall the event loop (about 0.5 s late at 10,000), spread out they are milliseconds late.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

TickFn = Callable[[int], Awaitable[None]]


def job_id(bot_id: int) -> str:
    return f"bot:{bot_id}"


def jitter(bot_id: int, interval: float) -> float:
    """Offset (seconds, 0 <= x < interval) of the bot's ticks inside the interval; stable per bot."""
    return (zlib.crc32(f"bot:{bot_id}".encode()) % 10_000) / 10_000 * interval


class BotScheduler:
    """Schedules `tick(bot_id)` every `interval` seconds for each scheduled bot."""

    def __init__(
        self,
        tick: TickFn,
        *,
        interval: float = 1.0,
        misfire_grace_time: int | None = None,
        scheduler: AsyncIOScheduler | None = None,
    ) -> None:
        self.tick = tick
        self.interval = interval
        self.misfire_grace_time = misfire_grace_time or max(1, int(interval * 2))
        self.scheduler = scheduler or AsyncIOScheduler(timezone=UTC)

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def schedule(self, bot_id: int) -> None:
        """Add (or replace) the bot's job; its first tick comes within one interval."""
        first = datetime.now(UTC) + timedelta(seconds=jitter(bot_id, self.interval))
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.interval,
            args=[bot_id],
            id=job_id(bot_id),
            name=job_id(bot_id),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=self.misfire_grace_time,
            next_run_time=first,
            replace_existing=True,
        )

    def unschedule(self, bot_id: int) -> bool:
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
