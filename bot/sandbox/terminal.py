"""A chat in the terminal with the bot, through the Telegram Bot API emulator.

Lines read from stdin are sent as one user's messages; every bot message, edit,
deletion, photo and callback notice is printed as it happens, as plain text with
the inline buttons numbered. Works over a pipe or a pty (no curses); output is
flushed after every message so a driving process can read it line by line.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, TextIO

from bot.sandbox.emulator import TelegramEmulator, iter_buttons
from bot.sandbox.images import image_size
from bot.sandbox.records import ChatMessage, EmulatorEvent

QUIT_COMMAND = "/quit"


def hint(press_prefix: str) -> str:
    """The one-line help printed when the chat starts."""
    p = press_prefix
    return (
        f"Chat with the bot: type a message and press Enter. {p}N presses button N of the latest "
        f"message with buttons, {p}M.N button N of message #M. {QUIT_COMMAND} (or Ctrl-D) exits."
    )


def format_buttons(markup: dict[str, Any] | None) -> list[str]:
    """Inline keyboard rows as lines like "[1] Start  [2] Stop", numbered across rows."""
    rows = (markup or {}).get("inline_keyboard") or []
    numbered = iter(iter_buttons(markup))
    lines = []
    for row in rows:
        cells = []
        for _ in row:
            number, button = next(numbered)
            label = f"[{number}] {button.get('text', '')}"
            if "url" in button:
                label += f" <{button['url']}>"
            cells.append(label)
        if cells:
            lines.append("  ".join(cells))
    keyboard = (markup or {}).get("keyboard")
    if keyboard:  # a reply keyboard: its buttons are typed as text
        labels = [b.get("text", "") if isinstance(b, dict) else str(b) for row in keyboard for b in row]
        lines.append("keyboard: " + " | ".join(labels))
    return lines


class _TerminalChat:
    def __init__(
        self,
        emulator: TelegramEmulator,
        user_id: int,
        *,
        stdout: TextIO,
        first_name: str,
        username: str | None,
        language_code: str | None,
        photo_dir: Path | None,
        press_prefix: str,
    ) -> None:
        self.emulator = emulator
        self.user_id = user_id
        self.stdout = stdout
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self.photo_dir = photo_dir
        self.events: asyncio.Queue[EmulatorEvent] = asyncio.Queue()
        number = r"(\d+)(?:\.(\d+))?"
        self.press_re = re.compile(rf"^{re.escape(press_prefix)}{number}$")

    # ------------------------------------------------------------------ output

    def write(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") else text + "\n")
        self.stdout.flush()

    def on_event(self, event: EmulatorEvent) -> None:
        if event.chat_id == self.user_id:
            self.events.put_nowait(event)

    async def print_events(self) -> None:
        while True:
            event = await self.events.get()
            try:
                self.render(event)
            except Exception as exc:  # a rendering bug must not end the chat
                self.write(f"(could not show {event.kind}: {exc})")

    def drain(self) -> None:
        while not self.events.empty():
            self.render(self.events.get_nowait())

    def render(self, event: EmulatorEvent) -> None:
        message = event.message
        if event.kind in ("message", "photo", "document", "edit") and message is not None:
            self.render_message(event, message)
        elif event.kind == "delete" and message is not None:
            whose = "bot" if message.is_bot else "your message"
            self.write(f"--- {whose} #{message.message_id} deleted ---")
        elif event.kind == "callback_answer" and event.callback_answer is not None:
            answer = event.callback_answer
            if answer.text:
                self.write(f"({'alert' if answer.show_alert else 'notice'}) {answer.text}")
            if answer.url:
                self.write(f"(opens {answer.url})")

    def render_message(self, event: EmulatorEvent, message: ChatMessage) -> None:
        header = f"--- bot #{message.message_id}"
        if event.kind == "edit":
            header += " (edited)"
        lines = []
        if message.photo is not None or message.document is not None:
            path = self.save_file(message)
            kind = "photo" if message.photo is not None else "file"
            header += f" {kind}: {path}"
            body = event.caption
        else:
            body = event.text
        lines.append(header + " ---")
        if body:
            lines.append(body)
        lines.extend(format_buttons(event.reply_markup))
        self.write("\n".join(lines))

    def save_file(self, message: ChatMessage) -> str:
        stored = message.photo or message.document
        assert stored is not None
        if not stored.data:
            return stored.url or "(no data)"
        if self.photo_dir is None:
            self.photo_dir = Path(tempfile.mkdtemp(prefix="multibot-chat-"))
        suffix = Path(stored.filename or "").suffix
        if not suffix and image_size(stored.data) is not None:
            suffix = ".png" if stored.data.startswith(b"\x89PNG") else ".jpg"
        path = self.photo_dir / f"msg{message.message_id}{suffix}"
        path.write_bytes(stored.data)
        return str(path)

    # ------------------------------------------------------------------ input

    async def handle_line(self, line: str) -> None:
        match = self.press_re.match(line)
        if match is None:
            await self.emulator.push_message(
                self.user_id,
                line,
                first_name=self.first_name,
                username=self.username,
                language_code=self.language_code,
            )
            return
        if match.group(2) is not None:
            message_id, number = int(match.group(1)), int(match.group(2))
            target = next(
                (m for m in self.emulator.bot_messages(self.user_id) if m.message_id == message_id),
                None,
            )
        else:
            number = int(match.group(1))
            with_buttons = [m for m in self.emulator.bot_messages(self.user_id) if m.buttons]
            target = with_buttons[-1] if with_buttons else None
        if target is None:
            self.write("(no such message with buttons)")
            return
        buttons = target.buttons
        if not 1 <= number <= len(buttons):
            self.write(f"(message #{target.message_id} has buttons 1..{len(buttons)})")
            return
        button = buttons[number - 1]
        if "callback_data" in button:
            self.write(f"> pressed [{number}] {button.get('text', '')}")
            await self.emulator.press_button(self.user_id, target.message_id, str(button["callback_data"]))
        elif "url" in button:
            self.write(f"(opens {button['url']})")
        else:
            self.write("(this kind of button is not supported here)")


def _start_reader(stdin: Any, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines of stdin in a queue, None at end of input.

    A daemon thread does the blocking reads: it works the same with a pipe, a pty, a
    file or a StringIO, never leaves stdin non-blocking (which would break writes to a
    shared tty), and never keeps the process alive after the chat ends.
    """
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            while True:
                line = stdin.readline()
                if not line:
                    break
                loop.call_soon_threadsafe(lines.put_nowait, line)
        except (OSError, ValueError):  # stdin closed under us
            pass
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="terminal-chat-stdin", daemon=True).start()
    return lines


async def _read_stream(reader: asyncio.StreamReader, lines: asyncio.Queue[str | None]) -> None:
    while line := await reader.readline():
        lines.put_nowait(line.decode(errors="replace"))
    lines.put_nowait(None)


async def run_terminal_chat(
    emulator: TelegramEmulator,
    user_id: int,
    *,
    stdin: TextIO | asyncio.StreamReader = sys.stdin,
    stdout: TextIO = sys.stdout,
    first_name: str = "You",
    username: str | None = None,
    language_code: str | None = "en",
    photo_dir: str | Path | None = None,
    press_prefix: str = "#",
    eof_grace: float = 1.0,
) -> None:
    """Chat with the bot behind `emulator` as user `user_id` until /quit or end of input.

    `press_prefix` marks button presses ("#2", "#12.1"); with "" a bare number presses
    a button, and numbers can no longer be sent as text. Photos and documents are saved
    under `photo_dir` (a new temp dir by default). At end of input the chat keeps
    printing until the bot has been quiet for `eof_grace` seconds, so piped input
    still shows the answers.
    """
    chat = _TerminalChat(
        emulator,
        user_id,
        stdout=stdout,
        first_name=first_name,
        username=username,
        language_code=language_code,
        photo_dir=Path(photo_dir) if photo_dir is not None else None,
        press_prefix=press_prefix,
    )
    loop = asyncio.get_running_loop()
    stream_task: asyncio.Task[None] | None = None
    if isinstance(stdin, asyncio.StreamReader):
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        stream_task = asyncio.create_task(_read_stream(stdin, lines))
    else:
        lines = _start_reader(stdin, loop)
    # what the bot sent before the chat listened (alerts written while nobody typed: at start-up, or left
    # unsent by the last run), read and subscribed with no await between, so nothing falls in a gap
    earlier = emulator.bot_messages(user_id)
    unsubscribe = emulator.subscribe(chat.on_event)
    printer = asyncio.create_task(chat.print_events())
    chat.write(hint(press_prefix))
    for message in earlier:
        kind = "photo" if message.photo else "document" if message.document else "message"
        chat.render(
            EmulatorEvent(
                kind, message.chat_id, message.message_id, message, text=message.text,
                caption=message.caption, reply_markup=message.reply_markup,
            )
        )  # fmt: skip
    try:
        while True:
            line = await lines.get()
            if line is None:
                await _wait_quiet(chat, eof_grace)
                break
            line = line.strip()
            if line == QUIT_COMMAND:
                break
            if line:
                try:
                    await chat.handle_line(line)
                except (LookupError, ValueError) as exc:
                    chat.write(f"({exc})")
    finally:
        unsubscribe()
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer
        if stream_task is not None:
            stream_task.cancel()
        chat.drain()
        chat.write("(chat closed)")


async def _wait_quiet(chat: _TerminalChat, grace: float) -> None:
    """Let the bot finish answering: return once it made no API call (polling aside) for `grace` s."""
    if grace <= 0:
        return
    emulator = chat.emulator

    def activity() -> int:
        return sum(1 for call in emulator.calls if call.method.lower() != "getupdates")

    loop = asyncio.get_running_loop()
    seen = activity()
    quiet_since = loop.time()
    while (left := grace - (loop.time() - quiet_since)) > 0:
        with contextlib.suppress(TimeoutError):
            await emulator.wait_until(lambda before=seen: activity() != before, timeout=left)
        if activity() != seen:
            seen = activity()
            quiet_since = loop.time()
