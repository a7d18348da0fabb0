"""Grid backtest on candles, following DESIGN.md's "Fill rules of the paper exchange on candles".

The rules are a contract checked fill by fill by an independent implementation,
so they are implemented literally:

1. Lines k = 0..N from :func:`engine.grid.lines.grid_lines`, rounded to the price tick.
2. Quantity of interval i = per_grid_amount / line i, rounded down to the lot step
   (per_grid_amount = investment / N with 8 decimals, rounded down), for every
   interval, also those bought at market at the start.
3. Start at the first candle's open P (or at the trigger, below): every interval
   whose buy line is below P gets its buy limit; the intervals whose buy line is
   at or above P are bought at P in one market order (taker fee) and get their
   sells at line i+1.
4. Each candle is walked open -> low -> high -> close when close >= open, else
   open -> high -> low -> close. Going down, every resting buy at or above the
   price reached fills at its own line, highest first; going up, every resting
   sell at or below it fills at its own line, lowest first (maker fee).
5. A fill's counter-order rests at once: a sell filled places the buy at line i
   again, a buy filled places the sell at line i+1, and both can fill later in
   the same candle's walk.
6. fee = price x qty x rate; profit of a cycle = qty (sell - buy) - buy fee -
   sell fee; fees, profits and equities are recorded with 8 decimals
   (ROUND_HALF_EVEN).
7. Final equity = cash + held base x last close; cash starts at the investment,
   each buy subtracts cost and fee, each sell adds proceeds minus fee.

Decisions where the rules are silent:

* Only the segments inside a candle fill orders (open->a, a->b, b->close, each
  "down" or "up" by its place in the path, even when it has zero length). The
  jump from one candle's close to the next candle's open fills nothing; orders
  it jumped over fill on the next segment of the right direction. (When a
  candle opens at the previous close nothing rests at or across the open, so
  every reading of rule 4 gives the same fills; this only matters on jumps.)
* Trigger: the price path is taken as continuous, the jumps between candles
  included. The grid starts at the first point where the path touches the
  trigger price (touching is enough; a first open equal to it counts), with
  P = trigger price. The rest of the segment it was touched on continues from P
  with that segment's direction; if it was touched on the jump into a candle,
  that candle is walked from its open. The initial market fills carry the
  timestamp of the candle in which the start happened.
* Stops are armed once the grid has started. They are checked at every point
  of the path, each candle's open included. On a segment that reaches
  stop_upper, the sells at or below stop_upper fill first (a limit on the book
  fills before the bot sees the price), then every order is cancelled and the
  bot stops; likewise for stop_lower going down. If the start price P is
  already at or beyond a stop, the bot stops at once without trading. Holdings
  are kept and valued at each close afterwards.
* The one market order at the start is recorded as one fill per interval, in
  ascending interval order, each with its own fee (price x qty x taker rate,
  8 decimals).
* Fees are not reserved out of the investment; when every interval is bought
  the cash can dip below zero by at most the fees paid.
* Cost and proceeds (price x qty) are kept exact; fees, cycle profits, final
  equity, cash and the equity curve are recorded with 8 decimals.
* max_drawdown: equity is marked at the start (= investment), after every fill
  (held base valued at the fill price) and at every candle's close. Floats pick
  the peak/trough pair; that pair is then recomputed in Decimal
  ((peak - trough) / peak, 8 decimals).
* buy_and_hold: the whole investment buys base at the first candle's open with
  the taker fee included (qty = investment / (open x (1 + taker rate)), no lot
  rounding), valued at the last close, 8 decimals.

Speed: with lines below the "empty" line m all holding resting buys and lines
above it resting sells (the invariant rule 3 starts from and rules 4-5 keep), the
whole book is the single integer m: the nearest buy is line m-1 and the nearest
sell line m+1. Candles that reach neither are skipped with vectorised numpy
scans; Decimal arithmetic only happens per interval and per fill afterwards.
Floats are only used for comparisons, and only when every price has at most 15
significant digits (then float order equals Decimal order); otherwise the same
loop runs on Decimals.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import accumulate
from typing import NamedTuple

import numpy as np

from engine.grid.lines import (
    check_grid_investment,
    cycle_profit,
    grid_lines,
    interval_quantities,
    per_grid_amount,
)
from engine.market_data.candles import Candles
from engine.money import ZERO, fee_for, q8

_NEG_INF = float("-inf")
_POS_INF = float("inf")
_FLOAT_EXACT_DIGITS = 15
_EQUITY_SAMPLES = 1000
_PY_SCAN = 64  # candles checked in Python before switching to numpy chunks
_FIRST_CHUNK = 256
_MAX_CHUNK = 1 << 16


class GridFill(NamedTuple):
    """One fill: ``ts`` is the candle's open time (ms), money in quote currency."""

    ts: int
    interval: int
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal


@dataclass(frozen=True)
class GridBacktestResult:
    """Outcome of :func:`run_grid_backtest` (money in quote currency, Decimal).

    ``max_drawdown`` is a fraction 0..1 of the peak equity. ``equity_curve`` is
    a sample of (candle ts in ms, equity at its close) for charts.
    ``started_ts`` is None when the trigger was never reached; ``stop_reason``
    is "stop_upper" / "stop_lower" when a stop ended the grid at ``stopped_ts``.
    """

    cycles: int
    realized_profit: Decimal
    fees: Decimal
    final_equity: Decimal
    max_drawdown: Decimal
    buy_and_hold: Decimal
    fills: list[GridFill]
    equity_curve: list[tuple[int, Decimal]]
    lines: list[Decimal]
    quantities: list[Decimal]
    per_grid_amount: Decimal
    investment: Decimal
    final_cash: Decimal
    final_base: Decimal
    candles: int
    started_ts: int | None
    start_price: Decimal | None
    stopped_ts: int | None
    stop_reason: str | None


def _dec(value: Decimal | int | str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal, int or str, not float")
    result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
    return result


def _float_exact(value: Decimal) -> bool:
    return len(value.as_tuple().digits) <= _FLOAT_EXACT_DIGITS


def run_grid_backtest(
    candles: Candles,
    lower: Decimal,
    upper: Decimal,
    grids: int,
    mode: str,
    investment: Decimal,
    maker_fee_rate: Decimal = Decimal("0.0002"),
    taker_fee_rate: Decimal = Decimal("0.0006"),
    price_tick: Decimal | None = Decimal("0.01"),
    amount_step: Decimal = Decimal("0.000001"),
    trigger: Decimal | None = None,
    stop_upper: Decimal | None = None,
    stop_lower: Decimal | None = None,
) -> GridBacktestResult:
    """Backtest a spot grid bot on ``candles`` (see the module docstring for the rules).

    ``lower``/``upper``/``trigger``/``stops`` are prices, ``investment`` is quote
    currency, fee rates are fractions (0.0002 = 0.02 %), ``price_tick`` and
    ``amount_step`` are the market's tick and lot sizes. Raises ``ValueError``
    for bad parameters and :class:`engine.grid.lines.GridTooSmall` when an interval's
    quantity would round down to zero.
    """
    with localcontext() as ctx:  # exact sums whatever the caller's context is
        ctx.prec = 50
        ctx.rounding = ROUND_HALF_EVEN
        return _run(
            candles, lower, upper, grids, mode, investment, maker_fee_rate, taker_fee_rate,
            price_tick, amount_step, trigger, stop_upper, stop_lower,
        )  # fmt: skip


def _run(
    candles: Candles,
    lower: Decimal,
    upper: Decimal,
    grids: int,
    mode: str,
    investment: Decimal,
    maker_fee_rate: Decimal,
    taker_fee_rate: Decimal,
    price_tick: Decimal | None,
    amount_step: Decimal,
    trigger: Decimal | None,
    stop_upper: Decimal | None,
    stop_lower: Decimal | None,
) -> GridBacktestResult:
    lower_d, upper_d = _dec(lower, "lower"), _dec(upper, "upper")
    investment_d = _dec(investment, "investment")
    maker = _dec(maker_fee_rate, "maker fee rate")
    taker = _dec(taker_fee_rate, "taker fee rate")
    step = _dec(amount_step, "amount step")
    tick = _dec(price_tick, "price tick")
    trigger_d = _dec(trigger, "trigger")
    stop_up_d, stop_lo_d = _dec(stop_upper, "stop_upper"), _dec(stop_lower, "stop_lower")
    assert lower_d is not None and upper_d is not None and investment_d is not None
    assert maker is not None and taker is not None and step is not None
    if investment_d <= 0:
        raise ValueError(f"investment must be > 0, got {investment_d}")
    if maker < 0 or taker < 0:
        raise ValueError("fee rates must be >= 0")
    if step <= 0:
        raise ValueError(f"amount step must be > 0, got {step}")
    for name, price in (("trigger", trigger_d), ("stop_upper", stop_up_d), ("stop_lower", stop_lo_d)):
        if price is not None and price <= 0:
            raise ValueError(f"{name} must be > 0, got {price}")
    n = len(candles)
    if n == 0:
        raise ValueError("no candles")

    lines = grid_lines(lower_d, upper_d, grids, mode, tick)
    per_grid = per_grid_amount(investment_d, grids)
    qtys = interval_quantities(lines, per_grid, step)
    check_grid_investment(investment_d, lines, grids, step)

    exact = candles.float_exact and all(
        _float_exact(x) for x in [*lines, *(p for p in (trigger_d, stop_up_d, stop_lo_d) if p is not None)]
    )
    walker = _Walker(candles, lines, exact, trigger_d, stop_up_d, stop_lo_d)
    walker.run()
    return _settle(candles, walker, lines, qtys, per_grid, investment_d, maker, taker)


class _Walker:
    """The fill loop. The book is the empty line ``m``: buys rest on lines < m, sells on lines > m."""

    def __init__(
        self,
        candles: Candles,
        lines: list[Decimal],
        exact: bool,
        trigger: Decimal | None,
        stop_upper: Decimal | None,
        stop_lower: Decimal | None,
    ) -> None:
        self.candles = candles
        self.lines = lines
        self.exact = exact
        self.trigger = trigger
        if exact:
            self.line_v: list = [float(x) for x in lines]
            self.open_v: list = candles.open_f
            self.high_v: list = candles.high_f
            self.low_v: list = candles.low_f
            self.close_v: list = candles.close_f
            conv = float
        else:  # too many digits for floats: compare Decimals (slower, same rules)
            self.line_v = list(lines)
            self.open_v = [Decimal(x) for x in candles.open_text]
            self.high_v = [Decimal(x) for x in candles.high_text]
            self.low_v = [Decimal(x) for x in candles.low_text]
            self.close_v = [Decimal(x) for x in candles.close_text]
            conv = Decimal
        self.stop_up = conv(stop_upper) if stop_upper is not None else _POS_INF
        self.stop_lo = conv(stop_lower) if stop_lower is not None else _NEG_INF
        self.trigger_v = conv(trigger) if trigger is not None else None
        self.count = len(lines) - 1
        self.m = -1
        # fills of the loop: candle index and code = 2 * interval (+1 for a sell)
        self.fill_t: list[int] = []
        self.fill_code: list[int] = []
        self.start_t: int | None = None
        self.start_price: Decimal | None = None
        self.market: list[int] = []
        self.stop_t: int | None = None
        self.stop_reason: str | None = None

    # -- the start -----------------------------------------------------------

    def _find_trigger(self) -> tuple[int, int] | None:
        """(candle, first segment to walk) where the path first touches the trigger.

        Segment -1 means "before the candle's walk" (touched on the jump into it).
        """
        c = self.candles
        trig = self.trigger_v
        n = len(c)
        if self.exact:
            touch = (c.low_a <= trig) & (c.high_a >= trig)
            gap = np.zeros(n, dtype=bool)
            if n > 1:
                prev_close, next_open = c.close_a[:-1], c.open_a[1:]
                gap[1:] = (np.minimum(prev_close, next_open) <= trig) & (
                    np.maximum(prev_close, next_open) >= trig
                )
            hits = np.flatnonzero(touch | gap)
            if not hits.size:
                return None
            t = int(hits[0])
            on_gap = bool(gap[t])
        else:
            for t in range(n):
                if t > 0:
                    a, b = self.close_v[t - 1], self.open_v[t]
                    if min(a, b) <= trig <= max(a, b):
                        break
                if self.low_v[t] <= trig <= self.high_v[t]:
                    break
            else:
                return None
            on_gap = t > 0 and min(self.close_v[t - 1], self.open_v[t]) <= trig <= max(
                self.close_v[t - 1], self.open_v[t]
            )
        if on_gap:
            return t, -1
        points = self._points(t)
        for seg in range(3):
            a, b = points[seg], points[seg + 1]
            if min(a, b) <= trig <= max(a, b):
                return t, seg
        raise AssertionError("trigger inside the candle's range but on no segment")  # pragma: no cover

    def _points(self, t: int) -> tuple:
        o, h, lo, c = self.open_v[t], self.high_v[t], self.low_v[t], self.close_v[t]
        return (o, lo, h, c) if c >= o else (o, h, lo, c)

    def _start(self, t: int, price: Decimal, price_v) -> bool:
        """Rule 3 at ``price``; False when the price is already at a stop (no trading)."""
        self.start_t = t
        self.start_price = price
        if price_v >= self.stop_up or price_v <= self.stop_lo:
            self._stop(t, "stop_upper" if price_v >= self.stop_up else "stop_lower")
            return False
        below = bisect_left(self.lines, price)  # lines strictly below the price
        self.m = min(below, self.count)
        self.market = list(range(below, self.count))
        return True

    def _stop(self, t: int, reason: str) -> None:
        self.stop_t = t
        self.stop_reason = reason

    # -- the walk ------------------------------------------------------------

    def _walk(self, t: int, first_segment: int, from_open: bool) -> bool:
        """Walk candle ``t`` from ``first_segment`` (0..2); False once a stop hit."""
        if from_open:
            o = self.open_v[t]
            if o >= self.stop_up or o <= self.stop_lo:
                self._stop(t, "stop_upper" if o >= self.stop_up else "stop_lower")
                return False
        points = self._points(t)
        rising = self.close_v[t] >= self.open_v[t]
        line_v, count = self.line_v, self.count
        fill_t, fill_code = self.fill_t, self.fill_code
        m = self.m
        for seg in range(first_segment, 3):
            target = points[seg + 1]
            down = (seg != 1) if rising else (seg == 1)
            if down:
                stop = target <= self.stop_lo
                if stop:
                    target = self.stop_lo
                while m > 0 and line_v[m - 1] >= target:
                    m -= 1
                    fill_t.append(t)
                    fill_code.append(2 * m)
            else:
                stop = target >= self.stop_up
                if stop:
                    target = self.stop_up
                while m < count and line_v[m + 1] <= target:
                    fill_t.append(t)
                    fill_code.append(2 * m + 1)
                    m += 1
            if stop:
                self.m = m
                self._stop(t, "stop_lower" if down else "stop_upper")
                return False
        self.m = m
        return True

    def run(self) -> None:
        n = len(self.candles)
        if self.trigger is None:
            t = 0
            if not self._start(0, self.candles.price("open", 0), self.open_v[0]):
                return
            running = self._walk(0, 0, from_open=False)
        else:
            found = self._find_trigger()
            if found is None:
                return
            t, seg = found
            if not self._start(t, self.trigger, self.trigger_v):
                return
            running = self._walk(t, 0, from_open=True) if seg < 0 else self._walk(t, seg, from_open=False)
        if running:
            self._loop(t + 1, n)

    def _loop(self, t: int, n: int) -> None:
        """Walk candles ``t..n-1``: skip the quiet ones, walk the others inline."""
        if self.stop_lo == _NEG_INF and self.stop_up == _POS_INF:
            self._fast(t, n)
            return
        while t < n:
            # before the first candle that reaches a stop no stop check is needed;
            # that candle gets the careful walk (which stops the bot)
            stop_at = self._first_stop_candle(t, n)
            self._fast(t, stop_at)
            if stop_at >= n or not self._walk(stop_at, 0, from_open=True):
                return
            t = stop_at + 1  # pragma: no cover - a candle that reaches a stop always stops the walk

    def _first_stop_candle(self, t: int, n: int) -> int:
        if self.exact:
            hits = np.flatnonzero(
                (self.candles.low_a[t:] <= self.stop_lo) | (self.candles.high_a[t:] >= self.stop_up)
            )
            return t + int(hits[0]) if hits.size else n
        for k in range(t, n):
            if self.low_v[k] <= self.stop_lo or self.high_v[k] >= self.stop_up:
                return k
        return n

    def _fast(self, t: int, n: int) -> None:
        """Rules 4-5 on candles ``t..n-1``, none of which reaches a stop."""
        count = self.count
        # padded lines: lv[m] is the nearest buy (line m-1), lv[m+2] the nearest sell (line m+1)
        lv = [_NEG_INF, *self.line_v, _POS_INF]
        open_v, high_v, low_v, close_v = self.open_v, self.high_v, self.low_v, self.close_v
        low_a, high_a = self.candles.low_a, self.candles.high_a
        fill_t, fill_code = self.fill_t, self.fill_code
        add_t, add_code = fill_t.append, fill_code.append
        use_numpy = self.exact
        m = self.m
        while t < n:
            reach_down = lv[m]
            reach_up = lv[m + 2]
            end = t + _PY_SCAN if use_numpy and t + _PY_SCAN < n else n
            while t < end and low_v[t] > reach_down and high_v[t] < reach_up:
                t += 1
            if t == end and t < n:
                chunk = _FIRST_CHUNK
                while t < n:
                    stop = t + chunk if t + chunk < n else n
                    mask = (low_a[t:stop] <= reach_down) | (high_a[t:stop] >= reach_up)
                    k = int(mask.argmax())
                    if mask[k]:
                        t += k
                        break
                    t = stop
                    if chunk < _MAX_CHUNK:
                        chunk *= 4
                if t >= n:
                    break
            elif t >= n:
                break
            close = close_v[t]
            if close >= open_v[t]:  # open -> low -> high -> close
                price = low_v[t]
                while lv[m] >= price:
                    m -= 1
                    add_t(t)
                    add_code(2 * m)
                price = high_v[t]
                while lv[m + 2] <= price:
                    add_t(t)
                    add_code(2 * m + 1)
                    m += 1
                while lv[m] >= close:
                    m -= 1
                    add_t(t)
                    add_code(2 * m)
            else:  # open -> high -> low -> close
                price = high_v[t]
                while lv[m + 2] <= price:
                    add_t(t)
                    add_code(2 * m + 1)
                    m += 1
                price = low_v[t]
                while lv[m] >= price:
                    m -= 1
                    add_t(t)
                    add_code(2 * m)
                while lv[m + 2] <= close:
                    add_t(t)
                    add_code(2 * m + 1)
                    m += 1
            t += 1
        self.m = m
        assert 0 <= m <= count


def _settle(
    candles: Candles,
    walker: _Walker,
    lines: list[Decimal],
    qtys: list[Decimal],
    per_grid: Decimal,
    investment: Decimal,
    maker: Decimal,
    taker: Decimal,
) -> GridBacktestResult:
    """Turn the loop's compact fills into Decimal fills, totals, drawdown and curve."""
    n = len(candles)
    count = len(lines) - 1
    ts = candles.timestamps
    last_close = candles.price("close", n - 1)
    first_open = candles.price("open", 0)
    buy_and_hold = q8(investment / (first_open * (1 + taker)) * last_close)

    buy_fee = [fee_for(lines[i], qtys[i], maker) for i in range(count)]
    sell_fee = [fee_for(lines[i + 1], qtys[i], maker) for i in range(count)]
    # per code (2i buy, 2i+1 sell): the fill's fields, cash change and base change
    protos: list[tuple[int, str, Decimal, Decimal, Decimal]] = []
    cash_delta: list[Decimal] = []
    base_delta: list[Decimal] = []
    for i in range(count):
        protos.append((i, "buy", lines[i], qtys[i], buy_fee[i]))
        cash_delta.append(-(lines[i] * qtys[i]) - buy_fee[i])
        base_delta.append(qtys[i])
        protos.append((i, "sell", lines[i + 1], qtys[i], sell_fee[i]))
        cash_delta.append(lines[i + 1] * qtys[i] - sell_fee[i])
        base_delta.append(-qtys[i])

    fills: list[GridFill] = []
    fill_t: list[int] = []
    cash_after: list[Decimal] = []  # exact cash and base after each fill
    base_after: list[Decimal] = []
    market_deltas: list[tuple[float, float, float]] = []  # cash, base, price of the market fills
    cash, base = investment, ZERO
    fees = ZERO
    realized = ZERO
    market = walker.market
    start_price = walker.start_price
    market_fee: dict[int, Decimal] = {}
    if market:
        assert walker.start_t is not None and start_price is not None
        t0 = walker.start_t
        for i in market:
            fee = fee_for(start_price, qtys[i], taker)
            market_fee[i] = fee
            fills.append(GridFill(ts[t0], i, "buy", start_price, qtys[i], fee))
            fill_t.append(t0)
            delta = -(start_price * qtys[i]) - fee
            cash += delta
            base += qtys[i]
            cash_after.append(cash)
            base_after.append(base)
            market_deltas.append((float(delta), float(qtys[i]), float(start_price)))
            fees += fee

    codes = walker.fill_code
    make = GridFill
    fills.extend([make(ts[t], *protos[c]) for t, c in zip(walker.fill_t, codes, strict=True)])
    fill_t.extend(walker.fill_t)
    if codes:
        for after, deltas, start in ((cash_after, cash_delta, cash), (base_after, base_delta, base)):
            running = accumulate(map(deltas.__getitem__, codes), initial=start)
            next(running)
            after.extend(running)
        cash, base = cash_after[-1], base_after[-1]
    # float copies for the drawdown scan (exact values are recomputed for the chosen marks)
    code_arr = np.array(codes, dtype=np.int64)
    per_code = np.array(
        [(float(c), float(b), float(p[2])) for c, b, p in zip(cash_delta, base_delta, protos, strict=True)]
    )
    floats = np.concatenate([np.array(market_deltas).reshape(-1, 3), per_code[code_arr].reshape(-1, 3)])
    cash_f = float(investment) + np.cumsum(floats[:, 0])
    base_f = np.cumsum(floats[:, 1])
    price_f = floats[:, 2]

    counts = np.bincount(code_arr, minlength=2 * count) if codes else None
    cycles = 0
    if counts is not None:
        pending_market = set(market)
        for i in range(count):
            buys, sells = int(counts[2 * i]), int(counts[2 * i + 1])
            if buys:
                fees += buys * buy_fee[i]
            if sells:
                cycles += sells
                fees += sells * sell_fee[i]
                profit = cycle_profit(qtys[i], lines[i], lines[i + 1], buy_fee[i], sell_fee[i])
                realized += sells * profit
                if i in pending_market:  # its first cycle started with the market buy at P
                    assert start_price is not None
                    first = cycle_profit(qtys[i], start_price, lines[i + 1], market_fee[i], sell_fee[i])
                    realized += first - profit

    final_equity = q8(cash + base * last_close)
    max_drawdown = _max_drawdown(
        candles, investment, fills, fill_t, cash_after, base_after, (cash_f, base_f, price_f)
    )
    curve = _equity_curve(candles, investment, fill_t, cash_after, base_after)
    return GridBacktestResult(
        cycles=cycles,
        realized_profit=q8(realized),
        fees=q8(fees),
        final_equity=final_equity,
        max_drawdown=max_drawdown,
        buy_and_hold=buy_and_hold,
        fills=fills,
        equity_curve=curve,
        lines=lines,
        quantities=qtys,
        per_grid_amount=per_grid,
        investment=investment,
        final_cash=q8(cash),
        final_base=base,
        candles=n,
        started_ts=ts[walker.start_t] if walker.start_t is not None else None,
        start_price=start_price,
        stopped_ts=ts[walker.stop_t] if walker.stop_t is not None else None,
        stop_reason=walker.stop_reason,
    )


def _fills_through(fill_t: list[int], n: int) -> np.ndarray:
    """For each candle, how many fills happened in it or before it."""
    return np.searchsorted(np.array(fill_t, dtype=np.int64), np.arange(n), side="right")


def _max_drawdown(
    candles: Candles,
    investment: Decimal,
    fills: list[GridFill],
    fill_t: list[int],
    cash_after: list[Decimal],
    base_after: list[Decimal],
    floats: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> Decimal:
    """Largest fall from a peak, as a fraction of the peak (see the module docstring)."""
    n = len(candles)
    nf = len(fills)
    inv_f = float(investment)
    closes = candles.close_a
    done = _fills_through(fill_t, n)
    if nf:
        cash_f, base_f, price_f = floats
        eq_fill = cash_f + base_f * price_f
        cash_close = np.where(done > 0, cash_f[done - 1], inv_f)
        base_close = np.where(done > 0, base_f[done - 1], 0.0)
    else:
        eq_fill = np.zeros(0)
        cash_close = np.full(n, inv_f)
        base_close = np.zeros(n)
    eq_close = cash_close + base_close * closes
    # marks in time order: [start], then per candle its fills, then its close
    marks = np.empty(1 + nf + n)
    marks[0] = inv_f
    fill_pos = 1 + np.arange(nf) + np.array(fill_t, dtype=np.int64) if nf else np.zeros(0, dtype=np.int64)
    close_pos = 1 + np.arange(n) + done
    marks[fill_pos] = eq_fill
    marks[close_pos] = eq_close
    peaks = np.maximum.accumulate(marks)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, (peaks - marks) / peaks, 0.0)
    trough = int(falls.argmax())
    if falls[trough] <= 0:
        return q8(ZERO)
    peak = int(marks[: trough + 1].argmax())

    def exact(pos: int) -> Decimal:
        if pos == 0:
            return investment
        j = int(np.searchsorted(fill_pos, pos))
        if j < nf and fill_pos[j] == pos:
            return cash_after[j] + base_after[j] * fills[j].price
        t = int(np.searchsorted(close_pos, pos))
        k = int(done[t])
        cash = cash_after[k - 1] if k else investment
        base = base_after[k - 1] if k else ZERO
        return cash + base * candles.price("close", t)

    top, bottom = exact(peak), exact(trough)
    if top <= 0 or bottom >= top:
        return q8(ZERO)
    return q8((top - bottom) / top)


def _equity_curve(
    candles: Candles,
    investment: Decimal,
    fill_t: list[int],
    cash_after: list[Decimal],
    base_after: list[Decimal],
) -> list[tuple[int, Decimal]]:
    """Equity at a sample of closes (at most ~1000 points, the last candle always included)."""
    n = len(candles)
    every = max(1, -(-n // _EQUITY_SAMPLES))
    sample = list(range(0, n, every))
    if sample[-1] != n - 1:
        sample.append(n - 1)
    done = np.searchsorted(np.array(fill_t, dtype=np.int64), np.array(sample), side="right").tolist()
    cash_at = [investment, *cash_after]  # index k: after k fills
    base_at = [ZERO, *base_after]
    stamps, closes = candles.timestamps, candles.close_text
    return [
        (stamps[t], q8(cash_at[k] + base_at[k] * Decimal(closes[t])))
        for t, k in zip(sample, done, strict=True)
    ]
