"""The long chat fuzz: 100,000 seeded updates of every kind from 50 people (and the groups and channels
they post in) against the bot as it runs in production, a child process long-polling the local Bot API
emulator (tests/chat_fuzz.py has the generator, the driver and the checks; tests/test_chat_fuzz.py runs
10,000 of them in the suite). Prints the figures of issue 14: updates, kinds, exceptions, replies, the
bot's RSS at 10k / 50k / 100k updates and after 20 s idle, and the second taps that acted without the
owner having seen them.

    .venv/bin/python bench/chat_fuzz.py [--updates 100000] [--users 50] [--seed 14] [--database-url URL]

--database-url takes an empty database (PostgreSQL too); by default a fresh SQLite file in a temporary
directory. Exits 1 when a check fails or the RSS after all updates is more than 10 % over the RSS at
10,000; the bot's log is kept in the directory printed at the start.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from db.migrate import upgrade_head
from tests.chat_fuzz import FuzzConfig, run_fuzz

FLAT = 0.10  # RSS after all updates within 10 % of RSS after 10,000


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds idle before the last RSS")
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="chat-fuzz-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}"
    await upgrade_head(url)
    marks = sorted({m for m in (10_000, 50_000, args.updates) if m <= args.updates})
    print(f"chat fuzz: {args.updates:,} updates, {args.users} people, seed {args.seed}; log in {workdir}")
    started = time.monotonic()
    report = await run_fuzz(
        FuzzConfig(
            db_url=url,
            workdir=workdir,
            updates=args.updates,
            users=args.users,
            seed=args.seed,
            rss_at=tuple(marks),
            idle_seconds=args.idle,
            progress=lambda line: print(f"  {line} ({time.monotonic() - started:.0f} s)", flush=True),
        )
    )
    elapsed = time.monotonic() - started
    print(report.summary())
    print(f"{report.updates / elapsed:.0f} updates/s over {elapsed:.0f} s")
    failures = list(report.failures)
    first, last = report.rss_kb.get(10_000), report.rss_kb.get(args.updates)
    if first and last and args.updates > 10_000:
        growth = last / first - 1
        print(f"RSS after {args.updates:,} is {100 * growth:+.1f} % of the RSS after 10,000 (limit +10 %)")
        if growth > FLAT:
            failures.append(f"RSS grew {100 * growth:.1f} % from 10,000 to {args.updates:,} updates")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
