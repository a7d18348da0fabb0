"""N paper grid bots in one process, each ticking every second through the real scheduler, on a
replay feed (1 candle per second of BTC/USDT 1m, engine/data). Prints tick lateness p50/p99, CPU
and RSS per bot.

    .venv/bin/python bench/fleet.py 1000 [--seconds 20]

Lateness of a tick = when it started minus when it was due (its slot: start + jitter + k s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.accounts import Accounts
from bot.engine_service import EngineService
from bot.fleet import Fleet
from db.migrate import upgrade_head
from db.session import Database
from engine.credentials import CredentialCipher
from engine.feeds import DATA_DIR, ReplayFeed
from engine.paper import PaperVenue


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def main(n: int, seconds: float) -> None:
    import logging

    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    path = Path(tempfile.mkdtemp()) / "fleet.db"
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_head(url)
    db = Database(url)
    fleet = Fleet(db, max_bots_per_user=10)
    accounts = Accounts(db, CredentialCipher(b"3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk="))
    t = time.monotonic()
    ids = []
    for u in range((n + 9) // 10):
        user = await accounts.register(telegram_id=8_000_000_000 + u, chat_id=8_000_000_000 + u)
        for j in range(min(10, n - 10 * u)):
            lower = 105000 + 20 * ((u + j) % 20)
            created = await fleet.create_grid_bot(
                user.id,
                name=f"g{j}",
                symbol="BTCUSDT",
                allocation_percent="10",
                lower_price=lower,
                upper_price=lower + 1200,
                grid_count=10,
                total_investment="800",
            )
            ids.append(created.bot.id)
    print(f"set-up: {n} bots in {time.monotonic() - t:.1f} s")

    venue = PaperVenue(db)
    feed = ReplayFeed.from_file(
        "BTC/USDT", DATA_DIR / "btcusdt_1m_sample.csv.gz", speed=1.0, sink=venue.on_price
    )
    service = EngineService(db, fleet, venue=venue, interval=1.0)
    lateness: list[float] = []
    origin: dict[int, float] = {}
    inner = service.run_tick

    async def measured(bot_id: int) -> None:
        now = time.monotonic()
        base = origin.get(bot_id)
        if base is not None:
            lateness.append(max(0.0, (now - base + 0.5) % 1.0 - 0.5))  # early by a hair = on time
        else:
            origin[bot_id] = now - 0.0
        await inner(bot_id)

    service.scheduler.tick = measured
    await service.start(feeds=[feed])
    await asyncio.sleep(0.5)
    rss_before = rss_mb()
    t = time.monotonic()
    for bot_id in ids:  # through the fleet, as the chat does
        async with db.read() as session:
            from db.models import BotInstance

            user_id = (await session.get(BotInstance, bot_id)).user_id
        await fleet.start(user_id, bot_id)
    print(f"started: {n} bots in {time.monotonic() - t:.1f} s")
    await asyncio.sleep(3)  # first placements
    # slots are start + jitter + k s: measure from the first tick on (the origin above)
    lateness.clear()
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    rss_after = rss_mb()
    await service.shutdown()
    await db.dispose()
    samples = sorted(lateness)
    if not samples:
        print("no ticks measured")
        return

    def pct(p: float) -> float:
        return samples[min(len(samples) - 1, int(p * len(samples)))] * 1000

    expected = n * seconds
    print(
        f"N={n}: ticks {len(samples)} ({len(samples) / expected:.0%} of {expected:.0f} due), "
        f"lateness p50 {pct(0.5):.1f} ms p99 {pct(0.99):.1f} ms, CPU {cpu:.0%} of one core, "
        f"RSS {rss_after:.0f} MB, {(rss_after - rss_before) / n * 1024:.0f} KB per bot, "
        f"feed at candle {feed.position // 4}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("bots", type=int, nargs="?", default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(main(args.bots, args.seconds))
