"""Scheduling: one job per running bot, spread over the interval; the fleet schedules and
unschedules through its listener; running bots resume at start-up; the error policy of a tick."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from sqlalchemy import select

from bot.engine_service import EngineService
from bot.scheduler import BotScheduler, jitter
from db.models import AlertOutbox, BotInstance
from engine.exchange import InsufficientFunds, TemporaryExchangeError
from engine.venues.paper.venue import PaperVenue


async def make_bot(fleet, user_id: int, name: str = "g") -> int:
    created = await fleet.create_grid_bot(
        user_id,
        name=name,
        symbol="BTCUSDT",
        allocation_percent="10",
        lower_price="105000",
        upper_price="106500",
        grid_count=10,
        total_investment="500",
    )
    return created.bot.id


def test_jitter_spreads_bots_over_the_interval() -> None:
    offsets = [jitter(i, 1.0) for i in range(1, 10_001)]
    assert all(0 <= x < 1 for x in offsets)
    buckets = [0] * 10
    for x in offsets:
        buckets[int(x * 10)] += 1
    assert min(buckets) > 800  # about 1,000 per tenth of a second
    assert jitter(7, 1.0) == jitter(7, 1.0)


async def test_jobs_are_unique_and_tick_every_interval() -> None:
    ticks: list[int] = []

    async def tick(bot_id: int) -> None:
        ticks.append(bot_id)

    scheduler = BotScheduler(tick, interval=0.2)
    scheduler.start()
    try:
        scheduler.schedule(1)
        scheduler.schedule(1)  # replaced, never doubled
        scheduler.schedule(2)
        job = scheduler.scheduler.get_job("bot:1")
        assert (job.max_instances, job.coalesce) == (1, True)
        assert scheduler.scheduled_bot_ids() == [1, 2]
        await asyncio.sleep(1.1)
        assert 4 <= ticks.count(1) <= 7
        assert scheduler.unschedule(1) and not scheduler.unschedule(1)
        assert scheduler.scheduled_bot_ids() == [2]
    finally:
        scheduler.shutdown()


async def test_a_kick_ticks_at_once_or_right_after_the_tick_in_progress_never_beside_it() -> None:
    running, ticks = 0, []
    release = asyncio.Event()

    async def tick(bot_id: int) -> None:
        nonlocal running
        running += 1
        assert running == 1, "two ticks of one bot at once"
        ticks.append(bot_id)
        try:
            await release.wait()
        finally:
            running -= 1

    scheduler = BotScheduler(tick, interval=3600)
    scheduler.start()
    try:
        scheduler.kick(5)  # not scheduled: nothing
        assert ticks == []
        scheduler.schedule(5)
        scheduler.kick(5)
        assert ticks == [5]  # at once, not an hour later
        scheduler.kick(5)  # during that tick: one more right after it, however many kicks
        scheduler.kick(5)
        assert ticks == [5]
        release.set()
        for _ in range(50):
            await asyncio.sleep(0.01)
        assert ticks == [5, 5]
    finally:
        scheduler.shutdown()


async def test_fleet_start_and_stop_schedule_and_unschedule(database, fleet, alice) -> None:
    service = EngineService(database, fleet, venue=PaperVenue(database))
    await service.start()
    try:
        bot_id = await make_bot(fleet, alice.id)
        await fleet.start(alice.id, bot_id)
        assert service.scheduler.is_scheduled(bot_id)
        await fleet.stop(alice.id, bot_id)
        assert not service.scheduler.is_scheduled(bot_id)
    finally:
        await service.shutdown()


async def test_running_bots_resume_at_start_up(database, fleet, alice) -> None:
    ids = [await make_bot(fleet, alice.id, f"g{i}") for i in range(3)]
    for bot_id in ids[:2]:
        await fleet.start(alice.id, bot_id)
    fleet.listeners.clear()  # the process that started them is gone
    service = EngineService(database, fleet, venue=PaperVenue(database))
    try:
        assert await service.start() == ids[:2]
        assert service.scheduler.scheduled_bot_ids() == ids[:2]
    finally:
        await service.shutdown()


async def _alerts(database, kind: str) -> list[AlertOutbox]:
    async with database.read() as session:
        return list((await session.execute(select(AlertOutbox).where(AlertOutbox.kind == kind))).scalars())


async def test_failures_are_stored_alerted_and_stop_the_bot_after_n(database, fleet, alice) -> None:
    service = EngineService(database, fleet, venue=PaperVenue(database), max_failures=3)
    bot_id = await make_bot(fleet, alice.id)
    await fleet.set_notify(alice.id, bot_id, False)  # the stop alert is delivered anyway
    await fleet.start(alice.id, bot_id)

    async def boom(bot_id: int) -> None:
        raise RuntimeError("bug")

    service.runner.grid.tick = boom  # type: ignore[method-assign]
    for _ in range(2):
        await service.run_tick(bot_id)
    async with database.read() as session:
        bot = await session.get(BotInstance, bot_id)
        assert bot.is_running and bot.last_error == "RuntimeError: bug"
    await service.run_tick(bot_id)
    async with database.read() as session:
        bot = await session.get(BotInstance, bot_id)
        assert not bot.is_running
    [stopped] = await _alerts(database, "bot_stopped_error")
    assert stopped.payload["failures"] == 3
    assert not service.scheduler.is_scheduled(bot_id)


async def test_temporary_errors_back_off_and_fatal_ones_stop_at_once(database, fleet, alice) -> None:
    service = EngineService(database, fleet, venue=PaperVenue(database), max_failures=2)
    bot_id = await make_bot(fleet, alice.id)
    await fleet.start(alice.id, bot_id)
    calls: list[int] = []

    async def flaky(bot_id: int) -> None:
        calls.append(bot_id)
        raise TemporaryExchangeError("timeout")

    service.runner.grid.tick = flaky  # type: ignore[method-assign]
    await service.run_tick(bot_id)
    await service.run_tick(bot_id)  # backing off: not even tried
    assert len(calls) == 1
    service._health[bot_id].retry_at = 0
    await service.run_tick(bot_id)
    async with database.read() as session:
        assert (await session.get(BotInstance, bot_id)).is_running  # temporary: never stopped
    assert len(await _alerts(database, "bot_error")) == 1  # alerted once per streak

    async def broke(bot_id: int) -> None:
        raise InsufficientFunds("need 500 USDT")

    service._health[bot_id].retry_at = 0
    service.runner.grid.tick = broke  # type: ignore[method-assign]
    await service.run_tick(bot_id)
    async with database.read() as session:
        bot = await session.get(BotInstance, bot_id)
        assert not bot.is_running and bot.last_error.startswith("InsufficientFunds")
    assert len(await _alerts(database, "bot_stopped_error")) == 1


async def test_equity_counts_held_base_at_the_last_price(database, fleet, alice) -> None:
    venue = PaperVenue(database)
    service = EngineService(database, fleet, venue=venue)
    from engine.exchange import OrderRequest

    await venue.on_price("BTC/USDT", D("100000"), 1)
    await venue.account(alice.id).create_order(
        OrderRequest("BTC/USDT", "buy", "market", D("0.01"), None, "x")
    )
    # 10000 - 1000 - 0.6 fee + 0.01 x 100000
    assert await service.equity(alice.id, "paper") == D("9999.4")


async def test_bots_tick_in_slots_one_at_a_time_each() -> None:
    """Many bots, few APScheduler runs: each slot job ticks its bots; a bot still busy skips."""
    ticks: list[int] = []
    busy: set[int] = set()
    overlapped: list[int] = []

    async def tick(bot_id: int) -> None:
        if bot_id in busy:
            overlapped.append(bot_id)
        ticks.append(bot_id)
        if bot_id == 3:  # slower than the interval: must never run twice at once
            busy.add(bot_id)
            await asyncio.sleep(0.5)
            busy.discard(bot_id)

    scheduler = BotScheduler(tick, interval=0.2)
    scheduler.start()
    try:
        for bot_id in range(1, 201):
            scheduler.schedule(bot_id)
        job = scheduler.scheduler.get_job("bot:7")
        assert job.next_run_time is None  # the bot's job is its registration; its slot runs it
        slot_jobs = [j for j in scheduler.scheduler.get_jobs() if j.id.startswith("slot:")]
        assert len(slot_jobs) <= scheduler.slots == 20
        assert scheduler.scheduled_bot_ids() == list(range(1, 201))
        await asyncio.sleep(1.1)
        assert all(4 <= ticks.count(b) <= 7 for b in range(1, 201) if b != 3)
        assert 1 <= ticks.count(3) <= 3 and not overlapped
        assert scheduler.unschedule(7) and not scheduler.is_scheduled(7)
        before = ticks.count(7)
        await asyncio.sleep(0.5)
        assert ticks.count(7) == before
    finally:
        scheduler.shutdown()


async def test_a_failing_tick_does_not_stop_its_slot() -> None:
    ticks: list[int] = []

    async def tick(bot_id: int) -> None:
        ticks.append(bot_id)
        if bot_id % 2:
            raise RuntimeError("bug")

    scheduler = BotScheduler(tick, interval=0.2, slots=1)  # every bot in one slot
    scheduler.start()
    try:
        for bot_id in range(1, 7):
            scheduler.schedule(bot_id)
        await asyncio.sleep(0.5)
        assert all(ticks.count(b) >= 2 for b in range(1, 7))
    finally:
        scheduler.shutdown()


async def test_after_shutdown_nothing_ticks_or_writes(database, fleet, alice) -> None:
    """A shutdown cancels the ticks under way and waits for them, and for the writes already asked
    for (the grid store's group commit, the venue's order batches): once it returns the database
    can be closed, because nothing writes to it any more."""
    venue = PaperVenue(database)
    service = EngineService(database, fleet, venue=venue, interval=0.05)
    ids = [await make_bot(fleet, alice.id, f"g{i}") for i in range(5)]
    writes: list[list[float]] = []  # [started, ended] of each write
    run_write = database.run_write

    async def slow_write(fn, *args):  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        writes.append(span := [loop.time(), float("inf")])
        try:
            await asyncio.sleep(0.05)  # a busy disk: a save is still being written when the shutdown comes
            return await run_write(fn, *args)
        finally:
            span[1] = loop.time()

    database.run_write = slow_write  # type: ignore[method-assign]
    await venue.on_price("BTC/USDT", D("105750"), 1)
    await service.start()
    for bot_id in ids:
        await fleet.start(alice.id, bot_id)
    for _ in range(100):  # every grid placed
        if len(venue.open_orders(alice.id, "BTC/USDT")) >= 5 * 9:
            break
        await asyncio.sleep(0.05)
    await venue.on_price("BTC/USDT", D("105100"), 2)  # fills the buys: every bot journals its sells
    for _ in range(100):
        flusher = service.grid.store._flusher
        if flusher is not None and not flusher.done():
            break
        await asyncio.sleep(0.005)
    assert flusher is not None and not flusher.done(), "no save in flight to cut off"
    await service.shutdown()
    closed_at = asyncio.get_running_loop().time()
    await asyncio.sleep(0.4)  # eight intervals: slot jobs already fired, flushers, retries
    assert [w for w in writes if w[1] > closed_at] == []  # none still under way, none started after
    assert service.grid.store._flusher.done() and not service.scheduler._tasks
