"""A paper trading process for the crash-safety test: N grid bots on a deterministic replay.

    python -m tests.crash_worker DB_FILE [--bots 20] [--candles 150]

Set-up is idempotent (users, bots and starts are only made when missing), so a process killed
during it simply does it again. The replay goes point by point: the venue matches a point and
commits the feed's position with its fills, then every bot ticks in id order. A restarted process
marks the last committed point's price, ticks every bot once (reconcile), then continues with the
next point, so the run is the same whether or not it was killed. Prints DONE at the end.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bot.services.accounts import Accounts
from bot.services.errors import NotRunning
from bot.services.fleet import Fleet
from db.migrate import upgrade_head
from db.models import BotInstance
from db.session import Database
from engine.grid.runtime import GridRuntime
from engine.grid.store import GridStore
from engine.market_data.feeds import DATA_DIR, ReplayFeed
from engine.venues.live.credentials import CredentialCipher
from engine.venues.paper.venue import PaperVenue, load_cursor

SYMBOL = "BTC/USDT"
FEED = "crash-replay"
USERS = 4
KEY = b"3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk="


def bot_params(j: int) -> dict:
    lower = Decimal(105000 + 40 * (j % 10))
    return dict(
        lower_price=lower,
        upper_price=lower + 1300,
        grid_count=8 + j % 5,
        total_investment=Decimal(800 + 10 * j),
        grid_mode="geometric" if j % 3 == 0 else "arithmetic",
        stop_upper=Decimal("106800") if j % 7 == 6 else None,
        close_position_on_stop=j % 2 == 0,
    )


async def setup(db: Database, fleet: Fleet, bots: int) -> list[int]:
    accounts = Accounts(db, CredentialCipher(KEY))
    users = [
        await accounts.register(telegram_id=7_000_000_000 + u, chat_id=7_000_000_000 + u)
        for u in range(USERS)
    ]
    ids = []
    for j in range(bots):
        user = users[j % USERS]
        name = f"grid{j}"
        async with db.read() as session:
            bot = (
                await session.execute(
                    select(BotInstance).where(BotInstance.user_id == user.id, BotInstance.name == name)
                )
            ).scalar_one_or_none()
            fresh = bot is None
        if fresh:
            created = await fleet.create_grid_bot(
                user.id, name=name, symbol="BTCUSDT", allocation_percent="10", **bot_params(j)
            )
            bot_id = created.bot.id
            await fleet.start(user.id, bot_id)
        else:
            bot_id = bot.id
            if not bot.is_running and bot.last_started_at is None:
                await fleet.start(user.id, bot_id)
        ids.append(bot_id)
    return ids


async def main(path: Path, bots: int, candles: int) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_head(url)
    db = Database(url)
    fleet = Fleet(db)
    try:
        ids = await setup(db, fleet, bots)
        venue = PaperVenue(db)
        await venue.load()

        async def exchange_for(user_id: int, bound_to: str):
            return venue.account(user_id)

        async def stopper(user_id: int, bot_id: int, reason: str) -> None:
            try:
                await fleet.stop(user_id, bot_id, reason=reason)
            except NotRunning:
                pass
            await fleet.complete_stop(bot_id, await runtime.halt(bot_id))

        runtime = GridRuntime(GridStore(db), exchange_for, stopper)
        feed = ReplayFeed.from_file(
            SYMBOL, DATA_DIR / "btcusdt_1m_sample.csv.gz", name=FEED, loop=False, sink=venue.on_price
        )
        feed.candles = feed.candles.slice(0, candles)
        position = await load_cursor(db, FEED) or 0
        print("READY", flush=True)  # the test kills only after this: the replay and reconciling follow
        feed.resume_at(position)
        if feed.last is not None:
            venue.mark_price(SYMBOL, *feed.last)
            for bot_id in ids:  # reconcile whatever the last life left half done
                await runtime.tick(bot_id)
        while not feed.finished():
            await feed.step()
            for bot_id in ids:
                await runtime.tick(bot_id)
            print(f"POINT {feed.position}", flush=True)  # the test kills after a chosen number of these
        print("DONE", flush=True)
    finally:
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--bots", type=int, default=20)
    parser.add_argument("--candles", type=int, default=150)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.bots, args.candles))
