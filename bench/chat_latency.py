"""Update-to-reply latency and throughput of the chat, next to a bare aiogram echo bot.

Both bots long-poll the same local Telegram Bot API emulator in this process; multibot runs on a SQLite
file with every simulated user owning three bots. Updates arrive at a fixed rate (50 and 200 per second)
spread over many users; latency is the time from the update entering the emulator to the bot's first
answer in that chat (a sent or edited message). Prints p50/p99 and throughput per scenario and the
p99 ratio multibot / echo (target: within 1.3x).

    .venv/bin/python bench/chat_latency.py [--seconds 10] [--users 200] [--rates 50,200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_bot, build_dispatcher, build_services, tune_gc
from bot.config import Settings
from bot.sandbox.emulator import TelegramEmulator
from bot.sandbox.records import EmulatorEvent
from db.migrate import upgrade_head
from handlers.callbacks import BotAction, BotCD

FIRST_USER = 10_000


def echo_dispatcher() -> Dispatcher:
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @router.callback_query()
    async def edit(cq: CallbackQuery) -> None:
        await cq.message.edit_text(f"pressed {cq.data}")  # type: ignore[union-attr]
        await cq.answer()

    dp = Dispatcher()
    dp.include_router(router)
    return dp


class Probe:
    """Time from each pushed update to the bot's first answer in its chat."""

    def __init__(self, emulator: TelegramEmulator) -> None:
        self.waiting: dict[int, float] = {}
        self.latencies: list[float] = []
        emulator.subscribe(self._on_event)

    def _on_event(self, event: EmulatorEvent) -> None:
        if event.kind in ("message", "edit") and event.chat_id in self.waiting:
            self.latencies.append(event.at - self.waiting.pop(event.chat_id))

    def start(self, chat_id: int) -> None:
        self.waiting[chat_id] = time.monotonic()


async def drive(
    emulator: TelegramEmulator,
    probe: Probe,
    users: list[int],
    rate: float,
    seconds: float,
    send: Callable[[int], Awaitable[None]],
) -> tuple[list[float], float]:
    """Push `rate` updates/s round-robin over idle users for `seconds`; returns latencies and answers/s."""
    probe.latencies.clear()
    cpu_before = time.process_time()
    interval = 1.0 / rate
    started = time.monotonic()
    sent = 0
    index = 0
    while (now := time.monotonic()) - started < seconds:
        due = started + sent * interval
        if now < due:
            await asyncio.sleep(due - now)
        for _ in range(len(users)):  # the next user with no update in flight
            user = users[index % len(users)]
            index += 1
            if user not in probe.waiting:
                break
        else:
            await asyncio.sleep(interval)
            continue
        probe.start(user)
        await send(user)
        sent += 1
    deadline = time.monotonic() + 10
    while probe.waiting and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - started
    print(
        f"  (process CPU {100 * (time.process_time() - cpu_before) / elapsed:.0f} % of one core)", flush=True
    )
    if probe.waiting:
        print(f"  ({len(probe.waiting)} of {sent} updates got no answer)", flush=True)
    return list(probe.latencies), len(probe.latencies) / elapsed


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_echo(
    users: list[int], rates: list[float], seconds: float
) -> dict[tuple[str, float], list[float]]:
    results: dict[tuple[str, float], list[float]] = {}
    async with TelegramEmulator() as emulator:
        bot = Bot(
            "123456:ECHO",
            session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)),
            default=DefaultBotProperties(parse_mode="HTML"),
        )
        dp = echo_dispatcher()
        await bot.delete_webhook()
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False))
        probe = Probe(emulator)
        last: dict[int, int] = {}

        async def text(user: int) -> None:
            message = await emulator.push_message(user, "/bots")
            last[user] = message["message_id"]

        presses: dict[int, int] = {}

        async def button(user: int) -> None:  # a new text each time: Telegram refuses an identical edit
            target = emulator.bot_messages(user)[-1].message_id
            presses[user] = presses.get(user, 0) + 1
            await emulator.press_button(user, target, f"b:card:{presses[user]}", forged=True)

        for user in users:  # one bot message per chat to press buttons on
            probe.start(user)
            await text(user)
        while probe.waiting:
            await asyncio.sleep(0.01)
        tune_gc()  # the same process-wide collector settings multibot's start-up applies
        for rate in rates:
            for name, send in (("/bots", text), ("card button", button)):
                latencies, throughput = await drive(emulator, probe, users, rate, seconds, send)
                results[(name, rate)] = latencies
                print(
                    f"echo      {name:12s} {rate:5.0f}/s  p50 {pct(latencies, 0.5):7.1f} ms  "
                    f"p99 {pct(latencies, 0.99):7.1f} ms  {throughput:6.1f} answers/s",
                    flush=True,
                )
        await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()
    return results


async def run_multibot(
    users: list[int], rates: list[float], seconds: float
) -> dict[tuple[str, float], list[float]]:
    results: dict[tuple[str, float], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade_head(url)
        async with TelegramEmulator() as emulator:
            settings = Settings(
                database_url=url,
                telegram_bot_token=SecretStr("123456:BENCH"),
                telegram_api_base=emulator.base_url,
                encryption_key_file=Path(tmp) / "key",
                max_bots_per_user=10,
            )
            services = build_services(settings)
            cards_of: dict[int, list[int]] = {}
            for user in users:
                account = await services.accounts.register(
                    telegram_id=user, chat_id=user, username=f"u{user}"
                )
                for k in range(3):
                    change = await services.fleet.create_trend_bot(
                        account.id, name=f"bot {k}", symbol="BTCUSDT", allocation_percent="10"
                    )
                    cards_of.setdefault(user, []).append(change.bot.id)
            bot = build_bot(settings)
            dp = build_dispatcher(services)
            await bot.delete_webhook()
            polling = asyncio.create_task(
                dp.start_polling(bot, handle_signals=False, close_bot_session=False)
            )
            probe = Probe(emulator)

            async def text(user: int) -> None:
                await emulator.push_message(user, "/bots")

            presses: dict[int, int] = {}

            async def button(user: int) -> None:  # alternate two cards: an identical edit is refused
                target = emulator.bot_messages(user)[-1].message_id
                presses[user] = presses.get(user, 0) + 1
                data = BotCD(action=BotAction.card, bot_id=cards_of[user][presses[user] % 2]).pack()
                await emulator.press_button(user, target, data, forged=True)

            for user in users:
                probe.start(user)
                await text(user)
            while probe.waiting:
                await asyncio.sleep(0.01)
            tune_gc()  # as bot.app.run does once start-up is over
            for rate in rates:
                for name, send in (("/bots", text), ("card button", button)):
                    latencies, throughput = await drive(emulator, probe, users, rate, seconds, send)
                    results[(name, rate)] = latencies
                    print(
                        f"multibot  {name:12s} {rate:5.0f}/s  p50 {pct(latencies, 0.5):7.1f} ms  "
                        f"p99 {pct(latencies, 0.99):7.1f} ms  {throughput:6.1f} answers/s",
                        flush=True,
                    )
            await dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
            await bot.session.close()
            await services.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--users", type=int, default=200, help="simulated users")
    parser.add_argument("--rates", default="50,200", help="updates per second, comma-separated")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    users = list(range(FIRST_USER, FIRST_USER + args.users))
    echo = await run_echo(users, rates, args.seconds)
    multibot = await run_multibot(users, rates, args.seconds)
    print("\np99 ratio multibot / echo (target <= 1.3):")
    for key in echo:
        ratio = pct(multibot[key], 0.99) / pct(echo[key], 0.99)
        print(
            f"  {key[0]:12s} {key[1]:5.0f}/s  {ratio:5.2f}x  "
            f"(p50 {pct(multibot[key], 0.5):.1f} vs {pct(echo[key], 0.5):.1f} ms)"
        )
    print(f"\n{len(users)} users, {args.seconds:.0f} s per scenario")


if __name__ == "__main__":
    asyncio.run(main())
