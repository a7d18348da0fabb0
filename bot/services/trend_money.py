"""A trend bot's money as a trader reads it (DESIGN.md, "Money a trader reads"), from the ledger the
engine writes: its open positions (trend_positions rows: side, size, entry and its fee, liquidation, stop
loss, take profit) and its trades rows (every fill's fee, every exit's realized PnL net of fees).

- unrealized PnL of a position = (mark - entry) x qty x side - its entry fee;
- realized PnL = the sum of exits' PnL, net of fees; win rate and trades count closed positions;
- max drawdown = the deepest fall of realized PnL from its running peak (exits in order), the open
  positions' unrealized PnL counted as the last point;
- ROI on the bot's capital (allocation x account equity), when the equity could be read;
- liquidation price: the venue's for the position of that side (Bitget's own figure on a live or demo
  account, the paper venue's isolated one on paper), the ledger's estimate when the venue has none."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from engine.exchange import Position

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class PositionView:
    side: str  # long or short
    qty: Decimal
    entry_price: Decimal
    entry_fee: Decimal
    leverage: int
    mark: Decimal | None
    unrealized_pnl: Decimal | None  # None without a mark price
    liquidation: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None


@dataclass(frozen=True, slots=True)
class TrendMoney:
    positions: tuple[PositionView, ...]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    trades: int
    wins: int
    fees_paid: Decimal
    max_drawdown: Decimal
    capital: Decimal | None
    roi_percent: Decimal | None

    @property
    def win_rate(self) -> Decimal | None:
        return Decimal(self.wins) * HUNDRED / Decimal(self.trades) if self.trades else None

    @property
    def max_drawdown_percent(self) -> Decimal | None:
        return self.max_drawdown * HUNDRED / self.capital if self.capital else None


@dataclass(frozen=True, slots=True)
class OpenPosition:
    side: str
    qty: Decimal
    entry_price: Decimal
    entry_fee: Decimal
    leverage: int
    liquidation: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None


# (user_id, venue, our symbol 'BTCUSDT') -> the account's open positions on that perpetual; the engine's
PositionsFor = Callable[[int, str, str], Awaitable[Sequence[Position]]]


def with_venue_liquidation(
    positions: Sequence[OpenPosition], venue_positions: Sequence[Position]
) -> list[OpenPosition]:
    """Each position's liquidation price as the venue reports it for the position of its side: one trend
    bot trades a perpetual of an account (bot.services.lifecycle refuses a second), so the venue's
    position of that side is the bot's. Kept as it is where the venue names none."""
    by_side = {p.side: p.liquidation_price for p in venue_positions if p.liquidation_price is not None}
    return [replace(p, liquidation=by_side.get(p.side, p.liquidation)) for p in positions]


def trend_money(
    positions: Sequence[OpenPosition],
    fills: Iterable[tuple[Decimal, Decimal | None]],
    *,
    mark: Decimal | None,
    trades: int,
    wins: int,
    capital: Decimal | None,
) -> TrendMoney:
    """`fills`: (fee, realized PnL or None for an entry) of every trades row of the bot, in order."""
    views = []
    unrealized = ZERO
    for p in positions:
        pnl = None
        if mark is not None:
            sign = 1 if p.side == "long" else -1
            pnl = (mark - p.entry_price) * p.qty * sign - p.entry_fee
            unrealized += pnl
        views.append(
            PositionView(
                p.side,
                p.qty,
                p.entry_price,
                p.entry_fee,
                p.leverage,
                mark,
                pnl,
                p.liquidation,
                p.stop_loss,
                p.take_profit,
            )
        )
    realized = fees = peak = drawdown = ZERO
    for fee, pnl in fills:
        fees += fee
        if pnl is not None:
            realized += pnl
            peak = max(peak, realized)
            drawdown = max(drawdown, peak - realized)
    drawdown = max(drawdown, peak - (realized + unrealized))
    total = realized + unrealized
    return TrendMoney(
        positions=tuple(views),
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        trades=trades,
        wins=wins,
        fees_paid=fees,
        max_drawdown=drawdown,
        capital=capital,
        roi_percent=total * HUNDRED / capital if capital else None,
    )
