"""Invariant 1 under concurrency: a user's active bots never hold more than 100 % together, whatever
arrives at once, on SQLite and PostgreSQL; the accepted requests add up exactly to what is stored."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from sqlalchemy import select

from bot.services.dto import UserDTO
from bot.services.errors import NameTaken, OverAllocation, StopBotFirst
from bot.services.fleet import Fleet
from db.models import BotInstance
from db.session import Database

ATTEMPTS = 200


async def _stored(database: Database, user_id: int) -> list[Decimal]:
    async with database.read() as session:
        rows = await session.execute(
            select(BotInstance.allocation_percent).where(
                BotInstance.user_id == user_id, BotInstance.is_active.is_(True)
            )
        )
        return list(rows.scalars())


async def test_200_concurrent_creations_never_over_allocate(
    database: Database, alice: UserDTO, db_url: str
) -> None:
    fleet = Fleet(database, max_bots_per_user=ATTEMPTS)
    rng = random.Random(7)
    shares = [Decimal(rng.randint(1, 900)) / 100 for _ in range(ATTEMPTS)]  # 0.01 .. 9.00 %

    async def attempt(i: int) -> Decimal | None:
        try:
            await fleet.create_trend_bot(
                alice.id, name=f"bot {i}", symbol="BTCUSDT", allocation_percent=shares[i]
            )
        except OverAllocation:
            return None
        return shares[i]

    results = await asyncio.gather(*(attempt(i) for i in range(ATTEMPTS)))
    accepted = [r for r in results if r is not None]
    stored = await _stored(database, alice.id)
    print(
        f"\n[{db_url.split(':')[0]}] creations: attempts={ATTEMPTS} accepted={len(accepted)} "
        f"accepted_sum={sum(accepted)} stored_sum={sum(stored)}"
    )
    assert sum(stored) <= 100
    assert sorted(stored) == sorted(accepted)
    assert len(accepted) < ATTEMPTS  # the shares add up to far more than 100 %, so some must be refused
    assert sum(stored) > 100 - Decimal(9)  # and the fill is tight: no request was refused needlessly


async def test_200_concurrent_reallocations_never_over_allocate(
    database: Database, alice: UserDTO, db_url: str
) -> None:
    fleet = Fleet(database, max_bots_per_user=20)
    bots = [
        (await fleet.create_trend_bot(alice.id, name=f"b{i}", symbol="BTCUSDT", allocation_percent="1")).bot
        for i in range(20)
    ]
    rng = random.Random(11)
    requests = [(rng.choice(bots).id, Decimal(rng.randint(100, 2500)) / 100) for _ in range(ATTEMPTS)]
    accepted: dict[int, Decimal] = {b.id: Decimal(1) for b in bots}
    order: list[tuple[int, Decimal]] = []

    async def attempt(bot_id: int, percent: Decimal) -> None:
        try:
            change = await fleet.set_allocation(alice.id, bot_id, percent)
        except OverAllocation:
            return
        order.append((bot_id, change.bot.allocation_percent))

    await asyncio.gather(*(attempt(b, p) for b, p in requests))
    for bot_id, percent in order:  # completion order is commit order under the user lock
        accepted[bot_id] = percent
    stored = await _stored(database, alice.id)
    print(
        f"\n[{db_url.split(':')[0]}] reallocations: attempts={ATTEMPTS} accepted={len(order)} "
        f"stored_sum={sum(stored)}"
    )
    assert sum(stored) <= 100
    assert sum(stored) == sum(accepted.values())
    assert 0 < len(order) < ATTEMPTS


async def test_concurrent_mixed_requests_keep_the_invariant(database: Database, alice: UserDTO) -> None:
    """Creations, reallocations, starts and deletes interleaved: the sum stays <= 100 at the end of each."""
    fleet = Fleet(database, max_bots_per_user=50)
    seed = [
        (await fleet.create_trend_bot(alice.id, name=f"s{i}", symbol="BTCUSDT", allocation_percent="10")).bot
        for i in range(5)
    ]
    rng = random.Random(3)

    async def one(i: int) -> None:
        kind = rng.choice(["create", "realloc", "delete", "start"])
        try:
            if kind == "create":
                await fleet.create_trend_bot(
                    alice.id, name=f"m{i}", symbol="BTCUSDT", allocation_percent=str(rng.randint(1, 30))
                )
            elif kind == "realloc":
                await fleet.set_allocation(alice.id, rng.choice(seed).id, str(rng.randint(1, 60)))
            elif kind == "delete":
                await fleet.delete(alice.id, rng.choice(seed).id)
            else:
                await fleet.start(alice.id, rng.choice(seed).id)
        except (OverAllocation, NameTaken, StopBotFirst, Exception) as exc:
            if type(exc).__name__ not in {
                "OverAllocation",
                "NameTaken",
                "StopBotFirst",
                "NotFound",
                "AlreadyRunning",
                "OppositeSides",  # two trend bots of one user on one perpetual (one-way mode)
                "StillStopping",
            }:
                raise

    await asyncio.gather(*(one(i) for i in range(120)))
    assert sum(await _stored(database, alice.id)) <= 100
