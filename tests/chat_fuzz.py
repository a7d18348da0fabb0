"""The chat fuzzer: thousands of seeded updates of every kind from many users, pushed into the local Bot API
emulator while the real bot long-polls it, and the checks that nothing broke.

The bot runs as in production (`python -m bot run`, a child process with TELEGRAM_API_BASE pointing at the
emulator), so its memory is measured alone (VmRSS of the child), apart from the emulator and the fuzzer in
this process. Its log tells when each update was handled ("Update id=N is handled / not handled", aiogram's
INFO line) and every unhandled exception (any ERROR record). Users act one update at a time each (many at
once overall): a user's next update is pushed once the bot has handled the previous one, so an answer is
the answer to that update.

What is checked (`FuzzReport.failures`): no ERROR in the bot's log; every update handled; every private
message of a person answered (a message, photo or edit in their chat) and every callback query answered;
the database's invariants (allocation <= 100 % per user, owners unchanged, the bots of the users who never
act, the victims of every forged and stolen button, untouched); and the RSS of the bot at the sample points.
The second taps of two-step actions are pressed live, replayed from old messages, forged and stolen;
`FuzzReport.confirmations` counts which of them acted.

Used by tests/test_chat_fuzz.py (10,000 updates) and bench/chat_fuzz.py (100,000).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sys
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.app import build_services
from bot.config import load_settings
from bot.sandbox import EmulatorEvent, TelegramEmulator
from db.session import Database
from tests import chat_fuzz_updates as gen
from tests.netguard.sitecustomize import child_pythonpath

BOT_TOKEN = "123456:FUZZ"
FERNET_KEY = "3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk="
BOT_USERNAME = "multibot_sandbox_bot"
FIRST_USER = 20_000
GROUPS = (-1_001_000_000_001, -1_001_000_000_002, -1_001_000_000_003, -4_000_000_001)
CHANNEL = -1_001_000_000_900
MAX_BOTS = 10
FOLLOW_THROUGH = 0.6  # how often a person shown a confirmation presses one of its buttons next
SLOW_MS = 5_000  # an update the bot took this long to handle is listed in the report
STOP_TIMEOUT = 180.0  # seconds the bot may take to stop on SIGTERM before it is killed (a failure)
REPO = Path(__file__).resolve().parents[1]

_DONE = re.compile(r"Update id=(\d+) is (?:handled|not handled)\. Duration (\d+) ms")
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (\w+) ")
_WARNING_LINE = re.compile(r"\b\w+Warning: ")

USER_KINDS = {  # kind -> weight (per person acting in a private chat)
    "button": 30,
    "command": 14,
    "text": 8,
    "number": 10,
    "forged_callback": 8,
    "forged_confirmation": 5,
    "two_step": 5,
    "replayed_button": 6,
    "stolen_button": 4,
    "inaccessible_button": 2,
    "inline_button": 2,
    "edited_private": 2,
    "minimal_private": 2,
    "no_data_callback": 1,
    "inline_query": 1,
    "my_chat_member": 1,
}
UPDATE_TYPE = {  # the update type of the kinds that are no "message"
    "channel_post": "channel_post",
    "edited_channel_post": "edited_channel_post",
    "edited_group": "edited_message",
    "group_my_chat_member": "my_chat_member",
}
GROUP_KINDS = {
    "group_command": 30,
    "group_text": 14,
    "anonymous_admin": 10,
    "channel_bot_in_group": 8,
    "channel_post": 10,
    "edited_channel_post": 4,
    "edited_group": 5,
    "group_button": 8,
    "group_my_chat_member": 3,
    "poison": 1,
}


@dataclass
class FuzzConfig:
    db_url: str
    workdir: Path
    updates: int = 10_000
    users: int = 50  # people acting
    victims: int = 5  # people who never act: the targets of forged and stolen buttons
    seed: int = 14
    rss_at: tuple[int, ...] = ()  # sample the bot's RSS when this many updates are handled
    idle_seconds: float = 0.0  # then wait this long and sample it once more
    # A stall detector (a bot that hangs never answers), not a latency limit: the fuzz is a flood (50
    # people with no pause between taps) that keeps the bot's event loop busy on 2 cores, and there a
    # stop or a delete (several write transactions, each queued behind the others on SQLite's one
    # writer) took up to 118 s in the 100,000-update run. The report prints the slowest updates.
    update_timeout: float = 300.0
    progress: Callable[[str], None] | None = None
    progress_every: int = 10_000
    bot_command: tuple[str, ...] = (sys.executable, "-m", "bot", "run")  # how the bot process is started


@dataclass
class FuzzReport:
    updates: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    replies: int = 0
    errors: list[str] = field(default_factory=list)  # ERROR records of the bot's log, with tracebacks
    warnings: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # updates the bot never reported handled
    invariant_failures: list[str] = field(default_factory=list)
    rss_kb: dict[int, int] = field(default_factory=dict)  # handled updates -> VmRSS of the bot
    idle_rss_kb: int | None = None
    confirmations: Counter[tuple[str, str, bool]] = field(default_factory=Counter)  # (action, how, acted)
    not_asked_for: Counter[str] = field(default_factory=Counter)  # update types the bot does not poll
    slow: list[tuple[int, str]] = field(default_factory=list)  # the slowest updates over SLOW_MS (ms, what)
    exit_code: int | None = None
    stop_seconds: float | None = None  # from SIGTERM to the bot's exit

    @property
    def failures(self) -> list[str]:
        out = [f"error in the bot's log: {e[:2000]}" for e in self.errors[:20]]
        out += [f"unanswered: {u}" for u in self.unanswered[:20]]
        out += [f"never handled: {u}" for u in self.lost[:20]]
        out += self.invariant_failures
        if self.exit_code not in (0, None):
            out.append(f"the bot exited with {self.exit_code}")
        return out

    def still_acting(self) -> list[str]:
        """The second taps that acted although the owner never saw them live (forged, replayed, stolen or
        on an inaccessible message), as "action (how)"."""
        return sorted({f"{a} ({how})" for (a, how, acted) in self.confirmations if acted and how != "live"})

    def summary(self) -> str:
        rss = ", ".join(f"{n:,}: {kb / 1024:.0f} MB" for n, kb in sorted(self.rss_kb.items()))
        idle = f"; after idle {self.idle_rss_kb / 1024:.0f} MB" if self.idle_rss_kb else ""
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds.items()))
        acting = "; ".join(self.still_acting()) or "none"
        live = Counter(a for (a, how, acted) in self.confirmations.elements() if how == "live" and acted)
        return "\n".join(
            [
                f"updates: {self.updates:,} ({len(self.kinds)} kinds)",
                f"kinds: {kinds}",
                f"exceptions: {len(self.errors)}",
                f"replies: {self.replies:,} (messages, edits and callback answers)",
                f"unanswered: {len(self.unanswered)}, never handled: {len(self.lost)}",
                f"not asked for by the bot (Telegram would not send them): {dict(self.not_asked_for)}",
                f"invariants: {'ok' if not self.invariant_failures else self.invariant_failures}",
                f"RSS of the bot after {rss}{idle}",
                f"forged/replayed/stolen confirmations acting: {acting}",
                f"confirmations pressed live that acted: {dict(sorted(live.items())) or 'none'}",
                f"slowest updates: {self.slow[:5] or 'none over 5 s'}",
                f"the bot stopped {self.stop_seconds or 0:.1f} s after SIGTERM, exit code {self.exit_code}",
            ]
        )


# --------------------------------------------------------------------------- the bot process


class BotProcess:
    """`python -m bot run` against the emulator: its log read line by line as it comes."""

    def __init__(
        self,
        emu: TelegramEmulator,
        db_url: str,
        workdir: Path,
        report: FuzzReport,
        command: tuple[str, ...] = (sys.executable, "-m", "bot", "run"),
    ) -> None:
        self.command = command
        self.emu = emu
        self.db_url = db_url
        self.workdir = workdir
        self.report = report
        self.proc: asyncio.subprocess.Process | None = None
        self.handled = 0
        self._finished: set[int] = set()
        self.durations: dict[int, int] = {}  # update id -> ms, until the fuzzer reads it
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._in_error = False

    async def start(self) -> None:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_BASE": self.emu.base_url,
            "DATABASE_URL": self.db_url,
            "ENCRYPTION_KEY": FERNET_KEY,
            "EXCHANGE_API_URL": "http://127.0.0.1:9",  # live mode reaches a closed port, never the internet
            "LOG_LEVEL": "INFO",
            "MAX_BOTS_PER_USER": str(MAX_BOTS),
            "PYTHONPATH": child_pythonpath(REPO),
            "PYTHONWARNINGS": "default",
        }
        self.proc = await asyncio.create_subprocess_exec(
            *self.command,
            cwd=self.workdir,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 20,
        )
        self._reader = asyncio.create_task(self._read_log())
        await self.emu.wait_until(
            lambda: self.emu.calls_to("getUpdates") or self.proc.returncode, timeout=120
        )

    async def _read_log(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        with (self.workdir / "bot.log").open("w", encoding="utf-8") as log_file:
            while line_bytes := await self.proc.stderr.readline():
                line = line_bytes.decode(errors="replace").rstrip("\n")
                log_file.write(line + "\n")
                self._on_line(line)

    def _on_line(self, line: str) -> None:
        record = _RECORD.match(line)
        if record is None:  # a traceback's line, or a warning printed by the warnings module
            if self._in_error:
                self.report.errors[-1] += "\n" + line
            elif _WARNING_LINE.search(line):
                self.report.warnings.append(line)
            return
        level = record.group(1)
        self._in_error = level in ("ERROR", "CRITICAL")
        if self._in_error:
            self.report.errors.append(line)
        elif level == "WARNING":
            self.report.warnings.append(line)
        done = _DONE.search(line)
        if done is None:
            return
        update_id = int(done.group(1))
        self.handled += 1
        self.durations[update_id] = int(done.group(2))
        waiter = self._waiters.pop(update_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        else:
            self._finished.add(update_id)

    async def wait_handled(self, update_id: int, timeout: float) -> bool:
        if update_id in self._finished:
            self._finished.discard(update_id)
            return True
        waiter = self._waiters[update_id] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self._waiters.pop(update_id, None)
            return False
        return True

    def rss_kb(self) -> int:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    async def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            started = asyncio.get_running_loop().time()
            try:  # a graceful stop waits for the backtests under way, which a loaded machine makes slow
                await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
            self.report.stop_seconds = asyncio.get_running_loop().time() - started
        if self._reader is not None:
            await self._reader
        return self.proc.returncode


# --------------------------------------------------------------------------- the database side


@dataclass
class Seeded:
    users: list[int]  # telegram ids of the people acting
    victims: list[int]
    bots_of: dict[int, list[int]]  # telegram id -> bot ids
    owners: dict[int, int]  # bot id -> users.id
    victim_rows: dict[int, tuple[Any, ...]]


BOT_COLUMNS = (
    "id, user_id, name, is_running, is_active, allocation_percent, symbol, max_leverage, max_positions, "
    "stop_loss_percent, take_profit_percent, telegram_notify"
)


async def seed(config: FuzzConfig) -> Seeded:
    """Users with an AI trend bot and a grid bot each; each victim's trend bot runs."""
    settings = load_settings(
        database_url=config.db_url, encryption_key=FERNET_KEY, max_bots_per_user=MAX_BOTS
    )
    services = build_services(settings)
    people = [FIRST_USER + i for i in range(config.users + config.victims)]
    bots_of: dict[int, list[int]] = {}
    try:
        for i, tg in enumerate(people):
            user = await services.accounts.register(
                telegram_id=tg, chat_id=tg, username=f"u{tg}", language_code="ko" if i % 3 == 0 else "en"
            )
            trend = await services.fleet.create_trend_bot(
                user.id, name=f"trend {tg}", symbol="BTCUSDT", allocation_percent="20"
            )
            grid = await services.fleet.create_grid_bot(
                user.id,
                name=f"grid {tg}",
                symbol="BTCUSDT",
                allocation_percent="20",
                lower_price="90000",
                upper_price="110000",
                grid_count=10,
                total_investment="1000",
            )
            bots_of[tg] = [trend.bot.id, grid.bot.id]
            if i >= config.users:
                await services.fleet.start(user.id, trend.bot.id)
    finally:
        await services.close()
    victims = people[config.users :]
    db = Database(config.db_url)
    try:
        rows = await _bot_rows(db)
    finally:
        await db.dispose()
    victim_ids = {b for tg in victims for b in bots_of[tg]}
    return Seeded(
        users=people[: config.users],
        victims=victims,
        bots_of=bots_of,
        owners={row[0]: row[1] for row in rows},
        victim_rows={row[0]: tuple(row) for row in rows if row[0] in victim_ids},
    )


async def _bot_rows(db: Database) -> list[tuple[Any, ...]]:
    async with db.read() as session:
        result = await session.execute(text(f"SELECT {BOT_COLUMNS} FROM bot_instances ORDER BY id"))
        return [tuple(str(v) if v is not None else None for v in row) for row in result]


async def user_state(db: Database, telegram_id: int) -> tuple[Any, ...]:
    """What a second tap can change for one user: bots running/active, manual trades, strategies, keys."""
    async with db.read() as session:
        bots = (
            await session.execute(
                text(
                    "SELECT b.id, b.is_running, b.is_active FROM bot_instances b JOIN users u "
                    "ON u.id = b.user_id WHERE u.telegram_id = :tg ORDER BY b.id"
                ),
                {"tg": telegram_id},
            )
        ).all()
        trades = (
            await session.execute(
                text(
                    "SELECT count(*) FROM trades t JOIN users u ON u.id = t.user_id "
                    "WHERE u.telegram_id = :tg AND t.trade_source = 'manual'"
                ),
                {"tg": telegram_id},
            )
        ).scalar_one()
        strategies = (
            await session.execute(
                text(
                    "SELECT count(*) FROM strategies s JOIN users u ON u.id = s.user_id "
                    "WHERE u.telegram_id = :tg"
                ),
                {"tg": telegram_id},
            )
        ).scalar_one()
        account = (
            await session.execute(
                text("SELECT trading_mode, api_key_enc IS NULL FROM users WHERE telegram_id = :tg"),
                {"tg": telegram_id},
            )
        ).one()
    return (tuple(map(tuple, bots)), trades, strategies, tuple(account))


async def check_invariants(db: Database, seeded: Seeded) -> list[str]:
    failures: list[str] = []
    rows = await _bot_rows(db)
    by_id = {row[0]: row for row in rows}
    allocated: Counter[str] = Counter()
    active: Counter[str] = Counter()
    from decimal import Decimal

    for row in rows:
        if row[4] in ("1", "True", "true"):
            allocated[row[1]] += Decimal(row[5])  # type: ignore[assignment]
            active[row[1]] += 1
    failures += [f"user {u} allocates {p} % (> 100)" for u, p in allocated.items() if p > 100]
    failures += [f"user {u} has {n} active bots (> {MAX_BOTS})" for u, n in active.items() if n > MAX_BOTS]
    for bot_id, owner in seeded.owners.items():
        if bot_id in by_id and by_id[bot_id][1] != str(owner):
            failures.append(f"bot {bot_id} changed owner: {owner} -> {by_id[bot_id][1]}")
    for bot_id, before in seeded.victim_rows.items():
        if by_id.get(bot_id) != before:
            failures.append(f"a victim's bot changed: {before} -> {by_id.get(bot_id)}")
    for tg in seeded.victims:
        bots, trades, _, _ = await user_state(db, tg)
        if trades:
            failures.append(f"victim {tg} has {trades} manual trades")
        if {b[0] for b in bots} != set(seeded.bots_of[tg]):
            failures.append(f"victim {tg}'s bots changed: {bots}")
    return failures


# --------------------------------------------------------------------------- the fuzzer


@dataclass
class Person:
    telegram_id: int
    rng: random.Random
    lang: str
    seen: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=200))  # (message, data)
    messages: int = 0  # raw message ids of this person's updates made without the transcript


class Fuzz:
    def __init__(self, config: FuzzConfig, emu: TelegramEmulator, seeded: Seeded) -> None:
        self.config = config
        self.emu = emu
        self.seeded = seeded
        self.report = FuzzReport()
        self.bot = BotProcess(emu, config.db_url, config.workdir, self.report, config.bot_command)
        self.db = Database(config.db_url)
        self.budget = config.updates
        self.rss_at = set(config.rss_at)
        self.activity: Counter[int] = Counter()  # chat id -> bot messages, photos and edits
        self.answered: set[str] = set()
        self.classes = gen.callback_classes()
        self.people = {
            tg: Person(tg, random.Random(config.seed * 1_000_003 + tg), "ko" if i % 3 == 0 else "en")
            for i, tg in enumerate(seeded.users)
        }
        self.victim_bots = [b for tg in seeded.victims for b in seeded.bots_of[tg]]
        self.raw_ids = iter(range(10_000_000, 10**9))
        self.bot_user = {"id": 123456, "is_bot": True, "first_name": "Multibot", "username": BOT_USERNAME}
        self._stop = False

    # ---- running

    async def run(self) -> FuzzReport:
        for chat_id in GROUPS:
            self.emu.add_chat(chat_id, kind="group" if chat_id > -1_000_000_000_000 else "supergroup")
        self.emu.add_chat(CHANNEL, kind="channel", title="Signals")
        for telegram_id in self.seeded.victims:  # they opened the bot once: their alerts arrive
            self.emu.add_user(telegram_id)
        unsubscribe = self.emu.subscribe(self._on_event)
        await self.bot.start()
        try:
            closer, *acting = list(self.people.values())[::-1]
            actors = [self._person(p) for p in acting]
            actors += [
                self._groups(random.Random(self.config.seed * 7 + g))
                for g in range(max(1, len(self.people) // 10))
            ]
            await asyncio.gather(*actors)
            await self._closing_scene(closer)
            if self.report.updates in self.rss_at:
                self.report.rss_kb[self.report.updates] = self.bot.rss_kb()
            if self.config.idle_seconds:
                await asyncio.sleep(self.config.idle_seconds)
                self.report.idle_rss_kb = self.bot.rss_kb()
        finally:
            self.report.exit_code = await self.bot.stop()
            unsubscribe()
        self.report.invariant_failures += await check_invariants(self.db, self.seeded)
        await self.db.dispose()
        return self.report

    def _take(self) -> bool:
        if self._stop or self.budget <= 0:
            return False
        self.budget -= 1
        if self.report.updates in self.rss_at:  # that many updates pushed (and all but a few handled)
            self.report.rss_kb[self.report.updates] = self.bot.rss_kb()
        self.report.updates += 1
        every = self.config.progress_every
        if self.config.progress and self.report.updates % every == 0:
            self.config.progress(
                f"{self.report.updates:,} updates pushed, {self.bot.handled:,} handled, "
                f"RSS {self.bot.rss_kb() / 1024:.0f} MB, {len(self.report.errors)} exceptions"
            )
        return True

    def _on_event(self, event: EmulatorEvent) -> None:
        if event.kind in ("message", "photo", "document", "edit") and event.chat_id is not None:
            self.activity[event.chat_id] += 1
            self.report.replies += 1
            person = self.people.get(event.chat_id)
            if person is not None and event.message_id is not None:
                for row in (event.reply_markup or {}).get("inline_keyboard") or []:
                    for button in row:
                        if "callback_data" in button:
                            person.seen.append((event.message_id, button["callback_data"]))
        elif event.kind == "callback_answer" and event.callback_answer is not None:
            self.answered.add(event.callback_answer.callback_query_id)
            self.report.replies += 1

    async def _handled(self, what: str, update_type: str = "message") -> bool:
        """Wait until the bot handled the newest update; False when it never came to a handler (lost, or
        of a type the bot does not ask getUpdates for: Telegram would not send it, the emulator drops it)."""
        update_id = self.emu.last_update_id
        allowed = self.emu.allowed_updates
        if allowed is not None and update_type not in allowed:
            self.report.not_asked_for[update_type] += 1
            with contextlib.suppress(TimeoutError):
                await self.emu.wait_until(lambda: not self.emu.is_pending(update_id), timeout=10)
            return False
        if await self.bot.wait_handled(update_id, self.config.update_timeout):
            took = self.bot.durations.pop(update_id, 0)
            if took >= SLOW_MS:
                self.report.slow.append((took, f"update {update_id} ({what})"))
                self.report.slow = sorted(self.report.slow, reverse=True)[:20]
            return True
        self.report.lost.append(f"update {update_id} ({what})")
        if len(self.report.lost) >= 10 or self.bot.proc is None or self.bot.proc.returncode is not None:
            self._stop = True
        return False

    # ---- people in their private chats

    async def _person(self, person: Person) -> None:
        kinds, weights = list(USER_KINDS), list(USER_KINDS.values())
        await self._say(person, "/start", "command")
        while self._take():
            kind = person.rng.choices(kinds, weights)[0]
            if self._asked_to_confirm(person) and person.rng.random() < FOLLOW_THROUGH:
                kind = "button"  # someone who asked to stop a bot mostly goes on to confirm or cancel
            self.report.kinds[kind] += 1
            await getattr(self, f"_do_{kind}")(person)

    async def _closing_scene(self, person: Person) -> None:
        """One person who kept out of the crowd goes through each two-step action once, confirming on the
        screen just shown, so that every run proves a live confirmation acts (the crowd's random taps
        reach one only by chance). Not counted in the updates."""
        grid = self.seeded.bots_of[person.telegram_id][1]
        await self._say(person, "/bots", "closing")
        for first in (f"b:start:{grid}", f"b:stop:{grid}", f"b:start:{grid}", "m:stopall", f"b:del:{grid}"):
            message_id = self._last_message(person)
            assert message_id is not None, "the bot never answered the closing scene's /bots"
            await self._press(person, message_id, first, "closing", how="live")
            for message in self.emu.bot_messages(person.telegram_id)[-2:][::-1]:
                ok = [
                    b["callback_data"]
                    for b in message.buttons
                    if str(b.get("callback_data")).startswith("ok:")
                ]
                if ok:
                    await self._press(person, message.message_id, ok[0], "closing", how="live")
                    break

    def _asked_to_confirm(self, person: Person) -> bool:
        messages = self.emu.bot_messages(person.telegram_id)
        return bool(messages) and any(
            gen.confirmation_of(b.get("callback_data")) for b in messages[-1].buttons
        )

    async def _say(self, person: Person, message: str, kind: str) -> None:
        before = self.activity[person.telegram_id]
        await self.emu.push_message(person.telegram_id, message, language_code=person.lang)
        if await self._handled(f"{kind} {message[:40]!r}") and self.activity[person.telegram_id] == before:
            self.report.unanswered.append(f"{kind} from {person.telegram_id}: {message[:80]!r}")

    async def _press(
        self,
        person: Person,
        message_id: int,
        data: str | None,
        kind: str,
        *,
        how: str,
        inaccessible: bool = False,
    ) -> None:
        action = gen.confirmation_of(data)
        before = await user_state(self.db, person.telegram_id) if action else None
        query_id = await self.emu.press_button(
            person.telegram_id, message_id, data, forged=True, inaccessible=inaccessible
        )
        if await self._handled(f"{kind} {data!r}", "callback_query"):
            if query_id not in self.answered:
                self.report.unanswered.append(f"{kind} from {person.telegram_id}: {data!r}")
            self.answered.discard(query_id)
        if action is not None:
            acted = await user_state(self.db, person.telegram_id) != before
            self.report.confirmations[(action, "inaccessible" if inaccessible else how, acted)] += 1

    def _last_message(self, person: Person) -> int | None:
        messages = self.emu.bot_messages(person.telegram_id)
        return messages[-1].message_id if messages else None

    async def _do_button(self, person: Person) -> None:
        with_buttons = [m for m in self.emu.bot_messages(person.telegram_id)[-4:] if m.buttons]
        callbacks = [
            (m.message_id, b["callback_data"])
            for m in with_buttons[-1:]
            for b in m.buttons
            if "callback_data" in b
        ]
        if not callbacks or person.rng.random() < 0.05:
            await self._say(person, person.rng.choice(("/start", "/menu", "/bots", "/newbot")), "command")
            return
        message_id, data = person.rng.choice(callbacks)
        await self._press(person, message_id, data, "button", how="live")

    async def _do_command(self, person: Person) -> None:
        await self._say(person, gen.random_command(person.rng, BOT_USERNAME), "command")

    async def _do_text(self, person: Person) -> None:
        await self._say(person, gen.random_text(person.rng), "text")

    async def _do_number(self, person: Person) -> None:
        await self._say(person, gen.random_number(person.rng), "number")

    def _ids(self, person: Person) -> list[int]:
        return [*self.seeded.bots_of[person.telegram_id], *self.victim_bots]

    async def _do_forged_callback(self, person: Person) -> None:
        message_id = self._last_message(person)
        if message_id is None:
            await self._do_command(person)
            return
        cls = person.rng.choice(self.classes)
        data = gen.forge(person.rng, cls, self._ids(person))
        if person.rng.random() < 0.3:
            data = gen.mutate(person.rng, data)
        await self._press(person, message_id, data, "forged_callback", how="forged")

    async def _do_two_step(self, person: Person) -> None:
        """The first tap of a two-step action on one of the person's own bots (or a start of their grid bot,
        so that there is something to stop: a trend bot's start trains its model, too slow to do often on
        2 cores), as from their card or a menu: its confirmation is then shown to them, live."""
        own = self.seeded.bots_of[person.telegram_id]
        trend, grid = own
        data = person.rng.choice(
            (
                f"b:start:{grid}",
                f"b:stop:{grid}",
                f"b:stop:{grid}",
                *(f"b:del:{b}" for b in own),
                f"b:close:{trend}",
                "m:stopall",
                "k:clear",
                "k:live",
                "k:paper",
            )
        )
        message_id = self._last_message(person)
        if message_id is None:
            await self._do_command(person)
            return
        await self._press(person, message_id, data, "two_step", how="live")

    async def _do_forged_confirmation(self, person: Person) -> None:
        """A second tap nobody showed: on the person's own bots (would it act?) or on a victim's."""
        message_id = self._last_message(person)
        if message_id is None:
            await self._do_command(person)
            return
        rng = person.rng
        bot_id = rng.choice(
            self.seeded.bots_of[person.telegram_id] if rng.random() < 0.7 else self.victim_bots
        )
        token = gen.forged_token(rng) if rng.random() < 0.7 else rng.choice(("", "x", "0", "a" * 12))
        action = rng.choice([a for (prefix, a) in gen.CONFIRMATIONS if prefix == "ok"])
        data = rng.choice(
            (
                f"ok:{action}:{token}",
                f"ok:{action}:{token}",
                f"ok:{action}:{token}",
                f"b:stopok:{bot_id}",
                f"b:delok:{bot_id}",
                f"b:closeok:{bot_id}",
                "tr:ok:BTCUSDT:buy:0.001",
                "tr:ok:BTCUSDT:sell:0.001",
                "ks:ok",
                "k:clearok:bitget",
                "k:live:bitget",
                "k:paper:bitget",
                f"sg:delok:{rng.randint(1, 200)}",
            )
        )
        await self._press(person, message_id, data, "forged_confirmation", how="forged")

    async def _do_replayed_button(self, person: Person) -> None:
        """A button seen earlier on a message that no longer carries it (an old screen tapped again)."""
        chat = person.telegram_id
        live = {
            (m.message_id, b.get("callback_data")) for m in self.emu.bot_messages(chat) for b in m.buttons
        }
        old = [
            (mid, data) for mid, data in person.seen if (mid, data) not in live and self._exists(chat, mid)
        ]
        if not old:
            await self._do_button(person)
            return
        message_id, data = person.rng.choice(old)
        await self._press(person, message_id, data, "replayed_button", how="replayed")

    def _exists(self, chat_id: int, message_id: int) -> bool:
        try:
            return not self.emu.message(chat_id, message_id).deleted
        except LookupError:
            return False

    async def _do_stolen_button(self, person: Person) -> None:
        """Another person's real button pressed by this one (a stolen or guessed callback)."""
        other = self.people[person.rng.choice(list(self.people))]
        message_id = self._last_message(person)
        if not other.seen or message_id is None or other is person:
            await self._do_forged_callback(person)
            return
        _, data = person.rng.choice(list(other.seen))
        await self._press(person, message_id, data, "stolen_button", how="stolen")

    async def _do_inaccessible_button(self, person: Person) -> None:
        old = [(mid, data) for mid, data in person.seen if self._exists(person.telegram_id, mid)]
        if not old:
            await self._do_forged_callback(person)
            return
        message_id, data = person.rng.choice(old)
        await self._press(
            person, message_id, data, "inaccessible_button", how="inaccessible", inaccessible=True
        )

    async def _do_inline_button(self, person: Person) -> None:
        data = person.rng.choice([d for _, d in person.seen] or ["m:main"])
        query_id = await self.emu.press_inline_button(
            person.telegram_id, f"inline{person.rng.randint(1, 10**9)}", data
        )
        if await self._handled("inline_button") and query_id not in self.answered:
            self.report.unanswered.append(f"inline_button from {person.telegram_id}: {data!r}")
        self.answered.discard(query_id)

    async def _do_no_data_callback(self, person: Person) -> None:
        message_id = self._last_message(person)
        if message_id is None:
            await self._do_command(person)
            return
        await self._press(person, message_id, None, "no_data_callback", how="forged")

    async def _do_edited_private(self, person: Person) -> None:
        chat = {"id": person.telegram_id, "type": "private", "first_name": f"User{person.telegram_id}"}
        payload = gen.message_payload(
            chat,
            next(self.raw_ids),
            gen.random_text(person.rng, 200),
            sender=gen.human(person.telegram_id),
            edited=True,
        )
        self.emu.push_update("edited_message", payload)
        await self._handled("edited_private", "edited_message")

    async def _do_minimal_private(self, person: Person) -> None:
        """A private message with only the fields Telegram must send: no text, or no sender at all."""
        chat = {"id": person.telegram_id, "type": "private"}
        rng = person.rng
        sender = None if rng.random() < 0.3 else gen.human(person.telegram_id, minimal=True)
        text_ = rng.choice((None, None, "/start", gen.random_text(rng, 40)))
        before = self.activity[person.telegram_id]
        self.emu.push_update("message", gen.message_payload(chat, next(self.raw_ids), text_, sender=sender))
        if await self._handled("minimal_private") and self.activity[person.telegram_id] == before:
            self.report.unanswered.append(
                f"minimal_private from {person.telegram_id}: {text_!r} sender={sender}"
            )

    async def _do_inline_query(self, person: Person) -> None:
        self.emu.push_update(
            "inline_query",
            gen.inline_query(
                gen.human(person.telegram_id), gen.random_text(person.rng, 50), next(self.raw_ids)
            ),
        )
        await self._handled("inline_query", "inline_query")

    async def _do_my_chat_member(self, person: Person) -> None:
        chat = {"id": person.telegram_id, "type": "private", "first_name": "U"}
        self.emu.push_update(
            "my_chat_member", gen.my_chat_member(chat, gen.human(person.telegram_id), self.bot_user)
        )
        await self._handled("my_chat_member", "my_chat_member")

    # ---- groups and channels

    async def _groups(self, rng: random.Random) -> None:
        kinds, weights = list(GROUP_KINDS), list(GROUP_KINDS.values())
        members = list(self.people)
        while self._take():
            kind = rng.choices(kinds, weights)[0]
            self.report.kinds[kind] += 1
            await self._group_update(rng, kind, rng.choice(GROUPS), rng.choice(members))

    async def _group_update(self, rng: random.Random, kind: str, chat_id: int, member: int) -> None:
        chat = dict(self.emu._chats[chat_id].info)
        channel = dict(self.emu._chats[CHANNEL].info)
        if kind == "group_command":
            await self.emu.push_message(member, gen.random_command(rng, BOT_USERNAME)[:4000], chat_id=chat_id)
        elif kind == "group_text":
            await self.emu.push_message(member, gen.random_text(rng), chat_id=chat_id)
        elif kind in ("anonymous_admin", "channel_bot_in_group"):
            sender, sender_chat = (
                (gen.ANONYMOUS_ADMIN, chat) if kind == "anonymous_admin" else (gen.CHANNEL_BOT, channel)
            )
            words = rng.choice((gen.random_command(rng, BOT_USERNAME), gen.random_text(rng, 300)))
            payload = gen.message_payload(
                chat, next(self.raw_ids), words, sender=sender, sender_chat=sender_chat
            )
            self.emu.push_update("message", payload)
        elif kind in ("channel_post", "edited_channel_post"):
            words = rng.choice((gen.random_command(rng, BOT_USERNAME), gen.random_text(rng, 300)))
            payload = gen.message_payload(
                channel,
                next(self.raw_ids),
                words,
                sender=None,
                sender_chat=channel,
                edited=kind.startswith("edited"),
            )
            self.emu.push_update(kind, payload)
        elif kind == "edited_group":
            payload = gen.message_payload(
                chat, next(self.raw_ids), gen.random_text(rng, 200), sender=gen.human(member), edited=True
            )
            self.emu.push_update("edited_message", payload)
        elif kind == "group_button":
            ours = [m for m in self.emu.bot_messages(chat_id)[-5:]]
            if not ours:
                await self.emu.push_message(member, f"/start@{BOT_USERNAME}", chat_id=chat_id)
            else:
                data = gen.forge(rng, rng.choice(self.classes), self.victim_bots)
                query_id = await self.emu.press_button(
                    member, ours[-1].message_id, data, forged=True, chat_id=chat_id
                )
                if await self._handled(kind) and query_id not in self.answered:
                    self.report.unanswered.append(f"group_button from {member}: {data!r}")
                self.answered.discard(query_id)
                return
        elif kind == "group_my_chat_member":
            self.emu.push_update("my_chat_member", gen.my_chat_member(chat, gen.human(member), self.bot_user))
        elif kind == "poison":
            update_type, payload = gen.poison(rng)
            self.emu.push_update(update_type, payload)
            await self._handled(kind, update_type)
            return
        await self._handled(kind, UPDATE_TYPE.get(kind, "message"))


async def run_fuzz(config: FuzzConfig) -> FuzzReport:
    """Seed the database, start the emulator and the bot, fuzz, stop, check."""
    seeded = await seed(config)
    # callback queries live 2 minutes here: this is no latency test, and a loaded machine is slow
    async with TelegramEmulator(
        max_logged_calls=2_000, max_messages_per_chat=60, callback_query_ttl=120
    ) as emu:
        return await Fuzz(config, emu, seeded).run()


async def _main_for_debug() -> None:  # pragma: no cover - `python -m tests.chat_fuzz DB_URL DIR N`
    updates = int(sys.argv[3])
    config = FuzzConfig(
        db_url=sys.argv[1],
        workdir=Path(sys.argv[2]),
        updates=updates,
        progress=print,
        progress_every=1000,
        rss_at=tuple(range(5000, updates + 1, 5000)),
        bot_command=tuple(sys.argv[4:]) or (sys.executable, "-m", "bot", "run"),
    )
    report = await run_fuzz(config)
    print(report.summary())
    for failure in report.failures:
        print(failure)


if __name__ == "__main__":  # pragma: no cover
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main_for_debug())
