"""A user's action on a bot (stop, stop and close, delete, close positions, an edit of the stop loss) at
every await point of the bot's tick, deterministically: the tick is paused at its k-th exchange call or
save, the action is launched and runs until it waits, then the tick goes on. Whatever k, the end state
keeps invariant 7 (tests/ledger.py): no closed position comes back, no protective order rests for a
position that is gone, no realized profit is lost, every open order is one a bot tracks.

Before, "close positions" during a tick brought a closed position back to "open", re-placed its take
profit and stop loss, erased the realized PnL and then stopped the bot with an error.

Each case starts from a copy of one database file (SQLite), with the price moved so that the tick has
fills to book: a trend bot's take profit, a grid's buys.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.engine_service import EngineService
from bot.services.accounts import Accounts
from bot.services.fleet import Fleet, RiskLimits
from db.migrate import upgrade_head
from db.models import TrendPositionRow
from db.session import Database
from engine.exchange import Market
from engine.market_data.candles import load_candles, walk_points
from engine.market_data.feeds import DATA_DIR, ReplayFeed
from engine.trend.candles import CandleSource
from engine.venues.live.credentials import CredentialCipher
from engine.venues.paper.markets import paper_markets
from engine.venues.paper.venue import PaperVenue
from tests.conftest import TEST_FERNET_KEY
from tests.ledger import audit

PERP, BTC = "BTC/USDT:USDT", "BTC/USDT"
HOURLY = load_candles(DATA_DIR / "btcusdt_1h_2y.csv.gz").slice(0, 400)
MINUTES = load_candles(DATA_DIR / "btcusdt_1m_sample.csv.gz")
MARKETS = {
    **paper_markets(),
    PERP: Market(
        PERP, "BTC", "USDT", "swap", D("0.01"), D("0.0001"), D("0.0001"), D("5"),
        maker_fee=D("0.0002"), taker_fee=D("0.0006"), max_leverage=125,
    ),
}  # fmt: skip
START = {"USDT": D("10000")}


class Gate:
    """Counts the tick's await points (its exchange calls and saves) and holds it at the k-th."""

    def __init__(self, pause_at: int | None = None) -> None:
        self.pause_at = pause_at
        self.count = 0
        self.task: asyncio.Task[Any] | None = None
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def point(self) -> None:
        if asyncio.current_task() is not self.task:
            return
        self.count += 1
        if self.count == self.pause_at:
            self.reached.set()
            await self.go.wait()


class GatedExchange:
    """An exchange account whose every call is an await point of the gate."""

    def __init__(self, inner: Any, gate: Gate) -> None:
        self._inner, self._gate = inner, gate

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(value):
            return value

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._gate.point()
            return await value(*args, **kwargs)

        return call


class World:
    """The app's services on one database copy, the engine's exchange calls and saves behind a gate."""

    def __init__(self, path: Path, gate: Gate) -> None:
        self.db = Database(f"sqlite+aiosqlite:///{path}")
        self.fleet = Fleet(self.db)
        self.accounts = Accounts(self.db, CredentialCipher(TEST_FERNET_KEY))
        self.venue = PaperVenue(self.db, markets=MARKETS)
        candles = CandleSource(compressed=True)
        self.feed = ReplayFeed("BTC/USDT", HOURLY, loop=False, sink=self._sink)
        candles.add_feed(self.feed)
        self.engine = EngineService(self.db, self.fleet, venue=self.venue, candles=candles)
        self.fleet.equity = self.engine.equity
        self.gate = gate
        real = self.engine.exchange_for

        async def gated(user_id: int, venue: str) -> Any:
            return GatedExchange(await real(user_id, venue), gate)

        self.engine.grid.exchange_for = self.engine.trend.exchange_for = gated
        for store in (self.engine.grid.store, self.engine.trend.store):
            save = store.save

            async def gated_save(
                *args: Any, _save: Callable[..., Awaitable[Any]] = save, **kwargs: Any
            ) -> Any:
                await gate.point()
                return await _save(*args, **kwargs)

            store.save = gated_save  # type: ignore[method-assign]

    async def _sink(self, symbol: str, price: D, ts: int, *, cursor: Any = None) -> None:
        await self.venue.on_price(PERP, price, ts)

    async def close(self) -> None:
        await self.engine.shutdown()
        await self.db.dispose()


async def _trend_world(path: Path) -> tuple[int, int]:
    """A trend bot with an open position whose take profit and stop loss rest (the database at `path`)."""
    await upgrade_head(f"sqlite+aiosqlite:///{path}")
    world = World(path, Gate())
    try:
        await world.venue.load()
        user = await world.accounts.register(telegram_id=77, chat_id=77)
        risk = RiskLimits(
            max_leverage=5, max_positions=3, stop_loss_percent=D("2"), take_profit_percent=D("3")
        )
        bot = (
            await world.fleet.create_trend_bot(
                user.id, name="t", symbol="BTCUSDT", allocation_percent="50", risk=risk
            )
        ).bot
        await world.fleet.start(user.id, bot.id)
        while await world.feed.step() is not None:
            await world.engine.run_tick(bot.id)
            async with world.db.read() as session:
                held = (
                    (
                        await session.execute(
                            select(TrendPositionRow).where(
                                TrendPositionRow.status == "open", TrendPositionRow.tp_order_id.is_not(None)
                            )
                        )
                    )
                    .scalars()
                    .first()
                )
            if held is not None:
                return user.id, bot.id
        raise AssertionError("no position opened")
    finally:
        await world.close()


async def _grid_world(path: Path) -> tuple[int, int]:
    await upgrade_head(f"sqlite+aiosqlite:///{path}")
    world = World(path, Gate())
    try:
        await world.venue.load()
        user = await world.accounts.register(telegram_id=78, chat_id=78)
        bot = (
            await world.fleet.create_grid_bot(
                user.id, name="g", symbol="BTCUSDT", allocation_percent="20", lower_price="105000",
                upper_price="106500", grid_count=10, total_investment="1000",
            )
        ).bot  # fmt: skip
        await world.fleet.start(user.id, bot.id)
        ts, o, *_ = MINUTES.candle(0)
        await world.venue.on_price(BTC, o, ts)
        await world.engine.run_tick(bot.id)
        return user.id, bot.id
    finally:
        await world.close()


async def _move_price_for_the_tick(world: World, kind: str, bot_id: int) -> None:
    """The price moves so that the tick to come has fills to book."""
    if kind == "trend":
        async with world.db.read() as session:
            slot = (
                (await session.execute(select(TrendPositionRow).where(TrendPositionRow.status == "open")))
                .scalars()
                .first()
            )
        assert slot is not None and slot.take_profit is not None
        beyond = slot.take_profit + (D("50") if slot.side == "long" else D("-50"))
        await world.venue.on_price(PERP, beyond, 10**13)
    else:
        for k in range(1, 12):
            ts, o, h, lo, c = MINUTES.candle(k)
            for point in walk_points(o, h, lo, c):
                await world.venue.on_price(BTC, point, ts)


ACTIONS: dict[str, Callable[[World, int, int], Awaitable[Any]]] = {
    "stop": lambda w, u, b: w.fleet.stop(u, b),
    "stop_close": lambda w, u, b: w.fleet.stop(u, b, holdings="close"),
    "delete": lambda w, u, b: w.fleet.delete(u, b, holdings="keep"),
    "close": lambda w, u, b: w.engine.trading.close_bot(u, b),
    "edit": lambda w, u, b: w.fleet.set_risk(u, b, stop_loss_percent="4"),
}
CASES = {"trend": ("stop", "stop_close", "delete", "close", "edit"), "grid": ("stop", "stop_close", "delete")}


async def _run(
    template: Path, path: Path, kind: str, user_id: int, bot_id: int, action: str, pause_at: int | None
) -> tuple[int, list[str]]:
    shutil.copyfile(template, path)
    gate = Gate(pause_at)
    world = World(path, gate)
    try:
        await world.venue.load()
        await _move_price_for_the_tick(world, kind, bot_id)
        tick = asyncio.create_task(world.engine.run_tick(bot_id))
        gate.task = tick
        if pause_at is None:  # the counting run: the tick alone
            await tick
            return gate.count, await audit(
                world.db, world.venue.account(user_id), user_id, start=START, perp_symbols=(PERP,)
            )
        waited = asyncio.create_task(gate.reached.wait())
        await asyncio.wait([tick, waited], return_when=asyncio.FIRST_COMPLETED)
        doing = asyncio.create_task(ACTIONS[action](world, user_id, bot_id))
        for _ in range(20):  # the action runs until it waits (for the tick's lock)
            await asyncio.sleep(0)
        gate.go.set()
        await tick
        try:
            await doing
        except Exception as exc:  # a refusal is fine (e.g. nothing left to close); a broken state is not
            if type(exc).__name__ not in ("NothingToClose", "NotRunning"):
                raise
        await world.engine.run_tick(bot_id)  # and the tick after it changes nothing that matters
        problems = await audit(
            world.db, world.venue.account(user_id), user_id, start=START, perp_symbols=(PERP,)
        )
        async with world.db.read() as session:
            rows = list((await session.execute(select(TrendPositionRow))).scalars())
        for r in rows:
            if r.status == "closed" and r.pnl is None:
                problems.append(f"position {r.seq} closed without its pnl")
        return gate.count, problems
    finally:
        gate.go.set()
        await world.close()


@pytest.mark.parametrize("kind", ["trend", "grid"])
async def test_every_action_at_every_await_point_of_a_tick_keeps_the_books_whole(
    tmp_path: Path, kind: str
) -> None:
    template = tmp_path / "template.db"
    user_id, bot_id = await (_trend_world if kind == "trend" else _grid_world)(template)
    points, problems = await _run(template, tmp_path / "count.db", kind, user_id, bot_id, "", None)
    assert problems == []
    assert points >= 4, "the tick should have await points to interleave with"
    ran = 0
    for action in CASES[kind]:
        for k in range(1, points + 1):
            _, problems = await _run(
                template, tmp_path / f"{action}-{k}.db", kind, user_id, bot_id, action, k
            )
            assert problems == [], f"{action} at await point {k} of {points}: {problems}"
            ran += 1
    assert ran == len(CASES[kind]) * points


async def test_two_ticks_of_one_grid_bot_at_once_work_on_one_book(tmp_path: Path) -> None:
    """The scheduler never runs two ticks of a bot at once, but nothing else forbids it (a restart's
    first tick and the scheduler's, a test's): the bot's lock must serialize them on one book. Before,
    each tick loaded its own copy of a book not in memory yet before taking the lock; the second copy,
    stale, placed the grid again over the first tick's orders: sells on the venue that belong to no
    bot, coin that no ledger holds."""
    path = tmp_path / "twice.db"
    await upgrade_head(f"sqlite+aiosqlite:///{path}")
    world = World(path, Gate())
    try:
        await world.venue.load()
        ts, o, *_ = MINUTES.candle(0)
        await world.venue.on_price(BTC, o, ts)
        user = await world.accounts.register(telegram_id=79, chat_id=79)
        bot = (
            await world.fleet.create_grid_bot(
                user.id, name="g", symbol="BTCUSDT", allocation_percent="20", lower_price=str(o - 400),
                upper_price=str(o + 800), grid_count=10, total_investment="1000",
            )
        ).bot  # fmt: skip
        await world.fleet.start(user.id, bot.id)
        world.engine.grid.forget(bot.id)  # as after a restart: the book is not in memory
        await asyncio.gather(world.engine.run_tick(bot.id), world.engine.run_tick(bot.id))
        await world.engine.run_tick(bot.id)
        await world.engine.grid.store.drain()
        assert await audit(world.db, world.venue.account(user.id), user.id, start=START) == []
    finally:
        await world.close()
