"""The Telegram Bot API emulator, driven by a real aiogram Bot and a real long-polling Dispatcher."""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)
from aiogram.utils.backoff import BackoffConfig

from bot.sandbox import ApiError, EmulatorEvent, RateLimits, TelegramEmulator
from bot.sandbox.formatting import parse_html, parse_markdown_v2, render_text

TOKEN = "123456:TEST"
USER = 1001
FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.01)


def tiny_png(width: int = 2, height: int = 3) -> bytes:
    """A valid RGB PNG of width x height black pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class QuickCloseSession(AiohttpSession):
    """AiohttpSession without the 250 ms SSL grace sleep on close (plain HTTP to localhost)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def make_bot(emu: TelegramEmulator, token: str = TOKEN) -> Bot:
    return Bot(
        token=token,
        session=QuickCloseSession(api=TelegramAPIServer.from_base(emu.base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def menu_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Start", callback_data="bot:start"),
                InlineKeyboardButton(text="Stop", callback_data="bot:stop"),
            ]
        ]
    )


def echo_router() -> Router:
    router = Router(name="echo")

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        await message.answer("<b>Bot #1</b>\nstate: idle", reply_markup=menu_keyboard())

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(html.quote(message.text or ""))

    return router


def callback_router() -> Router:
    router = Router(name="callbacks")

    @router.callback_query(F.data.in_({"bot:start", "bot:stop"}))
    async def act(query: CallbackQuery) -> None:
        state = "running" if query.data == "bot:start" else "stopped"
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"<b>Bot #1</b>\nstate: {state}", reply_markup=menu_keyboard())
        await query.answer(f"Bot {state}")

    @router.callback_query()
    async def unknown(query: CallbackQuery) -> None:
        await query.answer("Unknown action", show_alert=True)

    return router


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    bot = make_bot(emu)
    yield bot
    await bot.session.close()


@pytest.fixture
async def polling(emu: TelegramEmulator, bot: Bot) -> AsyncIterator[Dispatcher]:
    dp = Dispatcher()
    dp.include_routers(echo_router(), callback_router())
    await bot.delete_webhook()  # start_polling does not call it
    task = asyncio.create_task(
        dp.start_polling(
            bot, handle_signals=False, close_bot_session=False, polling_timeout=5, backoff_config=FAST_BACKOFF
        )
    )
    await emu.wait_until(lambda: emu.calls_to("getUpdates"))
    yield dp
    await dp.stop_polling()
    await task


# --------------------------------------------------------------------------- end to end with polling


async def test_echo_round_trip(emu: TelegramEmulator, polling: Dispatcher) -> None:
    sent = await emu.push_message(USER, "/start hello", first_name="Ann", username="ann")
    assert sent["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert sent["chat"] == {"id": USER, "type": "private", "first_name": "Ann", "username": "ann"}

    reply = await emu.wait_for_bot_message(USER, after_message_id=sent["message_id"])

    assert reply.text == "/start hello"
    assert reply.message_id == sent["message_id"] + 1
    api = reply.to_api()
    assert api["from"] == {
        "id": 123456,
        "is_bot": True,
        "first_name": "Multibot",
        "username": "multibot_sandbox_bot",
    }
    assert api["chat"]["id"] == USER and "entities" not in api
    assert [(m.sender, m.text) for m in emu.transcript(USER)] == [
        ("user", "/start hello"),
        ("bot", "/start hello"),
    ]
    send = (await emu.wait_for_call("sendMessage")).params
    assert send == {"chat_id": USER, "text": "/start hello", "parse_mode": "HTML"}


async def test_html_is_rendered_to_plain_text(emu: TelegramEmulator, polling: Dispatcher) -> None:
    sent = await emu.push_message(USER, "a < b & <i>c</i>")
    reply = await emu.wait_for_bot_message(USER, after_message_id=sent["message_id"])
    assert reply.text == "a < b & <i>c</i>"  # html.quote on the way out, unescaped by "Telegram"
    assert reply.raw_text == "a &lt; b &amp; &lt;i&gt;c&lt;/i&gt;"


async def test_button_press_is_answered_and_edits_the_message(
    emu: TelegramEmulator, polling: Dispatcher
) -> None:
    sent = await emu.push_message(USER, "/menu")
    menu = await emu.wait_for_bot_message(USER, after_message_id=sent["message_id"])
    assert menu.text == "Bot #1\nstate: idle"
    assert [b["text"] for b in menu.buttons] == ["Start", "Stop"]

    query_id = await emu.press_button_text(USER, menu.message_id, "Start")
    answer = await emu.wait_for_callback_answer(query_id)
    edited = await emu.wait_for_edit(USER, menu.message_id)

    assert answer.text == "Bot running" and not answer.show_alert and answer.data == "bot:start"
    assert edited.text == "Bot #1\nstate: running"
    assert [v.text for v in edited.edits] == ["Bot #1\nstate: idle"]
    assert edited.buttons == menu.buttons and edited.edit_date is not None
    assert len(emu.bot_messages(USER)) == 1  # edited in place, nothing new sent


async def test_forged_callback_data_is_delivered_only_when_asked(
    emu: TelegramEmulator, polling: Dispatcher
) -> None:
    sent = await emu.push_message(USER, "/menu")
    menu = await emu.wait_for_bot_message(USER, after_message_id=sent["message_id"])
    with pytest.raises(LookupError):
        await emu.press_button(USER, menu.message_id, "bot:delete:999")

    query_id = await emu.press_button(USER, menu.message_id, "bot:delete:999", forged=True)

    answer = await emu.wait_for_callback_answer(query_id)
    assert answer.text == "Unknown action" and answer.show_alert
    assert emu.message(USER, menu.message_id).version == 0


async def test_callback_query_can_be_answered_once(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    menu = await bot.send_message(USER, "menu", reply_markup=menu_keyboard())
    query_id = await emu.press_button(USER, menu.message_id, "bot:stop")

    assert await bot.answer_callback_query(query_id) is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("42")


async def test_groups_and_channels_can_be_added_and_written_in(emu: TelegramEmulator, bot: Bot) -> None:
    group = emu.add_chat(-1001, kind="supergroup", title="Traders")
    sent = await emu.push_message(USER, "/start@multibot_sandbox_bot", chat_id=-1001)
    assert sent["chat"] == group and sent["from"]["id"] == USER
    with pytest.raises(LookupError):
        await emu.push_message(USER, "hi", chat_id=-1002)  # a chat nobody added

    reply = await bot.send_message(-1001, "Open our private chat", reply_to_message_id=sent["message_id"])
    await bot.send_message(USER, "hello")  # the user's private chat exists too

    assert reply.chat.type == "supergroup" and reply.reply_to_message.message_id == sent["message_id"]
    assert [m.text for m in emu.bot_messages(-1001)] == ["Open our private chat"]
    with pytest.raises(ValueError):
        emu.add_chat(5)


async def test_push_update_serves_a_payload_exactly_as_given(emu: TelegramEmulator, bot: Bot) -> None:
    """Channel posts, updates without optional fields, and one aiogram cannot parse at all."""
    post = {"message_id": 7, "date": 1, "chat": {"id": -1009, "type": "channel"}, "text": "news"}
    first = emu.push_update("channel_post", post)
    bad = emu.push_update("message", {"message_id": "not a number", "date": 1})

    assert emu.last_update_id == bad == first + 1 and emu.is_pending(first)
    assert emu.pending_updates() == [
        {"update_id": first, "channel_post": post},
        {"update_id": bad, "message": {"message_id": "not a number", "date": 1}},
    ]
    with pytest.raises(ClientDecodeError):  # what the bot gets: a batch aiogram cannot deserialize
        await bot.get_updates()
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [first]


async def test_buttons_of_inaccessible_and_inline_messages(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    menu = await bot.send_message(USER, "menu", reply_markup=menu_keyboard())

    old = await emu.press_button(USER, menu.message_id, "bot:start", inaccessible=True)
    inline = await emu.press_inline_button(USER, "AAQ42", "bot:stop")
    game = await emu.press_button(USER, menu.message_id, None, forged=True)
    with pytest.raises(LookupError):
        await emu.press_button(USER, menu.message_id, None)  # no button without data but a forged one
    queries = [u.callback_query for u in await bot.get_updates() if u.callback_query is not None]

    assert isinstance(queries[0].message, InaccessibleMessage) and queries[0].message.date == 0
    assert queries[0].message.message_id == menu.message_id and queries[0].id == old
    assert queries[1].message is None and queries[1].inline_message_id == "AAQ42" and queries[1].id == inline
    assert queries[2].data is None and queries[2].id == game
    for query_id in (old, inline, game):
        assert await bot.answer_callback_query(query_id) is True


async def test_records_can_be_bounded_for_long_runs(bot: Bot) -> None:
    async with TelegramEmulator(max_logged_calls=5, max_messages_per_chat=3) as emu:
        small = make_bot(emu)
        try:
            await emu.push_message(USER, "hi")
            for n in range(6):
                menu = await small.send_message(USER, f"menu {n}", reply_markup=menu_keyboard())
                await small.answer_callback_query(await emu.press_button(USER, menu.message_id, "bot:stop"))
            assert [m.text for m in emu.transcript(USER)] == ["menu 3", "menu 4", "menu 5"]
            assert len(emu.calls) == 5 and len(emu.callback_answers) == 5
        finally:
            await small.session.close()


# --------------------------------------------------------------------------- methods and their errors


async def test_get_me_and_tokens(emu: TelegramEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "multibot_sandbox_bot")

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emu.base_url}/botnot-a-token/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{emu.base_url}/bot{TOKEN}/launchRockets") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }

    async with TelegramEmulator(token="42:RIGHT") as strict:
        other = make_bot(strict, token="42:WRONG")
        with pytest.raises(TelegramUnauthorizedError):
            await other.get_me()
        await other.session.close()


async def test_json_and_form_bodies_are_both_understood(emu: TelegramEmulator) -> None:
    await emu.push_message(USER, "hi")
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    async with aiohttp.ClientSession() as http:
        url = f"{emu.base_url}/bot{TOKEN}/sendMessage"
        async with http.post(url, json={"chat_id": USER, "text": "json", "reply_markup": markup}) as resp:
            as_json = await resp.json()
        form = {
            "chat_id": str(USER),
            "text": "form",
            "reply_markup": '{"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}',
        }
        async with http.post(url, data=form) as resp:
            as_form = await resp.json()
        async with http.get(url, params={"chat_id": str(USER), "text": "query"}) as resp:
            as_query = await resp.json()

    assert as_json["ok"] and as_json["result"]["reply_markup"] == markup
    assert as_form["ok"] and as_form["result"]["reply_markup"] == markup
    assert as_query["result"]["text"] == "query"
    assert [m.text for m in emu.bot_messages(USER)] == ["json", "form", "query"]


async def test_send_message_limits(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")

    assert (await bot.send_message(USER, "x" * 4096)).text == "x" * 4096
    assert (await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>")).text == "x" * 4096  # tags don't count
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "\U0001f4c8" * 2049)  # 4098 UTF-16 units
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(USER, "<b> </b>")

    ok = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="k", callback_data="d" * 64)]])
    assert (
        await bot.send_message(USER, "64 bytes", reply_markup=ok)
    ).reply_markup.model_dump() == ok.model_dump()
    too_long = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="k", callback_data="é" * 33)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "66 bytes", reply_markup=too_long)

    with pytest.raises(TelegramBadRequest, match='Unsupported start tag "br"'):
        await bot.send_message(USER, "line<br>line")
    with pytest.raises(TelegramBadRequest, match='Can\'t find end tag corresponding to start tag "b"'):
        await bot.send_message(USER, "<b>open")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(USER + 1, "nobody there")

    emu.block_bot(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "hello?")
    assert [m.text for m in emu.bot_messages(USER)] == ["x" * 4096, "x" * 4096, "64 bytes"]


async def test_edit_semantics(emu: TelegramEmulator, bot: Bot) -> None:
    user_message = await emu.push_message(USER, "hi")
    sent = await bot.send_message(USER, "<b>v1</b>", reply_markup=menu_keyboard())

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "<b>v1</b>", chat_id=USER, message_id=sent.message_id, reply_markup=menu_keyboard()
        )
    edited = await bot.edit_message_text(
        "<i>v1</i>", chat_id=USER, message_id=sent.message_id, reply_markup=menu_keyboard()
    )
    assert isinstance(edited, Message) and edited.text == "v1" and edited.edit_date is not None

    without_keyboard = await bot.edit_message_text("v2", chat_id=USER, message_id=sent.message_id)
    assert (
        isinstance(without_keyboard, Message) and without_keyboard.reply_markup is None
    )  # omitted = removed

    with_keyboard = await bot.edit_message_reply_markup(
        chat_id=USER, message_id=sent.message_id, reply_markup=menu_keyboard()
    )
    assert (
        isinstance(with_keyboard, Message)
        and with_keyboard.reply_markup.model_dump() == menu_keyboard().model_dump()
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=USER, message_id=sent.message_id, reply_markup=menu_keyboard()
        )

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=USER, message_id=user_message["message_id"])
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.edit_message_text("x" * 4097, chat_id=USER, message_id=sent.message_id)

    history = emu.message(USER, sent.message_id)
    assert history.version == 3
    assert [(v.text, v.reply_markup is not None) for v in history.edits] == [
        ("v1", True),
        ("v1", True),
        ("v2", False),
    ]


async def test_delete_semantics(emu: TelegramEmulator, bot: Bot) -> None:
    secret = await emu.push_message(USER, "my api secret")
    sent = await bot.send_message(USER, "bye")

    assert await bot.delete_message(USER, sent.message_id) is True
    assert await bot.delete_message(USER, secret["message_id"]) is True  # a bot may delete user messages
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("again", chat_id=USER, message_id=sent.message_id)

    assert [(m.message_id, m.deleted) for m in emu.transcript(USER)] == [(1, True), (2, True)]
    assert emu.bot_messages(USER) == [] and len(emu.bot_messages(USER, include_deleted=True)) == 1
    with pytest.raises(LookupError):
        await emu.press_button(USER, sent.message_id, "x", forged=True)


async def test_reply_parameters(emu: TelegramEmulator, bot: Bot) -> None:
    asked = await emu.push_message(USER, "price?")

    reply = await bot.send_message(
        USER, "42", reply_parameters=ReplyParameters(message_id=asked["message_id"])
    )
    assert reply.reply_to_message is not None and reply.reply_to_message.text == "price?"
    legacy = await bot.send_message(USER, "43", reply_to_message_id=asked["message_id"])
    assert legacy.reply_to_message is not None
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(USER, "x", reply_parameters=ReplyParameters(message_id=999))
    lenient = await bot.send_message(
        USER, "y", reply_parameters=ReplyParameters(message_id=999, allow_sending_without_reply=True)
    )
    assert lenient.reply_to_message is None


async def test_photo_upload_is_stored_and_downloadable(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "chart please")
    png = tiny_png(4, 3)
    events: list[EmulatorEvent] = []
    unsubscribe = emu.subscribe(events.append)

    sent = await bot.send_photo(USER, BufferedInputFile(png, "grid.png"), caption="<b>Grid</b> levels")
    assert await bot.send_chat_action(USER, "upload_photo") is True

    assert sent.photo is not None and (sent.photo[-1].width, sent.photo[-1].height) == (4, 3)
    assert sent.caption == "Grid levels"
    stored = emu.message(USER, sent.message_id).photo
    assert (
        stored is not None
        and stored.data == png
        and stored.size == len(png)
        and stored.filename == "grid.png"
    )
    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.getvalue() == png
    resent = await bot.send_photo(USER, sent.photo[-1].file_id)  # by file_id, as Telegram allows
    assert resent.photo is not None and resent.photo[-1].file_id == sent.photo[-1].file_id
    assert [(e.kind, e.action) for e in events] == [
        ("photo", None),
        ("chat_action", "upload_photo"),
        ("photo", None),
    ]

    unsubscribe()
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(USER, BufferedInputFile(b"not an image", "x.png"))
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_photo(USER, BufferedInputFile(png, "x.png"), caption="c" * 1025)
    assert len(events) == 3


async def test_commands(emu: TelegramEmulator, bot: Bot) -> None:
    commands = [
        BotCommand(command="start", description="Main menu"),
        BotCommand(command="bots", description="My bots"),
    ]
    assert await bot.set_my_commands(commands) is True
    assert await bot.set_my_commands(commands[:1], language_code="ko") is True
    assert await bot.set_my_commands(commands[1:], scope=BotCommandScopeChat(chat_id=USER)) is True

    assert [c.command for c in await bot.get_my_commands()] == ["start", "bots"]
    assert [c.command for c in await bot.get_my_commands(language_code="ko")] == ["start"]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=USER))] == ["bots"]
    assert await bot.delete_my_commands(language_code="ko") is True
    assert await bot.get_my_commands(language_code="ko") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


# --------------------------------------------------------------------------- getUpdates


async def test_get_updates_offset_confirms(emu: TelegramEmulator, bot: Bot) -> None:
    for text in ("one", "two", "three"):
        await emu.push_message(USER, text)

    first = await bot.get_updates()
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert [u.update_id for u in await bot.get_updates()] == [u.update_id for u in first]  # unconfirmed
    assert [u.update_id for u in await bot.get_updates(offset=first[1].update_id)] == [
        first[1].update_id,
        first[2].update_id,
    ]
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [first[1].update_id]
    assert await bot.get_updates(offset=first[-1].update_id + 1) == []
    assert emu.pending_updates() == []

    for text in ("four", "five", "six"):
        await emu.push_message(USER, text)
    last = await bot.get_updates(offset=-1)  # negative: only the newest, the rest forgotten
    assert [u.message.text for u in last if u.message] == ["six"]
    assert len(emu.pending_updates()) == 1


async def test_get_updates_long_polls_until_an_update_arrives(emu: TelegramEmulator, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.wait_until(lambda: emu.calls_to("getUpdates"))
    await emu.push_message(USER, "wake up")

    updates = await poll

    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert time.monotonic() - started < 2


async def test_allowed_updates_filter(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    menu = await bot.send_message(USER, "menu", reply_markup=menu_keyboard())
    await emu.press_button(USER, menu.message_id, "bot:start")

    only_queries = await bot.get_updates(allowed_updates=["callback_query"])

    assert [u.callback_query.data for u in only_queries if u.callback_query] == ["bot:start"]
    assert all(u.message is None for u in only_queries)


async def test_second_poller_and_webhook_conflict(emu: TelegramEmulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await emu.wait_until(lambda: emu.calls_to("getUpdates"))
    second = asyncio.create_task(bot.get_updates(timeout=10))

    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    await emu.push_message(USER, "for the second")
    assert len(await second) == 1

    assert await bot.set_webhook("https://example.org/hook") is True
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert await bot.get_updates() == []


# --------------------------------------------------------------------------- failure injection


async def test_injected_429_surfaces_as_retry_after(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    await emu.push_message(USER + 1, "hi")
    rule = emu.inject_failures("sendMessage", retry_after=7, count=1, chat_id=USER)

    await bot.send_message(USER + 1, "other chat is not affected")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "alert")
    assert caught.value.retry_after == 7
    assert "Too Many Requests: retry after 7" in str(caught.value)
    assert (await bot.send_message(USER, "alert")).text == "alert"  # count=1: the next call passes

    assert rule.hits == 1 and rule.remaining == 0
    [record] = emu.retry_after_log
    assert (record.chat_id, record.retry_after, record.source) == (USER, 7, "injected")
    assert record.next_call_method == "sendMessage" and record.early  # retried at once
    assert emu.early_retries() == [record]
    failed = [c for c in emu.calls_to("sendMessage") if c.status == 429]
    assert failed[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


async def test_injected_5xx_surfaces_as_server_error(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    emu.inject_failures("sendMessage", status=502, count=2)

    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(USER, "x")
    assert (await bot.send_message(USER, "x")).text == "x"

    emu.inject_failures(status=500, count=None, duration=30)  # every method but getUpdates, for 30 s
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.get_me()
    assert len(await bot.get_updates()) == 1  # polling itself is left alone
    emu.clear_failures()
    assert (await bot.get_me()).id == 123456


async def test_outage_modes(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    await bot.send_message(USER, "warm")  # a kept-alive connection exists

    await emu.outage(30, mode="502")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(USER, "x")
    await emu.end_outage()

    await emu.outage(30, mode="close")
    with pytest.raises(TelegramNetworkError, match="Server disconnected"):
        await bot.send_message(USER, "x")
    await emu.end_outage()

    await bot.send_message(USER, "warm again")
    await emu.outage(30, mode="refuse")
    with pytest.raises(TelegramNetworkError, match="Server disconnected"):
        await bot.send_message(USER, "x")  # the kept-alive connection is dropped
    with pytest.raises(TelegramNetworkError, match="Cannot connect"):
        await bot.send_message(USER, "x")  # and new ones are refused
    await emu.end_outage()

    assert (await bot.send_message(USER, "back")).text == "back"
    assert [m.text for m in emu.bot_messages(USER)] == ["warm", "warm again", "back"]
    assert [c.status for c in emu.calls_to("sendMessage")] == [200, 502, 0, 200, 0, 200]  # refused: no call


async def test_outage_window_ends_by_itself_and_polling_recovers(
    emu: TelegramEmulator, polling: Dispatcher
) -> None:
    await emu.outage(0.3)
    sent = await emu.push_message(USER, "are you there?")

    reply = await emu.wait_for_bot_message(USER, after_message_id=sent["message_id"], timeout=5)

    assert reply.text == "are you there?"
    assert any(c.status == 502 for c in emu.calls_to("getUpdates"))


async def test_slow_answers_can_outlast_the_client_timeout(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    emu.slow("sendMessage", 0.3)

    started = time.monotonic()
    await bot.send_message(USER, "slow")
    assert time.monotonic() - started >= 0.3

    emu.slow("sendMessage", 2)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.send_message(USER, "lost answer", request_timeout=0.2)  # type: ignore[arg-type]
    # The message was delivered even though the answer never came: a blind retry duplicates it.
    assert [m.text for m in emu.bot_messages(USER)] == ["slow", "lost answer"]
    emu.slow("sendMessage", None)
    assert (await bot.send_message(USER, "fast")).text == "fast"


async def test_flood_control_per_chat_and_early_retry_record(emu: TelegramEmulator, bot: Bot) -> None:
    await emu.push_message(USER, "hi")
    emu.enforce_rate_limits(limits=RateLimits(per_chat_per_second=1.0, per_chat_burst=2))

    await bot.send_message(USER, "1")
    await bot.send_message(USER, "2")
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(USER, "3")
    assert flood.value.retry_after == 1
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(USER, "3")  # too early: still limited, and recorded as an early retry

    await asyncio.sleep(flood.value.retry_after)  # a well-behaved client waits as told
    await bot.send_message(USER, "3")

    first, second = emu.retry_after_log
    assert first.early and first.source == "rate_limit"
    assert not second.early and second.waited is not None and second.waited >= 1
    assert emu.early_retries() == [first]
    assert [m.text for m in emu.bot_messages(USER)] == ["1", "2", "3"]


async def test_flood_control_overall(emu: TelegramEmulator, bot: Bot) -> None:
    users = [USER + n for n in range(3)]
    for user in users:
        await emu.push_message(user, "hi")
    emu.enforce_rate_limits(limits=RateLimits(per_chat_burst=5, global_per_second=30.0, global_burst=2))

    await bot.send_message(users[0], "a")
    await bot.send_message(users[1], "b")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(users[2], "c")
    assert emu.bot_messages(users[2]) == []

    emu.enforce_rate_limits(False)
    assert (await bot.send_message(users[2], "c")).text == "c"


# --------------------------------------------------------------------------- inspection helpers


async def test_wait_for_bot_message_times_out_with_the_transcript(emu: TelegramEmulator) -> None:
    await emu.push_message(USER, "anyone?")
    with pytest.raises(TimeoutError, match="anyone"):
        await emu.wait_for_bot_message(USER, timeout=0.05)


async def test_listener_sees_every_bot_action(emu: TelegramEmulator, bot: Bot) -> None:
    events: list[EmulatorEvent] = []
    emu.subscribe(events.append)
    sent = await emu.push_message(USER, "hi")
    menu = await bot.send_message(USER, "v1", reply_markup=menu_keyboard())
    await bot.edit_message_text("v2", chat_id=USER, message_id=menu.message_id)
    query_id = await emu.press_button(USER, menu.message_id, "bot:stop", forged=True)
    await bot.answer_callback_query(query_id, text="done")
    await bot.delete_message(USER, sent["message_id"])

    assert [(e.kind, e.message_id) for e in events] == [
        ("user_message", 1),
        ("message", 2),
        ("edit", 2),
        ("callback_query", 2),
        ("callback_answer", 2),
        ("delete", 1),
    ]
    assert (events[1].text, events[2].text) == ("v1", "v2")  # snapshots, not the live message
    assert events[1].reply_markup is not None and events[2].reply_markup is None


# --------------------------------------------------------------------------- formatting


def test_html_parsing_matches_telegram() -> None:
    assert (
        parse_html('<b>Grid</b> &lt;1&gt; &amp; <a href="https://x.org">link</a> &#128200;')[0]
        == "Grid <1> & link 📈"
    )
    assert parse_html("AT&T &nbsp;")[0] == "AT&T &nbsp;"  # unknown entities stay as text
    with pytest.raises(ApiError, match='Unsupported start tag "p"'):
        render_text("<p>x</p>", "HTML")
    with pytest.raises(ApiError, match='Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'):
        render_text("<b><i>x</b></i>", "HTML")
    with pytest.raises(ApiError, match="Unexpected end tag"):
        render_text("x</b>", "HTML")
    assert render_text("<b>x</b>", None) == ("<b>x</b>", [])


def test_markdown_v2_requires_escaping_reserved_characters() -> None:
    assert parse_markdown_v2(r"*PnL* \+1\.5 %")[0] == "PnL +1.5 %"
    with pytest.raises(ApiError, match=r"Character '\.' is reserved"):
        render_text("price 1.5", "MarkdownV2")
    with pytest.raises(ApiError, match="Can't find end of Bold entity"):
        render_text("*open", "MarkdownV2")
