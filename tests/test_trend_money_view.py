"""A trend bot's money on its card (issue 16, section 1; DESIGN.md "Money a trader reads"), checked against
figures computed by hand from other sources than the card's: the positions rows (realized PnL of the
closed ones), the venue (the mark, the open position) and a session written out by hand. The paper
perpetual over real hourly candles (BTC/USDT 1h, engine/market_data/data), as tests/test_trend_runtime.py."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.services.trend_money import OpenPosition, trend_money
from handlers.texts import bot_card
from tests.test_trend_runtime import PERP, Harness, harness, positions, trend_bot  # noqa: F401 (fixture)

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@SQLITE
async def test_the_card_figures_equal_the_ones_computed_by_hand(harness: Harness, alice) -> None:  # noqa: F811
    async def mark_of(user_id: int, symbol: str) -> D | None:
        return harness.venue.last_price(PERP)

    harness.fleet.price_for = mark_of
    bot_id = await trend_bot(harness.fleet, harness.db, alice.id)
    open_rows: list = []
    closed_rows: list = []
    while not (open_rows and closed_rows) and await harness.feed.step() is not None:
        await harness.runtime.tick(bot_id)
        rows = await positions(harness.db, bot_id)
        open_rows = [r for r in rows if r.status == "open" and r.entry_price is not None]
        closed_rows = [r for r in rows if r.status == "closed"]
    assert open_rows and closed_rows, "the slice opens and closes positions"

    bot, _ = await harness.fleet.card(alice.id, bot_id)
    money = bot.trend
    assert money is not None
    mark = harness.venue.last_price(PERP)
    assert [p.mark for p in money.positions] == [mark] * len(open_rows)
    venue_positions = await harness.venue.account(alice.id).fetch_positions()
    assert sum(p.qty for p in venue_positions) == sum(p.qty for p in money.positions)
    for view, row in zip(money.positions, open_rows, strict=True):
        sign = 1 if row.side == "long" else -1
        assert view.unrealized_pnl == (mark - row.entry_price) * row.qty * sign - row.entry_fee
        assert (view.side, view.qty, view.entry_price) == (row.side, row.qty, row.entry_price)
        assert (view.stop_loss, view.take_profit, view.liquidation) == (
            row.stop_loss,
            row.take_profit,
            row.liquidation,
        )
    assert money.realized_pnl == sum((r.pnl for r in closed_rows), D(0)) == bot.total_pnl
    assert money.trades == len(closed_rows) and money.wins == sum(r.pnl > 0 for r in closed_rows)
    fees = sum((r.entry_fee + (r.exit_fee or 0) for r in closed_rows), D(0)) + sum(
        r.entry_fee for r in open_rows
    )
    assert money.fees_paid == fees
    # capital: the bot's 50 % of the account's equity, as the engine sizes it
    assert money.capital == await harness.fleet.account_equity(alice.id) * D("50") / 100 > 0
    assert money.roi_percent == (money.realized_pnl + money.unrealized_pnl) * 100 / money.capital

    text = bot_card(bot, D("50"), "en")
    assert "📍 " + ("Long" if open_rows[0].side == "long" else "Short") in text
    assert "Realized" in text and "max drawdown" in text and "ROI" in text
    assert "실현 손익" in bot_card(bot, D("50"), "ko")


def test_drawdown_and_roi_of_a_session_written_out_by_hand() -> None:
    """Exits +10, -4, -3, +2 (cumulative 10, 6, 3, 5), then a long of 0.01 entered at 100 with a fee of
    0.05, marked at 90: unrealized (90 - 100) x 0.01 - 0.05 = -0.15, so the last point is 4.85 and the
    deepest fall from the peak of 10 is 10 - 3 = 7 (the exits), then 10 - 4.85 = 5.15 is shallower.
    ROI on a capital of 200: (5 - 0.15) / 200 = 2.425 %; max drawdown 7 = 3.5 % of it; win rate 2 of 4."""
    fills = [(D("0.1"), None), (D("0.1"), D("10")), (D("0.1"), None), (D("0.1"), D("-4"))]
    fills += [(D("0.1"), None), (D("0.1"), D("-3")), (D("0.1"), None), (D("0.1"), D("2")), (D("0.05"), None)]
    long = OpenPosition("long", D("0.01"), D("100"), D("0.05"), 2, D("50.5"), D("95"), D("110"))
    money = trend_money([long], fills, mark=D("90"), trades=4, wins=2, capital=D("200"))
    assert money.positions[0].unrealized_pnl == D("-0.15")
    assert money.realized_pnl == D("5") and money.unrealized_pnl == D("-0.15")
    assert money.max_drawdown == D("7") and money.max_drawdown_percent == D("3.5")
    assert money.roi_percent == D("2.425")
    assert money.win_rate == D("50")
    assert money.fees_paid == D("0.85")
    # an open position falling further than the exits did is the deepest point: 0.1 marked at 20,
    # unrealized (20 - 100) x 0.1 - 0.05 = -8.05, the last point -3.05, 13.05 below the peak
    big = OpenPosition("long", D("0.1"), D("100"), D("0.05"), 2, None, None, None)
    deeper = trend_money([big], fills, mark=D("20"), trades=4, wins=2, capital=D("200"))
    assert deeper.max_drawdown == D("13.05")
