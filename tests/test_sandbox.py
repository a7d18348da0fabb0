"""The sandbox as a new user meets it: `python -m bot run` without a token, driven through stdin/stdout.

A temp dir as the working directory (its own SQLite file and key file), no TELEGRAM_BOT_TOKEN: the command
starts the Bot API emulator, the real bot against it and the terminal chat for one local user.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.netguard.sitecustomize import child_pythonpath

REPO = Path(__file__).resolve().parent.parent
STDERR = "bot.stderr"  # the bot process's stderr, in its working directory
STEP_TIMEOUT = 30.0  # seconds; the first answer waits for the migrations
START_TIMEOUT = 120.0  # importing aiogram and the engine on a machine the other tests keep busy


class Terminal:
    """The sandbox process with what it printed so far."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    async def expect(self, text: str, *, after: int = 0, timeout: float = STEP_TIMEOUT) -> int:
        """Read until `text` appears after position `after` of the output; returns where it ends."""
        assert self.process.stdout is not None

        async def read() -> int:
            while (found := self.output.find(text, after)) < 0:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"sandbox ended before printing {text!r}; output:\n{self.output}")
                self.output += chunk.decode("utf-8", errors="replace")
            return found + len(text)

        try:
            return await asyncio.wait_for(read(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {text!r} within {timeout}s; output:\n{self.output}") from None


@pytest.fixture
def sandbox_env() -> dict[str, str]:
    """Settings of the sandbox process beyond a new user's defaults (none: `make run` as it is)."""
    return {}


async def start_sandbox(tmp_path: Path, sandbox_env: dict[str, str]) -> Terminal:
    """`python -m bot run` in `tmp_path` (its database and key file live there)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("TELEGRAM_", "DATABASE_URL", "ALLOWED_TELEGRAM_IDS", "ENCRYPTION_KEY", "REPLAY_", "PRICE_FEED")
        )
    }
    env.update(
        PYTHONPATH=child_pythonpath(REPO), PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1", LANG="C.UTF-8"
    )
    env.update(sandbox_env)
    with (tmp_path / STDERR).open("wb") as stderr:  # a file: a pipe nobody reads would fill and block the bot
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    return Terminal(process)


async def stop_sandbox(terminal: Terminal) -> None:
    if terminal.process.returncode is None:
        terminal.process.kill()
        await terminal.process.wait()


@pytest.fixture
async def sandbox(tmp_path: Path, sandbox_env: dict[str, str]):  # type: ignore[no-untyped-def]
    terminal = await start_sandbox(tmp_path, sandbox_env)
    try:
        yield terminal
    finally:
        await stop_sandbox(terminal)


async def test_sandbox_chat_from_start_to_a_pressed_button(sandbox: Terminal, tmp_path: Path) -> None:
    await sandbox.expect("/quit (or Ctrl-D) exits.", timeout=START_TIMEOUT)
    await sandbox.type("/start")
    menu = await sandbox.expect("[1] 🤖 My bots  [2] ➕ New bot")
    assert "Hello, Trader!" in sandbox.output

    await sandbox.type("#1")
    pressed = await sandbox.expect("> pressed [1] 🤖 My bots", after=menu)
    await sandbox.expect("(edited) ---", after=pressed)
    await sandbox.expect("You have no bots yet.", after=pressed)

    await sandbox.type("/quit")
    assert sandbox.process.stdin is not None
    sandbox.process.stdin.close()
    await sandbox.expect("(chat closed)")
    returncode = await asyncio.wait_for(sandbox.process.wait(), STEP_TIMEOUT)
    errors = (tmp_path / STDERR).read_text(errors="replace")

    assert returncode == 0, errors
    assert "Traceback" not in errors and "ERROR" not in errors, errors
    assert (tmp_path / "multibot.db").exists()  # paper trading on SQLite in the working directory


async def test_sandbox_grid_bot_from_the_wizard_fills_within_a_minute(
    sandbox: Terminal, tmp_path: Path
) -> None:
    """`make run` as a new user meets it: /start, a grid bot through the wizard (range suggested around
    the replayed price), start it, and see its fills arrive as alerts within a minute."""
    at = await sandbox.expect("/quit (or Ctrl-D) exits.", timeout=START_TIMEOUT)
    await sandbox.type("/start")
    at = await sandbox.expect("[2] ➕ New bot", after=at)
    await sandbox.type("/newbot")
    answers = [
        ("[2] 🧱 Grid", "#2"),
        ("step 1/11", "Sandbox grid"),
        ("[1] BTCUSDT", "#1"),
        ("[1] 10 %", "#1"),
        ("[1] −5 %", "#1"),
        ("[1] +5 %", "#1"),
        ("[2] 20", "#2"),
        ("[1] Arithmetic", "#1"),
        ("[2] Allocated, 1 % kept for price moves: 990.00", "#2"),
        ("step 9/11", None),
        ("[1] ⏭ Skip", "#1"),
        ("step 10/11", None),
        ("[1] ⏭ Skip", "#1"),
        ("step 11/11", None),
        ("[1] ⏭ Skip", "#1"),
        ("✅ Create", None),
    ]
    for marker, answer in answers:
        at = await sandbox.expect(marker, after=at)
        if answer is not None:
            await sandbox.type(answer)
    assert "Grid preview" in sandbox.output
    create = sandbox.output.rfind("[", 0, at)
    await sandbox.type(f"#{sandbox.output[create + 1]}")  # the Create button's number
    at = await sandbox.expect("created (stopped)", after=at)
    at = await sandbox.expect("▶️ Start", after=at)
    start = sandbox.output.rfind("[", 0, at)
    await sandbox.type(f"#{sandbox.output[start + 1]}")
    at = await sandbox.expect("started on BTCUSDT", after=at)
    # the intervals above the price are bought at market at once; then resting buys and sells fill
    # as the replay moves (one 1-minute candle per second)
    fill = await sandbox.expect("✅ Sandbox grid buy", after=at, timeout=60)
    assert fill > at

    await sandbox.type("/quit")
    assert sandbox.process.stdin is not None
    sandbox.process.stdin.close()
    await sandbox.expect("(chat closed)")
    assert await asyncio.wait_for(sandbox.process.wait(), STEP_TIMEOUT) == 0


@pytest.mark.parametrize("sandbox_env", [{"REPLAY_SPEED": "10"}])  # 10 candles a second: a quicker test
async def test_sandbox_trend_bot_reports_its_entries_and_exits(sandbox: Terminal) -> None:
    """An AI trend bot created through the wizard trades on the replay and its entries and exits
    arrive in the chat."""
    at = await sandbox.expect("/quit (or Ctrl-D) exits.", timeout=START_TIMEOUT)
    await sandbox.type("/newbot")
    answers = [
        ("[1] 🤖 AI trend", "#1"),
        ("step 1/8", "Sandbox trend"),
        ("[1] BTCUSDT", "#1"),
        ("[1] 10 %", "#1"),
        ("ema_adx_baseline", "ema_adx_baseline"),
        ("step 5/8", None),
        ("[1] Default", "#1"),
        ("step 6/8", None),
        ("[1] Default", "#1"),
        ("step 7/8", "0.3"),  # tight stop loss and take profit: the first exit comes soon
        ("step 8/8", "0.3"),
        ("✅ Create", None),
    ]
    for marker, answer in answers:
        at = await sandbox.expect(marker, after=at)
        if answer is not None:
            await sandbox.type(answer)
    assert "Strategy: ema_adx_baseline" in sandbox.output
    await sandbox.type(f"#{sandbox.output[sandbox.output.rfind('[', 0, at) + 1]}")
    at = await sandbox.expect("▶️ Start", after=at)
    await sandbox.type(f"#{sandbox.output[sandbox.output.rfind('[', 0, at) + 1]}")
    at = await sandbox.expect("started on BTCUSDT", after=at)
    entry = await sandbox.expect("📈 Sandbox trend opened", after=at, timeout=120)
    await sandbox.expect("📉 Sandbox trend closed", after=entry, timeout=120)

    await sandbox.type("/quit")
    assert sandbox.process.stdin is not None
    sandbox.process.stdin.close()
    await sandbox.expect("(chat closed)")
    assert await asyncio.wait_for(sandbox.process.wait(), STEP_TIMEOUT) == 0


async def test_alerts_written_while_nobody_typed_reach_the_terminal_after_a_restart(
    sandbox: Terminal, tmp_path: Path
) -> None:
    """Alerts written before the user's first message since a restart (a bot's fills while the sandbox was
    starting, an alert left unsent by the last run) are shown, not dropped as undeliverable."""
    await sandbox.expect("/quit (or Ctrl-D) exits.", timeout=START_TIMEOUT)
    await sandbox.type("/start")
    await sandbox.expect("[1] 🤖 My bots")
    await sandbox.type("/quit")
    await asyncio.wait_for(sandbox.process.wait(), STEP_TIMEOUT)
    database = tmp_path / "multibot.db"
    with sqlite3.connect(database) as connection:  # an alert the last run did not send
        (user_id, chat_id) = connection.execute("SELECT id, chat_id FROM users").fetchone()
        connection.execute(
            "INSERT INTO alert_outbox (user_id, chat_id, kind, payload, created_at, attempts) "
            "VALUES (?, ?, 'bot_error', ?, CURRENT_TIMESTAMP, 0)",
            (user_id, chat_id, json.dumps({"name": "Night grid", "error": "left from the last run"})),
        )
    again = await start_sandbox(tmp_path, {})
    try:
        await again.expect("Night grid", timeout=START_TIMEOUT)  # nothing typed
        await again.expect("left from the last run")
        for _ in range(100):  # the sender marks the row once Telegram's answer is back: just after the print
            with sqlite3.connect(database) as connection:
                [(sent, error)] = connection.execute(
                    "SELECT sent_at, last_error FROM alert_outbox"
                ).fetchall()
            if sent is not None:
                break
            await asyncio.sleep(0.1)
        assert sent is not None and error is None
    finally:
        await stop_sandbox(again)
