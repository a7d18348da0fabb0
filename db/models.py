"""The tables: the seed's bot_instances, grid_bot_configs, grid_orders and trades columns kept exactly
(defaults, CHECKs, unique constraints, indexes, ON DELETE rules), plus users, strategies and the alert outbox.

Where the seed's SQL and its SQLAlchemy sketch disagree the SQL wins (e.g. the max_leverage and
max_positions CHECKs, VARCHAR rather than ENUM for bot_type/grid_mode/status).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import conv

from db.base import Base, utcnow
from db.types import Money, Percent, num

NOW = text("CURRENT_TIMESTAMP")


def _created() -> Mapped[datetime | None]:
    return mapped_column(DateTime, default=utcnow, server_default=NOW)


def _updated() -> Mapped[datetime | None]:
    return mapped_column(DateTime, default=utcnow, onupdate=utcnow, server_default=NOW)


class Installation(Base):
    """This installation of multibot, made by the first migration: its id is the namespace every client
    order id the engine sends starts with (engine.client_ids), so the orders of another installation on
    the same exchange account (a staging copy, a second deployment) are never taken for ours."""

    __tablename__ = "installation"

    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    created_at: Mapped[datetime | None] = _created()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("language IN ('ko', 'en')", name="language_known"),
        CheckConstraint("trading_mode IN ('paper', 'live')", name="trading_mode_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")
    email: Mapped[str | None] = mapped_column(String(255))
    exchange_id: Mapped[str] = mapped_column(String(32), default="bitget", server_default="bitget")
    trading_mode: Mapped[str] = mapped_column(String(10), default="paper", server_default="paper")
    demo_trading: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    api_key_enc: Mapped[str | None] = mapped_column(Text)
    api_secret_enc: Mapped[str | None] = mapped_column(Text)
    api_passphrase_enc: Mapped[str | None] = mapped_column(Text)
    api_key_hint: Mapped[str | None] = mapped_column(String(16))  # masked key shown in the chat
    # which exchange account the stored keys open (a bot bound to another account is never moved to it)
    api_account_id: Mapped[str | None] = mapped_column(String(64))
    # the Bitget account's kind the keys open: classic (API v2) or uta (unified, API v3); None: not yet known
    api_account_kind: Mapped[str | None] = mapped_column(String(8))
    api_account_hint: Mapped[str | None] = mapped_column(String(16))  # masked exchange account id (uid)
    # the keys are demo-trading keys (Bitget's demo keys work only with PAPTRADING: 1, live keys only without)
    api_keys_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paper_balance: Mapped[Decimal] = mapped_column(
        Money(), default=Decimal("10000"), server_default=text("10000")
    )
    # reports (bot/services/reports.py): the daily one at report_hour in report_tz (None: the language's
    # default zone), the weekly one on Mondays at the same hour
    report_daily: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    report_weekly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    report_hour: Mapped[int] = mapped_column(Integer, default=9, server_default=text("9"))
    report_tz: Mapped[str | None] = mapped_column(String(64))
    # notifications (bot/services/notifications.py): level per event type, quiet hours (local hours, in
    # report_tz), the digest window of fills and cycles (minutes, 0 = off)
    notify: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quiet_from: Mapped[int | None] = mapped_column(Integer)
    quiet_to: Mapped[int | None] = mapped_column(Integer)
    digest_minutes: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # the account's risk guards (bot/services/risk.py): stop every bot when equity falls guard_drawdown %
    # below its peak, or below guard_floor, or loses guard_daily_loss since the local day began; the
    # stop closes what the bots hold when guard_close, else keeps it (positions protected)
    guard_drawdown: Mapped[Decimal | None] = mapped_column(Percent(), nullable=True)
    guard_floor: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    guard_daily_loss: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    guard_close: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    equity_peak: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    day_equity: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)  # at the local day's start
    day_equity_on: Mapped[str | None] = mapped_column(String(10))  # that local day (ISO date)
    guard_tripped_on: Mapped[str | None] = mapped_column(String(10))  # the day the daily limit stopped all
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()

    bots: Mapped[list[BotInstance]] = relationship(back_populates="user", lazy="raise")

    def __repr__(self) -> str:  # never shows the encrypted credentials
        return f"User(id={self.id}, telegram_id={self.telegram_id}, mode={self.trading_mode})"


class Strategy(Base):
    """A named signal model: built-in rows (user_id NULL) come from a migration; users save their own."""

    __tablename__ = "strategies"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8), default="1h", server_default="1h")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str | None] = mapped_column(Text)
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()


class BotInstance(Base):
    __tablename__ = "bot_instances"
    __table_args__ = (
        CheckConstraint(
            and_(num("allocation_percent") > 0, num("allocation_percent") <= 100),
            name=conv("check_allocation"),
        ),
        CheckConstraint("max_leverage >= 1 AND max_leverage <= 100", name="max_leverage_range"),
        CheckConstraint("max_positions >= 1 AND max_positions <= 20", name="max_positions_range"),
        CheckConstraint("bot_type IN ('ai_trend', 'grid')", name="bot_type_known"),
        CheckConstraint("venue IN ('paper', 'live', 'demo')", name="venue_known"),
        UniqueConstraint("user_id", "name", name=conv("unique_bot_name_per_user")),
        Index("idx_bot_instances_user_id", "user_id"),
        Index("idx_bot_instances_user_running", "user_id", "is_running"),
        Index("idx_bot_instances_type", "bot_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    strategy_id: Mapped[int | None] = mapped_column(ForeignKey("strategies.id", ondelete="SET NULL"))

    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    bot_type: Mapped[str] = mapped_column(String(20), default="ai_trend", server_default="ai_trend")

    allocation_percent: Mapped[Decimal] = mapped_column(
        Percent(), default=Decimal("10.0"), server_default=text("10.0")
    )
    symbol: Mapped[str] = mapped_column(String(20), default="BTCUSDT", server_default="BTCUSDT")

    max_leverage: Mapped[int] = mapped_column(Integer, default=10, server_default=text("10"))
    max_positions: Mapped[int] = mapped_column(Integer, default=3, server_default=text("3"))
    stop_loss_percent: Mapped[Decimal | None] = mapped_column(
        Percent(), nullable=True, default=Decimal("5.0"), server_default=text("5.0")
    )
    take_profit_percent: Mapped[Decimal | None] = mapped_column(
        Percent(), nullable=True, default=Decimal("10.0"), server_default=text("10.0")
    )
    # per-bot guards: stop when the bot's total PnL (realized + unrealized) is max_loss USDT down, or its
    # total PnL % of the investment reaches pnl_take_profit or -pnl_stop_loss (grid TP/SL as exchanges have)
    max_loss: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    pnl_take_profit: Mapped[Decimal | None] = mapped_column(Percent(), nullable=True)
    pnl_stop_loss: Mapped[Decimal | None] = mapped_column(Percent(), nullable=True)

    telegram_notify: Mapped[bool | None] = mapped_column(Boolean, default=True, server_default=true())

    is_running: Mapped[bool | None] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True, server_default=true())

    last_started_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_trade_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    # The venue (paper, live, demo) and exchange account the bot was started on: every tick uses them,
    # whatever the user's mode or keys are now (DESIGN.md, "A bot's life with real money").
    venue: Mapped[str | None] = mapped_column(String(8))
    venue_account: Mapped[str | None] = mapped_column(String(64))
    # A stop is a state, not one attempt: the engine keeps cancelling until the venue confirms every order
    # of the bot cancelled or filled and booked; delete_requested makes it soft-delete the bot then.
    stopping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stop_reason: Mapped[str | None] = mapped_column(String(20))
    stop_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    stop_note: Mapped[str | None] = mapped_column(Text)  # what a stop still waits for, and why
    delete_requested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    total_trades: Mapped[int | None] = mapped_column(Integer, default=0, server_default=text("0"))
    winning_trades: Mapped[int | None] = mapped_column(Integer, default=0, server_default=text("0"))
    total_pnl: Mapped[Decimal | None] = mapped_column(
        Money(), nullable=True, default=Decimal(0), server_default=text("0")
    )

    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()

    user: Mapped[User] = relationship(back_populates="bots", lazy="raise")
    strategy: Mapped[Strategy | None] = relationship(lazy="raise")
    grid_config: Mapped[GridBotConfig | None] = relationship(
        back_populates="bot_instance", uselist=False, lazy="raise"
    )


class GridBotConfig(Base):
    __tablename__ = "grid_bot_configs"
    __table_args__ = (
        CheckConstraint(num("upper_price") > num("lower_price"), name=conv("check_price_range")),
        CheckConstraint("grid_count >= 2", name=conv("check_grid_count")),
        CheckConstraint("grid_count >= 2 AND grid_count <= 100", name="grid_count_range"),
        CheckConstraint("grid_mode IN ('arithmetic', 'geometric')", name="grid_mode_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_instance_id: Mapped[int] = mapped_column(
        ForeignKey("bot_instances.id", ondelete="CASCADE"), unique=True
    )

    lower_price: Mapped[Decimal] = mapped_column(Money())
    upper_price: Mapped[Decimal] = mapped_column(Money())
    grid_count: Mapped[int] = mapped_column(Integer, default=10, server_default=text("10"))
    grid_mode: Mapped[str | None] = mapped_column(
        String(20), default="arithmetic", server_default="arithmetic"
    )

    total_investment: Mapped[Decimal] = mapped_column(Money())
    per_grid_amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)

    trigger_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    stop_upper: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    stop_lower: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    close_position_on_stop: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    current_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    active_buy_orders: Mapped[int | None] = mapped_column(Integer, default=0, server_default=text("0"))
    active_sell_orders: Mapped[int | None] = mapped_column(Integer, default=0, server_default=text("0"))
    filled_buy_count: Mapped[int | None] = mapped_column(Integer, default=0, server_default=text("0"))
    filled_sell_count: Mapped[int | None] = mapped_column(Integer, default=0, server_default=text("0"))
    realized_profit: Mapped[Decimal | None] = mapped_column(
        Money(), nullable=True, default=Decimal(0), server_default=text("0")
    )
    # coin the grid holds outside its intervals (what is left of a fill below the lot step), at its cost
    dust_qty: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    dust_cost: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))

    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()

    bot_instance: Mapped[BotInstance] = relationship(back_populates="grid_config", lazy="raise")
    orders: Mapped[list[GridOrder]] = relationship(
        back_populates="grid_config",
        cascade="all, delete-orphan",
        lazy="raise",
        order_by="GridOrder.grid_index",
    )


class GridOrder(Base):
    """Interval `grid_index` of a grid: it buys at `grid_price` (line i) and sells at line i+1."""

    __tablename__ = "grid_orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'buy_placed', 'buy_filled', 'sell_placed', 'sell_filled')",
            name="status_known",
        ),
        UniqueConstraint("grid_config_id", "grid_index", name=conv("unique_grid_per_config")),
        Index("idx_grid_orders_config", "grid_config_id"),
        Index("idx_grid_orders_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_config_id: Mapped[int] = mapped_column(ForeignKey("grid_bot_configs.id", ondelete="CASCADE"))

    grid_index: Mapped[int] = mapped_column(Integer)
    grid_price: Mapped[Decimal] = mapped_column(Money())

    buy_order_id: Mapped[str | None] = mapped_column(String(100))
    sell_order_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(20), default="pending", server_default="pending")
    # completed buy/sell cycles; with the side it makes the deterministic client order id
    cycle: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    qty: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)

    buy_filled_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    buy_filled_qty: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    buy_filled_at: Mapped[datetime | None] = mapped_column(DateTime)
    sell_filled_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    sell_filled_qty: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    sell_filled_at: Mapped[datetime | None] = mapped_column(DateTime)

    # fee of the current cycle's buy fill (quote currency): the cycle's profit needs it after a restart
    buy_fee: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    # coin the interval holds this cycle, net of a fee taken in the coin, on the lot step (what it sells)
    held_qty: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)

    profit: Mapped[Decimal | None] = mapped_column(
        Money(), nullable=True, default=Decimal(0), server_default=text("0")
    )

    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()

    grid_config: Mapped[GridBotConfig] = relationship(back_populates="orders", lazy="raise")


class Trade(Base):
    """One fill on the exchange. The seed adds bot_instance_id and trade_source to an existing table."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint("trade_source IN ('manual', 'ai_bot', 'grid_bot')", name="trade_source_known"),
        CheckConstraint("side IN ('buy', 'sell')", name="side_known"),
        Index("idx_trades_bot_instance", "bot_instance_id"),
        Index("ix_trades_user_id_executed_at", "user_id", "executed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    bot_instance_id: Mapped[int | None] = mapped_column(ForeignKey("bot_instances.id"))
    trade_source: Mapped[str | None] = mapped_column(String(20), default="manual", server_default="manual")
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(10), default="limit", server_default="limit")
    qty: Mapped[Decimal] = mapped_column(Money())
    price: Mapped[Decimal] = mapped_column(Money())
    fee: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))  # in quote
    fee_currency: Mapped[str | None] = mapped_column(String(10))  # what the venue charged it in
    # the part of the fee the venue took from the coin bought (Bitget spot buys), in base; `fee` is its value
    fee_base: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    realized_pnl: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    exchange_order_id: Mapped[str | None] = mapped_column(String(100))
    client_order_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    executed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime | None] = _created()


class BotHandback(Base):
    """Coin a bot held and handed back to its owner (a grid deleted with "keep the coins"): it leaves the
    bot's ledger and is the user's own again, outside every bot. `cost` is what the bot paid (quote)."""

    __tablename__ = "bot_handbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    bot_instance_id: Mapped[int] = mapped_column(ForeignKey("bot_instances.id", ondelete="CASCADE"))
    venue: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(16))
    qty: Mapped[Decimal] = mapped_column(Money())
    cost: Mapped[Decimal] = mapped_column(Money())
    created_at: Mapped[datetime | None] = _created()


class AlertOutbox(Base):
    """A push alert, written in the same transaction as the event; the sender marks it sent."""

    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    bot_instance_id: Mapped[int | None] = mapped_column(ForeignKey("bot_instances.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, server_default=NOW)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class AccountReport(Base):
    """A report written to the outbox: one row per user, kind and period (the unique key is what makes
    a report go out exactly once, across restarts and processes); `equity` is the account's equity when
    it was written (the daily rows are the equity-per-day history the next reports draw)."""

    __tablename__ = "account_reports"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", "period_start", name="uq_account_reports_period"),
        CheckConstraint("kind IN ('daily', 'weekly')", name="report_kind_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive like every timestamp here
    period_end: Mapped[datetime] = mapped_column(DateTime)
    equity: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    created_at: Mapped[datetime | None] = _created()


# --- the paper exchange's own state (engine.venues.paper): survives restarts ------------------------------


class PaperBalance(Base):
    """One asset of a paper account; `locked` is held by open orders (quote for buys, base for sells)."""

    __tablename__ = "paper_balances"
    __table_args__ = (UniqueConstraint("user_id", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    asset: Mapped[str] = mapped_column(String(16))
    free: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    locked: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    updated_at: Mapped[datetime | None] = _updated()


class PaperOrder(Base):
    """An order of the paper matching engine; its id is the exchange order id. `reserved` is what the
    order locked (quote for buys and futures margin, base for spot sells), released on fill or cancel."""

    __tablename__ = "paper_orders"
    __table_args__ = (
        CheckConstraint("side IN ('buy', 'sell')", name="side_known"),
        CheckConstraint("type IN ('limit', 'market')", name="type_known"),
        CheckConstraint("status IN ('open', 'closed', 'canceled', 'rejected')", name="status_known"),
        UniqueConstraint("user_id", "client_order_id"),
        Index("ix_paper_orders_status_symbol", "status", "symbol"),
        Index("ix_paper_orders_user_symbol", "user_id", "symbol"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    type: Mapped[str] = mapped_column(String(10))
    price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    qty: Mapped[Decimal] = mapped_column(Money())
    filled_qty: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    avg_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    fee: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    reserved: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    # the fee taken from the coin bought (base), as Bitget charges a spot buy; `fee` is its value in quote
    fee_base: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    client_order_id: Mapped[str] = mapped_column(String(64))
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # a stop-market order (type 'market'): rests until the price reaches it (engine.venues.paper.venue)
    trigger_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    created_ts: Mapped[int] = mapped_column(BigInteger)  # ms since the epoch (feed time)
    filled_ts: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()


class PaperPosition(Base):
    """A USDT-M perpetual position of a paper account (one-way mode: one row per symbol).
    `qty` is signed: > 0 long, < 0 short; `margin` is the isolated margin it holds (quote)."""

    __tablename__ = "paper_positions"
    __table_args__ = (UniqueConstraint("user_id", "symbol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32))
    qty: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    entry_price: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    leverage: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    margin: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    realized_pnl: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    updated_at: Mapped[datetime | None] = _updated()


class ReplayCursor(Base):
    """Where a replay feed stands (point index of its candle walk), committed with the fills of that point."""

    __tablename__ = "replay_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime | None] = _updated()


# --- the AI trend bot's own state (engine.trend.runtime) ----------------------------------------------


class TrendBotState(Base):
    """Where a trend bot stands: the open time (ms) of the last closed candle it decided on."""

    __tablename__ = "trend_bot_states"

    bot_instance_id: Mapped[int] = mapped_column(
        ForeignKey("bot_instances.id", ondelete="CASCADE"), primary_key=True
    )
    last_candle_ts: Mapped[int | None] = mapped_column(BigInteger)
    close_on_stop: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime | None] = _updated()


class TrendPositionRow(Base):
    """One position of a trend bot, its own ledger (bots of a user share the exchange position).

    Journaled before its orders go out: `entry_order_id` / `exit_order_id` / `tp_order_id` /
    `sl_order_id` (the exchange-side stop loss) are the
    deterministic client order ids. status: opening -> open -> closing -> closed (failed: the entry
    was refused). Prices and money in quote currency, qty in base, ts in ms since the epoch."""

    __tablename__ = "trend_positions"
    __table_args__ = (
        CheckConstraint("side IN ('long', 'short')", name="side_known"),
        CheckConstraint("status IN ('opening', 'open', 'closing', 'closed', 'failed')", name="status_known"),
        UniqueConstraint("bot_instance_id", "seq"),
        Index("ix_trend_positions_bot_status", "bot_instance_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_instance_id: Mapped[int] = mapped_column(ForeignKey("bot_instances.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(10), default="opening", server_default="opening")
    qty: Mapped[Decimal] = mapped_column(Money())
    margin: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0), server_default=text("0"))
    leverage: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    candle_ts: Mapped[int] = mapped_column(BigInteger)
    reference_price: Mapped[Decimal] = mapped_column(Money())
    entry_order_id: Mapped[str] = mapped_column(String(64))
    entry_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    entry_fee: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    entry_ts: Mapped[int | None] = mapped_column(BigInteger)
    stop_loss: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    take_profit: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    liquidation: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    tp_order_id: Mapped[str | None] = mapped_column(String(64))
    sl_order_id: Mapped[str | None] = mapped_column(String(64))
    exit_order_id: Mapped[str | None] = mapped_column(String(64))
    exit_reason: Mapped[str | None] = mapped_column(String(12))
    exit_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    exit_fee: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    exit_ts: Mapped[int | None] = mapped_column(BigInteger)
    pnl: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()


class TrendModelRow(Base):
    """A trained trend classifier (engine.trend.model.save_model bytes) per strategy, symbol and
    timeframe; `trained_until` is the open time (ms) of the last candle its training could see."""

    __tablename__ = "trend_models"
    __table_args__ = (UniqueConstraint("strategy_id", "symbol", "timeframe"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32))
    timeframe: Mapped[str] = mapped_column(String(8))
    model: Mapped[bytes] = mapped_column(LargeBinary)
    trained_until: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _updated()
