"""A grid bot's money as a trader reads it (DESIGN.md, "Money a trader reads"), from the one ledger the
engine writes: the bot's trades rows (every fill, its fee and the coin the fee was taken in) and its grid
configuration (investment, the cycles' profit, the last price the bot saw, its resting orders).

- investment: the quote the bot committed at start;
- grid profit: the sum of completed cycles' profit, net of both fees (as the engine booked it);
- held: the coin the bot's fills left it (bought, minus fees taken in the coin, minus sold);
- total PnL = current value - investment, where current value = the bot's quote (investment plus what
  its sells brought minus what its buys paid, fees included) + held x mark;
- floating PnL = total PnL - grid profit (the unpaired part), so the two always add up to the total;
  cost of held = held x mark - floating PnL (what the held coin cost, fees included);
- ROI = total PnL / investment; APR = ROI x 365 / days running.
The mark is the last price the bot saw (its grid configuration's current price)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

ZERO = Decimal(0)
DAY_SECONDS = Decimal(86_400)


@dataclass(frozen=True, slots=True)
class Fill:
    """One trades row of the bot: qty in the coin, price and fee in quote; fee_base: the part of the fee
    taken in the coin (its quote value is in fee), None when the fee was paid in quote."""

    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_base: Decimal | None = None


@dataclass(frozen=True, slots=True)
class GridMoney:
    investment: Decimal
    grid_profit: Decimal
    floating_pnl: Decimal
    total_pnl: Decimal
    current_value: Decimal
    roi_percent: Decimal
    apr_percent: Decimal | None  # None before a day's worth of seconds makes it meaningful (see days)
    seconds_running: int
    cycles: int
    fees_paid: Decimal
    held: Decimal
    held_cost: Decimal
    average_cost: Decimal | None  # None when nothing is held
    mark: Decimal | None
    buys_resting: int
    sells_resting: int


def grid_money(
    fills: Iterable[Fill],
    *,
    investment: Decimal,
    grid_profit: Decimal,
    cycles: int,
    mark: Decimal | None,
    started_at: datetime | None,
    now: datetime,
    buys_resting: int,
    sells_resting: int,
) -> GridMoney:
    held = cash = fees = ZERO
    for fill in fills:
        coin_fee = fill.fee_base or ZERO
        quote_fee = ZERO if coin_fee else fill.fee
        notional = fill.qty * fill.price
        fees += fill.fee
        if fill.side == "buy":
            held += fill.qty - coin_fee
            cash -= notional + quote_fee
        else:
            held -= fill.qty + coin_fee
            cash += notional - quote_fee
    value_held = held * mark if mark is not None else ZERO
    total = cash + value_held
    floating = total - grid_profit
    cost = value_held - floating
    roi = total / investment * 100 if investment else ZERO
    seconds = max(0, int((now - started_at).total_seconds())) if started_at is not None else 0
    apr = roi * 365 * DAY_SECONDS / seconds if seconds else None
    return GridMoney(
        investment=investment,
        grid_profit=grid_profit,
        floating_pnl=floating,
        total_pnl=total,
        current_value=investment + total,
        roi_percent=roi,
        apr_percent=apr,
        seconds_running=seconds,
        cycles=cycles,
        fees_paid=fees,
        held=held,
        held_cost=cost,
        average_cost=cost / held if held > 0 else None,
        mark=mark,
        buys_resting=buys_resting,
        sells_resting=sells_resting,
    )
