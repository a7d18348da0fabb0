"""Queries that keep the invariants inside the caller's transaction.

The allocation sum is read only after the user's row is locked (FOR UPDATE on PostgreSQL; on SQLite the
write transaction already began with BEGIN IMMEDIATE), so two requests of one user never both pass.
Sums of money are added in Python with Decimal: on SQLite the column holds exact text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import from_ms, utcnow
from db.bulk import ids_where, insert_rows, update_rows_where
from db.models import (
    AlertOutbox,
    BotInstance,
    GridBotConfig,
    GridOrder,
    Installation,
    Strategy,
    Trade,
    TrendPositionRow,
    User,
)

# Alerts that reach the chat even when the bot's notifications are off.
ALWAYS_SENT_KINDS = frozenset({"bot_stopped_error"})


async def installation_id(session: AsyncSession) -> str:
    """This installation's id (the namespace of its client order ids), made by the first migration."""
    query = select(Installation.id).order_by(Installation.created_at)
    found = (await session.execute(query)).scalars().first()
    if found is None:
        raise LookupError("the database has no installation id: run the migrations (multibot migrate)")
    return found


def private_chat(user: User) -> int:
    """Where a user's alerts go: their private chat with the bot (its id is the user's Telegram id),
    never a group they first wrote from."""
    return user.telegram_id


def base_of(symbol: str) -> str:
    """The base currency of our symbol ('BTCUSDT' -> 'BTC')."""
    for quote in ("USDT", "USDC", "BTC", "ETH"):
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


HOLDING_GRID = ("buy_placed", "buy_filled", "sell_placed")
ACTIVE_TREND = ("opening", "open", "closing")


async def bot_holds(session: AsyncSession, bot: BotInstance) -> bool:
    """The bot has orders out, coin bought in its intervals or an open position (its dust, coin below
    the lot step, does not count: it is handed back when the bot moves on)."""
    if bot.bot_type == "grid":
        query = (
            select(func.count())
            .select_from(GridOrder)
            .join(GridBotConfig, GridBotConfig.id == GridOrder.grid_config_id)
            .where(GridBotConfig.bot_instance_id == bot.id, GridOrder.status.in_(HOLDING_GRID))
        )
    else:
        query = select(func.count()).where(
            TrendPositionRow.bot_instance_id == bot.id, TrendPositionRow.status.in_(ACTIVE_TREND)
        )
    return bool((await session.execute(query)).scalar_one())


async def trades_spot(session: AsyncSession, bot: BotInstance) -> bool:
    """A trend bot whose strategy trades spot (long only); the others trade the perpetual."""
    if bot.strategy_id is None:
        return False
    params = (await session.execute(select(Strategy.params).where(Strategy.id == bot.strategy_id))).scalar()
    return bool(params) and params.get("market_type") == "spot"


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


FillRow = tuple[str, Decimal, Decimal, Decimal, Decimal | None]


async def bot_fills(session: AsyncSession, bot_id: int) -> list[FillRow]:
    """(side, qty, price, fee, fee_base) of every trades row of the bot, oldest first."""
    rows = await session.execute(
        select(Trade.side, Trade.qty, Trade.price, Trade.fee, Trade.fee_base)
        .where(Trade.bot_instance_id == bot_id)
        .order_by(Trade.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def bot_fees_and_pnl(session: AsyncSession, bot_id: int) -> list[tuple[Decimal, Decimal | None]]:
    """(fee, realized PnL) of every trades row of the bot, oldest first."""
    rows = await session.execute(
        select(Trade.fee, Trade.realized_pnl).where(Trade.bot_instance_id == bot_id).order_by(Trade.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def open_trend_positions(session: AsyncSession, bot_id: int) -> list[TrendPositionRow]:
    """The trend bot's open positions (open, or closing and not yet filled), in their order."""
    rows = await session.execute(
        select(TrendPositionRow)
        .where(TrendPositionRow.bot_instance_id == bot_id, TrendPositionRow.status.in_(("open", "closing")))
        .order_by(TrendPositionRow.seq)
    )
    return list(rows.scalars())


def bot_stats(
    *, total_trades: int, winning_trades: int, total_pnl: Decimal, last_fill_ts: int | None
) -> dict[str, Any]:
    """The bot_instances columns a bot's activity sets (last_trade_at only when something filled)."""
    values: dict[str, Any] = {
        "total_trades": total_trades,
        "winning_trades": winning_trades,
        "total_pnl": total_pnl,
    }
    if last_fill_ts is not None:
        values["last_trade_at"] = from_ms(last_fill_ts)
    return values


def alert_wanted(kind: str, telegram_notify: bool | None) -> bool:
    """A bot's alert is written when its notifications are on, or when its kind must always be sent."""
    return bool(telegram_notify) or kind in ALWAYS_SENT_KINDS


def alert_values(
    *,
    user_id: int,
    chat_id: int,
    bot_id: int | None,
    kind: str,
    payload: dict[str, Any],
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The alert_outbox columns of a new alert (`created_at`: now when not given)."""
    return {
        "user_id": user_id,
        "chat_id": chat_id,
        "bot_instance_id": bot_id,
        "kind": kind,
        "payload": payload,
        "created_at": created_at or utcnow(),
    }


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
    """A bot's stats, its new trades rows and their alerts, in the caller's transaction (one per fill).
    The ORM variant; `write_bots_activity` is the same for many bots in Core statements."""
    stats = bot_stats(
        total_trades=total_trades,
        winning_trades=winning_trades,
        total_pnl=total_pnl,
        last_fill_ts=last_fill_ts,
    )
    for name, value in stats.items():
        setattr(bot, name, value)
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
    if bot is not None and not alert_wanted(kind, bot.telegram_notify):
        return None
    alert = AlertOutbox(
        **alert_values(
            user_id=user_id,
            chat_id=chat_id,
            bot_id=bot.id if bot is not None else None,
            kind=kind,
            payload=payload,
        )
    )
    session.add(alert)
    return alert


# ---- Core: the engine's write path (Database.run_write), many bots per transaction -----------------


class RowsGone(LookupError):
    """An UPDATE by id found fewer rows than it was given (the row was deleted under the writer)."""


def update_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE `table` SET <the row's other keys> WHERE id = row["_id"], for every row: rows that set
    the same columns go in one multi-row statement (db.bulk), listed in id order.
    Onupdate defaults (updated_at) apply. Raises RowsGone when the database can tell a row is missing."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    dialect = connection.dialect
    for group in groups.values():
        group.sort(key=lambda row: row["_id"])
        changed = update_rows_where(connection, table, {"_id": "id"}, group)
        sane = dialect.supports_sane_multi_rowcount if len(group) > 1 else dialect.supports_sane_rowcount
        if sane and changed != len(group):
            raise RowsGone(f"{table.name}: {len(group) - changed} of {len(group)} rows are gone")


@dataclass(slots=True)
class BotActivity:
    """What `record_bot_activity` writes for one bot, as plain values: its stats, its new trades rows
    (dicts of trades columns) and its alerts (kind, payload)."""

    bot_id: int
    user_id: int
    chat_id: int
    total_trades: int
    winning_trades: int
    total_pnl: Decimal
    last_fill_ts: int | None
    trades: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def write_bots_activity(connection: Connection, activities: Sequence[BotActivity]) -> None:
    """`record_bot_activity` for many bots in Core statements on the caller's (synchronous) connection:
    one multi-row statement per table (db.bulk). The bots' telegram_notify is read in the same
    transaction after their rows are updated (so on PostgreSQL after their row locks are held), never
    from a cache: the owner can turn notifications off at any time."""
    if not activities:
        return
    if connection.dialect.name == "postgresql":
        # The owners' rows first (FOR KEY SHARE, in id order), as every other writer takes the user
        # before the bot (a stop locks the user FOR UPDATE, then updates the bot row). Updating the bots
        # first and then inserting trades (whose foreign key takes KEY SHARE on the user) deadlocked
        # with such a stop. Ticks do not wait for each other: KEY SHARE locks share.
        connection.execute(
            select(User.id)
            .where(User.id.in_(sorted({a.user_id for a in activities})))
            .order_by(User.id)
            .with_for_update(read=True, key_share=True)
        )
    update_rows(
        connection,
        BotInstance.__table__,
        [
            {
                "_id": a.bot_id,
                **bot_stats(
                    total_trades=a.total_trades,
                    winning_trades=a.winning_trades,
                    total_pnl=a.total_pnl,
                    last_fill_ts=a.last_fill_ts,
                ),
            }
            for a in activities
        ],
    )
    trades = [row for a in activities for row in a.trades]
    if trades:
        insert_rows(connection, Trade.__table__, trades)
    asking = {a.bot_id for a in activities for kind, _ in a.alerts if kind not in ALWAYS_SENT_KINDS}
    notifying = ids_where(
        connection, BotInstance.__table__.c.id, BotInstance.__table__.c.telegram_notify.is_(True), asking
    )
    now = utcnow()  # one transaction, one time
    alerts = [
        alert_values(
            user_id=a.user_id, chat_id=a.chat_id, bot_id=a.bot_id, kind=kind, payload=payload, created_at=now
        )
        for a in activities
        for kind, payload in a.alerts
        if alert_wanted(kind, a.bot_id in notifying)
    ]
    if alerts:
        insert_rows(connection, AlertOutbox.__table__, alerts)
