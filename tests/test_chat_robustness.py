"""Updates that must never break the chat, end to end (the production Dispatcher long-polling the Bot API
emulator): an update aiogram cannot parse, messages without a person behind them, buttons of messages
that are gone, group and channel traffic, and cosmetic calls that fail (issue 14)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.sandbox import TelegramEmulator
from tests.test_handlers_e2e import ALICE, BOB, App, emu, labels, start_app, stop_app  # noqa: F401


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


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# ---- items 1 and 7: groups, channels and messages no person sent

GROUP, CHANNEL = -1_001_000_000_001, -1_001_000_000_900
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


def raw_message(chat: dict, message_id: int, text: str | None, **fields: object) -> dict:
    message = {"message_id": message_id, "date": 1_700_000_000, "chat": chat, **fields}
    if text is not None:
        message["text"] = text
    if text and text.startswith("/"):
        message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return message


async def test_a_command_in_a_group_says_it_works_in_the_private_chat(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """On the old code the group got the sender's bot list (or "not allowed"), and the anonymous admin's
    command raised TypeError in a handler that needs a user."""
    group = app.emu.add_chat(GROUP, kind="supergroup", title="Traders")
    sent = await app.emu.push_message(ALICE, "/bots@multibot_sandbox_bot", chat_id=GROUP)
    reply = await app.emu.wait_for_bot_message(GROUP)

    assert "private chat only" in reply.text and "@multibot_sandbox_bot" in reply.text
    assert reply.reply_to is not None and reply.reply_to.message_id == sent["message_id"]
    assert reply.buttons == [{"text": "💬 Open the private chat", "url": "https://t.me/multibot_sandbox_bot"}]
    with pytest.raises(Exception, match="not found"):  # nothing of a group's traffic is stored
        await app.user(ALICE)

    # another bot's command, chatter, and a message on behalf of the group or of a channel: ignored,
    # except our command from an anonymous admin, which gets the same note
    await app.emu.push_message(BOB, "/start@otherbot", chat_id=GROUP)
    await app.emu.push_message(BOB, "gm everyone", chat_id=GROUP)
    channel = {"id": CHANNEL, "type": "channel", "title": "Signals"}
    app.emu.push_update(
        "message", raw_message(group, 900, "buy now", **{"from": CHANNEL_BOT, "sender_chat": channel})
    )
    app.emu.push_update(
        "message", raw_message(group, 901, "/newbot", **{"from": ANONYMOUS_ADMIN, "sender_chat": group})
    )
    app.emu.push_update("channel_post", raw_message(channel, 902, "/start", sender_chat=channel))
    second = await app.emu.wait_for_bot_message(GROUP, after_message_id=reply.message_id)
    await app.send(ALICE, "/start")  # everything before it in the queue has been handled

    assert "private chat only" in second.text and len(app.emu.bot_messages(GROUP)) == 2
    assert errors_logged(caplog) == []


async def test_keys_and_the_mode_switch_are_refused_in_a_group(app: App) -> None:
    """Issue 13, item 17: key entry and the mode switch happen in the private chat only; in a group /keys
    asks for nothing (no key is ever typed where others read it) and nothing of the group is stored."""
    app.emu.add_chat(GROUP, kind="supergroup", title="Traders")
    await app.emu.push_message(ALICE, "/keys", chat_id=GROUP)
    reply = await app.emu.wait_for_bot_message(GROUP)
    assert "private chat only" in reply.text and "API key" not in reply.text
    await app.emu.push_message(ALICE, "/keys@multibot_sandbox_bot", chat_id=GROUP)
    second = await app.emu.wait_for_bot_message(GROUP, after_message_id=reply.message_id)
    assert "private chat only" in second.text
    with pytest.raises(Exception, match="not found"):
        await app.user(ALICE)
    private = await app.send(ALICE, "/keys")  # the private chat is where it happens
    assert "Exchange account" in private.text


async def test_a_button_pressed_in_a_group_acts_on_nothing(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    alpha = await app.trend_bot(ALICE, "Alpha")
    app.emu.add_chat(GROUP)
    await app.emu.push_message(ALICE, "/start", chat_id=GROUP)
    note = await app.emu.wait_for_bot_message(GROUP)

    query = await app.emu.press_button(
        ALICE, note.message_id, f"b:start:{alpha.id}", forged=True, chat_id=GROUP
    )
    answer = await app.emu.wait_for_callback_answer(query)

    assert answer.show_alert and "private chat with @multibot_sandbox_bot only" in (answer.text or "")
    assert not (await app.bot_row(ALICE, alpha.id)).is_running
    assert app.emu.message(GROUP, note.message_id).version == 0 and errors_logged(caplog) == []


async def test_a_private_message_without_a_sender_gets_one_line(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """On the old code: TypeError (the fallback handler needs `lang`, the others a user)."""
    chat = {"id": ALICE, "type": "private"}
    app.emu.add_user(ALICE)
    app.emu.push_update("message", raw_message(chat, 900, "/bots"))
    reply = await app.emu.wait_for_bot_message(ALICE)

    assert reply.text == "I cannot tell who sent this. Send /start from your own account."
    assert errors_logged(caplog) == []


# ---- item 1: buttons of messages that are gone


async def test_a_button_of_an_inaccessible_or_inline_message_is_old_and_does_nothing(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """On the old code the wizard's button raised AssertionError in message_of, and a stop confirmation on
    an inaccessible message stopped the bot."""
    alpha = await app.trend_bot(ALICE, "Alpha")
    await app.services.fleet.start((await app.user(ALICE)).id, alpha.id)
    menu = await app.send(ALICE, "/start")

    for data in ("nb:g", f"b:stopok:{alpha.id}", "m:bots"):
        query = await app.emu.press_button(ALICE, menu.message_id, data, forged=True, inaccessible=True)
        answer = await app.emu.wait_for_callback_answer(query)
        assert answer.show_alert and "too old" in (answer.text or "") and "/menu" in (answer.text or "")
    inline = await app.emu.press_inline_button(ALICE, "AAQ42", f"b:delok:{alpha.id}")
    answer = await app.emu.wait_for_callback_answer(inline)

    assert answer.show_alert and "too old" in (answer.text or "")
    bot = await app.bot_row(ALICE, alpha.id)
    assert bot.is_running and app.emu.message(ALICE, menu.message_id).version == 0
    assert errors_logged(caplog) == []


async def test_a_button_whose_message_was_deleted_meanwhile_answers_in_a_new_message(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """On the old code: TelegramBadRequest "message to edit not found", and the bot's card never came."""
    await app.trend_bot(ALICE, "Alpha")
    listing = await app.send(ALICE, "/bots")
    query = await app.emu.press_button_text(ALICE, listing.message_id, "⚪ Alpha")
    app.emu.message(ALICE, listing.message_id).deleted = True  # deleted on another device, before the edit

    card = await app.emu.wait_for_bot_message(ALICE, after_message_id=listing.message_id)
    await app.emu.wait_for_callback_answer(query)

    assert "Alpha" in card.text and "▶️ Start" in labels(card)
    assert errors_logged(caplog) == []


# ---- item 3: cosmetic calls that fail


async def walk_to_the_symbol_step(app: App) -> tuple[int, int]:
    """/newbot, Grid, a name: returns (the type choice's message id, the symbol question's)."""
    choice = await app.send(ALICE, "/newbot")
    query = await app.emu.press_button_text(ALICE, choice.message_id, "🧱 Grid")
    name_question = await app.emu.wait_for_bot_message(ALICE, after_message_id=choice.message_id)
    await app.emu.wait_for_callback_answer(query)
    assert "step 1/" in name_question.text
    symbol_question = await app.send(ALICE, "Robust grid")
    assert "Which market?" in symbol_question.text and "BTCUSDT" in labels(symbol_question)
    return choice.message_id, symbol_question.message_id


@pytest.mark.parametrize("status", [404, 429])
async def test_removing_the_answered_buttons_may_fail_and_the_wizard_goes_on(
    app: App, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """On the old code the failed editMessageReplyMarkup (TelegramNotFound, TelegramRetryAfter) ended the
    step: the type choice or the tapped symbol was lost and no next question came."""
    app.emu.inject_failures("editMessageReplyMarkup", status=status, retry_after=1, count=1)
    choice_id, symbol_id = await walk_to_the_symbol_step(app)
    assert app.emu.failure_rules[0].hits == 1
    if status == 429:  # waited out (1 s) and done again
        assert app.emu.message(ALICE, choice_id).buttons == [] and app.emu.early_retries() == []

    app.emu.inject_failures("editMessageReplyMarkup", status=status, retry_after=1, count=1)
    query = await app.emu.press_button_text(ALICE, symbol_id, "BTCUSDT")
    allocation = await app.emu.wait_for_bot_message(ALICE, after_message_id=symbol_id)
    await app.emu.wait_for_callback_answer(query)

    assert "step 3/" in allocation.text and "share of the account balance" in allocation.text
    assert errors_logged(caplog) == []


async def test_a_long_429_on_a_cosmetic_call_is_skipped_not_waited(app: App) -> None:
    _, symbol_id = await walk_to_the_symbol_step(app)
    app.emu.inject_failures("editMessageReplyMarkup", status=429, retry_after=30, count=1)
    app.emu.inject_failures("answerCallbackQuery", status=429, retry_after=30, count=1)

    await app.emu.press_button_text(ALICE, symbol_id, "BTCUSDT")
    allocation = await app.emu.wait_for_bot_message(ALICE, after_message_id=symbol_id, timeout=3)

    assert "step 3/" in allocation.text
    assert app.emu.message(ALICE, symbol_id).buttons  # the buttons stay; the step refuses them now
    again = await app.emu.press_button_text(ALICE, symbol_id, "BTCUSDT")
    assert (
        await app.emu.wait_for_callback_answer(again)
    ).text == "This button belongs to an earlier question."


def test_the_group_router_knows_every_command_of_the_menu() -> None:
    from bot.app import COMMANDS
    from handlers.groups import OUR_COMMANDS

    assert set(COMMANDS) | {"menu"} == set(OUR_COMMANDS)


async def test_a_button_pressed_on_a_photo_answers_below_it(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    """A forged or stolen button on a chart (a photo has no text to edit): on the old code TelegramBadRequest
    "there is no text in the message to edit" (found by the fuzzer)."""
    from aiogram.types import BufferedInputFile

    from tests.test_emulator import tiny_png

    await app.send(ALICE, "/start")
    photo = await app.bot.send_photo(ALICE, BufferedInputFile(tiny_png(), filename="chart.png"))
    query = await app.emu.press_button(ALICE, photo.message_id, "m:help", forged=True)

    help_ = await app.emu.wait_for_bot_message(ALICE, after_message_id=photo.message_id)
    await app.emu.wait_for_callback_answer(query)
    assert "/newbot" in help_.text and errors_logged(caplog) == []


# ---- an unexpected failure still gets an answer (and is logged as the error it is)


async def test_an_unexpected_failure_is_logged_and_answered(
    app: App, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the old code the person got nothing (a button kept spinning) and only aiogram's log had it."""
    await app.trend_bot(ALICE, "Alpha")

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.services.fleet, "overview", broken)
    reply = await app.send(ALICE, "/bots")
    menu = await app.send(ALICE, "/menu")
    answer = await app.press(ALICE, menu, "🤖 My bots")

    assert reply.text == "⚠️ Something went wrong on our side. Check /bots before you try again."
    assert answer.show_alert and answer.text == reply.text
    logged = [m for m in errors_logged(caplog) if m.startswith("unexpected RuntimeError in update ")]
    assert len(logged) == 2 and len(errors_logged(caplog)) == 2
