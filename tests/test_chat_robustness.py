"""Updates that must never break the chat, end to end (the production Dispatcher long-polling the Bot API
emulator): an update aiogram cannot parse (issue 14)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.sandbox import TelegramEmulator
from tests.test_handlers_e2e import ALICE, BOB, App, emu, start_app, stop_app  # noqa: F401


@pytest.fixture
async def app(emu: TelegramEmulator, db_url: str) -> AsyncIterator[App]:  # noqa: F811
    running = await start_app(emu, db_url)
    yield running
    await stop_app(running)


def fetch_failures(emulator: TelegramEmulator) -> int:
    return sum(1 for call in emulator.calls_to("getUpdates") if call.status not in (200, None))


# ---- item 2: one update aiogram cannot parse


async def test_an_update_aiogram_cannot_parse_is_logged_and_skipped(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """On the old code every getUpdates failed at the bad update's offset and /start was never answered."""
    caplog.set_level(logging.WARNING, logger="bot.polling")
    bad = app.emu.push_update("message", {"message_id": "not a number", "date": 1, "chat": {"id": ALICE}})

    reply = await app.send(ALICE, "/start")

    assert "Hello" in reply.text and not app.emu.is_pending(bad)
    assert f"skipped update {bad}: aiogram cannot parse it (message.message_id:" in caplog.text
    assert "not a number" not in caplog.text  # the content is never logged (it may hold a secret)
    assert fetch_failures(app.emu) == 0


async def test_the_updates_around_a_bad_one_in_the_same_batch_are_all_served(app: App) -> None:
    await app.emu.push_message(ALICE, "/help")
    app.emu.push_update("callback_query", {"id": 5, "from": "nobody"})  # pushed together: one batch
    await app.emu.push_message(BOB, "/start")

    alice = await app.emu.wait_for_bot_message(ALICE)
    bob = await app.emu.wait_for_bot_message(BOB)

    assert "/newbot" in alice.text and "Hello" in bob.text
    assert app.emu.pending_updates() == [] and fetch_failures(app.emu) == 0

