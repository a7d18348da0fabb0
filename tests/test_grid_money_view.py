"""A grid bot's money on its card (issue 16, section 1; DESIGN.md "Money a trader reads"), checked against
figures computed by hand from another source than the one the card reads: the venue's balances (the
bot's quote and coin), the grid rows (cycles, the cycles' profit, what the holding intervals paid), and
the trades rows (fees). Paper venue with Bitget's fee model (a spot buy's fee taken in the coin), real
candles: BTC/USDT 1m (engine/market_data/data), grid 105,000 .. 106,500, 10 intervals, 1,000 USDT, of a
10,000 USDT account, so 9,000 USDT stay outside the bot."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from bot.services.grid_money import Fill, grid_money
from db.base import utcnow
from db.models import GridBotConfig, Trade
from handlers.texts import bot_card
from tests.test_grid_money import BTC, Paper, grid, paper, rows  # noqa: F401 (the paper fixture)

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
OUTSIDE = D("9000")  # the account's USDT the bot never had


@SQLITE
async def test_the_card_figures_equal_the_ones_computed_by_hand(paper: Paper, alice) -> None:  # noqa: F811
    bot_id = await grid(paper.fleet, alice.id)
    await paper.walk(bot_id, 0, 240)
    bot, _ = await paper.fleet.card(alice.id, bot_id)
    assert bot.grid is not None and bot.grid.money is not None
    money = bot.grid.money
    mark = bot.grid.current_price
    assert mark is not None and money.mark == mark

    balance = await paper.venue.account(alice.id).fetch_balance()
    intervals = await rows(paper.db)
    async with paper.db.read() as session:
        trades = list((await session.execute(select(Trade).where(Trade.bot_instance_id == bot_id))).scalars())

    # held: the coin on the venue (only this bot trades it); value: the bot's USDT on the venue + coin at mark
    held = balance.total("BTC")
    assert money.held == held > 0
    value = balance.total("USDT") - OUTSIDE + held * mark
    assert money.current_value == value
    assert money.total_pnl == value - D("1000")
    # grid profit: the sum of the intervals' completed cycles; cycles: their count
    assert money.grid_profit == sum((r.profit or D(0) for r in intervals), D(0))
    assert money.cycles == sum(r.cycle for r in intervals) > 0
    # the held coin's cost: each holding interval paid its buy price for what it holds and for the fee
    # taken in the coin (the rest of that buy, below the lot step, went to the dust); the dust at its
    # buy prices; floating = held x mark - that cost
    fee_coin = {t.client_order_id: t.fee_base or D(0) for t in trades}
    holding = [r for r in intervals if r.held_qty]
    cost = sum(((r.held_qty + fee_coin[r.buy_order_id]) * r.buy_filled_price for r in holding), D(0))
    async with paper.db.read() as session:
        config = (
            await session.execute(select(GridBotConfig).where(GridBotConfig.bot_instance_id == bot_id))
        ).scalar_one()
    cost += config.dust_cost
    assert abs(money.held_cost - cost) <= D("0.00000001") * len(trades)
    assert abs(money.floating_pnl - (held * mark - cost)) <= D("0.00000001") * len(trades)
    assert money.grid_profit + money.floating_pnl == money.total_pnl
    # fees: every fill's, in quote; ROI on the investment
    assert money.fees_paid == sum((t.fee for t in trades), D(0)) > 0
    assert money.roi_percent == money.total_pnl / D("1000") * 100
    assert money.average_cost == money.held_cost / held
    assert (money.buys_resting, money.sells_resting) == (
        bot.grid.active_buy_orders,
        bot.grid.active_sell_orders,
    )

    text = bot_card(bot, D("80"), "en")
    assert f"now worth {value.quantize(D('0.01')):,f} USDT" in text
    assert "Total PnL <b>" in text and "grid profit" in text and "floating" in text
    assert f"{money.cycles} cycles" in text
    assert "inside the range" in text or "below the range" in text or "above the range" in text
    assert "총 손익" in bot_card(bot, D("80"), "ko")


def test_apr_and_the_figures_of_a_session_written_out_by_hand() -> None:
    """Two cycles of one interval and a coin still held, by hand (fees in USDT for the sells, in BTC for the
    buys, as Bitget takes them):
    buy 0.01 @ 100 (fee 0.00001 BTC = 0.001 USDT), sell 0.00999 @ 110 (fee 0.010989 USDT),
    buy 0.01 @ 100 (fee 0.00001 BTC), sell 0.00999 @ 110 (fee 0.010989),
    buy 0.01 @ 100 (fee 0.00001 BTC): held 0.00999 BTC, mark 105.
    cash = 2 x (0.00999 x 110 - 0.010989) - 3 x 1.00 = 2 x 1.087911 - 3 = -0.824178
    total = cash + 0.00999 x 105 = -0.824178 + 1.04895 = 0.224772
    grid profit (the engine's two cycles) = 2 x (1.087911 - 1.00) = 0.175822
    floating = 0.224772 - 0.175822 = 0.04895 = 0.00999 x 105 - 1.00 (the held coin cost 1.00)
    ROI = 0.224772 / 10 = 2.24772 %; two days: APR = 2.24772 x 365 / 2 = 410.2089 %."""
    fills = []
    for _ in range(2):
        fills.append(Fill("buy", D("0.01"), D("100"), D("0.001"), D("0.00001")))
        fills.append(Fill("sell", D("0.00999"), D("110"), D("0.010989")))
    fills.append(Fill("buy", D("0.01"), D("100"), D("0.001"), D("0.00001")))
    now = utcnow()
    money = grid_money(
        fills,
        investment=D("10"),
        grid_profit=D("0.175822"),
        cycles=2,
        mark=D("105"),
        started_at=now - timedelta(days=2),
        now=now,
        buys_resting=0,
        sells_resting=1,
    )
    assert money.held == D("0.00999")
    assert money.total_pnl == D("0.224772")
    assert money.floating_pnl == D("0.048950")
    assert money.held_cost == D("1.000000")
    assert money.average_cost == D("1.000000") / D("0.00999")
    assert money.roi_percent == D("2.24772")
    assert money.apr_percent == D("410.2089")
    assert money.fees_paid == D("0.003") + 2 * D("0.010989")
    assert money.current_value == D("10.224772")


@SQLITE
async def test_a_grid_card_shows_its_trigger_and_stops_and_no_trend_settings(paper: Paper, alice) -> None:  # noqa: F811
    """The first candle opens at 105,554.32: a trigger at 100,000 is not crossed in the first 30 minutes."""
    bot_id = await grid(
        paper.fleet, alice.id, trigger_price="100000", stop_upper="110000", stop_lower="99000"
    )
    await paper.walk(bot_id, 0, 30)
    bot, _ = await paper.fleet.card(alice.id, bot_id)
    text = bot_card(bot, D("80"), "en")
    assert "⏳ Waiting for the price to cross the trigger at 100,000 USDT" in text
    assert "Stops: above 110,000 · below 99,000 USDT" in text
    assert "Leverage" not in text and "SL " not in text  # a grid's card shows grid settings only
    await paper.fleet.stop(alice.id, bot_id)
    stopped = bot_card((await paper.fleet.card(alice.id, bot_id))[0], D("80"), "en")
    assert "Trigger: 100,000 USDT" in stopped and "Waiting" not in stopped
