"""Confirmations that cannot be replayed (issue 14, item 5): every two-step action confirms a pending action
stored server side under a one-time token, bound to its user and its action, that expires and is consumed
once, even by two presses at once. The service alone, then through the real Dispatcher and the emulator.

On the old code the confirm buttons carried the action itself ("tr:ok:BTCUSDT:buy:0.05", "b:stopok:<id>",
"ks:ok"): a forged one placed an order nobody previewed, an old one tapped again stopped a bot again, and
"Switch to live" switched at one tap. The chat tests below fail there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from bot.sandbox import TelegramEmulator
from bot.services.confirmations import (
    ConfirmationExpired,
    ConfirmationOutdated,
    Confirmations,
    ConfirmationUnknown,
    ConfirmationUsed,
)
from db.models import Trade
from handlers.callbacks import Confirm
from tests.test_handlers_e2e import ALICE, BOB, App, button_data, emu, start_app, stop_app  # noqa: F401

TOKEN_DATA = re.compile(r"^(ok|no):[a-z]+:[A-Za-z0-9_-]{12}$")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


# --------------------------------------------------------------------------- the service


def test_a_token_acts_once_for_its_user_and_its_action_only() -> None:
    confirmations = Confirmations()
    token = confirmations.issue(1, Confirm.stop, bot_id=7)

    with pytest.raises(ConfirmationUnknown):
        confirmations.consume(2, token, Confirm.stop)  # another user's (a stolen button)
    with pytest.raises(ConfirmationUnknown):
        confirmations.consume(1, token, Confirm.delete)  # the same token under another action
    with pytest.raises(ConfirmationUnknown):
        confirmations.consume(1, "A" * 12, Confirm.stop)  # forged
    assert confirmations.consume(1, token, Confirm.stop) == {"bot_id": 7}
    with pytest.raises(ConfirmationUsed):
        confirmations.consume(1, token, Confirm.stop)  # replayed


def test_a_token_expires_and_is_forgotten_after() -> None:
    clock = Clock()
    confirmations = Confirmations(ttl=60, clock=clock)
    token = confirmations.issue(1, Confirm.trade, symbol="BTCUSDT", side="buy", qty=D("0.01"))
    clock.now += 60
    with pytest.raises(ConfirmationExpired):
        confirmations.consume(1, token, Confirm.trade)
    with pytest.raises(ConfirmationExpired):
        confirmations.consume(1, token, Confirm.trade)  # still told so for a while
    clock.now += 61
    confirmations.sweep()
    assert confirmations.size == 0
    with pytest.raises(ConfirmationUnknown):
        confirmations.consume(1, token, Confirm.trade)


def test_a_cancel_or_any_other_step_of_the_user_revokes_their_pending_confirmations() -> None:
    confirmations = Confirmations()
    cancelled = confirmations.issue(1, Confirm.delete, bot_id=7)
    abandoned = confirmations.issue(1, Confirm.stop_all)
    others = confirmations.issue(2, Confirm.stop_all)

    assert confirmations.revoke(1, cancelled, Confirm.stop) is None  # a cancel of another action: no
    assert confirmations.revoke(1, cancelled, Confirm.delete).params == {"bot_id": 7}  # type: ignore[union-attr]
    confirmations.forget(1)
    for token, action in ((cancelled, Confirm.delete), (abandoned, Confirm.stop_all)):
        with pytest.raises(ConfirmationOutdated):
            confirmations.consume(1, token, action)
    assert confirmations.consume(2, others, Confirm.stop_all) == {}  # another user's stay


async def test_of_two_presses_at_once_one_acts() -> None:
    confirmations = Confirmations()
    token = confirmations.issue(1, Confirm.trade, symbol="BTCUSDT", side="buy", qty=D("0.01"))
    acted: list[str] = []

    async def press(name: str) -> None:
        await asyncio.sleep(0)  # both presses are under way before either consumes
        try:
            confirmations.consume(1, token, Confirm.trade)
        except ConfirmationUsed:
            return
        await asyncio.sleep(0.01)  # the order is being placed
        acted.append(name)

    await asyncio.gather(*(press(f"press {n}") for n in range(10)))
    assert len(acted) == 1


def test_the_store_stays_bounded() -> None:
    clock = Clock()
    confirmations = Confirmations(ttl=60, per_user=3, clock=clock)
    tokens = [confirmations.issue(1, Confirm.stop, bot_id=n) for n in range(10)]
    assert confirmations.size == 3  # the oldest screens' buttons no longer act
    with pytest.raises(ConfirmationUnknown):
        confirmations.consume(1, tokens[0], Confirm.stop)
    for user in range(2, 2_000):
        confirmations.issue(user, Confirm.stop_all)
    clock.now += 121
    confirmations.sweep()
    assert confirmations.size == 0 and confirmations._users == {}


# --------------------------------------------------------------------------- through the chat


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:  # noqa: F811
    running = await start_app(emu, db_url)
    yield running
    await stop_app(running)


async def trades(app: App) -> int:
    async with app.services.db.read() as session:
        return (await session.execute(select(func.count()).select_from(Trade))).scalar_one()


async def test_a_forged_trade_confirmation_places_nothing(app: App) -> None:
    """On the old code "tr:ok:BTCUSDT:buy:0.05" on any message placed an order that was never previewed."""
    app.services.engine.venue.mark_price("BTC/USDT", D("100000"), 1_747_699_200_000)
    menu = await app.send(ALICE, "/start")

    old_style = await app.press_data(ALICE, menu, "tr:ok:BTCUSDT:buy:0.05")
    forged = await app.press_data(ALICE, menu, "ok:trade:AAAAAAAAAAAA")

    assert "not available" in (old_style.text or "")  # no such button any more
    assert forged.show_alert and forged.text == (
        "⚠️ This confirmation is not valid; nothing was done. Ask again from /menu."
    )
    assert await trades(app) == 0


async def test_two_presses_of_one_trade_confirmation_at_once_place_one_order(app: App) -> None:
    app.services.engine.venue.mark_price("BTC/USDT", D("100000"), 1_747_699_200_000)
    await app.send(ALICE, "/start")
    ask = await app.send(ALICE, "/trade BTCUSDT buy 0.01")
    confirm = button_data(ask, "✅ Place the order")
    assert TOKEN_DATA.match(confirm)

    presses = [await app.emu.press_button(ALICE, ask.message_id, confirm, forged=True) for _ in range(2)]
    answers = [await app.emu.wait_for_callback_answer(q) for q in presses]

    assert await trades(app) == 1
    assert sum("already used" in (a.text or "") for a in answers) == 1
    assert ask.text == "✅ Buy 0.01 BTCUSDT at 100000 (fee 0.6 USDT)"


async def test_an_old_stop_confirmation_does_not_stop_the_bot_again(app: App) -> None:
    """On the old code the used "b:stopok:<id>" stopped the bot again after it was restarted."""
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    user = await app.user(ALICE)
    await app.services.fleet.start(user.id, alpha.id)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Alpha")
    await app.press(ALICE, card, "⏹ Stop")
    confirm = button_data(card, "⏹ Yes, stop it")
    await app.press(ALICE, card, "⏹ Yes, stop it")
    assert not (await app.bot_row(ALICE, alpha.id)).is_running
    await app.press(ALICE, card, "▶️ Start")
    assert (await app.bot_row(ALICE, alpha.id)).is_running

    replayed = await app.press_data(ALICE, card, confirm)

    assert replayed.show_alert and "nothing was done" in (replayed.text or "")
    assert (await app.bot_row(ALICE, alpha.id)).is_running


async def test_a_confirmation_cancelled_or_left_for_something_else_acts_no_more(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")
    await app.press(ALICE, card, "🗑 Delete")
    cancelled = button_data(card, "🗑 Yes, delete it")
    await app.press(ALICE, card, "✖ Cancel")
    assert "Alpha" in card.text and "Delete" not in card.text.split("\n")[0]

    await app.press(ALICE, card, "🗑 Delete")
    left = button_data(card, "🗑 Yes, delete it")
    await app.send(ALICE, "/menu")  # something else first

    answers = [await app.press_data(ALICE, card, data) for data in (cancelled, left)]
    for answer in answers:
        assert answer.show_alert and (answer.text or "").startswith(
            "ℹ️ This confirmation is no longer current"
        )
    assert (await app.bot_row(ALICE, alpha.id)).is_active


async def test_another_users_confirm_button_does_nothing_for_them(app: App) -> None:
    await app.trend_bot(ALICE, "Alpha", "30")
    alice = await app.user(ALICE)
    running = [
        await app.services.fleet.start(alice.id, b.id) for b in await app.services.fleet.list_bots(alice.id)
    ]
    ask = await app.send(ALICE, "/stopall")
    confirm = button_data(ask, "⛔ Yes, stop all")
    bob = await app.send(BOB, "/start")

    stolen = await app.press_data(BOB, bob, confirm)

    assert stolen.show_alert and "not valid" in (stolen.text or "")
    assert [(await app.bot_row(ALICE, b.id)).is_running for b in running] == [True]
    await app.press(ALICE, ask, "⛔ Yes, stop all")  # Alice's own still works: Bob's press changed nothing
    assert [(await app.bot_row(ALICE, b.id)).is_running for b in running] == [False]


async def test_an_expired_confirmation_says_so_and_does_nothing(app: App) -> None:
    app.services.confirmations.ttl = 0.3
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    await app.services.fleet.start((await app.user(ALICE)).id, alpha.id)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Alpha")
    await app.press(ALICE, card, "⏹ Stop")
    await asyncio.sleep(0.5)

    late = await app.press(ALICE, card, "⏹ Yes, stop it")

    assert late.show_alert and (late.text or "").startswith("⌛ This confirmation has expired")
    assert (await app.bot_row(ALICE, alpha.id)).is_running


async def test_every_confirm_and_cancel_button_carries_a_token_only(app: App) -> None:
    """Stop, delete, close, stop all and /trade: "ok|no:<action>:<token>" (the mode switch and the keys'
    removal: tests/test_handlers_units.py and tests/test_handlers_access.py)."""
    app.services.engine.venue.mark_price("BTC/USDT", D("100000"), 1_747_699_200_000)
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    await app.services.fleet.start((await app.user(ALICE)).id, alpha.id)
    screens = []
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Alpha")
    for ask, back in (("⏹ Stop", "✖ Cancel"), ("🗑 Delete", "✖ Cancel"), ("✋ Close positions", "✖ Cancel")):
        await app.press(ALICE, card, ask)
        screens.append(list(card.buttons))
        await app.press(ALICE, card, back)
    screens.append(list((await app.send(ALICE, "/stopall")).buttons))
    screens.append(list((await app.send(ALICE, "/trade BTCUSDT buy 0.01")).buttons))

    data = [b["callback_data"] for buttons in screens for b in buttons]
    assert len(data) == 10 and all(TOKEN_DATA.match(d) for d in data), data
