"""A paper trading process for the crash-safety test: N grid bots on a deterministic replay, run by the
engine service as the app runs it (its ticks driven point by point, not by the clock).

    python -m tests.crash_worker DB_FILE [--bots 20] [--candles 150]

Set-up is idempotent (users, bots and starts are only made when missing), so a process killed
during it simply does it again. The replay goes point by point: the venue matches a point and
commits the feed's position with its fills, then every bot ticks in id order, then the user's
actions due at that point run (ACTIONS: stops that keep or sell, deletes that hand back or sell, a
start again), each printed as ACTION before it begins. A restarted process marks the last committed
point's price, starts the engine (which carries out every stop under way), ticks every bot once
(reconcile), does the actions due and not yet asked for, then continues with the next point, so the
run is the same whether or not it was killed. Prints DONE at the end.
"""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bot.engine_service import EngineService
from bot.services.accounts import Accounts
from bot.services.fleet import Fleet
from bot.services.validation import DELETED_NAME_SEPARATOR
from db.migrate import upgrade_head
from db.models import BotInstance
from db.session import Database
from engine.market_data.feeds import DATA_DIR, ReplayFeed
from engine.venues.live.credentials import CredentialCipher
from engine.venues.paper.venue import PaperVenue, load_cursor

SYMBOL = "BTC/USDT"
FEED = "crash-replay"
USERS = 4
KEY = b"3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk="
# (fraction of the replay, action, bot number, holdings): what the users do during the run
ACTIONS = (
    (0.25, "stop", 3, "keep"),
    (0.35, "stop", 4, "close"),
    (0.45, "delete", 5, "keep"),
    (0.55, "delete", 8, "close"),
    (0.65, "start", 3, None),
    (0.75, "stop", 7, None),
)


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
        async with db.read() as session:  # a deleted bot's name has its id after a separator
            bot = (
                (
                    await session.execute(
                        select(BotInstance)
                        .where(
                            BotInstance.user_id == user.id,
                            (BotInstance.name == name)
                            | BotInstance.name.startswith(name + DELETED_NAME_SEPARATOR),
                        )
                        .order_by(BotInstance.id)
                    )
                )
                .scalars()
                .first()
            )
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


def due_at(candles: int) -> dict[int, list[tuple[str, int, str | None]]]:
    """The actions by the feed position after which they run."""
    due: dict[int, list[tuple[str, int, str | None]]] = {}
    for fraction, action, j, holdings in ACTIONS:
        due.setdefault(int(candles * 4 * fraction), []).append((action, j, holdings))
    return due


async def asked(db: Database, bot_id: int, action: str) -> bool:
    """Whether an earlier life already asked for `action` on the bot (it is then under way or done)."""
    async with db.read() as session:
        bot = await session.get(BotInstance, bot_id)
    assert bot is not None
    if action == "stop":
        return bot.stopping or bot.last_stopped_at is not None
    if action == "delete":
        return bot.delete_requested or not bot.is_active
    return bot.is_running or (  # "start": asked once the bot ran again after its stop
        bot.last_started_at is not None
        and bot.last_stopped_at is not None
        and bot.last_started_at > bot.last_stopped_at
    )


async def act(db: Database, fleet: Fleet, ids: list[int], todo: list[tuple[str, int, str | None]]) -> None:
    for action, j, holdings in todo:
        bot_id = ids[j]
        if await asked(db, bot_id, action):
            continue
        async with db.read() as session:
            bot = await session.get(BotInstance, bot_id)
        assert bot is not None
        print(f"ACTION {action} grid{j}", flush=True)  # the test may kill right after this line
        if action == "stop":
            if bot.is_running:
                await fleet.stop(bot.user_id, bot_id, holdings=holdings)
        elif action == "delete":
            await fleet.delete(bot.user_id, bot_id, holdings=holdings)
        elif not bot.is_running and not bot.stopping:
            await fleet.start(bot.user_id, bot_id)


async def main(path: Path, bots: int, candles: int) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade_head(url)
    db = Database(url)
    fleet = Fleet(db)
    engine: EngineService | None = None
    try:
        ids = await setup(db, fleet, bots)
        venue = PaperVenue(db)
        await venue.load()
        # ticks come from the replay below, never from the clock; a stop the venue does not confirm
        # (never, on paper) would wait an hour
        engine = EngineService(db, fleet, venue=venue, interval=3600.0, stop_retry=(3600.0, 3600.0))
        fleet.equity = engine.equity
        feed = ReplayFeed.from_file(
            SYMBOL, DATA_DIR / "btcusdt_1m_sample.csv.gz", name=FEED, loop=False, sink=venue.on_price
        )
        feed.candles = feed.candles.slice(0, candles)
        due = due_at(candles)
        position = await load_cursor(db, FEED) or 0
        print("READY", flush=True)  # the test kills only after this: the replay and reconciling follow
        feed.resume_at(position)
        if feed.last is not None:
            venue.mark_price(SYMBOL, *feed.last)
        await engine.start()  # carries out the stops a killed life left under way
        if feed.last is not None:
            for bot_id in ids:  # reconcile whatever the last life left half done
                await engine.run_tick(bot_id)
            await act(db, fleet, ids, [a for at, todo in sorted(due.items()) if at <= position for a in todo])
        while not feed.finished():
            await feed.step()
            for bot_id in ids:
                await engine.run_tick(bot_id)
            await act(db, fleet, ids, due.get(feed.position, []))
            print(f"POINT {feed.position}", flush=True)  # the test kills after a chosen number of these
        print("DONE", flush=True)
    finally:
        if engine is not None:
            await engine.shutdown()
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db", type=Path)
    parser.add_argument("--bots", type=int, default=20)
    parser.add_argument("--candles", type=int, default=150)
    args = parser.parse_args()
    asyncio.run(main(args.db, args.bots, args.candles))
