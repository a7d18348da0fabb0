"""/balance, /positions, /pnl and /trades through the production Dispatcher and the Bot API emulator (issue
16, section 1), each figure compared with one computed by hand from the venue and the trades rows. The
engine service on the paper venue, priced point by point from real candles (BTC/USDT 1m,
engine/market_data/data), one grid bot 2 % either side of the first open, 10 intervals, 1,000 USDT."""

from __future__ import annotations

from decimal import ROUND_HALF_UP
from decimal import Decimal as D

from sqlalchemy import select

from db.models import Trade
from engine.market_data.candles import walk_points
from tests import test_handlers_e2e as e2e
from tests.test_handlers_e2e import ALICE, App, labels
from tests.test_stop_choices_chat import BTC, CANDLES, grid_holding_coin

app, emu = e2e.app, e2e.emu  # the chat's fixtures


def cents(value: D) -> str:
    return f"{value.quantize(D('0.01'), rounding=ROUND_HALF_UP):,f}"


async def walk(app: App, bot_id: int, start: int, stop: int) -> None:
    engine = app.services.engine
    for k in range(start, stop):
        ts, o, h, lo, c = CANDLES.candle(k)
        for point in walk_points(o, h, lo, c):
            await engine.venue.on_price(BTC, point, ts)
            await engine.run_tick(bot_id)


async def trades_of(app: App) -> list[Trade]:
    async with app.services.db.read() as session:
        return list((await session.execute(select(Trade).order_by(Trade.id))).scalars())


async def test_balance_positions_and_pnl_read_as_computed_by_hand(app: App) -> None:
    bot_id = await grid_holding_coin(app)
    await walk(app, bot_id, 1, 120)
    user = await app.user(ALICE)
    balance = await app.services.engine.venue.account(user.id).fetch_balance()
    price = app.services.engine.venue.last_price(BTC)
    assert price is not None
    usdt, btc = balance.total("USDT"), balance.total("BTC")

    screen = await app.send(ALICE, "/balance")
    assert "Balance (paper)" in screen.text
    assert (
        f"USDT: {cents(balance.free('USDT'))} free · {cents(usdt - balance.free('USDT'))} in orders"
        in screen.text
    )
    assert f"≈ {cents(btc * price)} USDT" in screen.text
    assert f"Equity: {cents(usdt + btc * price)} USDT" in screen.text
    assert f"(1 running) hold {cents(btc * price)} USDT of coin" in screen.text  # only the bot holds coin
    menu = await app.send(ALICE, "/menu")  # the main menu's status line first
    assert menu.text.startswith(
        f"💼 Equity {cents(usdt + btc * price)} USDT · today 0.00 USDT · 1 of 1 bots running"
    )

    bot, _ = await app.services.fleet.card(user.id, bot_id)
    assert bot.grid is not None and bot.grid.money is not None
    screen = await app.send(ALICE, "/positions")
    assert f"holds {bot.grid.money.held.normalize():f} BTC" in screen.text and "floating" in screen.text

    trades = await trades_of(app)
    realized = sum((t.realized_pnl for t in trades if t.realized_pnl is not None), D(0))
    assert realized != 0
    screen = await app.send(ALICE, "/pnl")
    total_line = next(line for line in screen.text.splitlines() if line.startswith("Total:"))
    # the fills are booked at the candles' times (2025), so today, 7 and 30 days are empty
    signed = f"+{cents(realized)}" if realized > 0 else cents(realized)
    assert total_line.startswith(f"Total: 0.00 · 0.00 · 0.00 · {signed} · unrealized")


async def test_trades_page_by_page_and_per_bot(app: App) -> None:
    bot_id = await grid_holding_coin(app, spread=D("0.004"))
    await walk(app, bot_id, 1, 120)
    trades = await trades_of(app)
    assert len(trades) > 10
    pages = -(-len(trades) // 10)
    screen = await app.send(ALICE, "/trades")
    assert f"page 1 of {pages}" in screen.text
    newest = max(trades, key=lambda t: (t.executed_at, t.id))
    assert screen.text.splitlines()[1].startswith(newest.executed_at.strftime("%m-%d %H:%M") + " · Gridy")
    assert len(screen.text.splitlines()) == 11  # the title and 10 fills
    assert "Older ▶" in labels(screen) and "◀ Newer" not in labels(screen)
    await app.press(ALICE, screen, "Older ▶")
    assert f"page 2 of {pages}" in screen.text and "◀ Newer" in labels(screen)
    await app.press(ALICE, screen, "Gridy")  # the filter: this bot's fills only
    assert f"(Gridy) · page 1 of {pages}" in screen.text and "All bots" in labels(screen)
    # someone else's bot id in forged data shows nothing of it
    other = await app.send(e2e.BOB, "/start")
    await app.press_data(e2e.BOB, other, f"tp:0:{bot_id}")
    shown = app.emu.bot_messages(e2e.BOB)[-1].text
    assert "No trades yet" in shown and "Gridy" not in shown


async def test_a_forged_trades_page_past_any_id_shows_nothing(app: App) -> None:
    """Found by the chat fuzzer on PostgreSQL: tp:0:9007199254740992 raised a DBAPIError (int32 overflow)."""
    screen = await app.send(ALICE, "/trades")
    await app.press_data(ALICE, screen, "tp:0:9007199254740992")
    assert "No trades yet" in app.emu.bot_messages(ALICE)[-1].text
