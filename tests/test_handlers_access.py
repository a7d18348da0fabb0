"""End to end, who may do what: API keys (secrets deleted, encrypted at rest), forged callbacks for someone
else's bot, a second user who never sees the first one's bots, and the allowlist. Same harness as
test_handlers_e2e: the production Dispatcher long-polling the emulator on a real database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.sandbox import TelegramEmulator
from db.models import User
from handlers.callbacks import BotAction, BotCD
from handlers.keyboards import EditCD, EditField
from tests.fake_bitget import FakeBitget
from tests.test_handlers_e2e import ALICE, BOB, App, labels, start_app, stop_app

API_KEY = "bg_1a2b3c4d5e6f7a8b9c"
SECRET = "s3cr3t-VALUE-0123456789abcdef"
PASSPHRASE = "my-pass-phrase-42"


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:
    # keys are checked with the exchange before they are stored: here the local fake Bitget
    fake = FakeBitget()
    await fake.start()
    fake.add_account(API_KEY, SECRET, PASSPHRASE, spot={"USDT": "10000"})
    running = await start_app(emu, db_url, exchange_api_url=fake.url)
    yield running
    await stop_app(running)
    await fake.close()


# ---- /keys


async def test_keys_are_deleted_from_the_chat_and_stored_encrypted(app: App) -> None:
    screen = await app.send(ALICE, "/keys")
    assert "API key: not set" in screen.text and "📝 paper" in screen.text
    await app.press(ALICE, screen, "🔑 Set Bitget keys")
    assert "Send your Bitget API key" in screen.text

    key_msg = await app.emu.push_message(ALICE, API_KEY)
    await app.emu.wait_for_bot_message(ALICE, after_message_id=key_msg["message_id"])
    secret_msg = await app.emu.push_message(ALICE, SECRET)
    await app.emu.wait_for_bot_message(ALICE, after_message_id=secret_msg["message_id"])
    pass_msg = await app.emu.push_message(ALICE, PASSPHRASE)
    saved = await app.emu.wait_for_bot_message(
        ALICE, after_message_id=pass_msg["message_id"], predicate=lambda m: "Keys saved" in (m.text or "")
    )

    for sent in (key_msg, secret_msg, pass_msg):
        assert app.emu.message(ALICE, sent["message_id"]).deleted
    assert "API key: bg…9c" in saved.text
    transcript = "\n".join(
        (m.raw_text or m.text or "") for m in app.emu.bot_messages(ALICE, include_deleted=True)
    )
    for secret in (API_KEY, SECRET, PASSPHRASE):
        assert secret not in transcript
    async with app.services.db.read() as session:
        row = (await session.execute(select(User).where(User.telegram_id == ALICE))).scalar_one()
    stored = " ".join(
        str(v) for v in (row.api_key_enc, row.api_secret_enc, row.api_passphrase_enc, row.api_key_hint)
    )
    assert row.api_key_enc and row.api_secret_enc and row.api_passphrase_enc
    for secret in (API_KEY, SECRET, PASSPHRASE):
        assert secret not in stored

    await app.press(ALICE, saved, "💰 Switch to live")
    assert "real orders" in saved.text and (await app.user(ALICE)).trading_mode == "paper"  # asked first
    await app.press(ALICE, saved, "💰 Yes, trade live")
    assert "💰 live" in saved.text and (await app.user(ALICE)).trading_mode == "live"


async def test_live_mode_needs_keys_and_a_bad_key_changes_nothing(app: App) -> None:
    screen = await app.send(ALICE, "/keys")
    await app.press(ALICE, screen, "💰 Switch to live")
    await app.press(ALICE, screen, "💰 Yes, trade live")  # no keys yet: it asks for them
    assert "Live trading needs your Bitget live API keys" in screen.text

    await app.send(ALICE, "has spaces in it")
    await app.send(ALICE, SECRET)
    refused = await app.send(ALICE, PASSPHRASE)

    assert "The API key must be 1 to 256 characters without spaces" in refused.text
    user = await app.user(ALICE)
    assert not user.has_api_keys and user.trading_mode == "paper"


# ---- ownership


async def test_a_forged_callback_for_another_users_bot_is_not_found(app: App) -> None:
    bobs = await app.trend_bot(BOB, "Bob's bot", "40")
    await app.trend_bot(ALICE, "Alice's bot", "10")
    menu = await app.send(ALICE, "/bots")

    forged = [
        BotCD(action=BotAction.card, bot_id=bobs.id),
        BotCD(action=BotAction.start, bot_id=bobs.id),
        EditCD(field=EditField.notify_off, bot_id=bobs.id),
        EditCD(field=EditField.allocation, bot_id=bobs.id),
    ]
    for data in forged:
        answer = await app.press_data(ALICE, menu, data.pack())
        assert answer.show_alert and answer.text == "⚠️ Not found. It may have been deleted.", data

    garbage = await app.press_data(ALICE, menu, "b:start:99999999999999999999")
    assert garbage.show_alert
    after = await app.bot_row(BOB, bobs.id)
    assert after == bobs  # not started, not deleted, notifications untouched
    assert "Bob" not in menu.text


async def test_a_second_user_never_sees_the_first_users_bots(app: App) -> None:
    await app.trend_bot(ALICE, "Alpha", "60")
    bob_list = await app.send(BOB, "/bots")
    bob_alloc = await app.send(BOB, "/allocation")

    assert "no bots yet" in bob_list.text and "Free allocation: 100%" in bob_list.text
    assert "Alpha" not in bob_alloc.text and "Free: 100%" in bob_alloc.text
    assert labels(bob_list)[0] == "➕ New bot"
    alice_list = await app.send(ALICE, "/bots")
    assert "Alpha" in alice_list.text and "Free allocation: 40%" in alice_list.text


# ---- allowlist


async def test_strangers_get_one_polite_refusal_and_nothing_else(emu: TelegramEmulator, db_url: str) -> None:
    app = await start_app(emu, db_url, allowed_telegram_ids=str(ALICE))
    try:
        refusal = await app.send(BOB, "/start", language_code="ko")
        welcome = await app.send(ALICE, "/start")
        menu_press = await app.emu.press_button(BOB, refusal.message_id, "m:bots", forged=True)
        answer = await app.emu.wait_for_callback_answer(menu_press)

        assert refusal.text.startswith("죄송합니다. 비공개 봇입니다.") and not refusal.buttons
        assert answer.show_alert and "private" not in (answer.text or "") and "비공개" in (answer.text or "")
        assert [m.message_id for m in app.emu.bot_messages(BOB)] == [refusal.message_id]
        assert "Hello" in welcome.text
        async with app.services.db.read() as session:
            ids = (await session.execute(select(User.telegram_id))).scalars().all()
        assert ids == [ALICE]
    finally:
        await stop_app(app)
