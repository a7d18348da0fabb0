"""Parameter sweeps of the grid backtest: many (lower, upper, grid count, mode) at once, by the same fill
rules as engine.grid.backtest, ranked by profit.

Why it is fast: without a trigger or stops, rules 3-5 move the book's empty line m by clamps only. A
candle walked open -> low -> high -> close does m = min(m, #lines < low) (the buys at or above the low
fill), then m = max(m, #lines <= high - 1) (the sells at or below the high), then m = min(m, #lines <
close); a falling candle the mirror. Each clamp is the same operation for every grid of the sweep, so the
walk runs once over the candles with numpy vectors of one m per grid, and the fills of each interval are
counted from how m moved. Every fill of one kind has the same amounts (engine.grid.ledger), so the counts
give cycles, fees, realized profit and final equity exactly as a single backtest does (tested fill count
by fill count and figure by figure). Drawdown and time in market need the walk's marks: the top rows are
run again through run_grid_backtest for those (and everything else it reports).

Grids are split across processes (fork) where there are cores for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise

import numpy as np

from engine.grid.backtest import GridBacktestResult, run_grid_backtest
from engine.grid.ledger import FillKinds
from engine.grid.lines import grid_lines, interval_quantities, per_grid_amount
from engine.market_data.candles import Candles
from engine.money import ZERO, q8, round_to_tick

_STEP_CHUNK = 2048  # candles per block of the vectorised walk
_FLOAT_EXACT_DIGITS = 15


@dataclass(frozen=True)
class GridPoint:
    """One combination of the sweep."""

    lower: Decimal
    upper: Decimal
    grids: int
    mode: str


@dataclass(frozen=True)
class GridRow:
    """A combination's figures (quote currency; ``profit`` = final equity - investment)."""

    point: GridPoint
    cycles: int
    realized_profit: Decimal
    fees: Decimal
    final_equity: Decimal
    profit: Decimal


@dataclass(frozen=True)
class GridCosts:
    """What every combination of a sweep shares."""

    investment: Decimal
    maker_fee_rate: Decimal = Decimal("0.0002")
    taker_fee_rate: Decimal = Decimal("0.0006")
    price_tick: Decimal | None = Decimal("0.01")
    amount_step: Decimal = Decimal("0.000001")
    buy_fee_in_base: bool = False


def grid_points(
    lowers: Sequence[Decimal], uppers: Sequence[Decimal], counts: Sequence[int], modes: Sequence[str]
) -> list[GridPoint]:
    """Every combination with lower < upper (in the order lowers x uppers x counts x modes)."""
    return [
        GridPoint(lo, up, n, mode)
        for lo in lowers
        for up in uppers
        if lo < up
        for n in counts
        for mode in modes
    ]


def _plan(point: GridPoint, costs: GridCosts) -> tuple[list[Decimal], list[Decimal]] | None:
    """The lines and quantities of a combination; None when it cannot run (too narrow for the tick, or
    an interval's quantity rounds down to 0: what run_grid_backtest refuses)."""
    lines = _geometric_lines(point, costs.price_tick) if point.mode == "geometric" else None
    if lines is None:
        try:
            lines = grid_lines(point.lower, point.upper, point.grids, point.mode, costs.price_tick)
        except ValueError:
            return None
    qtys = interval_quantities(lines, per_grid_amount(costs.investment, point.grids), costs.amount_step)
    if not all(q > 0 for q in qtys):  # check_grid_investment without minimums
        return None
    return lines, qtys


_MARGIN = 1e-9  # ticks, on top of 1e-13 of the price (the floats' error is about 1e-15 of it)


def _geometric_lines(point: GridPoint, tick: Decimal | None) -> list[Decimal] | None:
    """grid_lines(lower, upper, count, "geometric", tick) decided in floats.

    Each inner line is lower x exp(k/count x ln(upper/lower)) rounded to the tick, and the float of
    that product is within about 1e-15 of it; when it lies further than _MARGIN ticks (plus 1e-13 of
    the price) from every half tick, both round to the same multiple of the tick. The ends are lower
    and upper rounded, as grid_lines has them. None (grid_lines decides, and raises) when a line is
    that close, when two lines round alike, or without a tick (8 decimals is below the floats' reach
    at these prices)."""
    if tick is None or point.grids < 2:
        return None
    lower, upper, count = point.lower, point.upper, point.grids
    if not 0 < lower < upper or not tick > 0:
        return None
    f_lower, f_tick = float(lower), float(tick)
    raw = f_lower * np.exp(np.log(float(upper) / f_lower) * np.arange(1, count) / count) / f_tick
    steps = np.floor(raw + 0.5)
    if (0.5 - np.abs(raw - steps) <= _MARGIN + 1e-13 * raw).any():  # 1e-13: 100x the floats' error
        return None
    inner = [(Decimal(k) * tick).quantize(tick) for k in steps.astype(np.int64).tolist()]
    lines = [round_to_tick(lower, tick), *inner, round_to_tick(upper, tick)]
    if any(b <= a for a, b in pairwise(lines)) or lines[0] <= 0:
        return None
    return lines


def sweep_grid(
    candles: Candles, points: Sequence[GridPoint], costs: GridCosts, *, workers: int | None = None
) -> tuple[list[GridRow], list[GridPoint]]:
    """Run every combination; returns (the rows in the order of ``points``, the points that cannot run:
    a range too narrow for the tick or an investment too small for the lot)."""
    points = list(points)
    if not points:
        return [], []
    workers = workers or min(os.cpu_count() or 1, 8)
    workers = max(1, min(workers, len(points) // 64 or 1))
    parts = [points[k::workers] for k in range(workers)]
    if workers == 1:
        results = [_run_part(candles, parts[0], costs)]
    else:
        global _SHARED
        _SHARED = candles  # inherited by the forked workers, not pickled
        import multiprocessing

        context = multiprocessing.get_context("fork")
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                results = list(pool.map(_run_shared, [(part, costs) for part in parts]))
        finally:
            _SHARED = None
    rows = [row for part_rows, _ in results for row in part_rows]
    skipped = {p for _, part_skipped in results for p in part_skipped}
    order = {p: k for k, p in enumerate(points)}
    rows.sort(key=lambda r: order[r.point])
    return rows, [p for p in points if p in skipped]


_SHARED: Candles | None = None


def _run_shared(job: tuple[list, GridCosts]) -> tuple[list[GridRow], list[GridPoint]]:
    assert _SHARED is not None
    return _run_part(_SHARED, job[0], job[1])


def ranked(rows: Sequence[GridRow], top: int | None = None) -> list[GridRow]:
    """Highest profit first (ties: more cycles, then the order of the sweep)."""
    order = sorted(range(len(rows)), key=lambda k: (-rows[k].profit, -rows[k].cycles, k))
    chosen = [rows[k] for k in order]
    return chosen if top is None else chosen[:top]


def backtest_point(candles: Candles, point: GridPoint, costs: GridCosts) -> GridBacktestResult:
    """The full single backtest of a combination (drawdown, time in market, fills, ...)."""
    return run_grid_backtest(
        candles,
        point.lower,
        point.upper,
        point.grids,
        point.mode,
        costs.investment,
        maker_fee_rate=costs.maker_fee_rate,
        taker_fee_rate=costs.taker_fee_rate,
        price_tick=costs.price_tick,
        amount_step=costs.amount_step,
        buy_fee_in_base=costs.buy_fee_in_base,
    )


# --------------------------------------------------------------------------- the vectorised walk


def _float_exact(values: Sequence[Decimal]) -> bool:
    return all(len(v.as_tuple().digits) <= _FLOAT_EXACT_DIGITS for v in values)


def _run_part(
    candles: Candles, part: list[GridPoint], costs: GridCosts
) -> tuple[list[GridRow], list[GridPoint]]:
    with localcontext() as ctx:
        ctx.prec = 50
        ctx.rounding = ROUND_HALF_EVEN
        plans = [(p, _plan(p, costs)) for p in part]
        skipped = [p for p, plan in plans if plan is None]
        exact, slow = [], []
        for p, plan in plans:
            if plan is not None:
                (exact if candles.float_exact and _float_exact(plan[0]) else slow).append((p, plan))
        rows = [_slow_row(candles, p, costs) for p, _ in slow]
        if exact:
            counts = _walk_counts(candles, [plan[0] for _, plan in exact])
            start, last = candles.price("open", 0), candles.price("close", len(candles) - 1)
            rows += [_row(start, last, p, plan, costs, c) for (p, plan), c in zip(exact, counts, strict=True)]
    return rows, skipped


def _slow_row(candles: Candles, point: GridPoint, costs: GridCosts) -> GridRow:
    """Prices or lines with more than 15 digits: the single backtest (Decimal walk) decides."""
    result = backtest_point(candles, point, costs)
    return GridRow(
        point,
        result.cycles,
        result.realized_profit,
        result.fees,
        result.final_equity,
        q8(result.final_equity - result.investment),
    )


def _walk_counts(candles: Candles, all_lines: list[list[Decimal]]) -> list[tuple[np.ndarray, ...]]:
    """Per grid: (limit buys per interval, sells per interval, the intervals bought at market)."""
    g = len(all_lines)
    count = np.array([len(lines) - 1 for lines in all_lines], dtype=np.int64)
    first_open = float(candles.open_a[0])
    floats = [np.array([float(x) for x in lines]) for lines in all_lines]
    below = np.array([int((f < first_open).sum()) for f in floats])  # rule 3: lines below the start price
    m = np.minimum(below, count).astype(np.int8)
    m_start = m.copy()
    market = [np.arange(int(below[k]), int(count[k])) for k in range(g)]
    # #lines < price and #lines <= price for every price of the candles and every grid: each line marks
    # the first price rank it is below (or at), and a running sum down the ranks counts them (int8: at
    # most 101 lines)
    prices, rank = np.unique(
        np.concatenate((candles.low_a, candles.high_a, candles.close_a)), return_inverse=True
    )
    n = len(candles)
    rank_low, rank_high, rank_close = rank[:n], rank[n : 2 * n], rank[2 * n :]
    every_line = np.concatenate(floats)
    grid_of = np.repeat(np.arange(g), count + 1)
    tables = []
    for side in ("right", "left"):  # lines < price, lines <= price
        table = np.zeros((prices.size + 1, g), dtype=np.int8)
        np.add.at(table, (np.searchsorted(prices, every_line, side=side), grid_of), 1)
        for r in range(1, prices.size + 1):  # row by row: 4x quicker than numpy's cumsum down axis 0
            np.add(table[r - 1], table[r], out=table[r])
        tables.append(table[:-1])
    lt, le = tables
    widest = int(count.max()) + 2
    buys = np.zeros(g * widest, dtype=np.int64)
    base = np.arange(g, dtype=np.int64) * widest
    rising_all = (candles.close_a >= candles.open_a).tolist()
    minimum, maximum = np.minimum, np.maximum
    for start in range(0, n, _STEP_CHUNK):
        stop = min(start + _STEP_CHUNK, n)
        # a buy fills at a line >= the price reached; a sell at a line <= it
        lt_low = lt[rank_low[start:stop]]
        le_high = le[rank_high[start:stop]] - 1
        lt_close = lt[rank_close[start:stop]]
        le_close = le[rank_close[start:stop]] - 1
        steps = np.empty((3 * (stop - start) + 1, g), dtype=np.int8)
        steps[0] = m
        down = np.zeros(3 * (stop - start), dtype=bool)  # the steps that only go down (min): the buys
        row = 0
        for t, rising in enumerate(rising_all[start:stop]):
            here = steps[row]
            if rising:  # open -> low -> high -> close
                minimum(here, lt_low[t], out=steps[row + 1])
                maximum(steps[row + 1], le_high[t], out=steps[row + 2])
                minimum(steps[row + 2], lt_close[t], out=steps[row + 3])
                down[row] = down[row + 2] = True
            else:  # open -> high -> low -> close
                maximum(here, le_high[t], out=steps[row + 1])
                minimum(steps[row + 1], lt_low[t], out=steps[row + 2])
                maximum(steps[row + 2], le_close[t], out=steps[row + 3])
                down[row + 1] = True
            row += 3
        m = steps[row].copy()
        _count_buys(steps[:-1][down], steps[1:][down], base, buys)
    buys = buys.reshape(g, widest)
    out = []
    for k in range(g):
        levels = np.arange(count[k])
        # an interval's buys and sells alternate: sells = buys - (bought at the start) + (held at the end)
        sells = buys[k, : count[k]] - (m_start[k] > levels) + (m[k] > levels)
        out.append((buys[k, : count[k]], sells, market[k]))
    return out


def _count_buys(before: np.ndarray, after: np.ndarray, base: np.ndarray, buys: np.ndarray) -> None:
    """Add the buys of a block of down steps: m going down from a to b buys intervals b..a-1 (a
    difference array per grid, summed over the lines; a step that did not move adds nothing)."""
    size = buys.size
    moved = np.flatnonzero(before != after)  # few: most steps move no grid's m
    grid = moved % base.size
    delta = np.bincount(after.reshape(-1)[moved] + base[grid], minlength=size)
    delta -= np.bincount(before.reshape(-1)[moved] + base[grid], minlength=size)
    buys += np.cumsum(delta.reshape(-1, size // base.size), axis=1).reshape(-1)


def _row(
    start_price: Decimal,
    last_close: Decimal,
    point: GridPoint,
    plan: tuple[list[Decimal], list[Decimal]],
    costs: GridCosts,
    counts: tuple[np.ndarray, ...],
) -> GridRow:
    """The figures of a grid from how many fills of each kind it had (amounts of engine.grid.ledger)."""
    lines, qtys = plan
    buys, sells, market = counts
    kinds = FillKinds(
        lines, qtys, costs.maker_fee_rate, costs.taker_fee_rate, costs.amount_step, costs.buy_fee_in_base
    )
    bought_at_market = {int(i) for i in market}
    cycles = int(sells.sum())  # every sell completes a cycle
    realized, fees = ZERO, ZERO
    cash, held = costs.investment, ZERO
    for i in sorted(bought_at_market.union(np.flatnonzero(buys | sells).tolist())):
        d_cash, d_coin, d_fees, d_realized = kinds.interval_sums(
            i, int(buys[i]), int(sells[i]), start_price if i in bought_at_market else None
        )
        cash += d_cash
        held += d_coin
        fees += d_fees
        realized += d_realized
    final_equity = q8(cash + held * last_close)
    return GridRow(point, cycles, q8(realized), q8(fees), final_equity, q8(final_equity - costs.investment))
