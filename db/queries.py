"""Queries that keep the invariants inside the caller's transaction.

The allocation sum is read only after the user's row is locked (FOR UPDATE on PostgreSQL; on SQLite the
write transaction already began with BEGIN IMMEDIATE), so two requests of one user never both pass.
Sums of money are added in Python with Decimal: on SQLite the column holds exact text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import from_ms, utcnow
from db.models import AlertOutbox, BotInstance, GridBotConfig, GridOrder, Trade, User

# Alerts that reach the chat even when the bot's notifications are off.
ALWAYS_SENT_KINDS = frozenset({"bot_stopped_error"})


async def lock_user(session: AsyncSession, user_id: int) -> User | None:
    """The user's row, locked until the transaction ends (PostgreSQL); serialises one user's writes."""
    return (
        await session.execute(select(User).where(User.id == user_id).with_for_update())
    ).scalar_one_or_none()


async def active_bots(session: AsyncSession, user_id: int) -> list[BotInstance]:
    rows = await session.execute(
        select(BotInstance)
        .where(BotInstance.user_id == user_id, BotInstance.is_active.is_(True))
        .order_by(BotInstance.id)
    )
    return list(rows.scalars())


def allocation_used(bots: list[BotInstance], *, excluding: int | None = None) -> Decimal:
    """Percent of the balance held by active bots, leaving out bot `excluding`."""
    return sum((b.allocation_percent for b in bots if b.id != excluding), Decimal(0))


async def owned_bot(
    session: AsyncSession, user_id: int, bot_id: int, *, lock: bool = False
) -> BotInstance | None:
    """An active bot of this user, or None (another user's bot looks exactly like a missing one)."""
    query = select(BotInstance).where(
        BotInstance.id == bot_id, BotInstance.user_id == user_id, BotInstance.is_active.is_(True)
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def active_name_taken(
    session: AsyncSession, user_id: int, name: str, *, excluding: int | None = None
) -> bool:
    query = select(func.count()).where(
        BotInstance.user_id == user_id, BotInstance.is_active.is_(True), BotInstance.name == name
    )
    if excluding is not None:
        query = query.where(BotInstance.id != excluding)
    return bool((await session.execute(query)).scalar_one())


async def grid_of(session: AsyncSession, bot_id: int) -> tuple[GridBotConfig, list[GridOrder]] | None:
    config = (
        await session.execute(select(GridBotConfig).where(GridBotConfig.bot_instance_id == bot_id))
    ).scalar_one_or_none()
    if config is None:
        return None
    orders = await session.execute(
        select(GridOrder).where(GridOrder.grid_config_id == config.id).order_by(GridOrder.grid_index)
    )
    return config, list(orders.scalars())


async def record_bot_activity(
    session: AsyncSession,
    bot: BotInstance,
    *,
    user_id: int,
    chat_id: int,
    total_trades: int,
    winning_trades: int,
    total_pnl: Decimal,
    last_fill_ts: int | None,
    trades: list[Trade],
    alerts: list[tuple[str, dict[str, Any]]],
) -> None:
    """A bot's stats, its new trades rows and their alerts, in the caller's transaction (one per fill)."""
    bot.total_trades = total_trades
    bot.winning_trades = winning_trades
    bot.total_pnl = total_pnl
    if last_fill_ts is not None:
        bot.last_trade_at = from_ms(last_fill_ts)
    session.add_all(trades)
    for kind, payload in alerts:
        await enqueue_alert(session, user_id=user_id, chat_id=chat_id, kind=kind, payload=payload, bot=bot)


async def enqueue_alert(
    session: AsyncSession,
    *,
    user_id: int,
    chat_id: int,
    kind: str,
    payload: dict[str, Any],
    bot: BotInstance | None = None,
) -> AlertOutbox | None:
    """Write a push alert in the caller's transaction; none for a bot with notifications off
    (except the kinds that must always reach the owner)."""
    if bot is not None and not bot.telegram_notify and kind not in ALWAYS_SENT_KINDS:
        return None
    alert = AlertOutbox(
        user_id=user_id,
        chat_id=chat_id,
        bot_instance_id=bot.id if bot is not None else None,
        kind=kind,
        payload=payload,
        created_at=utcnow(),
    )
    session.add(alert)
    return alert
