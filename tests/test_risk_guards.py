"""Risk guards (issue 16, section 4): the account's kill switch (drawdown from the equity peak, an equity
floor), the daily loss limit, a bot's max loss and its take profit / stop loss on total PnL %. A real grid
bot on the paper venue walks real BTC/USDT 1m candles (engine/market_data/data: the bot's total PnL goes
from +3.87 to -5.99 USDT, the account's equity from 9,999.76 at the start to 9,995.01 at minute 801), the
guards are checked as the app checks them, and the stops go through the fleet; the settings through the
production Dispatcher and the Bot API emulator."""

from __future__ import annotations

from decimal import Decimal as D

from sqlalchemy import select

from db.models import AlertOutbox
from tests import test_handlers_e2e as e2e
from tests.test_account_money_chat import walk
from tests.test_handlers_e2e import ALICE, App
from tests.test_stop_choices_chat import BTC, grid_holding_coin

app, emu = e2e.app, e2e.emu  # the chat's fixtures
LAST = 900  # candles walked at most


async def _walk_until_tripped(app: App, bot_id: int, step: int = 20) -> int:
    """Walk the candles `step` at a time, checking the guards after each step; returns the candle index
    at which they stopped something (AssertionError if never)."""
    guards = app.services.guards
    assert guards is not None
    for start in range(1, LAST, step):
        await walk(app, bot_id, start, start + step)
        if await guards.check():
            return start + step
    raise AssertionError("the guards never tripped")


async def _alerts(app: App, kind: str) -> list[dict]:
    async with app.services.db.read() as session:
        return [
            p
            for p in (
                await session.execute(select(AlertOutbox.payload).where(AlertOutbox.kind == kind))
            ).scalars()
        ]


async def _equity(app: App, user_id: int) -> D:
    balance = await app.services.engine.venue.account(user_id).fetch_balance()
    price = app.services.engine.venue.last_price(BTC)
    assert price is not None
    return balance.total("USDT") + balance.total("BTC") * price


async def test_the_kill_switch_stops_every_bot_on_a_drawdown_from_the_peak(app: App) -> None:
    bot_id = await grid_holding_coin(app)
    user = await app.user(ALICE)
    guards = app.services.guards
    assert guards is not None
    await guards.change(user.id, drawdown="0.02")  # of 10,000 USDT: 2 USDT below the peak
    assert await guards.check() == 0  # the first look sets the peak
    await _walk_until_tripped(app, bot_id)
    [alert] = await _alerts(app, "risk_drawdown")
    peak, equity = D(alert["peak"]), D(alert["equity"])
    assert equity <= peak * (1 - D("0.0002")) and alert["holdings"] == "keep" and alert["bots"] == "1"
    bot = await app.bot_row(ALICE, bot_id)
    assert bot.stopping or not bot.is_running
    settings = await guards.settings(user.id)
    assert settings.peak == equity  # measured afresh from the stop
    assert await guards.check() == 0  # nothing left running: nothing more to stop
    assert await app.services.engine.venue.account(user.id).fetch_balance()  # the venue still answers


async def test_an_equity_floor_stops_at_once_and_the_close_choice_is_carried_out(app: App) -> None:
    bot_id = await grid_holding_coin(app)
    user = await app.user(ALICE)
    guards = app.services.guards
    assert guards is not None
    equity = await _equity(app, user.id)
    await guards.change(user.id, floor=str((equity + D("0.01")).quantize(D("0.01"))), close=True)
    assert await guards.check() == 1
    [alert] = await _alerts(app, "risk_floor")
    assert alert["holdings"] == "close"
    await app.services.engine.run_tick(bot_id)  # the engine carries the stop out: the coin is sold
    bot = await app.bot_row(ALICE, bot_id)
    assert not bot.is_running and not bot.stopping
    held = (await app.services.engine.venue.account(user.id).fetch_balance()).total("BTC")
    assert held < D("0.000001")  # sold, but for dust below the lot step


async def test_the_daily_loss_limit_stops_once_a_day(app: App) -> None:
    bot_id = await grid_holding_coin(app)
    user = await app.user(ALICE)
    guards = app.services.guards
    assert guards is not None
    await guards.change(user.id, daily_loss="4")
    assert await guards.check() == 0  # the day's start equity
    at = await _walk_until_tripped(app, bot_id)
    [alert] = await _alerts(app, "risk_daily_loss")
    assert D(alert["loss"]) >= 4 and D(alert["limit"]) == 4
    await app.services.engine.run_tick(bot_id)
    await app.services.fleet.start(user.id, bot_id)  # the user starts it again the same day
    await walk(app, bot_id, at, at + 5)
    assert await guards.check() == 0  # not stopped twice in a day
    assert (await app.bot_row(ALICE, bot_id)).is_running


async def test_a_bots_max_loss_set_in_its_card_stops_that_bot(app: App) -> None:
    bot_id = await grid_holding_coin(app)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Gridy")
    await app.press(ALICE, card, "✏️ Edit")
    await app.press(ALICE, card, "⚖️ Risk")
    assert "Leverage" not in str(card.buttons)  # a grid's guards only
    await app.press(ALICE, card, "🧯 Max loss")
    answer = await app.send(ALICE, "4.5")
    assert "Guards: max loss 4.5 USDT · TP none · SL none" in (answer.text or "")
    await _walk_until_tripped(app, bot_id)
    [alert] = await _alerts(app, "risk_bot_loss")
    assert D(alert["pnl"]) <= D("-4.5") and alert["name"] == "Gridy"
    bot = await app.bot_row(ALICE, bot_id)
    assert bot.stopping or not bot.is_running


async def test_a_grid_stops_at_its_stop_loss_on_total_pnl_percent(app: App) -> None:
    bot_id = await grid_holding_coin(app)
    user = await app.user(ALICE)
    await app.services.fleet.set_risk(user.id, bot_id, pnl_stop_loss="0.25", pnl_take_profit="50")
    await _walk_until_tripped(app, bot_id)
    [alert] = await _alerts(app, "risk_bot_stop_loss")
    assert D(alert["percent"]) <= D("-0.25")
    assert not await _alerts(app, "risk_bot_take_profit")


async def test_risk_settings_through_the_chat(app: App) -> None:
    screen = await app.send(ALICE, "/risk")
    assert "Kill switch on drawdown: off" in (screen.text or "")
    screen = await app.send(ALICE, "/risk drawdown 20")
    assert "Kill switch: 20 % below the equity peak" in (screen.text or "")
    screen = await app.send(ALICE, "/risk daily on")
    assert "Daily loss limit: 500.00 USDT (the day starts at 00:00 in UTC)" in (screen.text or "")
    screen = await app.send(ALICE, "/risk floor lots")
    assert "The floor is an amount in USDT" in (screen.text or "")
    screen = await app.send(ALICE, "/risk drawdown 100")
    assert "under 100" in (screen.text or "")
    screen = await app.send(ALICE, "/risk close on")
    assert "the stop closes what the bots hold" in (screen.text or "")
    screen = await app.send(ALICE, "/risk off")
    assert "Kill switch on drawdown: off" in (screen.text or "") and "Daily loss limit: off" in (
        screen.text or ""
    )
