"""A grid bot's money with Bitget's fee model on the paper venue, through the engine service as the app
runs it: a buy's fee is taken from the coin bought, so every sell is for the coin the interval really
holds; a partial fill is booked whatever the order's end; a stop is carried out until the venue confirms
every order gone, and what the bot holds is kept, sold or handed back. After every step the ledger
audit of invariant 7 (tests/ledger.py) holds: the venue's balances are the untouched funds plus the
bot's ledger, and every open order is one the bot tracks.

Real candles: BTC/USDT 1m (engine/market_data/data), grid 105,000 .. 106,500, 10 intervals, 1,000 USDT.
"""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from bot.engine_service import EngineService
from bot.services.fleet import Fleet
from db.models import AlertOutbox, BotHandback, GridOrder, Trade
from db.session import Database
from engine.market_data.candles import load_candles, walk_points
from engine.market_data.feeds import DATA_DIR
from engine.money import floor_to_step
from engine.venues.paper.venue import PaperVenue
from tests.ledger import audit

BTC = "BTC/USDT"
CANDLES = load_candles(DATA_DIR / "btcusdt_1m_sample.csv.gz")
START = {"USDT": D("10000")}
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


class Paper:
    """The engine service on the paper venue, its ticks driven by hand, point by point."""

    def __init__(self, database: Database, fleet: Fleet) -> None:
        self.db, self.fleet = database, fleet
        self.venue = PaperVenue(database)
        self.engine = EngineService(database, fleet, venue=self.venue, stop_retry=(0.01, 0.05))
        fleet.equity = self.engine.equity

    async def walk(self, bot_id: int, start: int, stop: int) -> None:
        for k in range(start, stop):
            ts, o, h, lo, c = CANDLES.candle(k)
            for point in walk_points(o, h, lo, c):
                await self.venue.on_price(BTC, point, ts)
                await self.engine.run_tick(bot_id)

    async def audit(self, user_id: int) -> list[str]:
        return await audit(self.db, self.venue.account(user_id), user_id, start=START)


@pytest.fixture
async def paper(database: Database, fleet: Fleet) -> Paper:
    p = Paper(database, fleet)
    await p.venue.load()
    return p


async def grid(fleet: Fleet, user_id: int, **kw) -> int:  # type: ignore[no-untyped-def]
    params = dict(lower_price="105000", upper_price="106500", grid_count=10, total_investment="1000")
    params.update(kw)
    created = await fleet.create_grid_bot(
        user_id, name="grid", symbol="BTCUSDT", allocation_percent="20", **params
    )
    await fleet.start(user_id, created.bot.id)
    return created.bot.id


async def rows(db: Database) -> list[GridOrder]:
    async with db.read() as session:
        return list((await session.execute(select(GridOrder).order_by(GridOrder.grid_index))).scalars())


async def test_every_sell_is_for_the_coin_the_interval_holds_after_the_fee_taken_in_the_coin(
    paper: Paper, alice
) -> None:
    bot_id = await grid(paper.fleet, alice.id)
    for start in range(0, 240, 40):
        await paper.walk(bot_id, start, start + 40)
        assert await paper.audit(alice.id) == []
    async with paper.db.read() as session:
        trades = list((await session.execute(select(Trade).order_by(Trade.id))).scalars())
    buys = [t for t in trades if t.side == "buy" and t.order_type == "limit"]
    sells = [t for t in trades if t.side == "sell"]
    assert len(sells) >= 10, "the slice should exercise the grid"
    step = paper.venue.market(BTC).amount_step
    # each limit buy's fee was taken in BTC (0.02 % maker): what its interval sells is that, on the lot step
    held = {floor_to_step(t.qty - t.fee_base, step) for t in buys}
    assert all(t.fee_base and t.fee_currency == "BTC" for t in buys)
    assert all(t.qty in held or t.client_order_id.startswith(("x",)) for t in sells)
    assert all(t.fee_base is None and t.fee_currency == "USDT" for t in sells)
    # nothing was refused: a sell of the gross quantity would have wanted coin the account did not have
    async with paper.db.read() as session:
        bot_error = (
            await session.execute(select(func.count()).where(AlertOutbox.kind == "bot_stopped_error"))
        ).scalar()
    assert bot_error == 0 and (await paper.fleet.get_bot(alice.id, bot_id)).is_running


async def test_a_buy_filled_in_part_then_stopped_is_booked_and_its_coin_sold_after_a_restart(
    paper: Paper, alice
) -> None:
    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 1)
    ex = paper.venue.account(alice.id)
    buy = next(o for o in await ex.fetch_open_orders(BTC) if o.side == "buy")
    part = await paper.venue.fill_partially(alice.id, buy.id, D("0.000400"))
    stopped = await paper.fleet.stop(alice.id, bot_id, holdings="keep")
    assert not stopped.stopping and not stopped.is_running
    assert await ex.fetch_open_orders(BTC) == []  # every order cancelled, confirmed by the venue
    async with paper.db.read() as session:
        partial = (
            await session.execute(select(Trade).where(Trade.client_order_id == buy.client_order_id))
        ).scalar_one()
    # the 0.0004 BTC the cancelled buy filled is booked: before, it never reached the ledger
    assert (partial.qty, partial.fee_base) == (D("0.0004"), part.fee_base)
    interval = next(r for r in await rows(paper.db) if r.buy_order_id == buy.client_order_id)
    assert interval.status == "buy_filled" and interval.held_qty == floor_to_step(
        D("0.0004") - part.fee_base, D("0.000001")
    )
    assert await paper.audit(alice.id) == []
    held = await paper.fleet.holdings(alice.id, bot_id)
    assert held.coin > interval.held_qty  # the start's market buy's intervals and this one
    await paper.fleet.start(alice.id, bot_id)
    await paper.walk(bot_id, 1, 2)
    # its sell line (105,150) is below the price: the sell of the partial's coin filled at once
    async with paper.db.read() as session:
        sells = list((await session.execute(select(Trade).where(Trade.side == "sell"))).scalars())
    sold = [t for t in sells if t.client_order_id.endswith(f"{bot_id}i{interval.grid_index}c0s")]
    assert [t.qty for t in sold] == [interval.held_qty]
    assert await paper.audit(alice.id) == []


async def test_a_sell_filled_in_part_and_cancelled_elsewhere_keeps_the_rest_for_sale(
    paper: Paper, alice
) -> None:
    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 1)
    ex = paper.venue.account(alice.id)
    sell = next(o for o in await ex.fetch_open_orders(BTC) if o.side == "sell")
    await paper.venue.fill_partially(alice.id, sell.id, D("0.0002"))
    await ex.cancel_orders([sell.id], BTC)  # the user cancels it on the exchange
    await paper.walk(bot_id, 1, 2)
    interval = next(
        r
        for r in await rows(paper.db)
        if r.sell_order_id and r.sell_order_id.startswith(sell.client_order_id)
    )
    assert interval.status == "sell_placed" and interval.sell_order_id != sell.client_order_id  # a fresh id
    again = next(o for o in await ex.fetch_open_orders(BTC) if o.client_order_id == interval.sell_order_id)
    assert again.qty == sell.qty - D("0.0002") == interval.held_qty
    async with paper.db.read() as session:
        sold = (
            await session.execute(select(Trade).where(Trade.client_order_id == sell.client_order_id))
        ).scalar_one()
    assert sold.qty == D("0.0002") and sold.realized_pnl is not None
    assert await paper.audit(alice.id) == []


async def test_a_stop_whose_cancel_fails_stays_stopping_and_is_carried_out_later(
    paper: Paper, alice, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the chat said "stopped, its orders are cancelled" while they stayed on the venue for good."""
    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 1)
    ex = paper.venue.account(alice.id)
    resting = len(await ex.fetch_open_orders(BTC))
    real_cancel = paper.venue.cancel_orders
    failing = True

    async def cancel(user_id, order_ids, symbol):  # type: ignore[no-untyped-def]
        return [] if failing else await real_cancel(user_id, order_ids, symbol)

    monkeypatch.setattr(paper.venue, "cancel_orders", cancel)
    stopping = await paper.fleet.stop(alice.id, bot_id)
    assert stopping.stopping and not stopping.is_running
    assert stopping.stop_note is not None and f"{resting} orders left" in stopping.stop_note
    assert len(await ex.fetch_open_orders(BTC)) == resting
    # a restart goes on with it: a new engine on the same database finds the bot stopping
    await paper.engine.shutdown()
    paper.engine = EngineService(paper.db, paper.fleet, venue=paper.venue, stop_retry=(0.01, 0.05))
    failing = False
    await paper.engine.start()
    bot = await paper.fleet.get_bot(alice.id, bot_id)
    assert not bot.stopping and await ex.fetch_open_orders(BTC) == []
    async with paper.db.read() as session:
        kinds = list((await session.execute(select(AlertOutbox.kind).order_by(AlertOutbox.id))).scalars())
    assert kinds.count("bot_stopped") == 1 and "stop_kept_coins" in kinds
    assert await paper.audit(alice.id) == []
    await paper.engine.shutdown()


async def test_a_stop_that_stays_stuck_tells_the_owner_once_which_orders_are_open(
    paper: Paper, alice, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper.engine.stop_alert_after = 0.0
    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 1)

    async def cancel(user_id, order_ids, symbol):  # type: ignore[no-untyped-def]
        return []

    monkeypatch.setattr(paper.venue, "cancel_orders", cancel)
    await paper.fleet.stop(alice.id, bot_id)
    for _ in range(3):
        await paper.engine._finish_stop(bot_id)
    async with paper.db.read() as session:
        stuck = list(
            (await session.execute(select(AlertOutbox).where(AlertOutbox.kind == "bot_stop_stuck"))).scalars()
        )
    assert len(stuck) == 1 and stuck[0].payload["count"] == 10
    assert all(
        cid in stuck[0].payload["orders"]
        for cid in [r.buy_order_id for r in await rows(paper.db) if r.status == "buy_placed"]
    )
    await paper.engine.shutdown()


async def test_stop_and_sell_sells_what_the_bot_holds_net_of_the_fees(paper: Paper, alice) -> None:
    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 60)
    held = await paper.fleet.holdings(alice.id, bot_id)
    assert held.coin > 0
    await paper.fleet.stop(alice.id, bot_id, holdings="close")
    after = await paper.fleet.holdings(alice.id, bot_id)
    assert after.coin < D("0.000001")  # only dust below the lot step is left
    assert (await paper.venue.account(alice.id).fetch_balance()).total("BTC") == after.coin
    assert await paper.audit(alice.id) == []


async def test_delete_hands_the_coin_back_and_frees_the_allocation_only_then(paper: Paper, alice) -> None:
    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 30)
    held = await paper.fleet.holdings(alice.id, bot_id)
    summary = await paper.fleet.delete(alice.id, bot_id, holdings="keep")
    assert summary.shares == ()  # the paper venue confirmed the stop at once
    async with paper.db.read() as session:
        back = list((await session.execute(select(BotHandback))).scalars())
    assert [(h.asset, h.qty) for h in back] == [("BTC", held.coin)]
    # the coin is the user's own again: the venue still holds it, outside every bot
    assert (await paper.venue.account(alice.id).fetch_balance()).total("BTC") == held.coin
    assert await paper.audit(alice.id) == []


async def test_a_closing_sale_whose_answer_was_lost_is_booked_once_and_never_sent_twice(
    paper: Paper, alice
) -> None:
    """The venue sold, but the answer never came: the stop stays under way, and its next try finds the
    sale under its id and books it. Before, the next try sold again (under the id of the sells booked so
    far, unchanged) or, asked to keep the coin, never booked the sale: the venue held less than the
    ledger."""
    from tests.invariant_audit import Faults

    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 60)
    held = await paper.fleet.holdings(alice.id, bot_id)
    assert held.coin > 0
    faults = Faults()
    real = paper.engine.exchange_for

    async def faulty(user_id: int, venue: str):  # type: ignore[no-untyped-def]
        return faults.wrap(await real(user_id, venue))

    paper.engine.grid.exchange_for = faulty  # type: ignore[assignment]
    faults.answers_lost = 1
    paper.engine.stop_retry = (3600.0, 3600.0)  # this test tries the stop again itself
    stopping = await paper.fleet.stop(alice.id, bot_id, holdings="close")
    assert stopping.stopping and "lost" in (stopping.stop_note or "")
    sold_btc = (await paper.venue.account(alice.id).fetch_balance()).total("BTC")
    assert sold_btc < D("0.000001")  # the venue did sell
    assert await paper.engine._finish_stop(bot_id)
    after = await paper.fleet.holdings(alice.id, bot_id)
    assert after.coin < D("0.000001") and not (await paper.fleet.get_bot(alice.id, bot_id)).stopping
    async with paper.db.read() as session:
        cids = list((await session.execute(select(Trade.client_order_id))).scalars())
    closing = {cid for cid in cids if re.fullmatch(r"[a-z0-9]{5}\d+x\d+(r\d+)?", cid)}  # {ns}{bot}x{n}
    assert len(closing) == 1
    assert (await paper.venue.account(alice.id).fetch_balance()).total("BTC") == after.coin
    assert await paper.audit(alice.id) == []
    await paper.engine.shutdown()
