"""Grid ranges suggested from the market's recent candles for the grid wizard's "suggest a range".

From the last 30 days of hourly candles (and the last 7 of them) candidate ranges are made from the
windows' lows and highs (their extremes and quantiles, on the market's tick), crossed with grid counts
and both spacings, and swept through engine.grid.sweep (the backtest's own fill rules) on both windows.
The score is the worse of the two windows' APR, so a range must have worked over the month *and* the
week; the top 3 are backtested in full on both windows for their drawdown. The figures are per
SUGGESTION_INVESTMENT of quote (ROI and APR do not depend on it, as long as the grid's minimums hold).
"now" is the last candle of the history: for the shipped data that is its end, not today.

Where the candles come from is a `CandleHistory`: `ShippedHistory` reads the hourly candles that ship
with the bot (paper trading); `ExchangeHistory` asks an exchange's OHLCV through a fetch function;
`AccountHistory` (what the app uses) picks per user: the user's own exchange's OHLCV for a live or demo
account (engine.exchange.Exchange.fetch_candles, ccxt's fetch_ohlcv), the shipped candles on paper.
The computation runs in a worker thread: other users' commands are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from typing import Protocol

import numpy as np

from bot.services.backtests import SHIPPED_HOURLY, hourly_candles
from engine.exchange import Candle, Exchange, ExchangeError, ExchangeNotSupported
from engine.grid.backtest import run_grid_backtest
from engine.grid.lines import grid_lines, min_investment_for
from engine.grid.sweep import GridCosts, GridPoint, grid_points, sweep_grid
from engine.market_data.candles import Candles, from_columns
from engine.markets import MarketRules, unified_symbol
from engine.money import q8

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
WINDOWS = (30, 7)  # days
SUGGESTION_INVESTMENT = Decimal(1000)
GRID_COUNTS = (10, 20, 40, 80)
LOW_QUANTILES = (0.0, 0.1, 0.25)
HIGH_QUANTILES = (1.0, 0.9, 0.75)
TOP = 3


class CandleHistory(Protocol):
    """Recent hourly candles of a market for a user, oldest first; None when there are none."""

    async def recent(self, user_id: int, symbol: str, days: int) -> Candles | None: ...


class ShippedHistory:
    """Paper trading: the hourly candles that ship with the bot (BTCUSDT, ETHUSDT), up to their end."""

    async def recent(self, user_id: int, symbol: str, days: int) -> Candles | None:
        if symbol not in SHIPPED_HOURLY:
            return None
        candles = await asyncio.to_thread(hourly_candles, symbol)
        return _last_days(candles, days)


Fetch = Callable[[int, str, str, int], Awaitable[list[Candle]]]


class ExchangeHistory:
    """A live or demo user: the exchange's hourly OHLCV through ``fetch(user_id, symbol, "1h", limit)``
    (e.g. the user's engine.exchange.Exchange.fetch_candles); the open candle is left out."""

    def __init__(self, fetch: Fetch, now_ms: Callable[[], int] | None = None) -> None:
        import time

        self.fetch = fetch
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))

    async def recent(self, user_id: int, symbol: str, days: int) -> Candles | None:
        rows = await self.fetch(user_id, symbol, "1h", days * 24 + 1)
        closed = [r for r in rows if r.ts + HOUR_MS <= self.now_ms()]
        if len(closed) < 24:
            return None
        return from_columns(
            f"{symbol}@1h",
            np.array([r.ts for r in closed], dtype=np.int64),
            *(
                np.array([float(getattr(r, c)) for r in closed])
                for c in ("open", "high", "low", "close", "volume")
            ),
            float_exact=all(
                len(getattr(r, c).as_tuple().digits) <= 15
                for r in closed
                for c in ("open", "high", "low", "close")
            ),
            texts=tuple(
                [format(getattr(r, c), "f") for r in closed] for c in ("open", "high", "low", "close")
            ),  # type: ignore[arg-type]
        )


class AccountHistory:
    """Each user's own venue: the exchange's hourly OHLCV for a live or demo account (ccxt's fetch_ohlcv,
    through ``exchange_for(user_id)``: bot.engine_service.EngineService.exchange_for), the shipped candles
    for the paper venue (which has no candle history and says so). An exchange that does not answer gives
    no suggestions (None), not an error."""

    def __init__(
        self,
        exchange_for: Callable[[int], Awaitable[Exchange]],
        shipped: CandleHistory | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.exchange_for = exchange_for
        self.shipped = shipped or ShippedHistory()
        self.now_ms = now_ms

    async def recent(self, user_id: int, symbol: str, days: int) -> Candles | None:
        try:
            exchange = await self.exchange_for(user_id)

            async def fetch(_user: int, market: str, timeframe: str, limit: int) -> list[Candle]:
                return await exchange.fetch_candles(unified_symbol(market), timeframe, limit=limit)

            return await ExchangeHistory(fetch, self.now_ms).recent(user_id, symbol, days)
        except ExchangeNotSupported:
            return await self.shipped.recent(user_id, symbol, days)
        except ExchangeError as exc:
            log.warning("no candles for range suggestions of %s (user %s): %s", symbol, user_id, exc)
            return None


def _last_days(candles: Candles, days: int) -> Candles:
    since = candles.timestamps[-1] + HOUR_MS - days * DAY_MS
    start = int(np.searchsorted(candles.ts_a, since, side="left"))
    return candles.slice(start, len(candles))


@dataclass(frozen=True)
class WindowFigures:
    """One window's backtest of a suggestion (quote currency per SUGGESTION_INVESTMENT; fractions)."""

    days: int
    start_ts: int
    end_ts: int
    profit: Decimal
    roi: Decimal
    apr: Decimal
    max_drawdown: Decimal
    cycles: int


@dataclass(frozen=True)
class Suggestion:
    lower: Decimal
    upper: Decimal
    grids: int
    mode: str
    lines: list[Decimal]
    windows: tuple[WindowFigures, ...]


@dataclass(frozen=True)
class Suggestions:
    symbol: str
    items: list[Suggestion]
    last_ts: int  # the history's last candle: the suggestions' "now"
    investment: Decimal
    chart_png: bytes


def candidates(candles: Candles, tick: Decimal) -> tuple[list[Decimal], list[Decimal]]:
    """Lower and upper prices from the windows' lows and highs, on the tick (lowers down, uppers up)."""
    lows, highs = set(), set()
    for days in WINDOWS:
        part = _last_days(candles, days)
        for q in LOW_QUANTILES:
            lows.add(_on_tick(float(np.quantile(part.low_a, q)), tick, ROUND_FLOOR))
        for q in HIGH_QUANTILES:
            highs.add(_on_tick(float(np.quantile(part.high_a, q)), tick, ROUND_CEILING))
    return sorted(lows), sorted(highs)


def _on_tick(price: float, tick: Decimal, rounding: str) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        return ((Decimal(repr(price)) / tick).to_integral_value(rounding=rounding) * tick).quantize(tick)


def suggest(
    candles: Candles, symbol: str, market: MarketRules, maker: Decimal, taker: Decimal, top: int = TOP
) -> Suggestions:
    """The best ranges over the last 30 and 7 days of ``candles`` (see the module docstring)."""
    from engine.charts.ranges import range_suggestion_chart

    tick = market.price_tick
    costs = GridCosts(SUGGESTION_INVESTMENT, maker, taker, tick, market.amount_step)
    lowers, uppers = candidates(candles, tick)
    points = [
        p for p in grid_points(lowers, uppers, GRID_COUNTS, ["arithmetic", "geometric"]) if _fits(p, market)
    ]
    windows = {days: _last_days(candles, days) for days in WINDOWS}
    rows = {days: sweep_grid(windows[days], points, costs, workers=1)[0] for days in WINDOWS}
    by_point = {days: {r.point: r for r in rows[days]} for days in WINDOWS}
    common = [p for p in points if all(p in by_point[days] for days in WINDOWS)]

    def score(p: GridPoint) -> tuple[Decimal, int]:
        aprs = [by_point[days][p].profit / SUGGESTION_INVESTMENT * 365 / days for days in WINDOWS]
        return min(aprs), by_point[30][p].cycles

    ranked = sorted(common, key=score, reverse=True)
    chosen: list[GridPoint] = []
    for p in ranked:  # three different ranges (not one range three times), each within the minimums
        if all((p.lower, p.upper) != (c.lower, c.upper) for c in chosen) and _fits(p, market):
            chosen.append(p)
        if len(chosen) == top:
            break
    items = [_full(windows, p, costs) for p in chosen]
    month = windows[30]
    title = f"{symbol}: suggested grid ranges over the last 30 days (to the last candle)"
    png = range_suggestion_chart(month, [(s.lower, s.upper, s.lines) for s in items], title) if items else b""
    return Suggestions(symbol, items, candles.timestamps[-1], SUGGESTION_INVESTMENT, png)


def _fits(point: GridPoint, market: MarketRules) -> bool:
    """The grid meets the market's minimums with SUGGESTION_INVESTMENT."""
    try:
        lines = grid_lines(point.lower, point.upper, point.grids, point.mode, market.price_tick)
    except ValueError:
        return False
    needed = min_investment_for(lines, point.grids, market.amount_step, market.min_qty, market.min_notional)
    return needed <= SUGGESTION_INVESTMENT


def _full(windows: dict[int, Candles], p: GridPoint, costs: GridCosts) -> Suggestion:
    figures = []
    lines: list[Decimal] = []
    for days in WINDOWS:
        window = windows[days]
        result = run_grid_backtest(
            window, p.lower, p.upper, p.grids, p.mode, costs.investment,
            maker_fee_rate=costs.maker_fee_rate, taker_fee_rate=costs.taker_fee_rate,
            price_tick=costs.price_tick, amount_step=costs.amount_step,
        )  # fmt: skip
        lines = result.lines
        profit = q8(result.final_equity - result.investment)
        roi = q8(profit / result.investment)
        with localcontext() as ctx:
            ctx.rounding = ROUND_HALF_EVEN
            apr = q8(roi * 365 / days)
        figures.append(
            WindowFigures(
                days,
                window.timestamps[0],
                window.timestamps[-1],
                profit,
                roi,
                apr,
                result.max_drawdown,
                result.cycles,
            )
        )
    return Suggestion(p.lower, p.upper, p.grids, p.mode, lines, tuple(figures))


_default: CandleHistory | None = None


def default_history() -> CandleHistory:
    """The history of a Dispatcher that was not handed one (`candle_history=` in its data): shipped data."""
    global _default
    if _default is None:
        _default = ShippedHistory()
    return _default
