"""The grid runtime on the paper exchange over real candles (engine/market_data/data, BTC/USDT 1m, May 2025).

The harness walks each candle point by point (engine.market_data.candles.walk_points): the paper venue matches
the point, then the bot ticks (reconcile, counter-orders), as a bot ticking every second does
inside a one-minute candle. Its fills must then be the backtest's (DESIGN.md fill rules), fill by
fill, and every fill leaves its trades row, counters and alerts.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.services.errors import NotRunning
from bot.services.fleet import Fleet
from db import queries as q
from db.models import AlertOutbox, BotInstance, GridBotConfig, GridOrder, PaperOrder, Trade
from db.session import Database
from engine.exchange import Order
from engine.grid.backtest import run_grid_backtest
from engine.grid.runtime import GridRuntime, _fill_order
from engine.grid.store import GridStore, _Changes
from engine.market_data.candles import load_candles, walk_points
from engine.market_data.feeds import DATA_DIR
from engine.venues.paper.markets import paper_markets
from engine.venues.paper.venue import PaperVenue

BTC = "BTC/USDT"
CANDLES = load_candles(DATA_DIR / "btcusdt_1m_sample.csv.gz")
LOWER, UPPER, GRIDS, INVEST = D("105000"), D("106500"), 10, D("1000")


class Harness:
    """The grid runtime on the paper venue, told of starts and stops as the engine service is."""

    def __init__(self, database: Database, fleet: Fleet, venue: PaperVenue) -> None:
        self.db, self.fleet, self.venue = database, fleet, venue
        self.stops: list[tuple[int, str]] = []
        self.runtime = self.new_runtime()
        fleet.listeners.append(self)

    async def bot_started(self, bot) -> None:  # type: ignore[no-untyped-def]
        self.runtime.resume(bot.id)

    async def bot_stopping(self, bot) -> None:  # type: ignore[no-untyped-def]
        await self.fleet.complete_stop(bot.id, await self.runtime.halt(bot.id))

    async def bot_edited(self, bot) -> None:  # type: ignore[no-untyped-def]
        pass

    def new_runtime(self) -> GridRuntime:
        async def exchange_for(user_id: int, venue: str):
            assert venue == "paper"
            return self.venue.account(user_id)

        async def stopper(user_id: int, bot_id: int, reason: str) -> None:
            self.stops.append((bot_id, reason))
            try:
                await self.fleet.stop(user_id, bot_id, reason=reason)
            except NotRunning:
                pass

        return GridRuntime(GridStore(self.db), exchange_for, stopper)

    async def walk(self, bot_ids: list[int], start: int, stop: int, *, together: bool = False) -> None:
        """Tick the bots at every point; `together`: concurrently (their saves share transactions)."""
        for k in range(start, stop):
            ts, o, h, lo, c = CANDLES.candle(k)
            for point in walk_points(o, h, lo, c):
                await self.venue.on_price(BTC, point, ts)
                if together:
                    await asyncio.gather(*(self.runtime.tick(bot_id) for bot_id in bot_ids))
                    continue
                for bot_id in bot_ids:
                    await self.runtime.tick(bot_id)


async def namespace_of(database: Database) -> str:
    """The installation's namespace, which every client order id starts with."""
    async with database.read() as session:
        return await q.installation_id(session)


async def grid_bot(fleet: Fleet, user_id: int, name: str = "grid", **kw) -> int:
    params = dict(lower_price=LOWER, upper_price=UPPER, grid_count=GRIDS, total_investment=INVEST)
    params.update(kw)
    created = await fleet.create_grid_bot(
        user_id, name=name, symbol="BTCUSDT", allocation_percent="20", **params
    )
    await fleet.start(user_id, created.bot.id)
    return created.bot.id


# the backtest's fill rules by default take every fee in quote; the paper venue's spot markets do so
# with this setting (Bitget's fee in the coin has its own tests below)
QUOTE_FEES = paper_markets(spot_buy_fee_in_base=False)


@pytest.fixture
async def harness(database, fleet) -> Harness:
    venue = PaperVenue(database, markets=QUOTE_FEES)
    await venue.load()
    return Harness(database, fleet, venue)


def backtest_fills(n: int):
    result = run_grid_backtest(CANDLES.slice(0, n), LOWER, UPPER, GRIDS, "arithmetic", INVEST)
    return result, [(f.ts, f.interval, f.side, f.price, f.qty, f.fee) for f in result.fills]


async def runtime_fills(database: Database, bot_id: int):
    """One fill per interval, as the backtest lists them (the start's market order split up)."""
    async with database.read() as session:
        trades = list(
            (
                await session.execute(select(Trade).where(Trade.bot_instance_id == bot_id).order_by(Trade.id))
            ).scalars()
        )
    fills = []
    for t in trades:
        cid = t.client_order_id
        if cid.endswith("m"):  # the start's one market order covers several intervals
            continue
        interval = int(cid[5:].split("i")[1].split("c")[0])  # after the installation's namespace
        fills.append((int(t.executed_at.timestamp() * 1000), interval, t.side, t.price, t.qty, t.fee))
    return trades, fills


async def test_fills_match_the_backtest_fill_by_fill(harness: Harness, alice) -> None:
    n = 240
    bot_id = await grid_bot(harness.fleet, alice.id)
    await harness.walk([bot_id], 0, n)
    result, expected = backtest_fills(n)
    trades, fills = await runtime_fills(harness.db, bot_id)
    market_fills = [f for f in expected if f[0] == expected[0][0] and f[3] == CANDLES.price("open", 0)]
    limit_expected = [f for f in expected if f not in market_fills]
    assert sorted(fills, key=lambda f: (f[0], f[1], f[2])) == sorted(
        limit_expected, key=lambda f: (f[0], f[1], f[2])
    )
    assert len(fills) > 20, "the slice should exercise the grid"

    async with harness.db.read() as session:
        config = (await session.execute(select(GridBotConfig))).scalar_one()
        bot = await session.get(BotInstance, bot_id)
        rows = list((await session.execute(select(GridOrder).order_by(GridOrder.grid_index))).scalars())
        alerts = list(
            (await session.execute(select(AlertOutbox.kind, func.count()).group_by(AlertOutbox.kind))).all()
        )
    # the start's one market order pays one fee, shared among its intervals in proportion (the backtest
    # rounds each interval's share to 8 decimals): the totals differ by at most that rounding
    assert abs(config.realized_profit - result.realized_profit) <= D("0.00000001") * GRIDS
    assert sum(r.cycle for r in rows) == result.cycles == config.filled_sell_count
    assert bot.total_trades == result.cycles and bot.total_pnl == config.realized_profit
    assert bot.winning_trades == result.cycles  # a grid cycle is always a win here (spacing >> fees)
    assert config.active_buy_orders + config.active_sell_orders == GRIDS
    kinds = dict(alerts)
    assert kinds["grid_cycle"] == result.cycles
    assert kinds["grid_fill"] == len(expected)
    sells = [t for t in trades if t.side == "sell"]
    assert sum(t.realized_pnl for t in sells) == config.realized_profit
    assert all(t.trade_source == "grid_bot" for t in trades)
    # the last fill's alert tells the bot's grid profit and holdings as the ledger has them after it
    async with harness.db.read() as session:
        last = (
            await session.execute(
                select(AlertOutbox.payload)
                .where(AlertOutbox.kind == "grid_fill")
                .order_by(AlertOutbox.id.desc())
                .limit(1)
            )
        ).scalar_one()
    assert D(last["realized_profit"]) == config.realized_profit
    assert D(last["held"]) == sum((r.held_qty or D(0) for r in rows), config.dust_qty)
    assert last["lines"] == GRIDS + 1 and 1 <= last["line"] <= GRIDS + 1 and last["asset"] == "BTC"


async def test_initial_placement_buys_at_market_in_one_order(harness: Harness, alice) -> None:
    bot_id = await grid_bot(harness.fleet, alice.id)
    await harness.walk([bot_id], 0, 1)
    open_ = CANDLES.price("open", 0)  # 105573.73: lines 105600 .. 106350 (6 intervals) are at or above
    async with harness.db.read() as session:
        orders = list((await session.execute(select(PaperOrder).order_by(PaperOrder.id))).scalars())
    markets = [o for o in orders if o.type == "market"]
    assert len(markets) == 1 and markets[0].avg_price == open_
    rows_above = [i for i in range(GRIDS) if LOWER + i * 150 >= open_]
    assert len(rows_above) == 6
    assert markets[0].client_order_id == f"{await namespace_of(harness.db)}{bot_id}i4c0bm"


async def test_restart_reconciles_fills_exactly_once(harness: Harness, alice) -> None:
    n = 240
    bot_id = await grid_bot(harness.fleet, alice.id)
    await harness.walk([bot_id], 0, 100)
    # the process dies; the market keeps moving for 40 candles with nobody ticking
    for k in range(100, 140):
        ts, o, h, lo, c = CANDLES.candle(k)
        for point in walk_points(o, h, lo, c):
            await harness.venue.on_price(BTC, point, ts)
    harness.venue = PaperVenue(harness.db, markets=QUOTE_FEES)
    await harness.venue.load()
    harness.runtime = harness.new_runtime()
    await harness.venue.on_price(
        BTC, CANDLES.price("close", 139), CANDLES.timestamps[139]
    )  # the feed resumes
    await harness.runtime.tick(bot_id)
    await harness.runtime.tick(bot_id)  # a second tick changes nothing
    await harness.walk([bot_id], 140, n)
    async with harness.db.read() as session:
        cids = list((await session.execute(select(Trade.client_order_id))).scalars())
        orders = list((await session.execute(select(PaperOrder.client_order_id))).scalars())
        filled = (
            await session.execute(select(func.count()).where(PaperOrder.status == "closed"))
        ).scalar_one()
    assert len(cids) == len(set(cids)) == filled  # every exchange fill has exactly one trades row
    assert len(orders) == len(set(orders))


async def test_stop_upper_cancels_everything_and_stops_the_bot(harness: Harness, alice) -> None:
    bot_id = await grid_bot(harness.fleet, alice.id, stop_upper="106600")  # the slice tops at 106853.27
    await harness.walk([bot_id], 0, 240)
    assert harness.stops and harness.stops[0] == (bot_id, "stop_upper")
    async with harness.db.read() as session:
        bot = await session.get(BotInstance, bot_id)
        open_orders = (
            await session.execute(select(func.count()).where(PaperOrder.status == "open"))
        ).scalar_one()
        kinds = set((await session.execute(select(AlertOutbox.kind))).scalars())
        config = (await session.execute(select(GridBotConfig))).scalar_one()
    assert not bot.is_running and open_orders == 0
    assert {"grid_stop", "bot_stopped"} <= kinds
    assert config.active_buy_orders == config.active_sell_orders == 0


async def test_trigger_waits_until_the_price_crosses_it(harness: Harness, alice) -> None:
    bot_id = await grid_bot(harness.fleet, alice.id, trigger_price="105800")  # first open 105573.73
    reached = next(k for k in range(240) if CANDLES.high_f[k] >= 105800)
    assert reached > 0
    await harness.walk([bot_id], 0, reached)
    async with harness.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(PaperOrder))).scalar_one() == 0
    await harness.walk([bot_id], reached, 240)
    async with harness.db.read() as session:
        assert (await session.execute(select(func.count()).select_from(PaperOrder))).scalar_one() > 0


async def test_close_position_on_stop_sells_the_holdings(harness: Harness, alice) -> None:
    bot_id = await grid_bot(harness.fleet, alice.id, stop_upper="106600", close_position_on_stop=True)
    await harness.walk([bot_id], 0, 240)
    assert harness.stops[0] == (bot_id, "stop_upper")
    assert (await harness.venue.account(alice.id).fetch_balance()).total("BTC") == 0


async def test_user_stop_cancels_orders_and_a_restart_places_them_again(harness: Harness, alice) -> None:
    bot_id = await grid_bot(harness.fleet, alice.id)
    await harness.walk([bot_id], 0, 30)
    stopped = await harness.fleet.stop(alice.id, bot_id)
    assert not stopped.stopping and not stopped.is_running  # the paper venue confirmed it at once
    assert await harness.venue.account(alice.id).fetch_open_orders(BTC) == []
    await harness.fleet.start(alice.id, bot_id)
    await harness.walk([bot_id], 30, 31)
    open_orders = await harness.venue.account(alice.id).fetch_open_orders(BTC)
    assert len(open_orders) == GRIDS
    assert any(o.client_order_id.endswith("r1") for o in open_orders)  # cancelled ids are never reused
    async with harness.db.read() as session:
        cids = list((await session.execute(select(PaperOrder.client_order_id))).scalars())
    assert len(cids) == len(set(cids))


async def test_a_quiet_tick_does_no_sql_and_a_fill_between_ticks_is_still_applied(
    harness: Harness, alice
) -> None:
    from sqlalchemy import event

    bot_id = await grid_bot(harness.fleet, alice.id)
    await harness.walk([bot_id], 0, 1)  # placed
    await harness.runtime.tick(bot_id)  # settles
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    for engine in {harness.db.engine, harness.db.read_engine}:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await harness.runtime.tick(bot_id)
        await harness.runtime.tick(bot_id)
        assert statements == []  # nothing changed: no database at all
        book = harness.runtime._books[bot_id]
        buy = max(s.buy_price for s in book.intervals if s.status.value == "buy_placed")
        ts = CANDLES.timestamps[1]
        await harness.venue.on_price(BTC, buy, ts)  # the price touches the nearest buy ...
        await harness.venue.on_price(BTC, buy + 50, ts)  # ... and is back above it at the next tick
        await harness.runtime.tick(bot_id)
    finally:
        for engine in {harness.db.engine, harness.db.read_engine}:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
    async with harness.db.read() as session:
        buys = (
            await session.execute(
                select(func.count()).where(Trade.side == "buy", Trade.order_type == "limit")
            )
        ).scalar_one()
    assert buys == 1  # the fill was applied although the price no longer shows it


async def _count(database: Database, what, *where) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return (await session.execute(select(func.count()).select_from(what).where(*where))).scalar_one()


async def test_notifications_turned_off_mid_run_stop_the_grid_alerts_but_not_the_always_sent_ones(
    harness: Harness, alice, bob
) -> None:
    quiet = await grid_bot(harness.fleet, alice.id)
    loud = await grid_bot(harness.fleet, bob.id)  # its saves share the transactions of `quiet`'s
    bots = [quiet, loud]

    def fills(bot_id: int):  # type: ignore[no-untyped-def]
        return _count(
            harness.db, AlertOutbox, AlertOutbox.bot_instance_id == bot_id, AlertOutbox.kind == "grid_fill"
        )

    await harness.walk(bots, 0, 60, together=True)
    assert await fills(quiet) > 0
    assert harness.runtime.store.commits < harness.runtime.store.saves  # group commits happened
    await harness.fleet.set_notify(alice.id, quiet, False)  # as the chat's toggle does, mid-run
    before = {
        bot_id: (await fills(bot_id), await _count(harness.db, Trade, Trade.bot_instance_id == bot_id))
        for bot_id in bots
    }
    await harness.walk(bots, 60, 240, together=True)
    trades = await _count(harness.db, Trade, Trade.bot_instance_id == quiet)
    assert trades > before[quiet][1]  # it kept trading, silently
    assert await fills(quiet) == before[quiet][0]
    assert await fills(loud) > before[loud][0]
    book = harness.runtime._books[quiet]
    await harness.runtime.store.save(book, _Changes(alerts=[("bot_stopped_error", {"bot_id": quiet})]))
    assert await _count(harness.db, AlertOutbox, AlertOutbox.kind == "bot_stopped_error") == 1
    await harness.fleet.set_notify(alice.id, quiet, True)
    await harness.runtime.store.save(book, _Changes(alerts=[("grid_fill", {"bot_id": quiet})]))
    assert await fills(quiet) == before[quiet][0] + 1


async def test_a_failed_group_commit_is_retried_one_save_per_transaction(
    harness: Harness, alice, bob
) -> None:
    good, bad = await grid_bot(harness.fleet, alice.id), await grid_bot(harness.fleet, bob.id)
    await harness.walk([good, bad], 0, 1)
    store = harness.runtime.store
    books = {bot_id: harness.runtime._books[bot_id] for bot_id in (good, bad)}
    async with harness.db.read() as session:
        taken = (await session.execute(select(Trade).where(Trade.bot_instance_id == bad))).scalars().first()
    row = {
        c.name: getattr(taken, c.name) for c in Trade.__table__.columns if c.name not in ("id", "created_at")
    }
    commits = store.commits
    results = await asyncio.gather(
        store.save(books[good], _Changes(alerts=[("grid_fill", {"bot_id": good})])),
        store.save(books[bad], _Changes(trades=[row])),  # its client order id is taken: unique violation
        return_exceptions=True,
    )
    assert results[0] is None and isinstance(results[1], IntegrityError)
    assert store.commits == commits + 3  # the batch, then each save on its own
    async with harness.db.read() as session:
        payloads = (
            await session.execute(select(AlertOutbox.payload).where(AlertOutbox.bot_instance_id == good))
        ).scalars()
        assert {"bot_id": good} in list(payloads)


class _Watched:
    """A paper account that records how many buy placements (they commit capital; a sell re-uses
    the coin a buy got) of its account are in flight at once."""

    def __init__(self, inner, flights: dict[int, list[int]], user_id: int) -> None:
        self.inner, self.flights, self.user_id = inner, flights, user_id

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    async def _placing(self, call, reqs):
        if not any(r.side == "buy" for r in reqs):
            return await call
        now = self.flights.setdefault(self.user_id, [0, 0])
        now[0] += 1
        now[1] = max(now[1], now[0])
        try:
            await asyncio.sleep(0.01)  # a slow exchange: anything not serialised overlaps here
            return await call
        finally:
            now[0] -= 1

    async def create_order(self, req):
        return await self._placing(self.inner.create_order(req), [req])

    async def create_orders(self, reqs):
        return await self._placing(self.inner.create_orders(reqs), reqs)


async def test_placements_that_commit_capital_are_serialised_per_account(
    harness: Harness, alice, bob
) -> None:
    """DESIGN.md: the capital check and the orders of one account's bots do not interleave (two bots
    cannot overdraw), while different accounts place at the same time."""
    flights: dict[int, list[int]] = {}

    async def exchange_for(user_id: int, venue: str):
        return _Watched(harness.venue.account(user_id), flights, user_id)

    runtime = GridRuntime(GridStore(harness.db), exchange_for, harness.runtime.stopper)
    mine = [await grid_bot(harness.fleet, alice.id, name=f"a{k}") for k in range(3)]
    theirs = [await grid_bot(harness.fleet, bob.id, name=f"b{k}") for k in range(3)]
    ts, o, *_ = CANDLES.candle(0)
    await harness.venue.on_price(BTC, o, ts)
    await asyncio.gather(*(runtime.tick(b) for pair in zip(mine, theirs, strict=True) for b in pair))
    assert flights[alice.id][1] == 1 and flights[bob.id][1] == 1  # one placement at a time per account
    async with harness.db.read() as session:
        open_orders = (
            await session.execute(select(func.count()).where(PaperOrder.status == "open"))
        ).scalar_one()
    assert open_orders == 6 * GRIDS  # every interval of every bot has its order out


def test_fills_of_one_moment_are_applied_in_the_order_of_their_order_ids_as_numbers() -> None:
    def order(order_id: str, ts: int) -> Order:
        return Order(
            order_id, f"c{order_id}", BTC, "sell", "limit", D(1), D(1), D(1), D(1), D(0), "closed", ts
        )

    found = [("c100", order("100", 5)), ("c99", order("99", 5)), ("c101", order("101", 4)), ("gone", None)]
    assert [cid for cid, _ in sorted(found, key=_fill_order)] == ["gone", "c101", "c99", "c100"]


async def test_books_loaded_together_are_the_books_loaded_one_by_one(harness: Harness, alice, bob) -> None:
    """A restart loads every running grid at once (GridStore.load_many); stopped bots, trend bots and
    unknown ids are left out, and each book is the one a bot's own first tick would read."""
    bots = [await grid_bot(harness.fleet, user.id, name=f"g{k}") for user in (alice, bob) for k in range(2)]
    await harness.walk(bots, 0, 30)
    await harness.fleet.stop(bob.id, bots[-1])
    store = GridStore(harness.db)
    together = await store.load_many([*bots, 999_999])
    assert sorted(together) == bots[:-1]
    for bot_id in bots[:-1]:
        assert together[bot_id] == await store.load(bot_id)
    assert together[bots[0]].filled_buys > 0  # the walk filled something: the books are not fresh


async def _settled_grid_bot(harness: Harness, user_id: int) -> int:
    """A started grid bot with its whole grid placed and a tick that found it all in place."""
    bot_id = await grid_bot(harness.fleet, user_id)
    await harness.walk([bot_id], 0, 1)
    await harness.runtime.tick(bot_id)
    return bot_id


async def _nearest_buy_filled(harness: Harness, bot_id: int) -> int:
    """The price touches the bot's highest resting buy and is back above it (one fill); returns
    its interval."""
    book = harness.runtime._books[bot_id]
    nearest = max((s for s in book.intervals if s.status.value == "buy_placed"), key=lambda s: s.buy_price)
    ts = CANDLES.timestamps[1]
    assert len(await harness.venue.on_price(BTC, nearest.buy_price, ts)) == 1
    await harness.venue.on_price(BTC, nearest.buy_price + 50, ts)
    return nearest.index


async def test_a_fill_and_the_sell_that_answers_it_are_written_in_one_transaction(
    harness: Harness, alice, monkeypatch
) -> None:
    bot_id = await _settled_grid_bot(harness, alice.id)
    filled = await _nearest_buy_filled(harness, bot_id)
    writes = 0
    run_write = harness.db.run_write

    async def counted(fn):  # type: ignore[no-untyped-def]
        nonlocal writes
        writes += 1
        return await run_write(fn)

    monkeypatch.setattr(harness.db, "run_write", counted)
    await harness.runtime.tick(bot_id)
    assert writes == 1  # the journal and the paper order: one commit, not one each
    book = harness.runtime._books[bot_id]
    sell = book.sell_cids[filled]
    assert book.intervals[filled].status.value == "sell_placed"
    assert sell in harness.venue.open_client_order_ids(alice.id, BTC)
    async with harness.db.read() as session:
        stored = await session.get(GridOrder, book.row_ids[filled])
        assert (stored.status, stored.sell_order_id) == ("sell_placed", sell)
        assert (
            await session.execute(select(PaperOrder).where(PaperOrder.client_order_id == sell))
        ).scalar_one()


async def test_when_the_orders_of_a_fill_cannot_be_written_its_journal_is_not_written_either(
    harness: Harness, alice, monkeypatch
) -> None:
    """Both halves of the fill's transaction fail together; the next tick applies the fill once."""
    from engine.venues.paper.state import PaperTxn

    bot_id = await _settled_grid_bot(harness, alice.id)
    trades = await _count(harness.db, Trade, Trade.bot_instance_id == bot_id)
    held = await _count(harness.db, GridOrder, GridOrder.status == "sell_placed")
    sells = await _count(harness.db, PaperOrder, PaperOrder.side == "sell", PaperOrder.status == "open")
    await _nearest_buy_filled(harness, bot_id)
    write = PaperTxn.write

    def failing(self, connection):  # type: ignore[no-untyped-def]
        if self.new_orders:
            write(self, connection)  # the rows go in, then the transaction fails after them
            raise OSError("disk full")
        return write(self, connection)

    monkeypatch.setattr(PaperTxn, "write", failing)
    with pytest.raises(OSError, match="disk full"):
        await harness.runtime.tick(bot_id)
    open_sells = (PaperOrder.side == "sell", PaperOrder.status == "open")
    assert await _count(harness.db, Trade, Trade.bot_instance_id == bot_id) == trades
    assert await _count(harness.db, GridOrder, GridOrder.status == "sell_placed") == held
    assert await _count(harness.db, PaperOrder, *open_sells) == sells
    assert len(harness.venue.open_client_order_ids(alice.id, BTC)) == GRIDS - 1  # the book: as before
    monkeypatch.setattr(PaperTxn, "write", write)
    await harness.runtime.tick(bot_id)  # a fresh book from the database, as after any failure
    await harness.runtime.tick(bot_id)
    assert await _count(harness.db, Trade, Trade.bot_instance_id == bot_id) == trades + 1
    assert await _count(harness.db, PaperOrder, *open_sells) == sells + 1
    assert await _count(harness.db, GridOrder, GridOrder.status == "sell_placed") == held + 1
    assert len(harness.venue.open_client_order_ids(alice.id, BTC)) == GRIDS


async def test_a_venue_on_another_database_object_gets_the_orders_after_the_journal(
    harness: Harness, alice, db_url, monkeypatch
) -> None:
    """Only a venue writing through the store's own Database joins its transaction; any other
    exchange is sent the orders once the journal is committed."""
    other = Database(db_url)
    try:
        venue = PaperVenue(other)
        harness.venue = venue
        await venue.load()
        bot_id = await _settled_grid_bot(harness, alice.id)
        filled = await _nearest_buy_filled(harness, bot_id)
        order: list[str] = []
        save, create = harness.runtime.store.save, venue.create_orders

        async def saving(*args, **kw):  # type: ignore[no-untyped-def]
            assert kw.get("venue") is None and not kw.get("orders")
            order.append("journal")
            return await save(*args, **kw)

        async def creating(*args, **kw):  # type: ignore[no-untyped-def]
            order.append("orders")
            return await create(*args, **kw)

        monkeypatch.setattr(harness.runtime.store, "save", saving)
        monkeypatch.setattr(venue, "create_orders", creating)
        await harness.runtime.tick(bot_id)
        assert order == ["journal", "orders"]
        assert harness.runtime._books[bot_id].intervals[filled].status.value == "sell_placed"
    finally:
        await other.dispose()
