"""A grid's plan from its validated parameters and the market's rules: the lines rounded to the tick,
the quote amount per interval and each interval's quantity; a grid under the exchange's minimum is
refused with the smallest investment that works; the fee rates a user's grid pays (the account's own on a
live or demo account, the paper venue's otherwise), which the preview's profit per grid is net of."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.services import validation as v
from bot.services.errors import DomainError, ValidationError
from engine.exchange import ExchangeError, FeeRates
from engine.grid import lines as grid_math
from engine.grid.intervals import initial_placement
from engine.markets import MarketRules

# (user_id, our symbol 'BTCUSDT') -> the account's own fee rates where the user trades now, None on paper
FeeRatesFor = Callable[[int, str], Awaitable[FeeRates | None]]


class GridTooSmall(DomainError):
    """A grid interval's order would be under the market's minimum."""

    code = "grid_too_small"

    def __init__(self, min_investment: Decimal) -> None:
        super().__init__(
            f"each grid order would be under the exchange minimum; invest at least {min_investment}",
            min_investment=min_investment,
        )
        self.min_investment = min_investment


@dataclass(frozen=True, slots=True)
class GridPlan:
    """The computed grid: grid_count + 1 lines, the quote amount per interval and each interval's quantity."""

    lines: list[Decimal]
    per_grid_amount: Decimal
    quantities: list[Decimal]


def plan_grid(params: v.GridParams, market: MarketRules) -> GridPlan:
    """Lines rounded to the market's tick, quantities to its lot step; refuses a grid under the minimum."""
    try:
        lines = grid_math.grid_lines(
            params.lower, params.upper, params.grid_count, params.mode, market.price_tick
        )
    except ValueError:  # two lines rounded to the same tick
        lines = []
    if not lines or len(set(lines)) != len(lines):
        raise ValidationError(
            "grid_count", "the range is too narrow for this many grids at the market's tick"
        )
    per_grid = grid_math.per_grid_amount(params.total_investment, params.grid_count)
    quantities = [
        grid_math.interval_qty(per_grid, lines[i], market.amount_step) for i in range(params.grid_count)
    ]
    if any(qty < market.min_qty or qty * lines[i] < market.min_notional for i, qty in enumerate(quantities)):
        minimum = grid_math.min_investment_for(
            lines, params.grid_count, market.amount_step, market.min_qty, market.min_notional
        )
        raise GridTooSmall(minimum)
    return GridPlan(lines, per_grid, quantities)


def start_split(lines: list[Decimal], price: Decimal) -> tuple[list[int], list[int]]:
    """The grid's start at `price` as the engine makes it (DESIGN.md fill rule 3): (the intervals that rest
    a buy, the intervals bought at market in one order that rest their sell)."""
    return initial_placement(lines, price)


async def grid_fee_rates(
    fee_rates_for: FeeRatesFor | None, user_id: int, symbol: str, maker: Decimal, taker: Decimal
) -> tuple[Decimal, Decimal]:
    """(maker, taker) a grid of the user pays on `symbol`: the account's own rates where the user trades
    live or demo (read once per account and market, engine.venues.live.futures), else `maker` and
    `taker` (the paper venue's configured rates; also when the exchange cannot be asked now)."""
    if fee_rates_for is None:
        return maker, taker
    try:
        rates = await fee_rates_for(user_id, symbol)
    except ExchangeError:
        return maker, taker
    return (rates.maker, rates.taker) if rates is not None else (maker, taker)
