"""End to end: the production Dispatcher (build_bot / build_dispatcher) long-polling the Bot API emulator over
HTTP, on a real database (SQLite file; PostgreSQL when TEST_POSTGRES_URL is set). Bots are created through the
fleet service directly (the creation wizards have their own tests); everything else goes through the chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from aiogram import Bot, Dispatcher
from aiogram.utils.backoff import BackoffConfig

from bot.app import Services, build_bot, build_dispatcher, build_services
from bot.config import load_settings
from bot.sandbox import CallbackAnswer, ChatMessage, TelegramEmulator
from bot.services.dto import BotDTO, UserDTO
from handlers.callbacks import BotAction, BotCD
from tests.conftest import TEST_FERNET_KEY

ALICE, BOB = 7001, 7002
FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.01)


@dataclass
class App:
    """The running bot and the chat around it."""

    emu: TelegramEmulator
    services: Services
    bot: Bot
    dp: Dispatcher

    async def send(self, user_id: int, text: str, *, language_code: str = "en") -> ChatMessage:
        """The user sends `text`; returns the bot's first answer."""
        sent = await self.emu.push_message(user_id, text, language_code=language_code)
        return await self.emu.wait_for_bot_message(user_id, after_message_id=sent["message_id"])

    async def press(self, user_id: int, message: ChatMessage, label: str) -> CallbackAnswer:
        """Press the button labelled `label`; returns the callback answer (any edit of `message` is done)."""
        query_id = await self.emu.press_button_text(user_id, message.message_id, label)
        return await self.emu.wait_for_callback_answer(query_id)

    async def press_data(self, user_id: int, message: ChatMessage, data: str) -> CallbackAnswer:
        """A forged press: any callback data, whether or not a button carries it."""
        query_id = await self.emu.press_button(user_id, message.message_id, data, forged=True)
        return await self.emu.wait_for_callback_answer(query_id)

    async def user(self, telegram_id: int) -> UserDTO:
        return await self.services.accounts.get(telegram_id)

    async def trend_bot(
        self, telegram_id: int, name: str, allocation: str = "30", symbol: str = "BTCUSDT"
    ) -> BotDTO:
        """A user (registered as on first contact) and a stopped AI trend bot of theirs."""
        user = await self.services.accounts.register(telegram_id=telegram_id, chat_id=telegram_id)
        change = await self.services.fleet.create_trend_bot(
            user.id, name=name, symbol=symbol, allocation_percent=allocation
        )
        return change.bot

    async def bot_row(self, telegram_id: int, bot_id: int) -> BotDTO:
        return await self.services.fleet.get_bot((await self.user(telegram_id)).id, bot_id)


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


async def start_app(emu: TelegramEmulator, db_url: str, **settings: object) -> App:
    config = load_settings(
        database_url=db_url,
        telegram_bot_token="123456:abc",
        telegram_api_base=emu.base_url,
        encryption_key=TEST_FERNET_KEY.decode(),
        **settings,
    )
    services = build_services(config)
    bot = build_bot(config)
    dp = build_dispatcher(services)
    await bot.delete_webhook()  # polling does not call it
    dp["polling_task"] = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=5, backoff_config=FAST_BACKOFF)
    )
    await emu.wait_until(lambda: emu.calls_to("getUpdates"))
    return App(emu, services, bot, dp)


async def stop_app(app: App) -> None:
    await app.dp.stop_polling()
    await app.dp["polling_task"]
    await app.services.close()


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:
    running = await start_app(emu, db_url)
    yield running
    await stop_app(running)


def labels(message: ChatMessage) -> list[str]:
    return [b["text"] for b in message.buttons]


def button_data(message: ChatMessage, label: str) -> str:
    """The callback data of the button labelled `label` (to press it again once it is gone)."""
    return next(b["callback_data"] for b in message.buttons if b["text"] == label)


# ---- /start, /help


async def test_start_shows_the_menu_in_the_language_of_telegram(app: App) -> None:
    ko = await app.send(ALICE, "/start", language_code="ko")
    en = await app.send(BOB, "/start", language_code="en-US")

    assert "안녕하세요" in ko.text and "🤖 내 봇" in labels(ko)
    assert "Hello" in en.text and labels(en)[:2] == ["🤖 My bots", "➕ New bot"]
    assert (await app.user(ALICE)).language == "ko" and (await app.user(BOB)).language == "en"


async def test_help_lists_every_command_and_language_can_be_switched(app: App) -> None:
    help_ = await app.send(ALICE, "/help")
    for command in ("/start", "/bots", "/newbot", "/allocation", "/stopall", "/keys", "/cancel"):
        assert command in help_.text

    menu = await app.send(ALICE, "/language")
    await app.press(ALICE, menu, "한국어")

    assert "한국어로 설정" in menu.text and "🤖 내 봇" in labels(menu)
    assert (await app.user(ALICE)).language == "ko"


# ---- /bots, the card, start and stop


async def test_bot_card_start_and_stop_with_confirmation(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha", "30")

    listing = await app.send(ALICE, "/bots")
    assert "Alpha" in listing.text and "Free allocation: 70%" in listing.text
    await app.press(ALICE, listing, "⚪ Alpha")
    assert "Alpha — ⚪ stopped" in listing.text and "free: 70%" in listing.text

    await app.press(ALICE, listing, "▶️ Start")
    assert "Alpha started." in listing.text
    assert "🟢 running" in listing.text and (await app.bot_row(ALICE, alpha.id)).is_running

    await app.press(ALICE, listing, "⏹ Stop")
    assert "Tap again to confirm" in listing.text
    assert (await app.bot_row(ALICE, alpha.id)).is_running  # the first tap changes nothing

    await app.press(ALICE, listing, "⏹ Yes, stop it")
    assert "Alpha stopped." in listing.text and not (await app.bot_row(ALICE, alpha.id)).is_running


async def test_starting_a_running_bot_says_so(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")
    stale_start = BotCD(action=BotAction.start, bot_id=alpha.id).pack()
    await app.press(ALICE, card, "▶️ Start")

    answer = await app.press_data(ALICE, card, stale_start)  # e.g. a second tap on an old message

    assert answer.show_alert and answer.text == "This bot is already running."


async def test_delete_needs_a_second_tap_and_frees_the_allocation(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha", "40")
    await app.trend_bot(ALICE, "Beta", "10")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")

    await app.press(ALICE, card, "🗑 Delete")
    assert "Delete Alpha?" in card.text and "Tap again to confirm" in card.text
    assert len(await app.services.fleet.list_bots((await app.user(ALICE)).id)) == 2

    await app.press(ALICE, card, "✖ Cancel")
    assert "Alpha — ⚪ stopped" in card.text
    await app.press(ALICE, card, "🗑 Delete")
    await app.press(ALICE, card, "🗑 Yes, delete it")

    assert "Alpha deleted" in card.text and "Free allocation: 90%" in card.text
    assert labels(card)[0] == "⚪ Beta"
    bots = await app.services.fleet.list_bots((await app.user(ALICE)).id)
    assert [b.name for b in bots] == ["Beta"] and alpha.id not in [b.id for b in bots]


# ---- edits


async def test_edit_allocation_reasks_wrong_answers_with_the_reason(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    await app.trend_bot(ALICE, "Beta", "50")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")
    await app.press(ALICE, card, "✏️ Edit")
    await app.press(ALICE, card, "📊 Allocation")
    assert "now 30%" in card.text and "Free: 20%, so at most 50%" in card.text

    not_a_number = await app.send(ALICE, "lots")
    assert "percent more than 0 and at most 100" in not_a_number.text
    assert "Send another value, or /cancel." in not_a_number.text

    too_much = await app.send(ALICE, "60")
    assert too_much.text.startswith("⚠️ 60% is more than is free: only 50% of your balance is left.")

    saved = await app.send(ALICE, "45.5")
    assert "Saved" in saved.text and "Allocation: 45.5% of the balance (free: 4.5%)" in saved.text
    assert (await app.bot_row(ALICE, alpha.id)).allocation_percent == Decimal("45.5")

    after = await app.send(ALICE, "12")  # the edit is over: a number is no longer an answer
    assert "did not understand" in after.text
    assert (await app.bot_row(ALICE, alpha.id)).allocation_percent == Decimal("45.5")


async def test_an_allocation_typed_with_a_comma_keeps_its_magnitude(app: App) -> None:
    """On the old code "1,5" became 15 % and "12,500" 12500 (refused only as over 100)."""
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")
    await app.press(ALICE, card, "✏️ Edit")
    await app.press(ALICE, card, "📊 Allocation")

    ambiguous = await app.send(ALICE, "12,500")
    assert ambiguous.text.startswith("⚠️ “12,500” could mean 12500 or 12.5")
    assert "Send another value, or /cancel." in ambiguous.text
    for refused in ("1e1", "NaN", "-0", "0x10", "1_5"):
        assert "percent more than 0 and at most 100" in (await app.send(ALICE, refused)).text
    saved = await app.send(ALICE, "1,5")

    assert "Allocation: 1.5% of the balance" in saved.text
    assert (await app.bot_row(ALICE, alpha.id)).allocation_percent == Decimal("1.5")


async def test_allocation_of_a_running_bot_needs_a_stop_first(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    await app.services.fleet.start((await app.user(ALICE)).id, alpha.id)
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "🟢 Alpha")
    await app.press(ALICE, card, "✏️ Edit")

    answer = await app.press(ALICE, card, "📊 Allocation")

    assert answer.show_alert and answer.text == "⚠️ Stop the bot before changing the allocation."


async def test_cancel_leaves_the_bot_as_it_was(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")
    await app.press(ALICE, card, "✏️ Edit")
    await app.press(ALICE, card, "⚖️ Risk")
    await app.press(ALICE, card, "Leverage")

    bad = await app.send(ALICE, "1000")
    cancelled = await app.send(ALICE, "/cancel")

    assert "Leverage is a whole number from 1 to 20." in bad.text  # the range, with the cap (before: none)
    assert cancelled.text == "Cancelled. Nothing was changed."
    assert (await app.bot_row(ALICE, alpha.id)).max_leverage == alpha.max_leverage


async def test_risk_notifications_and_rename(app: App) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")
    await app.press(ALICE, card, "✏️ Edit")

    await app.press(ALICE, card, "🔕 Turn notifications off")
    assert "🔔 Turn notifications on" in labels(card)
    assert not (await app.bot_row(ALICE, alpha.id)).telegram_notify
    await app.press(ALICE, card, "🔔 Turn notifications on")
    assert (await app.bot_row(ALICE, alpha.id)).telegram_notify

    await app.press(ALICE, card, "⚖️ Risk")
    await app.press(ALICE, card, "Stop loss %")
    saved = await app.send(ALICE, "3.5")
    assert "SL 3.5%" in saved.text

    await app.press(ALICE, saved, "✏️ Edit")
    await app.press(ALICE, saved, "🏷 Rename")
    renamed = await app.send(ALICE, "<b>x</b>&")

    row = await app.bot_row(ALICE, alpha.id)
    assert row.name == "<b>x</b>&" and row.stop_loss_percent == Decimal("3.5")
    assert "<b>x</b>& — ⚪ stopped" in renamed.text  # shown as typed, not as markup
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in renamed.raw_text


async def test_trades_button_without_trades(app: App) -> None:
    await app.trend_bot(ALICE, "Alpha")
    card = await app.send(ALICE, "/bots")
    await app.press(ALICE, card, "⚪ Alpha")

    await app.press(ALICE, card, "📈 Trades")

    assert "No trades yet." in card.text


# ---- /allocation and the kill switch


async def test_allocation_view_and_stop_all_with_confirmation(app: App) -> None:
    fleet = app.services.fleet
    alpha = await app.trend_bot(ALICE, "Alpha", "30")
    beta = await app.trend_bot(ALICE, "Beta", "25", "ETHUSDT")  # one trend bot per perpetual
    user = await app.user(ALICE)
    await fleet.start(user.id, alpha.id)
    await fleet.start(user.id, beta.id)

    view = await app.send(ALICE, "/allocation")
    assert "Alpha (AI trend): 30%" in view.text and "Used: 55% · Free: 45%" in view.text
    assert "███████████░░░░░░░░░" in view.text  # 55 % of 20 cells = 11

    ask = await app.send(ALICE, "/stopall")
    assert "Stop all 2 running bots now?" in ask.text
    assert all(b.is_running for b in await fleet.list_bots(user.id))

    await app.press(ALICE, ask, "⛔ Yes, stop all")

    assert "Stopped 2 bots." in ask.text
    assert not any(b.is_running for b in await fleet.list_bots(user.id))
    again = await app.send(ALICE, "/stopall")
    assert "nothing to stop" in again.text
