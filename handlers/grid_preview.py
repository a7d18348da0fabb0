"""The grid preview shown before a grid bot is confirmed: computed from numbers only (no I/O, no aiogram).

`compute_preview` does the math with the same functions the fleet uses at creation (`engine.grid.lines`),
so the lines and quantities shown are the ones that will be written; `render_preview` turns the result into
HTML text in the user's language.

Profit per grid, in percent of the capital of one interval, after maker fees on both fills
(fee = price x qty x rate, DESIGN.md fill rule 6). Interval i buys qty q at line p_i and sells it at p_(i+1):

    profit   = q p_(i+1) - q p_i - f q p_i - f q p_(i+1)
    cost     = q p_i
    profit % = (p_(i+1) (1 - f) - p_i (1 + f)) / p_i x 100
             = ((p_(i+1) / p_i) (1 - f) - 1 - f) x 100

q cancels, so the figure does not depend on the lot rounding. It is rounded DOWN to 0.01 (never
overstated). For an arithmetic grid the lowest interval earns the most and the highest the least; for a
geometric grid both are equal up to the tick rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal, localcontext
from html import escape

from bot.i18n import t
from engine.grid import lines as grid_math
from engine.markets import MarketRules

HUNDRED = Decimal(100)
PERCENT_PLACES = Decimal("0.01")
CENTS = Decimal("0.01")
# All lines are listed up to this many; beyond it the first and last CONDENSED_EDGE lines, with "…" between.
MAX_LINES_SHOWN = 7
CONDENSED_EDGE = 3


@dataclass(frozen=True, slots=True)
class GridPreview:
    """The computed grid. Money in quote currency, quantities in base currency, percents 0-100."""

    symbol: str
    base: str
    quote: str
    mode: str
    lines: tuple[Decimal, ...]
    total_investment: Decimal
    per_grid_amount: Decimal
    quantities: tuple[Decimal, ...]
    profit_lowest_percent: Decimal  # interval 0: line 0 -> line 1
    profit_highest_percent: Decimal  # interval N-1: line N-1 -> line N
    maker_fee_rate: Decimal
    allocation_percent: Decimal
    allocated_capital: Decimal | None  # allocation % x account equity; None when the equity is unknown
    min_investment: Decimal | None  # set only when some interval's order is under the market minimum

    @property
    def grid_count(self) -> int:
        return len(self.lines) - 1

    @property
    def too_small(self) -> bool:
        return self.min_investment is not None

    @property
    def over_allocation(self) -> bool:
        """The grid needs more than the bot's allocated capital (the fleet will refuse to start it)."""
        return self.allocated_capital is not None and self.total_investment > self.allocated_capital

    @property
    def loses_per_cycle(self) -> bool:
        """Fees eat the whole step of at least one interval."""
        return min(self.profit_lowest_percent, self.profit_highest_percent) <= 0


def interval_profit_percent(buy_price: Decimal, sell_price: Decimal, maker_fee_rate: Decimal) -> Decimal:
    """Profit of one buy-then-sell cycle in percent of its cost, after maker fees on both fills.

    ``(sell (1 - f) - buy (1 + f)) / buy x 100``, rounded down to 0.01 (see the module docstring).
    """
    with localcontext() as ctx:
        ctx.prec = 50
        raw = (sell_price * (1 - maker_fee_rate) - buy_price * (1 + maker_fee_rate)) / buy_price * HUNDRED
        return raw.quantize(PERCENT_PLACES, rounding=ROUND_FLOOR)


def compute_preview(
    *,
    lower: Decimal,
    upper: Decimal,
    grid_count: int,
    mode: str,
    total_investment: Decimal,
    market: MarketRules,
    maker_fee_rate: Decimal,
    allocation_percent: Decimal,
    equity: Decimal | None = None,
) -> GridPreview:
    """The preview of a grid; ValueError when the lines cannot be drawn (range too narrow for the tick)."""
    lines = grid_math.grid_lines(lower, upper, grid_count, mode, market.price_tick)
    per_grid = grid_math.per_grid_amount(total_investment, grid_count)
    quantities = grid_math.interval_quantities(lines, per_grid, market.amount_step)
    too_small = any(
        qty <= 0 or qty < market.min_qty or qty * lines[i] < market.min_notional
        for i, qty in enumerate(quantities)
    )
    minimum = (
        grid_math.min_investment_for(
            lines, grid_count, market.amount_step, market.min_qty, market.min_notional
        )
        if too_small
        else None
    )
    allocated = (
        (equity * allocation_percent / HUNDRED).quantize(CENTS, rounding=ROUND_DOWN)
        if equity is not None
        else None
    )
    return GridPreview(
        symbol=market.symbol,
        base=market.base,
        quote=market.quote,
        mode=mode,
        lines=tuple(lines),
        total_investment=total_investment,
        per_grid_amount=per_grid,
        quantities=tuple(quantities),
        profit_lowest_percent=interval_profit_percent(lines[0], lines[1], maker_fee_rate),
        profit_highest_percent=interval_profit_percent(lines[-2], lines[-1], maker_fee_rate),
        maker_fee_rate=maker_fee_rate,
        allocation_percent=allocation_percent,
        allocated_capital=allocated,
        min_investment=minimum,
    )


def condensed_lines(lines: tuple[Decimal, ...] | list[Decimal]) -> list[Decimal | None]:
    """All lines when there are few, else the first and last three with None standing for the gap."""
    if len(lines) <= MAX_LINES_SHOWN:
        return list(lines)
    return [*lines[:CONDENSED_EDGE], None, *lines[-CONDENSED_EDGE:]]


def number(value: Decimal) -> str:
    """A Decimal as plain text with thousands separators, its own decimals kept ('60,000.00')."""
    return f"{value:,f}"


def money(value: Decimal) -> str:
    """Quote currency amount shown to the cent, rounded down."""
    return number(value.quantize(CENTS, rounding=ROUND_DOWN))


def percent(value: Decimal) -> str:
    return number(value.normalize()) if value == value.to_integral_value() else number(value)


def render_preview(preview: GridPreview, lang: str, *, name: str) -> str:
    """The preview as HTML (parse_mode HTML); `name` is the user's text and is escaped here."""
    shown = condensed_lines(preview.lines)
    line_text = " · ".join("…" if line is None else number(line) for line in shown)
    parts = [
        t(lang, "wizard.preview.title", name=escape(name), symbol=escape(preview.symbol)),
        t(
            lang,
            "wizard.preview.range",
            lower=number(preview.lines[0]),
            upper=number(preview.lines[-1]),
            count=preview.grid_count,
            mode=t(lang, f"wizard.mode.{preview.mode}"),
            quote=preview.quote,
        ),
        t(lang, "wizard.preview.lines", count=len(preview.lines), lines=line_text),
        t(
            lang,
            "wizard.preview.per_grid",
            amount=money(preview.per_grid_amount),
            investment=money(preview.total_investment),
            quote=preview.quote,
        ),
        t(
            lang,
            "wizard.preview.qty",
            qty_min=number(min(preview.quantities)),
            qty_max=number(max(preview.quantities)),
            base=preview.base,
        ),
        t(
            lang,
            "wizard.preview.profit",
            low=percent(preview.profit_lowest_percent),
            high=percent(preview.profit_highest_percent),
            fee=percent((preview.maker_fee_rate * HUNDRED).normalize()),
        ),
    ]
    if preview.allocated_capital is None:
        parts.append(
            t(
                lang,
                "wizard.preview.capital_unknown",
                needed=money(preview.total_investment),
                quote=preview.quote,
                allocation=percent(preview.allocation_percent),
            )
        )
    else:
        parts.append(
            t(
                lang,
                "wizard.preview.capital",
                needed=money(preview.total_investment),
                allocated=money(preview.allocated_capital),
                quote=preview.quote,
                allocation=percent(preview.allocation_percent),
            )
        )
        if preview.over_allocation:
            parts.append(t(lang, "wizard.preview.over_capital"))
    if preview.loses_per_cycle:
        parts.append(t(lang, "wizard.preview.negative_profit"))
    if preview.too_small:
        parts.append(
            t(
                lang,
                "wizard.preview.too_small",
                minimum=money(preview.min_investment or Decimal(0)),
                quote=preview.quote,
            )
        )
    return "\n".join(parts)
