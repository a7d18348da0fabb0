"""Manual trading through the chat, end to end (the production Dispatcher against the Bot API emulator):
a trend bot card's "close" (second tap, reduce-only, the bot's own quantity) and /trade (second tap,
a spot market order outside any bot). Both write trades with trade_source 'manual'."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from db.models import PaperPosition, Trade, TrendPositionRow
from engine.market_data.feeds import ReplayFeed
from handlers.callbacks import BotAction, BotCD
from tests.test_handlers_e2e import ALICE, BOB, App, emu, labels, start_app, stop_app  # noqa: F401

PERP = "BTC/USDT:USDT"


@pytest.fixture
async def app(emu, db_url: str) -> AsyncIterator[App]:  # noqa: F811
    running = await start_app(emu, db_url)
    yield running
    await stop_app(running)


async def open_a_position(app: App, bot_id: int) -> TrendPositionRow:
    """Replay real 1m candles into the venue's perpetual and tick the bot until it holds a position."""
    engine = app.services.engine
    venue = engine.venue

    async def sink(symbol, price, ts, *, cursor=None):  # type: ignore[no-untyped-def]
        await venue.on_price(PERP, price, ts)

    feed = ReplayFeed.from_file("BTC/USDT", "btcusdt_1m_sample.csv.gz", loop=False, sink=sink)
    engine.trend.candles.add_feed(feed)
    for _ in range(400 * 4):
        await feed.step()
        await engine.trend.tick(bot_id)
        async with app.services.db.read() as session:
            row = (
                await session.execute(
                    select(TrendPositionRow).where(
                        TrendPositionRow.bot_instance_id == bot_id, TrendPositionRow.status == "open"
                    )
                )
            ).scalar_one_or_none()
        if row is not None:
            return row
    raise AssertionError("the bot never opened a position")


async def test_close_button_closes_the_bots_position_after_a_second_tap(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    user = await app.user(ALICE)
    await app.services.fleet.start(user.id, alpha.id)
    position = await open_a_position(app, alpha.id)

    listing = await app.send(ALICE, "/bots")
    await app.press(ALICE, listing, "🟢 Alpha")
    assert "✋ Close positions" in labels(listing)
    await app.press(ALICE, listing, "✋ Close positions")
    assert "Close <b>Alpha</b>" in listing.text or "Close Alpha" in listing.text
    assert "1 open position" in listing.text

    # a forged confirmation for Alice's bot from Bob is "not found"
    bobs = await app.send(BOB, "/bots")
    forged = await app.press_data(BOB, bobs, BotCD(action=BotAction.close_confirm, bot_id=alpha.id).pack())
    assert forged.show_alert and "not found" in (forged.text or "").lower()

    await app.press(ALICE, listing, "✋ Yes, close at market")
    assert "Closed 1 position(s) of" in listing.text
    async with app.services.db.read() as session:
        row = await session.get(TrendPositionRow, position.id)
        trades = list(
            (await session.execute(select(Trade).where(Trade.bot_instance_id == alpha.id))).scalars()
        )
        perp = (
            await session.execute(
                select(PaperPosition).where(PaperPosition.user_id == user.id, PaperPosition.symbol == PERP)
            )
        ).scalar_one()
    assert row is not None and row.status == "closed" and row.exit_reason == "manual"
    assert [t.trade_source for t in trades if t.client_order_id == row.exit_order_id] == ["manual"]
    assert perp.qty == 0
    bot = await app.bot_row(ALICE, alpha.id)
    assert bot.total_trades == 1 and bot.total_pnl == row.pnl

    # nothing left to close: the button answers so, nothing is sent
    again = await app.press_data(
        ALICE, listing, BotCD(action=BotAction.close_confirm, bot_id=alpha.id).pack()
    )
    assert again.show_alert and "no open position" in (again.text or "")


async def test_trade_places_a_market_order_after_a_second_tap_once(app: App) -> None:
    app.services.engine.venue.mark_price("BTC/USDT", D("100000"), 1_747_699_200_000)
    await app.send(ALICE, "/start")
    usage = await app.send(ALICE, "/trade BTCUSDT")
    assert "/trade SYMBOL buy|sell AMOUNT" in usage.text

    ask = await app.send(ALICE, "/trade btcusdt buy 0.01")
    assert ask.text == "Buy 0.01 BTCUSDT at market (last price 100000)?"
    await app.press(ALICE, ask, "✅ Place the order")
    assert ask.text == "✅ Buy 0.01 BTCUSDT at 100000 (fee 0.6 USDT)"
    # a second tap on the same confirmation places nothing more
    confirm = "tr:ok:BTCUSDT:buy:0.01"
    await app.press_data(ALICE, ask, confirm)

    async with app.services.db.read() as session:
        trades = list((await session.execute(select(Trade))).scalars())
    assert len(trades) == 1
    trade = trades[0]
    assert (trade.trade_source, trade.bot_instance_id, trade.symbol, trade.side) == (
        "manual",
        None,
        "BTCUSDT",
        "buy",
    )
    assert (trade.qty, trade.price, trade.fee) == (D("0.01"), D("100000"), D("0.6"))  # 1000 x 0.06 %

    refused = await app.send(ALICE, "/trade BTCUSDT sell 5")  # holds 0.01 BTC only
    answer = await app.press(ALICE, refused, "✅ Place the order")
    assert answer.show_alert and "refused the order" in (answer.text or "")
