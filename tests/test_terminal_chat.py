"""The terminal chat: typed lines go to the bot through the emulator, the bot's messages come back as text."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import sys
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TextIO

import pytest
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.backoff import BackoffConfig

from bot.sandbox import TelegramEmulator
from bot.sandbox.terminal import run_terminal_chat
from tests.netguard.sitecustomize import child_pythonpath

ROOT = Path(__file__).resolve().parents[1]
USER = 77


def tiny_png() -> bytes:
    """A valid 1x1 RGB PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Start", callback_data="start"),
                InlineKeyboardButton(text="Stop", callback_data="stop"),
            ],
            [InlineKeyboardButton(text="Docs", url="https://example.org/docs")],
        ]
    )


def demo_router() -> Router:
    """An echo bot with a menu whose buttons edit the menu, a chart and a secret-eating command."""
    router = Router(name="demo")

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        await message.answer("<b>Grid BTC</b> &amp; co\nstate: idle", reply_markup=keyboard())

    @router.message(Command("chart"))
    async def chart(message: Message) -> None:
        await message.answer_photo(BufferedInputFile(tiny_png(), "chart.png"), caption="<i>Grid chart</i>")

    @router.message(Command("secret"))
    async def secret(message: Message, command: CommandObject) -> None:
        await message.delete()
        await message.answer(f"Key {html.quote(command.args or '')[:2]}… saved")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(html.quote(message.text or ""))

    @router.callback_query(F.data.in_({"start", "stop"}))
    async def act(query: CallbackQuery) -> None:
        state = "running" if query.data == "start" else "stopped"
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"<b>Grid BTC</b> &amp; co\nstate: {state}", reply_markup=keyboard())
        await query.answer(f"Bot {state}")

    return router


class QuickCloseSession(AiohttpSession):
    """AiohttpSession without the 250 ms SSL grace sleep on close (plain HTTP to localhost)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


@asynccontextmanager
async def running_bot(base_url: str) -> AsyncIterator[None]:
    """The demo bot long-polling the emulator at `base_url` with a real Dispatcher."""
    bot = Bot(
        token="123456:TEST",
        session=QuickCloseSession(api=TelegramAPIServer.from_base(base_url)),
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    dp = Dispatcher()
    dp.include_router(demo_router())
    await bot.delete_webhook()
    started = asyncio.Event()
    dp.startup.register(started.set)
    backoff = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.01)
    task = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=5, backoff_config=backoff)
    )
    await started.wait()
    try:
        yield
    finally:
        await dp.stop_polling()
        await task


class Screen(io.TextIOBase):
    """The chat's stdout: keeps what was written and lets a test wait for a piece of it."""

    def __init__(self) -> None:
        self.text = ""
        self.position = 0
        self.flushes = 0
        self._written = asyncio.Event()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.text += text
        self._written.set()
        return len(text)

    def flush(self) -> None:
        self.flushes += 1

    async def expect(self, needle: str, timeout: float = 5.0) -> str:
        """Wait until `needle` is written after the last match; return the text up to it."""
        try:
            async with asyncio.timeout(timeout):
                while (found := self.text.find(needle, self.position)) < 0:
                    self._written.clear()
                    await self._written.wait()
        except TimeoutError:
            raise AssertionError(
                f"{needle!r} not shown; screen after the last match:\n{self.text[self.position :]}"
            ) from None
        chunk = self.text[self.position : found + len(needle)]
        self.position = found + len(needle)
        return chunk


class Keyboard:
    """The write end of a pipe that the chat reads as its stdin."""

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        self.stdin: TextIO = os.fdopen(read_fd, "r", encoding="utf-8")
        self._writer: TextIO = os.fdopen(write_fd, "w", encoding="utf-8")

    def type(self, line: str) -> None:
        self._writer.write(line + "\n")
        self._writer.flush()

    def close(self) -> None:
        if not self._writer.closed:
            self._writer.close()


@pytest.fixture
def keys() -> Iterator[Keyboard]:
    keyboard = Keyboard()
    yield keyboard
    keyboard.close()  # end of input also ends the reader thread
    keyboard.stdin.close()


async def test_chat_over_pipes(tmp_path: Path, keys: Keyboard) -> None:
    screen = Screen()
    async with TelegramEmulator() as emu, running_bot(emu.base_url):
        chat = asyncio.create_task(
            run_terminal_chat(emu, USER, stdin=keys.stdin, stdout=screen, photo_dir=tmp_path, eof_grace=0)
        )
        await screen.expect("exits.\n")

        keys.type("hello <world>")
        assert await screen.expect("hello <world>") == "--- bot #2 ---\nhello <world>"

        keys.type("/menu")
        shown = await screen.expect("[3] Docs <https://example.org/docs>")
        assert shown == (
            "\n--- bot #4 ---\nGrid BTC & co\nstate: idle\n[1] Start  [2] Stop\n[3] Docs <https://example.org/docs>"
        )

        keys.type("#1")
        await screen.expect("> pressed [1] Start")
        await screen.expect("--- bot #4 (edited) ---\nGrid BTC & co\nstate: running\n[1] Start  [2] Stop")
        await screen.expect("(notice) Bot running")

        keys.type("#4.2")
        await screen.expect("state: stopped")
        keys.type("#9")
        await screen.expect("(message #4 has buttons 1..3)")
        keys.type("#3")
        await screen.expect("(opens https://example.org/docs)")

        keys.type("42")  # numbers are text: wizards ask for prices and counts
        await screen.expect("--- bot #6 ---\n42")

        keys.type("/chart")
        shown = await screen.expect("Grid chart")
        photo = tmp_path / "msg8.png"
        assert f"--- bot #8 photo: {photo} ---" in shown and photo.read_bytes() == tiny_png()

        keys.type("/secret sk-123")
        await screen.expect("--- your message #9 deleted ---")
        await screen.expect("Key sk… saved")

        keys.type("/quit")
        await asyncio.wait_for(chat, 5)
        await screen.expect("(chat closed)")

    assert screen.flushes >= 10  # every message is flushed for a driving process
    assert [m.text for m in emu.transcript(USER) if not m.is_bot] == [
        "hello <world>",
        "/menu",
        "42",
        "/chart",
        "/secret sk-123",
    ]


async def test_bare_numbers_press_buttons_and_end_of_input_exits(keys: Keyboard) -> None:
    screen = Screen()
    async with TelegramEmulator() as emu, running_bot(emu.base_url):
        chat = asyncio.create_task(
            run_terminal_chat(emu, USER, stdin=keys.stdin, stdout=screen, press_prefix="", eof_grace=0)
        )
        await screen.expect("N presses button N")
        keys.type("2")
        await screen.expect("(no such message with buttons)")
        keys.type("/menu")
        await screen.expect("[1] Start  [2] Stop")
        keys.type("2")
        await screen.expect("state: stopped")
        await screen.expect("(notice) Bot stopped")

        keys.close()
        await asyncio.wait_for(chat, 5)
        await screen.expect("(chat closed)")


CHAT_PROCESS = """
import asyncio
from bot.sandbox.emulator import TelegramEmulator
from bot.sandbox.terminal import run_terminal_chat

async def main():
    async with TelegramEmulator() as emu:
        print("emulator", emu.base_url, flush=True)
        await run_terminal_chat(emu, 77, eof_grace=0.1)

asyncio.run(main())
"""


async def test_chat_as_a_subprocess_driven_through_its_pipes() -> None:
    """The chat in its own process (real stdin/stdout pipes), the bot in this one, over HTTP."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHAT_PROCESS,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": child_pythonpath(ROOT)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    stdout = process.stdout

    async def read_until(needle: str) -> list[str]:
        lines: list[str] = []
        async with asyncio.timeout(10):
            while not lines or needle not in lines[-1]:
                line = await stdout.readline()
                assert line, f"chat exited before showing {needle!r}; it showed {lines}"
                lines.append(line.decode().rstrip("\n"))
        return lines

    async def type_line(line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line.encode() + b"\n")
        await process.stdin.drain()

    try:
        [banner] = await read_until("emulator http://127.0.0.1:")
        async with running_bot(banner.split()[1]):
            await read_until("presses button")
            await type_line("hello")
            assert await read_until("hello") == ["--- bot #2 ---", "hello"]
            await type_line("/menu")
            assert (await read_until("[3] Docs"))[-3:] == [
                "state: idle",
                "[1] Start  [2] Stop",
                "[3] Docs <https://example.org/docs>",
            ]
            await type_line("#1")
            assert await read_until("(notice) Bot running") == [
                "> pressed [1] Start",
                "--- bot #4 (edited) ---",
                "Grid BTC & co",
                "state: running",
                "[1] Start  [2] Stop",
                "[3] Docs <https://example.org/docs>",
                "(notice) Bot running",
            ]
        process.stdin.close()
        assert await read_until("(chat closed)") == ["(chat closed)"]
        assert await asyncio.wait_for(process.wait(), 5) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
