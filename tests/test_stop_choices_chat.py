"""The stop and delete confirmations in the chat say what a bot holds and carry out the choice (issue 13,
item 1), end to end: the production Dispatcher long-polling the Bot API emulator, the engine service on
the paper venue priced by hand from real candles (BTC/USDT 1m, engine/market_data/data)."""

from __future__ import annotations

from decimal import Decimal as D

from engine.market_data.candles import load_candles
from engine.market_data.feeds import DATA_DIR
from tests import test_handlers_e2e as e2e
from tests.test_handlers_e2e import ALICE, App, labels

app, emu = e2e.app, e2e.emu  # the chat's fixtures

BTC = "BTC/USDT"
CANDLES = load_candles(DATA_DIR / "btcusdt_1m_sample.csv.gz")


async def grid_holding_coin(app: App, *, close_on_stop: bool = False, spread: D = D("0.02")) -> int:
    """A running grid whose start bought coin at market for the lines above the price."""
    services = app.services
    user = await services.accounts.register(telegram_id=ALICE, chat_id=ALICE)
    engine = services.engine
    await engine.venue.load()
    ts, price = CANDLES.candle(0)[0], CANDLES.price("open", 0)
    await engine.venue.on_price(BTC, price, ts)
    created = await services.fleet.create_grid_bot(
        user.id,
        name="Gridy",
        symbol="BTCUSDT",
        allocation_percent="20",
        lower_price=str((price * (1 - spread)).quantize(D("1"))),
        upper_price=str((price * (1 + spread)).quantize(D("1"))),
        grid_count=10,
        total_investment="1000",
        close_position_on_stop=close_on_stop,
    )
    await services.fleet.start(user.id, created.bot.id)
    await engine.run_tick(created.bot.id)
    return created.bot.id


async def coin(app: App) -> D:
    user = await app.user(ALICE)
    return (await app.services.engine.venue.account(user.id).fetch_balance()).total("BTC")


async def test_stop_of_a_grid_holding_coin_asks_keep_or_sell_and_sells_when_asked(app: App) -> None:
    bot_id = await grid_holding_coin(app)
    held = await coin(app)
    assert held > 0
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Gridy")
    await app.press(ALICE, card, "⏹ Stop")
    assert "It holds" in card.text and "BTC" in card.text and "keep the coins, or sell them" in card.text
    assert labels(card)[:2] == ["🪙 Keep the coins", "💱 Sell them at market"]  # the bot's setting first
    user = await app.user(ALICE)
    assert (await app.services.fleet.get_bot(user.id, bot_id)).is_running  # asking changes nothing

    await app.press(ALICE, card, "💱 Sell them at market")
    assert "Gridy stopped." in card.text
    assert await coin(app) < D("0.000001")  # sold: only dust below the lot step is left
    assert (await app.services.fleet.holdings(user.id, bot_id)).coin == await coin(app)


async def test_keep_the_coins_leaves_them_in_the_bots_ledger(app: App) -> None:
    bot_id = await grid_holding_coin(app, close_on_stop=True)
    held = await coin(app)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Gridy")
    await app.press(ALICE, card, "⏹ Stop")
    assert labels(card)[:2] == ["💱 Sell them at market", "🪙 Keep the coins"]  # this bot sells by default
    await app.press(ALICE, card, "🪙 Keep the coins")
    assert "Gridy stopped." in card.text
    user = await app.user(ALICE)
    assert await coin(app) == held == (await app.services.fleet.holdings(user.id, bot_id)).coin
    # the choice is the bot's setting now: the next stop offers keeping first
    await app.services.fleet.start(user.id, bot_id)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Gridy")
    await app.press(ALICE, card, "⏹ Stop")
    assert labels(card)[:2] == ["🪙 Keep the coins", "💱 Sell them at market"]
