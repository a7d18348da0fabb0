"""What the services hand to the handlers: small frozen values, never ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.services.grid_money import GridMoney
from bot.services.trend_money import TrendMoney
from bot.services.validation import DELETED_NAME_SEPARATOR
from db.models import BotInstance, GridBotConfig, GridOrder, Trade, User


@dataclass(frozen=True, slots=True)
class UserDTO:
    id: int
    telegram_id: int
    chat_id: int
    username: str | None
    language: str
    exchange_id: str
    trading_mode: str
    demo_trading: bool
    has_api_keys: bool
    masked_api_key: str | None

    @classmethod
    def of(cls, user: User) -> UserDTO:
        return cls(
            id=user.id,
            telegram_id=user.telegram_id,
            chat_id=user.chat_id,
            username=user.username,
            language=user.language,
            exchange_id=user.exchange_id,
            trading_mode=user.trading_mode,
            demo_trading=bool(user.demo_trading),
            has_api_keys=user.api_key_enc is not None,
            masked_api_key=user.api_key_hint,
        )


@dataclass(frozen=True, slots=True)
class GridLineDTO:
    """Interval `index`: buys at `buy_price` (line i), sells at `sell_price` (line i+1)."""

    index: int
    buy_price: Decimal
    sell_price: Decimal
    status: str
    cycle: int
    profit: Decimal


@dataclass(frozen=True, slots=True)
class GridDTO:
    lower_price: Decimal
    upper_price: Decimal
    grid_count: int
    grid_mode: str
    total_investment: Decimal
    per_grid_amount: Decimal
    trigger_price: Decimal | None
    stop_upper: Decimal | None
    stop_lower: Decimal | None
    close_position_on_stop: bool
    current_price: Decimal | None
    active_buy_orders: int
    active_sell_orders: int
    filled_buy_count: int
    filled_sell_count: int
    realized_profit: Decimal
    intervals: tuple[GridLineDTO, ...]
    money: GridMoney | None = None  # the trader's figures (bot/services/grid_money.py), on cards

    @property
    def lines(self) -> tuple[Decimal, ...]:
        """The grid_count + 1 line prices, lowest first."""
        if not self.intervals:
            return ()
        return (*(i.buy_price for i in self.intervals), self.intervals[-1].sell_price)

    @classmethod
    def of(cls, config: GridBotConfig, orders: list[GridOrder], money: GridMoney | None = None) -> GridDTO:
        ordered = sorted(orders, key=lambda o: o.grid_index)
        intervals = tuple(
            GridLineDTO(
                index=o.grid_index,
                buy_price=o.grid_price,
                sell_price=ordered[k + 1].grid_price if k + 1 < len(ordered) else config.upper_price,
                status=o.status or "pending",
                cycle=o.cycle,
                profit=o.profit or Decimal(0),
            )
            for k, o in enumerate(ordered)
        )
        return cls(
            lower_price=config.lower_price,
            upper_price=config.upper_price,
            grid_count=config.grid_count,
            grid_mode=config.grid_mode or "arithmetic",
            total_investment=config.total_investment,
            per_grid_amount=config.per_grid_amount or Decimal(0),
            trigger_price=config.trigger_price,
            stop_upper=config.stop_upper,
            stop_lower=config.stop_lower,
            close_position_on_stop=config.close_position_on_stop,
            current_price=config.current_price,
            active_buy_orders=config.active_buy_orders or 0,
            active_sell_orders=config.active_sell_orders or 0,
            filled_buy_count=config.filled_buy_count or 0,
            filled_sell_count=config.filled_sell_count or 0,
            realized_profit=config.realized_profit or Decimal(0),
            intervals=intervals,
            money=money,
        )


@dataclass(frozen=True, slots=True)
class BotDTO:
    id: int
    user_id: int
    name: str
    bot_type: str
    symbol: str
    strategy_id: int | None
    allocation_percent: Decimal
    max_leverage: int
    max_positions: int
    stop_loss_percent: Decimal | None
    take_profit_percent: Decimal | None
    telegram_notify: bool
    is_running: bool
    is_active: bool
    total_trades: int
    winning_trades: int
    total_pnl: Decimal
    last_error: str | None
    last_started_at: datetime | None
    last_stopped_at: datetime | None
    last_trade_at: datetime | None
    grid: GridDTO | None = None
    stopping: bool = False  # the stop is still being carried out (see stop_note)
    stop_note: str | None = None
    venue: str | None = None  # what the bot runs (or ran) on: paper, live or demo
    delete_requested: bool = False
    trend: TrendMoney | None = None  # a trend bot's positions and figures, on its card
    max_loss: Decimal | None = None  # stop at this loss of total PnL (USDT); None: no limit
    pnl_take_profit: Decimal | None = None  # stop when total PnL % of the investment reaches it
    pnl_stop_loss: Decimal | None = None  # stop when total PnL % falls to minus it

    @property
    def win_rate(self) -> Decimal | None:
        """Percent 0-100 of trades that won, None before the first trade."""
        if not self.total_trades:
            return None
        return (Decimal(self.winning_trades) * 100 / Decimal(self.total_trades)).quantize(Decimal("0.1"))

    @classmethod
    def of(cls, bot: BotInstance, grid: GridDTO | None = None) -> BotDTO:
        return cls(
            id=bot.id,
            user_id=bot.user_id,
            name=bot.name.split(DELETED_NAME_SEPARATOR, 1)[0],
            bot_type=bot.bot_type,
            symbol=bot.symbol,
            strategy_id=bot.strategy_id,
            allocation_percent=bot.allocation_percent,
            max_leverage=bot.max_leverage,
            max_positions=bot.max_positions,
            stop_loss_percent=bot.stop_loss_percent,
            take_profit_percent=bot.take_profit_percent,
            telegram_notify=bool(bot.telegram_notify),
            is_running=bool(bot.is_running),
            is_active=bool(bot.is_active),
            total_trades=bot.total_trades or 0,
            winning_trades=bot.winning_trades or 0,
            total_pnl=bot.total_pnl or Decimal(0),
            last_error=bot.last_error,
            last_started_at=bot.last_started_at,
            last_stopped_at=bot.last_stopped_at,
            last_trade_at=bot.last_trade_at,
            grid=grid,
            stopping=bool(bot.stopping),
            stop_note=bot.stop_note,
            venue=bot.venue,
            delete_requested=bool(bot.delete_requested),
            max_loss=bot.max_loss,
            pnl_take_profit=bot.pnl_take_profit,
            pnl_stop_loss=bot.pnl_stop_loss,
        )


@dataclass(frozen=True, slots=True)
class BotShare:
    bot_id: int
    name: str
    bot_type: str
    allocation_percent: Decimal
    is_running: bool


@dataclass(frozen=True, slots=True)
class AllocationSummary:
    """Every active bot's share of the balance and what is left (percent, 0-100)."""

    shares: tuple[BotShare, ...]
    used_percent: Decimal
    free_percent: Decimal


@dataclass(frozen=True, slots=True)
class AllocationChange:
    bot: BotDTO
    free_percent: Decimal


@dataclass(frozen=True, slots=True)
class TradeDTO:
    """One fill of a bot: qty in base currency, price/fee/pnl in quote currency (USDT)."""

    id: int
    bot_id: int | None
    source: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal | None
    executed_at: datetime

    @classmethod
    def of(cls, row: Trade) -> TradeDTO:
        return cls(
            id=row.id,
            bot_id=row.bot_instance_id,
            source=row.trade_source or "manual",
            symbol=row.symbol,
            side=row.side,
            qty=row.qty,
            price=row.price,
            fee=row.fee,
            realized_pnl=row.realized_pnl,
            executed_at=row.executed_at,
        )
