"""Benchmark (issue 15 section 6): N live grid bots on 100 accounts against the local fake Bitget (REST and
websocket, tests/fake_bitget.py and tests/fake_bitget_ws.py) for 60 s of moving prices, in one process as
`multibot run` builds it (bot.app.build_services: SQLite file, EXCHANGE_API_URL at the fake, websocket
streams on). The fake runs in a process of its own (its CPU is not the bot's), moving the BTCUSDT price
along real 1-minute candles (engine/market_data/data/btcusdt_1m_sample.csv.gz, each candle's open, low /
high, close in the walk's order) at --speed candles per second and filling, as a maker at its own price,
every resting limit order the price crosses. Prints REST requests per bot per minute, websocket messages,
fill -> booked latency p50 / p99 (the fake's fill to the commit of the trade row), missed fills (filled on
the fake, never booked), the bot process's CPU and RSS.

    .venv/bin/python bench/live_fleet.py 1000 [--accounts 100] [--lines 20] [--seconds 60] [--speed 2]

Target (issue 15): N = 1,000 in one process on 2 cores with fill -> booked p99 <= 1 s and <= 1 REST call
per bot per minute after start-up.
* Bots: N / accounts per account (at most 10, the fleet's limit), each a 20-line arithmetic grid of 700
  USDT over +-0.5 % of the first price (a line every 0.05 %), 9 % allocation of a 10,000 USDT spot wallet.
* Start-up: accounts' keys entered (checked with the fake), bots created and started through the fleet as
  the chat does; the window opens --warmup seconds after every grid is placed. The price starts moving when
  the window opens.
* REST per bot per minute counts every request the fake received in the window (public and private).
* Latency: each fill the fake made in the window, from the fill to the moment the grid store committed its
  trade row; fills of the last 2 s of the window are given --grace seconds more; a fill with no trade row
  by then is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEY = "3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk="
SYMBOL = "BTCUSDT"
SPOT_BALANCE = "10000"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def percentile(samples: list[float], p: float) -> float:
    return samples[min(len(samples) - 1, int(p * len(samples)))] if samples else float("nan")


def credentials(i: int) -> tuple[str, str, str]:
    return f"bench-key-{i:04d}", f"bench-secret-{i:04d}", f"bench-pass-{i:04d}"


# --- the fake exchange's process ----------------------------------------------------------------------


async def serve_fake(args: argparse.Namespace) -> None:
    from engine.market_data.candles import load_candles, walk_points
    from engine.market_data.feeds import DATA_DIR
    from tests import fake_bitget
    from tests.fake_bitget import FakeBitget

    candles = load_candles(DATA_DIR / "btcusdt_1m_sample.csv.gz")
    fake = FakeBitget()
    recorded = dict(fake._recorded[("fetchTicker", "public spot ticker")]["data"][0])
    state = {"price": candles.price("open", 0)}

    def spot_tickers(self: FakeBitget, _a: object, query: dict[str, str], _b: object) -> list[dict[str, str]]:
        price = state["price"]
        tick = Decimal("0.01")
        return [
            {**recorded, "lastPr": str(price), "bidPr": str(price - tick), "askPr": str(price + tick),
             "ts": str(int(time.time() * 1000))}
        ]  # fmt: skip

    fake_bitget.ROUTES[("GET", "/api/v2/spot/market/tickers")] = spot_tickers

    def set_price(price: Decimal) -> None:
        state["price"] = price
        tick = Decimal("0.01")
        fake.books[("SPOT", SYMBOL)] = (price - tick, price + tick)
        fake.ws.move_price(SYMBOL, price, price - tick, price + tick)

    set_price(state["price"])
    url = await fake.start()
    for i in range(args.accounts):
        key, secret, passphrase = credentials(i)
        fake.add_account(key, secret, passphrase, spot={"USDT": SPOT_BALANCE}, uid=str(8_000_000_000 + i))
    fills: list[tuple[str, float]] = []
    moving = asyncio.Event()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, moving.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await asyncio.to_thread(Path(args.ready).write_text, url)

    async def mover() -> None:
        await moving.wait()
        interval = 1 / (4 * args.speed)
        k = 1
        next_at = time.monotonic()
        while not stop.is_set():
            _ts, o, h, lo, c = candles.candle(k % len(candles))
            for point in walk_points(o, h, lo, c):
                set_price(point)
                for account in fake.accounts.values():
                    for order in list(account.orders.values()):
                        if not order.live or order.order_type != "limit" or order.price is None:
                            continue
                        if (order.side == "buy" and order.price >= point) or (
                            order.side == "sell" and order.price <= point
                        ):
                            fake.fill(account.api_key, order.order_id)
                            fills.append((order.client_oid, time.time()))
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            k += 1

    task = asyncio.create_task(mover())
    await stop.wait()
    task.cancel()
    stats = {
        "fills": fills,
        "requests": [(r.ts / 1000, r.method, r.path) for r in fake.requests],
        "ws_sent": dict(fake.ws.sent),
        "ws_received": dict(fake.ws.received),
        "ws_connections": fake.ws.connections,
        "ws_errors": fake.ws.errors[:20],
        "cpu": time.process_time(),
    }
    await asyncio.to_thread(Path(args.stats).write_text, json.dumps(stats))
    await fake.close()


# --- the bot's process ---------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from bot.app import build_services, tune_gc
    from bot.config import load_settings
    from db.migrate import upgrade_head
    from db.models import Trade

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("apscheduler", "ccxt", "aiohttp", "bot.alerts"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="live-fleet-"))
    ready, stats_file = work / "fake.url", work / "fake.json"
    fake = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-fake", "--accounts", str(args.accounts), "--speed", str(args.speed),
        "--ready", str(ready), "--stats", str(stats_file), cwd=ROOT,
    )  # fmt: skip
    try:
        for _ in range(600):
            if ready.exists() and ready.read_text():
                break
            await asyncio.sleep(0.1)
        url = ready.read_text()
        db_url = f"sqlite+aiosqlite:///{work / 'multibot.db'}"
        await upgrade_head(db_url)
        settings = load_settings(
            database_url=db_url, exchange_api_url=url, encryption_key=KEY, exchange_streams=True
        )
        rss0 = rss_mb()
        services = build_services(settings)
        store = services.engine.grid.store
        booked: dict[str, float] = {}
        pushed: dict[str, float] = {}
        save = store.save

        async def timed_save(book, changes, **kwargs):  # type: ignore[no-untyped-def]
            result = await save(book, changes, **kwargs)
            now = time.time()
            for row in changes.trades:
                cid = row.get("client_order_id")
                if cid:
                    booked.setdefault(cid, now)
            return result

        store.save = timed_save  # type: ignore[method-assign]
        t0 = time.monotonic()
        per_account = -(-args.bots // args.accounts)
        first = None
        bots: list[tuple[int, int]] = []
        await services.engine.start()
        for i in range(args.accounts):
            if len(bots) >= args.bots:
                break
            key, secret, passphrase = credentials(i)
            user = await services.accounts.register(telegram_id=9_000_000 + i, chat_id=9_000_000 + i)
            await services.accounts.set_api_keys(user.id, api_key=key, secret=secret, passphrase=passphrase)
            await services.accounts.set_trading_mode(user.id, "live")
            exchange = await services.engine.exchange_for(user.id, "live")
            follow = getattr(exchange, "on_order_change", None)
            if follow is not None:  # when each push reached this process (latency split)
                follow(lambda _symbol, cid: pushed.__setitem__(cid, time.time()))
            if first is None:
                first = (await exchange.fetch_ticker("BTC/USDT")).last
            lower, upper = (
                (first * Decimal("0.98")).quantize(Decimal(1)),
                (first * Decimal("1.02")).quantize(Decimal(1)),
            )
            for j in range(min(per_account, args.bots - len(bots))):
                created = await services.fleet.create_grid_bot(
                    user.id, name=f"g{j}", symbol=SYMBOL, allocation_percent="9", lower_price=str(lower),
                    upper_price=str(upper), grid_count=args.lines, total_investment="700",
                )  # fmt: skip
                await services.fleet.start(user.id, created.bot.id)
                bots.append((user.id, created.bot.id))
        tune_gc()
        print(f"start-up: {len(bots)} bots on {args.accounts} accounts created and started in "
              f"{time.monotonic() - t0:.1f} s")  # fmt: skip
        books = services.engine.grid._books
        t1 = time.monotonic()
        while time.monotonic() - t1 < 600 and not (
            len(books) >= len(bots) and all(b.started for b in list(books.values()))
        ):
            await asyncio.sleep(0.5)
        print(f"first placement: every grid placed {time.monotonic() - t1:.1f} s after the last start")
        await asyncio.sleep(args.warmup)
        fake.send_signal(signal.SIGUSR1)  # the price moves from now on
        w0 = time.time()
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(args.seconds)
        w1 = time.time()
        cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0)
        rss = rss_mb()
        await asyncio.sleep(args.grace)
        fake.send_signal(signal.SIGTERM)
        for _ in range(300):
            if stats_file.exists():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        stats = json.loads(stats_file.read_text())
        async with services.db.read() as session:
            rows = set((await session.execute(select(Trade.client_order_id))).scalars())
        running = sum(services.engine.scheduler.is_scheduled(b) for _, b in bots)
        await services.close()
    finally:
        if fake.returncode is None:
            fake.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(fake.wait(), 10)
            except TimeoutError:
                fake.kill()
    n = len(bots)
    minutes = (w1 - w0) / 60
    rest = [r for r in stats["requests"] if w0 <= r[0] < w1]
    by_path: dict[str, int] = {}
    for _, method, path in rest:
        by_path[f"{method} {path}"] = by_path.get(f"{method} {path}", 0) + 1
    fills = [(cid, t) for cid, t in stats["fills"] if w0 <= t < w1]
    latencies, missed, to_push, push_to_book = [], [], [], []
    for cid, t in fills:
        at = booked.get(cid)
        if at is None or cid not in rows:
            missed.append(cid)
        else:
            latencies.append(at - t)
            if cid in pushed:
                to_push.append(pushed[cid] - t)
                push_to_book.append(at - pushed[cid])
    for samples in (latencies, to_push, push_to_book):
        samples.sort()
    print(
        f"N={n} bots, {args.accounts} accounts, {args.lines} lines, window {w1 - w0:.0f} s at {args.speed} "
        f"candles/s: REST {len(rest)} requests = {len(rest) / n / minutes:.2f} per bot per minute; "
        f"websocket sent {sum(stats['ws_sent'].values())} ({stats['ws_sent']}), received "
        f"{sum(stats['ws_received'].values())}, connections {stats['ws_connections']}"
    )
    print(
        f"  fills {len(fills)}: fill -> booked p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {(latencies[-1] if latencies else 0) * 1000:.0f} ms; "
        f"missed {len(missed)}; CPU {cpu:.0%} of one core; RSS {rss:.0f} MB ({(rss - rss0) / max(1, n) * 1024:.0f} KB "
        f"per bot); bots still running {running}/{n}"
    )
    print(
        f"  split: fill -> push received p50 {percentile(to_push, 0.5) * 1000:.0f} ms p99 "
        f"{percentile(to_push, 0.99) * 1000:.0f} ms; push -> booked p50 {percentile(push_to_book, 0.5) * 1000:.0f} "
        f"ms p99 {percentile(push_to_book, 0.99) * 1000:.0f} ms ({len(to_push)} fills pushed)"
    )
    top = sorted(by_path.items(), key=lambda kv: -kv[1])[:8]
    print("  REST in the window by endpoint: " + ", ".join(f"{k} {v}" for k, v in top))
    print(f"  the fake exchange's process used {stats['cpu']:.0f} s of CPU in all (it shares the machine)")
    if stats["ws_errors"]:
        print(f"  websocket errors sent: {stats['ws_errors']}")
    if missed:
        print(f"  missed (first 10): {missed[:10]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("bots", type=int, nargs="?", default=1000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=1.0, help="candles per second of the price path")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ready", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    asyncio.run(serve_fake(arguments) if arguments.serve_fake else run(arguments))
