"""N paper grid bots in one process, each ticking every second through the real scheduler and the
engine service (error policy included), on a replay feed (BTC/USDT 1m from engine/market_data/data at
`--speed` candles per second, 1 = the app's default), on a SQLite file database as in the embedded
default, or with `--database-url` on a PostgreSQL server as in production. Prints set-up and
start-up times, ticks run vs due, tick lateness p50/p99 over ALL due ticks, fills, CPU and RSS per bot.

    .venv/bin/python bench/fleet.py 1000 [--seconds 20] [--warmup 5] [--template /tmp/fleet-1000.db]
                                         [--database-url postgresql+asyncpg://user@host:port/postgres]
                                         [--profile out.prof]

* Bots: 10 per user (the fleet's limit), grids of 10 intervals over 1,200 USDT around the replay's
  price, created and started through the fleet service as the chat does (one `Fleet.start` each).
* `--template T` (a file; with `--database-url` a database name on that server): the first run
  creates the bots, starts them through the fleet (both timed), waits until every grid is placed
  (and 5 s more, for the last orders to reach the venue), shuts the services down and keeps a copy
  of the database as T, then measures in a new process. Every run with T measures a copy of it:
  the bots are resumed at start-up as after a restart.
* On PostgreSQL the bench works in a database of its own (`fleet_bench_<pid>`), dropped at the end.
* Due ticks: a bot scheduled with phase p is due at p + k s. Every due time inside the measurement
  window counts. Its lateness is the time from the due time to the first tick of that bot starting
  at or after it; a due tick with no tick starting within its interval (skipped because the previous
  one still ran, or the loop was too busy) is a missed tick and counts late by the time until the
  bot's next tick started (so at least the interval; until the end of the grace period if none).
* CPU: process CPU time / wall time over the window (1.0 = one core; the PostgreSQL server's is not
  in it); RSS per bot: growth of RSS from before the first bot was created (or copied) to the end,
  divided by N.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import cProfile
import logging
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from sqlalchemy import func, make_url, select

from bot.app import tune_gc
from bot.engine_service import EngineService
from bot.services.accounts import Accounts
from bot.services.fleet import Fleet
from db.migrate import upgrade_head
from db.models import BotInstance, PaperOrder, Trade
from db.session import Database
from engine.market_data.feeds import DATA_DIR, ReplayFeed
from engine.venues.live.credentials import CredentialCipher
from engine.venues.paper.venue import PaperVenue

KEY = b"3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk="


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def create_bots(db: Database, fleet: Fleet, n: int) -> list[tuple[int, int]]:
    accounts = Accounts(db, CredentialCipher(KEY))
    out = []
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
            out.append((user.id, created.bot.id))
    return out


async def counts(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        trades = (await session.execute(select(func.count()).select_from(Trade))).scalar_one()
        orders = (await session.execute(select(func.count()).select_from(PaperOrder))).scalar_one()
    return trades, orders


def phase_of(service: EngineService, bot_id: int) -> float:
    """The bot's due times are phase + k x interval (unix seconds)."""
    scheduler = service.scheduler
    phase = getattr(scheduler, "phase", None)
    if phase is not None:
        return phase(bot_id)
    job = scheduler.scheduler.get_job(f"bot:{bot_id}")  # one APScheduler job per bot: its next run
    return job.next_run_time.timestamp()


def _backup(source: Path, target: Path) -> None:
    """A consistent copy of the live SQLite database (the backup API; the engine keeps writing)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def percentile(samples: list[float], p: float) -> float:
    return samples[min(len(samples) - 1, int(p * len(samples)))] if samples else float("nan")


async def _pg_admin(url: str, sql: str, *args: object) -> object:
    """Run one statement on the server of `url`, outside a transaction (as CREATE/DROP DATABASE
    must); returns its first value."""
    server = make_url(url)
    connection = await asyncpg.connect(
        user=server.username,
        password=server.password,
        host=server.host,
        port=server.port,
        database="postgres",
    )
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


class Store:
    """Where the bench's database lives: a SQLite file (the default), or a database of its own on
    the PostgreSQL server of `--database-url`. A template is a file, or a database on that server."""

    def __init__(self, server_url: str | None) -> None:
        self.server_url = server_url
        self.name = f"fleet_bench_{os.getpid()}"
        self.path = Path(tempfile.mkdtemp()) / "fleet.db"

    @property
    def url(self) -> str:
        if self.server_url is None:
            return f"sqlite+aiosqlite:///{self.path}"
        return make_url(self.server_url).set(database=self.name).render_as_string(hide_password=False)

    async def exists(self, template: str) -> bool:
        if self.server_url is None:
            return await asyncio.to_thread(Path(template).exists)
        return bool(
            await _pg_admin(self.server_url, "SELECT 1 FROM pg_database WHERE datname = $1", template)
        )

    async def create(self, template: str | None = None) -> None:
        if self.server_url is None:
            if template is not None:
                shutil.copy(template, self.path)
            return
        await _pg_admin(self.server_url, f'DROP DATABASE IF EXISTS "{self.name}"')
        clause = f' TEMPLATE "{template}"' if template is not None else ""
        await _pg_admin(self.server_url, f'CREATE DATABASE "{self.name}"{clause}')

    async def save_as(self, template: str) -> None:
        """Keep a copy of the database (nothing may be connected to it)."""
        if self.server_url is None:
            await asyncio.to_thread(_backup, self.path, Path(template))
            return
        await _pg_admin(self.server_url, f'DROP DATABASE IF EXISTS "{template}"')
        await self._disconnect()
        await _pg_admin(self.server_url, f'CREATE DATABASE "{template}" TEMPLATE "{self.name}"')

    async def _disconnect(self) -> None:
        """End the sessions still open on the bench's database (a connection the pool let go of may
        still be closing) before it is copied or dropped."""
        assert self.server_url is not None
        await _pg_admin(
            self.server_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
            self.name,
        )

    async def drop(self) -> None:
        if self.server_url is None:
            shutil.rmtree(self.path.parent, ignore_errors=True)
        else:
            await self._disconnect()
            await _pg_admin(self.server_url, f'DROP DATABASE IF EXISTS "{self.name}"')


async def make_template(store: Store, n: int, template: str, speed: float) -> None:
    """Create the bots, start them through the fleet, wait until every grid is placed, stop the
    process's services (as a shutdown does: the bots stay running) and keep a copy."""
    t = time.monotonic()
    await store.create()
    await upgrade_head(store.url)
    db = Database(store.url)
    fleet = Fleet(db, max_bots_per_user=10)
    bots = await create_bots(db, fleet, n)
    print(f"template: {n} bots created through the fleet in {time.monotonic() - t:.1f} s")
    service, feed = engine(db, fleet, speed)
    await service.start(feeds=[feed])
    await start_all(fleet, bots, "template: ")
    await _placed(service, n)
    await asyncio.sleep(5)  # the placements journaled by now reach the venue (a copy of a grid journaled
    # but not yet sent would make the measured run send it, as a restart does)
    await service.shutdown()
    await db.dispose()
    await store.save_as(template)
    await store.drop()


def engine(db: Database, fleet: Fleet, speed: float) -> tuple[EngineService, ReplayFeed]:
    """The engine service and the replay feed, wired as bot/app.py wires them."""
    venue = PaperVenue(db)
    feed = ReplayFeed.from_file(
        "BTC/USDT", DATA_DIR / "btcusdt_1m_sample.csv.gz", speed=speed, sink=venue.on_price
    )
    service = EngineService(db, fleet, venue=venue, interval=1.0)
    fleet.equity = service.equity  # as bot/app.py wires it
    return service, feed


async def start_all(fleet: Fleet, bots: list[tuple[int, int]], label: str) -> None:
    """Start every bot through the fleet, as the chat does, and print how long it took."""
    t = time.monotonic()
    for user_id, bot_id in bots:
        await fleet.start(user_id, bot_id)
    startup = time.monotonic() - t
    n = len(bots)
    print(f"{label}{n} bots started through the fleet in {startup:.1f} s ({startup / n * 1000:.1f} ms each)")


async def _placed(service: EngineService, n: int) -> float:
    """Seconds until every bot's grid is placed (the runtime's cache: a started book)."""
    books = service.grid._books
    t = time.monotonic()
    while time.monotonic() - t < 300 and not (
        len(books) >= n and all(b.started for b in list(books.values()))
    ):
        await asyncio.sleep(0.2)
    return time.monotonic() - t


async def main(args: argparse.Namespace) -> None:
    n, seconds, interval = args.bots, args.seconds, 1.0
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    place = Store(args.database_url)
    url = place.url
    template = args.template
    if template is not None and not await place.exists(template):
        await make_template(place, n, template, args.speed)
        print("template made; measuring in a new process")
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, *sys.argv])  # RSS per bot from a fresh process
    rss0 = rss_mb()
    resumed = template is not None
    t = time.monotonic()
    if resumed:
        await place.create(template)
        db = Database(url)
        fleet = Fleet(db, max_bots_per_user=10)
        async with db.read() as session:
            bots = [
                tuple(r) for r in (await session.execute(select(BotInstance.user_id, BotInstance.id))).all()
            ]
        assert len(bots) == n, f"{template} holds {len(bots)} bots, not {n}"
        print(f"set-up: {n} running bots copied from {template}")
    else:
        await place.create()
        await upgrade_head(url)
        db = Database(url)
        fleet = Fleet(db, max_bots_per_user=10)
        bots = await create_bots(db, fleet, n)
        print(f"set-up: {n} bots created through the fleet in {time.monotonic() - t:.1f} s")

    service, feed = engine(db, fleet, args.speed)
    starts: dict[int, list[float]] = defaultdict(list)
    durations: list[float] = []
    recording = False
    inner = service.run_tick

    async def measured(bot_id: int) -> None:
        started = time.time()
        if recording:
            starts[bot_id].append(started)
        try:
            await inner(bot_id)
        finally:
            if recording:
                durations.append(time.time() - started)

    service.scheduler.tick = measured
    t = time.monotonic()
    await service.start(feeds=[feed])
    tune_gc()  # as bot/app.py does once the app has started
    if resumed:
        print(f"start-up: {n} running bots resumed in {time.monotonic() - t:.1f} s")
    else:
        await asyncio.sleep(0.2)
        await start_all(fleet, bots, "start-up: ")
    placed = await _placed(service, n)
    print(f"first placement: every bot's grid placed {placed:.1f} s after the last start")
    await asyncio.sleep(args.warmup)
    trades0, orders0 = await counts(db)
    recording = True
    profiler = cProfile.Profile() if args.profile else None
    w0 = time.time()
    cpu0, wall0 = time.process_time(), time.monotonic()
    if profiler:
        profiler.enable()
    await asyncio.sleep(seconds)
    w1 = time.time()
    cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    await asyncio.sleep(args.grace)  # ticks due before w1 that start late still count (late)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    recording = False
    end = time.time()
    rss = rss_mb()
    trades1, orders1 = await counts(db)
    phases = {b: phase_of(service, b) for _, b in bots if service.scheduler.is_scheduled(b)}
    running = len(phases)
    store = service.grid.store
    commits = (store.commits, store.saves, store.commit_seconds)
    candle = feed.position // 4
    await service.shutdown()
    await asyncio.sleep(0.5)
    await db.dispose()
    await place.drop()

    lateness: list[float] = []
    on_time = missed = 0
    for _, bot_id in bots:
        phase = phases.get(bot_id)  # a bot stopped meanwhile (stop price, error) is left out
        if phase is None:
            continue
        ticks = starts.get(bot_id, [])
        k0 = int((w0 - phase) // interval) + 1
        due = phase + k0 * interval
        while due < w1:
            i = bisect.bisect_left(ticks, due - 0.002)  # a hair early (clock reads) is on time
            nxt = ticks[i] if i < len(ticks) else None
            if nxt is not None and nxt < due + interval - 0.002:
                on_time += 1
                lateness.append(max(0.0, nxt - due))
            else:
                missed += 1
                lateness.append(max(interval, (nxt if nxt is not None else end) - due))
            due += interval
    print(
        f"  grid store: {commits[1]} saves in {commits[0]} transactions, "
        f"{commits[2] / max(1, commits[0]) * 1000:.1f} ms each (whole run)"
    )
    lateness.sort()
    durations.sort()
    due_total = on_time + missed
    print(
        f"N={n}: ticks run {on_time} of {due_total} due ({on_time / max(1, due_total):.1%}), missed {missed}; "
        f"lateness over all due ticks p50 {percentile(lateness, 0.5) * 1000:.1f} ms "
        f"p99 {percentile(lateness, 0.99) * 1000:.1f} ms max {lateness[-1] * 1000 if lateness else 0:.0f} ms; "
        f"tick duration p50 {percentile(durations, 0.5) * 1000:.2f} ms p99 {percentile(durations, 0.99) * 1000:.1f} ms"
    )
    print(
        f"  window {seconds:.0f} s: fills {trades1 - trades0} ({(trades1 - trades0) / seconds:.0f}/s), "
        f"orders placed {orders1 - orders0}, CPU {cpu:.0%} of one core, RSS {rss:.0f} MB "
        f"({(rss - rss0) / n * 1024:.0f} KB per bot), bots still running {running}/{n}, feed at candle {candle}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("bots", type=int, nargs="?", default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window")
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds between the last start and the window"
    )
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--speed", type=float, default=1.0, help="replay candles per second")
    parser.add_argument(
        "--template",
        help="database to reuse, made on first use: a file, or with --database-url a database name",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql+asyncpg://user@host:port/db) to run on, as production "
        "does; the bench makes a database of its own there (default: a SQLite file)",
    )
    parser.add_argument("--profile", help="write a cProfile of the measurement window here")
    asyncio.run(main(parser.parse_args()))
