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
from bot.services.grid_plan import start_split
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
    taker_fee_rate: Decimal | None = None
    # the start (fill rule 3) at `start_price` (the trigger when set, else the price now); None: unknown
    start_price: Decimal | None = None
    resting_buys: int = 0  # buy limits placed at the start: intervals whose buy line is below the price
    resting_sells: int = 0  # sells placed at the start: intervals bought at market
    market_qty: Decimal = Decimal(0)  # base bought at market at the start (the sum of those quantities)
    market_cost: Decimal = Decimal(0)  # market_qty x start price, in quote (the taker fee apart)
    market_fee: Decimal = Decimal(0)  # market_cost x taker fee rate

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
    def outside_range(self) -> bool:
        """The start price is outside the range: only buys rest (above it) or only sells (below it)."""
        return self.start_price is not None and not self.lines[0] <= self.start_price <= self.lines[-1]

    @property
    def near_edge(self) -> bool:
        """The start price sits inside the range but within one grid of its lower or upper edge."""
        if self.start_price is None or self.outside_range:
            return False
        return self.start_price < self.lines[1] or self.start_price > self.lines[-2]

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
    taker_fee_rate: Decimal | None = None,
    start_price: Decimal | None = None,
) -> GridPreview:
    """The preview of a grid; ValueError when the lines cannot be drawn (range too narrow for the tick).

    With `start_price` (the trigger when set, else the price now) it also tells what the start does
    (DESIGN.md fill rule 3): the intervals whose buy line is below the price rest a buy, the others are
    bought at market in one order (their quantities, rule 2) and rest their sell."""
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
    buys: list[int] = []
    bought: list[int] = []
    if start_price is not None:
        buys, bought = start_split(lines, start_price)
    market_qty = sum((quantities[i] for i in bought), Decimal(0))
    market_cost = (market_qty * start_price) if start_price is not None else Decimal(0)
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
        taker_fee_rate=taker_fee_rate,
        start_price=start_price,
        resting_buys=len(buys),
        resting_sells=len(bought),
        market_qty=market_qty,
        market_cost=market_cost,
        market_fee=market_cost * (taker_fee_rate or Decimal(0)),
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
    if preview.taker_fee_rate is not None:
        parts.append(
            t(
                lang,
                "wizard.preview.fees",
                maker=percent((preview.maker_fee_rate * HUNDRED).normalize()),
                taker=percent((preview.taker_fee_rate * HUNDRED).normalize()),
            )
        )
    parts.extend(_start_lines(preview, lang))
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


def _start_lines(preview: GridPreview, lang: str) -> list[str]:
    """What the start does at its price: the market buy, the resting orders, a warning near an edge."""
    if preview.start_price is None:
        return []
    price = number(preview.start_price)
    if preview.market_qty > 0:
        bought = t(
            lang,
            "wizard.preview.market_buy",
            qty=number(preview.market_qty),
            base=preview.base,
            cost=money(preview.market_cost),
            fee=money(preview.market_fee),
            quote=preview.quote,
            price=price,
        )
    else:
        bought = t(lang, "wizard.preview.no_market_buy", price=price, quote=preview.quote)
    parts = [
        bought,
        t(lang, "wizard.preview.resting", buys=preview.resting_buys, sells=preview.resting_sells),
    ]
    if preview.outside_range:
        parts.append(t(lang, "wizard.preview.outside_range", price=price, quote=preview.quote))
    elif preview.near_edge:
        parts.append(t(lang, "wizard.preview.near_edge", price=price, quote=preview.quote))
    return parts
