"""The AI trend runtime on the paper exchange over real hourly candles (engine/market_data/data, BTC/USDT 1h).

The harness replays the candles point by point (open, low/high, high/low, close) into the paper
venue's perpetual and ticks the bot after every point, as the scheduler does. Its positions must
then be the trend backtest's (engine.trend.backtest) on the same candles, trade by trade, and every
fill leaves its trades row, stats and alert; with the stop loss off and on (the stop rests on the
venue as a reduce-only stop-market order and fills at its level, or at an open that gapped past it,
as the backtest's stop does).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, update

from bot.services.fleet import Fleet, RiskLimits
from db import queries as q
from db.models import AlertOutbox, BotInstance, PaperOrder, Trade, TrendBotState, TrendPositionRow
from db.session import Database
from engine.exchange import Market
from engine.market_data.candles import load_candles
from engine.market_data.feeds import DATA_DIR, ReplayFeed
from engine.ports import HaltReport
from engine.trend.backtest import run_trend_backtest
from engine.trend.candles import CandleSource
from engine.trend.positions import TrendSettings
from engine.trend.runtime import TrendRuntime
from engine.trend.store import TrendStore
from engine.trend.strategies import get_strategy
from engine.venues.paper.venue import PaperVenue

PERP = "BTC/USDT:USDT"
CANDLES = load_candles(DATA_DIR / "btcusdt_1h_2y.csv.gz").slice(0, 400)
# tick 0.01 as in the file, so fills at the candle's prices are not rounded away from the backtest's
MARKET = Market(
    PERP, "BTC", "USDT", "swap", D("0.01"), D("0.0001"), D("0.0001"), D("5"),
    maker_fee=D("0.0002"), taker_fee=D("0.0006"), max_leverage=125,
)  # fmt: skip
ALLOCATION = D("50")


class Harness:
    def __init__(self, db: Database, fleet: Fleet) -> None:
        self.db, self.fleet = db, fleet
        self.venue = PaperVenue(db, markets={PERP: MARKET})
        self.feed = ReplayFeed("BTC/USDT", CANDLES, loop=False, sink=self.sink)
        self.runtime = self.new_runtime()

    async def sink(self, symbol: str, price: D, ts: int, *, cursor=None) -> None:  # type: ignore[no-untyped-def]
        await self.venue.on_price(PERP, price, ts)

    def new_runtime(self) -> TrendRuntime:
        async def exchange_for(user_id: int, venue: str):  # type: ignore[no-untyped-def]
            assert venue == "paper"
            return self.venue.account(user_id)

        async def stopper(user_id: int, bot_id: int, reason: str) -> None:
            await self.fleet.stop(user_id, bot_id, reason=reason)

        async def capital(user_id: int, venue: str, percent: D) -> D:
            balance = await self.venue.account(user_id).fetch_balance()
            return balance.total("USDT") * percent / 100

        candles = CandleSource(compressed=True)
        candles.add_feed(self.feed)
        return TrendRuntime(TrendStore(self.db), exchange_for, stopper, capital, candles=candles)

    async def walk(self, bot_id: int, points: int) -> None:
        for _ in range(points):
            if await self.feed.step() is None:
                return
            await self.runtime.tick(bot_id)


async def namespace_of(database: Database) -> str:
    async with database.read() as session:
        return await q.installation_id(session)


async def trend_bot(
    fleet: Fleet, db: Database, user_id: int, *, stop_loss: D | None = None, name: str = "trend"
) -> int:
    risk = RiskLimits(max_leverage=5, max_positions=3, stop_loss_percent=D("3"), take_profit_percent=D("6"))
    created = await fleet.create_trend_bot(
        user_id, name=name, symbol="BTCUSDT", allocation_percent=str(ALLOCATION), risk=risk
    )
    async with db.write() as session:
        await session.execute(
            update(BotInstance).where(BotInstance.id == created.bot.id).values(stop_loss_percent=stop_loss)
        )
    await fleet.start(user_id, created.bot.id)
    return created.bot.id


def backtest(bot_id: int, n: int, stop_loss: D | None = None):  # type: ignore[no-untyped-def]
    settings = TrendSettings.for_bot(
        5, D("30"), max_leverage=5, max_positions=3, stop_loss_percent=stop_loss, take_profit_percent=D("6")
    )
    return run_trend_backtest(
        CANDLES.slice(0, n), get_strategy("ema_adx_baseline"), settings, market=MARKET,
        allocation_percent=ALLOCATION, bot_id=bot_id,
    )  # fmt: skip


async def positions(db: Database, bot_id: int) -> list[TrendPositionRow]:
    async with db.read() as session:
        return list(
            (
                await session.execute(
                    select(TrendPositionRow)
                    .where(TrendPositionRow.bot_instance_id == bot_id)
                    .order_by(TrendPositionRow.seq)
                )
            ).scalars()
        )


def as_trades(rows: list[TrendPositionRow]):  # type: ignore[no-untyped-def]
    return [
        (r.seq, r.side, r.qty, r.entry_ts, r.entry_price, r.entry_fee, r.exit_ts, r.exit_price, r.exit_fee,
         r.pnl, r.exit_reason)
        for r in rows if r.status == "closed"
    ]  # fmt: skip


def expected_trades(result):  # type: ignore[no-untyped-def]
    return [
        (t.seq, t.side, t.qty, t.entry_ts, t.entry_price, t.entry_fee, t.exit_ts, t.exit_price, t.exit_fee,
         t.pnl, t.reason)
        for t in result.trades if t.reason != "end"
    ]  # fmt: skip


@pytest.fixture
async def harness(database, fleet) -> Harness:  # type: ignore[no-untyped-def]
    h = Harness(database, fleet)
    await h.venue.load()
    return h


@pytest.mark.parametrize("stop_loss", [None, D("1"), D("2")], ids=["no-stop", "stop-1pct", "stop-2pct"])
async def test_positions_match_the_backtest_trade_by_trade(harness: Harness, alice, stop_loss) -> None:
    n = len(CANDLES)
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id, stop_loss=stop_loss)
    await harness.walk(bot_id, n * 4)
    result = backtest(bot_id, n, stop_loss)
    rows = await positions(harness.db, bot_id)
    closed = as_trades(rows)
    assert closed == expected_trades(result)
    exits = {"signal", "tp"} if stop_loss is None else {"signal", "tp", "sl"}
    assert len(closed) >= 5 and {t[-1] for t in closed} >= exits, "the slice should exercise exits"
    if stop_loss is not None:  # the stops were the venue's stop orders, filled at their level
        stops = [r for r in rows if r.exit_reason == "sl"]
        ns = await namespace_of(harness.db)
        assert all(r.exit_order_id == r.sl_order_id == f"{ns}{bot_id}p{r.seq}sl" for r in stops)
        assert any(r.exit_price == r.stop_loss for r in stops)
    still_open = [(r.seq, r.side, r.qty, r.entry_ts, r.entry_price) for r in rows if r.status == "open"]
    assert still_open == [
        (t.seq, t.side, t.qty, t.entry_ts, t.entry_price) for t in result.trades if t.reason == "end"
    ]

    async with harness.db.read() as session:
        bot = await session.get(BotInstance, bot_id)
        trades = list((await session.execute(select(Trade).where(Trade.bot_instance_id == bot_id))).scalars())
        alerts = dict(
            (await session.execute(select(AlertOutbox.kind, func.count()).group_by(AlertOutbox.kind))).all()
        )
    wins = sum(1 for t in closed if t[9] > 0)
    assert (bot.total_trades, bot.winning_trades) == (len(closed), wins)
    assert bot.total_pnl == sum((t[9] for t in closed), D(0))
    assert {t.trade_source for t in trades} == {"ai_bot"}
    assert len(trades) == len(closed) * 2 + len(still_open)
    assert sum((t.realized_pnl for t in trades if t.realized_pnl is not None), D(0)) == bot.total_pnl
    assert alerts["trend_entry"] == len(closed) + len(still_open)
    assert alerts["trend_exit"] == len(closed)
    # each alert says what the position row says: the entry's leverage, margin, SL, TP and liquidation;
    # the exit's entry price, PnL and its % of the margin, how long it was held
    async with harness.db.read() as session:
        payloads = [
            (kind, payload)
            for kind, payload in (
                await session.execute(select(AlertOutbox.kind, AlertOutbox.payload).order_by(AlertOutbox.id))
            ).all()
        ]
    by_seq = {r.seq: r for r in rows}
    for kind, payload in payloads:
        if kind not in ("trend_entry", "trend_exit"):
            continue
        row = by_seq[payload["seq"]]
        if kind == "trend_entry":
            assert (payload["leverage"], D(payload["margin"])) == (row.leverage, row.margin)
            for name in ("liquidation", "stop_loss", "take_profit"):
                value = payload[name]
                assert (D(value) if value is not None else None) == getattr(row, name), name
        elif kind == "trend_exit":
            assert D(payload["entry"]) == row.entry_price and D(payload["pnl"]) == row.pnl
            assert D(payload["pnl_percent"]) == (row.pnl / row.margin * 100).quantize(D("0.00000001"))
            assert payload["held_seconds"] == (row.exit_ts - row.entry_ts) // 1000
    # the account's balance is the backtest's wallet: initial + closed pnl - entry fees of open positions
    balance = (await harness.venue.account(alice.id).fetch_balance()).total("USDT")
    open_fees = sum((r.entry_fee for r in rows if r.status == "open"), D(0))
    assert balance == D("10000") + bot.total_pnl - open_fees


@pytest.mark.parametrize("stop_loss", [None, D("1")], ids=["no-stop", "stop-1pct"])
async def test_restart_mid_run_applies_fills_once(harness: Harness, alice, stop_loss) -> None:
    n = 300
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id, stop_loss=stop_loss)
    await harness.walk(bot_id, 150 * 4 + 1)
    # a crash: a fresh venue from the database and a fresh runtime; the next tick reconciles
    harness.venue = PaperVenue(harness.db, markets={PERP: MARKET})
    await harness.venue.load()
    harness.venue.mark_price(PERP, *harness.feed.last)  # type: ignore[misc]
    harness.runtime = harness.new_runtime()
    await harness.walk(bot_id, n * 4 - (150 * 4 + 1))
    rows = await positions(harness.db, bot_id)
    assert as_trades(rows) == expected_trades(backtest(bot_id, n, stop_loss))
    async with harness.db.read() as session:
        cids = [c for (c,) in (await session.execute(select(PaperOrder.client_order_id))).all()]
        trade_cids = [c for (c,) in (await session.execute(select(Trade.client_order_id))).all()]
    assert len(cids) == len(set(cids)) and len(trade_cids) == len(set(trade_cids))


async def test_an_order_lost_before_sending_goes_out_once_with_the_same_id(harness: Harness, alice) -> None:
    n = 300
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id)
    account = harness.venue.account(alice.id)
    real_create = account.create_order
    lost: list[str] = []

    async def flaky(req):  # type: ignore[no-untyped-def]
        if req.type == "market" and not lost:  # the process dies after journaling, before sending
            lost.append(req.client_order_id)
            raise ConnectionError("lost")
        return await real_create(req)

    account.create_order = flaky  # type: ignore[method-assign]
    for _ in range(n * 4):
        if await harness.feed.step() is None:
            break
        try:
            await harness.runtime.tick(bot_id)
        except ConnectionError:
            pass
    assert lost
    rows = await positions(harness.db, bot_id)
    # the lost entry went out on the next tick under its journaled id (filled at that point's price)
    entry = [r for r in rows if r.entry_order_id == lost[0]]
    assert len(entry) == 1 and entry[0].entry_price is not None
    first = expected_trades(backtest(bot_id, n))[0]
    assert (entry[0].seq, entry[0].side, entry[0].entry_ts) == (first[0], first[1], first[3])
    async with harness.db.read() as session:
        orders = (
            await session.execute(select(func.count()).where(PaperOrder.client_order_id == lost[0]))
        ).scalar_one()
        trades = (
            await session.execute(select(func.count()).where(Trade.client_order_id == lost[0]))
        ).scalar_one()
    assert orders == 1 and trades == 1


async def test_stop_loss_closes_at_the_crossing_point_and_a_stop_keeps_the_positions_protected(
    harness: Harness, alice
) -> None:
    """Before, a stop cancelled the positions' stop loss and take profit and left them open."""
    n = len(CANDLES)
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id, stop_loss=D("1"))
    await harness.walk(bot_id, n * 4)
    rows = await positions(harness.db, bot_id)
    stops = [r for r in rows if r.exit_reason == "sl"]
    assert stops, "a 1 % stop should trigger on this slice"
    for r in stops:
        # a long's stop fills at or below its level (the point that crossed it), a short's at or above
        assert r.exit_price <= r.stop_loss if r.side == "long" else r.exit_price >= r.stop_loss
        assert r.exit_order_id == f"{await namespace_of(harness.db)}{bot_id}p{r.seq}sl"
    # again, stopped while a position is open with both of its protective orders resting (the first bot
    # stops first: one trend bot per perpetual and user)
    await harness.fleet.stop(alice.id, bot_id, holdings="close")
    await harness.runtime.halt(bot_id)
    await harness.fleet.complete_stop(bot_id, HaltReport())
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id, stop_loss=D("2"), name="again")
    harness.feed.resume_at(0)
    resting = []
    while not resting and await harness.feed.step() is not None:
        await harness.runtime.tick(bot_id)
        resting = [r for r in await positions(harness.db, bot_id) if r.status == "open" and r.sl_order_id]
    assert resting, "a position opens on this slice"
    await harness.fleet.stop(alice.id, bot_id)  # the bot's setting: keep them
    report = await harness.runtime.halt(bot_id)
    assert report.positions_kept == len(resting)
    protective = {cid for r in resting for cid in (r.tp_order_id, r.sl_order_id) if cid}
    open_orders = await harness.venue.account(alice.id).fetch_open_orders(PERP)
    assert protective and {o.client_order_id for o in open_orders} == protective  # still resting
    assert all(
        r.status == "open" for r in await positions(harness.db, bot_id) if r.seq in {x.seq for x in resting}
    )
    closing = await harness.runtime.halt(bot_id, close=True)  # "close them at market"
    assert closing.positions_closed == len(resting) and closing.positions_kept == 0
    assert await harness.venue.account(alice.id).fetch_open_orders(PERP) == []
    assert await harness.venue.account(alice.id).fetch_positions() == []


async def _open_position(harness: Harness, bot_id: int) -> TrendPositionRow:
    """Walk until the bot holds a position with both its protective orders resting."""
    harness.feed.resume_at(0)
    while await harness.feed.step() is not None:
        await harness.runtime.tick(bot_id)
        held = [
            r
            for r in await positions(harness.db, bot_id)
            if r.status == "open" and r.sl_order_id and r.tp_order_id
        ]
        if held:
            return held[0]
    raise AssertionError("no position opened on the slice")


async def test_an_edit_of_the_stop_loss_reaches_the_running_bot_at_once(harness: Harness, alice) -> None:
    """Before, a running trend bot kept its old stop loss and take profit until a restart."""
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id, stop_loss=D("2"))
    before = await _open_position(harness, bot_id)
    await harness.fleet.set_risk(alice.id, bot_id, stop_loss_percent="4", take_profit_percent="9")
    await harness.runtime.refresh(bot_id)  # what the engine service does when the fleet tells it
    [after] = [r for r in await positions(harness.db, bot_id) if r.seq == before.seq]
    sign = 1 if after.side == "long" else -1
    assert after.stop_loss == (after.entry_price * (1 - sign * D("0.04"))).quantize(D("0.01"))
    assert after.take_profit == (after.entry_price * (1 + sign * D("0.09"))).quantize(D("0.01"))
    # the resting orders were replaced under new client ids, at the new levels
    assert after.sl_order_id != before.sl_order_id and after.tp_order_id != before.tp_order_id
    ex = harness.venue.account(alice.id)
    resting = {o.client_order_id: o for o in await ex.fetch_open_orders(PERP)}
    assert set(resting) == {after.sl_order_id, after.tp_order_id}
    assert resting[after.sl_order_id].trigger_price == after.stop_loss
    assert resting[after.tp_order_id].price == after.take_profit
    gone = await ex.fetch_order_by_client_id(before.sl_order_id, PERP)
    assert gone is not None and gone.status == "canceled"


async def test_a_close_the_runtime_sends_itself_never_reuses_the_stop_losss_id(
    harness: Harness, alice
) -> None:
    """Before, a position whose take profit was missing was closed under the stop loss's own client id,
    which the exchange took for the resting stop (a duplicate id)."""
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id, stop_loss=D("2"))
    position = await _open_position(harness, bot_id)
    ex = harness.venue.account(alice.id)
    [tp] = [o for o in await ex.fetch_open_orders(PERP) if o.client_order_id == position.tp_order_id]
    await ex.cancel_orders([tp.id], PERP)  # the take profit is gone (cancelled on the exchange)
    book = await harness.runtime.store.load(bot_id)
    assert book is not None
    book.market = MARKET
    slot = book.slots[position.seq]
    slot.tp_order_id = None
    beyond = slot.take_profit + (1 if slot.side == "long" else -1) * D("100")
    await harness.runtime._stops(book, ex, beyond)
    [closed] = [r for r in await positions(harness.db, bot_id) if r.seq == position.seq]
    assert closed.status == "closed" and closed.exit_reason == "tp"
    assert closed.exit_order_id not in (position.sl_order_id, position.tp_order_id)
    assert closed.exit_order_id.startswith(f"{await namespace_of(harness.db)}{bot_id}p{position.seq}x")


async def test_an_automatic_stop_never_removes_a_positions_protection(harness: Harness, alice) -> None:
    """Before, a fatal error's stop cancelled the stop loss and take profit and left the position open."""
    from bot.engine_service import EngineService
    from engine.exchange import InvalidOrder

    bot_id = await trend_bot(harness.fleet, harness.db, alice.id, stop_loss=D("2"))
    position = await _open_position(harness, bot_id)
    async with harness.db.write() as session:  # the bot's own setting says close: an error does not
        state = await session.get(TrendBotState, bot_id)
        assert state is not None
        state.close_on_stop = True
    engine = EngineService(harness.db, harness.fleet, venue=harness.venue)
    await engine._stop_with_error(bot_id, InvalidOrder("the exchange refused an order"))
    bot = await harness.fleet.get_bot(alice.id, bot_id)
    assert not bot.is_running and not bot.stopping
    resting = {o.client_order_id for o in await harness.venue.account(alice.id).fetch_open_orders(PERP)}
    assert resting == {position.sl_order_id, position.tp_order_id}
    assert [r.status for r in await positions(harness.db, bot_id) if r.seq == position.seq] == ["open"]
    assert bot_id in engine._watching  # its kept position is still watched and booked
    await engine.shutdown()
