"""What the grid backtest's fills amount to (rules 2, 6, 7 and 8 of DESIGN.md's fill rules): fills in
Decimal, cash and coin after each, cycles, fees, realized profit, max drawdown along the walk, time in
market, the equity curve and buy and hold. engine.grid.walker says which lines fill when.

Every fill of one kind has the same amounts (interval i's limit buy, its sell, the first sell after
its market buy at the start, its market buy), so the amounts are computed once per kind in Decimal
and the fills only index them; the walk's candles come chunk by chunk and are forgotten after theirs.

Rule 8 (``fee_in_base``): a buy's fee is charged in the coin bought, fee_base = q8(qty x rate); the
interval holds qty - fee_base and its sell is for that rounded down to the lot step (the rest stays
as dust in the holdings); the buy's fee in quote = q8(fee_base x buy price); profit of a cycle = sold
qty x (sell - buy) - buy fee in quote - sell fee.

Max drawdown: equity (cash + coin x price) is marked at the start, after every fill at its price, and
at every point of every candle's walk (open, low, high, close in the walk's order, with the holdings
of that moment: the coin held before the walk reaches a point is in it, what fills after is not).
Between two marks the price moves one way and the holdings do not change, so equity moves one way:
these marks hold the highest and lowest equity of the path, and the drawdown is the path's. Floats
pick the peak and trough; that pair is recomputed in Decimal ((peak - trough) / peak, 8 decimals).
A candle without fills is marked as two (top, bottom) pairs instead of its four points (:class:`_Walk`
says why that gives the same drawdown); candles with fills keep every point and fill. Buy and hold
never trades, so its drawdown is on the pairs of every candle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from itertools import accumulate
from typing import NamedTuple

import numpy as np

from engine.grid.lines import cycle_profit
from engine.market_data.candles import Candles
from engine.money import ZERO, fee_for, floor_to_step, q8

EQUITY_SAMPLES = 1000
_WALK_COLUMNS = (("open", "low", "high", "close"), ("open", "high", "low", "close"))


class GridFill(NamedTuple):
    """One fill: ``ts`` is the candle's open time (ms), money in quote currency."""

    ts: int
    interval: int
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal


class GridFillFeeInBase(NamedTuple):
    """A fill under rule 8: a buy's ``fee`` is its fee in quote and ``fee_base`` the coin taken (0 for
    a sell); a sell's ``qty`` is the quantity sold."""

    ts: int
    interval: int
    side: str
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_base: Decimal


@dataclass
class _Kind:
    """The amounts of every fill of one kind."""

    fields: tuple  # GridFill's fields after ts
    cash: Decimal  # change of cash (quote)
    base: Decimal  # change of coin held
    fee: Decimal  # in quote
    profit: Decimal | None  # a sell: the profit of the cycle it completes


class FillKinds:
    """The amounts of each kind of fill of one grid (rules 2, 6 and 8)."""

    def __init__(
        self,
        lines: list[Decimal],
        qtys: list[Decimal],
        maker: Decimal,
        taker: Decimal,
        amount_step: Decimal,
        fee_in_base: bool,
    ) -> None:
        self.lines, self.qtys = lines, qtys
        self.maker, self.taker, self.step = maker, taker, amount_step
        self.fee_in_base = fee_in_base

    def buy(self, i: int, price: Decimal, rate: Decimal) -> tuple[_Kind, Decimal]:
        """Interval i's buy at ``price`` paying ``rate``; and the quantity its sell will be for."""
        qty = self.qtys[i]
        if not self.fee_in_base:
            fee = fee_for(price, qty, rate)
            return _Kind((i, "buy", price, qty, fee), -(price * qty) - fee, qty, fee, None), qty
        fee_base = q8(qty * rate)
        fee = q8(fee_base * price)
        sell_qty = floor_to_step(qty - fee_base, self.step)
        return _Kind(
            (i, "buy", price, qty, fee, fee_base), -(price * qty), qty - fee_base, fee, None
        ), sell_qty

    def sell(self, i: int, qty: Decimal, buy: _Kind) -> _Kind:
        price = self.lines[i + 1]
        fee = fee_for(price, qty, self.maker)
        profit = cycle_profit(qty, buy.fields[2], price, buy.fee, fee)
        fields = (i, "sell", price, qty, fee) + ((ZERO,) if self.fee_in_base else ())
        return _Kind(fields, price * qty - fee, -qty, fee, profit)

    def limit(self, code: int) -> _Kind:
        """Kind ``code``: 2i is interval i's limit buy, 2i+1 its sell."""
        i, side = divmod(code, 2)
        buy, sell_qty = self.buy(i, self.lines[i], self.maker)
        return buy if side == 0 else self.sell(i, sell_qty, buy)

    def market(self, i: int, price: Decimal) -> tuple[_Kind, _Kind]:
        """Interval i's market buy at the start and the first sell after it."""
        buy, sell_qty = self.buy(i, price, self.taker)
        return buy, self.sell(i, sell_qty, buy)

    def interval_sums(
        self, i: int, buys: int, sells: int, market_price: Decimal | None
    ) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(cash change, coin change, fees, realized profit) of interval i after ``buys`` limit buys and
        ``sells`` sells (the first of them closing the market buy at ``market_price`` at the start when
        there was one): the sums of :meth:`buy` and :meth:`sell`'s amounts over those fills, computed
        with the same operations once per interval (the sweep's shortcut; Decimal sums are exact)."""
        qty = self.qtys[i]
        low, high = self.lines[i], self.lines[i + 1]
        maker = self.maker
        cash = coin = fees = realized = ZERO
        limit_sells = sells
        if market_price is not None:
            if self.fee_in_base:
                fee_base = q8(qty * self.taker)
                fee = q8(fee_base * market_price)
                cash -= market_price * qty
                coin += qty - fee_base
                first_qty = floor_to_step(qty - fee_base, self.step)
            else:
                fee = fee_for(market_price, qty, self.taker)
                cash -= market_price * qty + fee
                coin += qty
                first_qty = qty
            fees += fee
            if sells:
                limit_sells -= 1
                sell_fee = fee_for(high, first_qty, maker)
                cash += high * first_qty - sell_fee
                coin -= first_qty
                fees += sell_fee
                realized += cycle_profit(first_qty, market_price, high, fee, sell_fee)
        if buys or limit_sells:
            if self.fee_in_base:
                fee_base = q8(qty * maker)
                buy_fee = q8(fee_base * low)
                sell_qty = floor_to_step(qty - fee_base, self.step)
                cash -= buys * (low * qty)
                coin += buys * (qty - fee_base)
            else:
                buy_fee = fee_for(low, qty, maker)
                sell_qty = qty
                cash -= buys * (low * qty + buy_fee)
                coin += buys * qty
            fees += buys * buy_fee
            if limit_sells:
                sell_fee = fee_for(high, sell_qty, maker)
                cash += limit_sells * (high * sell_qty - sell_fee)
                coin -= limit_sells * sell_qty
                fees += limit_sells * sell_fee
                realized += limit_sells * cycle_profit(sell_qty, low, high, buy_fee, sell_fee)
        return cash, coin, fees, realized


@dataclass
class _Mark:
    """The best drawdown so far, or the running peak: float value and exact value."""

    value: float
    exact: Decimal


@dataclass
class Totals:
    """What :class:`Ledger` hands the result."""

    fills: list
    cycles: int
    realized_profit: Decimal
    fees: Decimal
    final_cash: Decimal
    final_base: Decimal
    final_equity: Decimal
    max_drawdown: Decimal
    time_in_market: Decimal
    buy_and_hold: Decimal
    buy_and_hold_drawdown: Decimal
    equity_curve: list[tuple[int, Decimal]] = field(repr=False)


class Ledger:
    """Fills chunk by chunk (:meth:`add`), then :meth:`totals`."""

    def __init__(
        self,
        lines: list[Decimal],
        qtys: list[Decimal],
        investment: Decimal,
        maker: Decimal,
        taker: Decimal,
        amount_step: Decimal,
        fee_in_base: bool,
        rows: int,
    ) -> None:
        self.lines, self.qtys = lines, qtys
        self.count = len(lines) - 1
        self.investment = investment
        self.maker, self.taker, self.step = maker, taker, amount_step
        self.fee_in_base = fee_in_base
        self.rows = rows
        self.maker_of = FillKinds(lines, qtys, maker, taker, amount_step, fee_in_base)
        self.kinds = [self._limit_kind(code) for code in range(2 * self.count)]
        self.kind_floats = self._floats(self.kinds)
        self.market: list[int] | None = None  # the intervals bought at market, once the grid started
        self.first_sells: dict[
            int, int
        ] = {}  # interval -> its kind, until the first sell after the market buy
        self.fills: list = []
        self.stamp: dict[int, int] = {}  # timestamps of the candles the walker started and stopped in
        self.cash, self.base = investment, ZERO
        self.cash_f, self.base_f = float(investment), 0.0
        self.fees = ZERO
        self.realized = ZERO
        self.cycles = 0
        self.held_candles = 0
        self.peak = _Mark(float(investment), investment)
        self.worst: tuple[float, Decimal] = (0.0, q8(ZERO))
        every = max(1, -(-rows // EQUITY_SAMPLES))
        self.samples = list(range(0, rows, every))
        if self.samples[-1] != rows - 1:
            self.samples.append(rows - 1)
        self.curve: list[tuple[int, Decimal]] = []
        self.first_open: Decimal | None = None
        self.last_close: Decimal | None = None
        self.bh_qty: Decimal | None = None
        self.bh_peak = _Mark(float(investment), investment)
        self.bh_worst: tuple[float, Decimal] = (0.0, q8(ZERO))

    # -- the kinds of fills -----------------------------------------------------

    def _limit_kind(self, code: int) -> _Kind:
        return self.maker_of.limit(code)

    @staticmethod
    def _floats(kinds: list[_Kind]) -> np.ndarray:
        """Per kind: cash change, coin change, price (floats for the drawdown scan)."""
        return np.array([(float(k.cash), float(k.base), float(k.fields[2])) for k in kinds]).reshape(-1, 3)

    def _market(self, market: list[int], price: Decimal) -> list[int]:
        """Kinds for the market buys at the start (one per interval) and their first sells."""
        self.market = market
        kinds = []
        for i in market:
            buy, sell = self.maker_of.market(i, price)
            kinds.append(len(self.kinds))
            self.kinds.append(buy)
            self.first_sells[i] = len(self.kinds)
            self.kinds.append(sell)
        self.kind_floats = self._floats(self.kinds)
        return kinds

    def book_counts(self, per_kind: np.ndarray) -> tuple[int, Decimal, Decimal, Decimal, Decimal]:
        """(cycles, realized profit, fees, cash, coin) after ``per_kind[k]`` fills of each kind (the sweep's
        shortcut: the same sums the chunks make, in another order; Decimal sums are exact)."""
        cycles, realized, fees = 0, ZERO, ZERO
        cash, base = self.investment, ZERO
        for k in np.flatnonzero(per_kind).tolist():
            times = int(per_kind[k])
            kind = self.kinds[k]
            cash += times * kind.cash
            base += times * kind.base
            fees += times * kind.fee
            if kind.profit is not None:
                cycles += times
                realized += times * kind.profit
        return cycles, realized, fees, cash, base

    # -- chunks -------------------------------------------------------------------

    def add(self, offset: int, chunk: Candles, walker) -> None:
        """Book the walker's fills in ``chunk`` (global candles offset..), then forget them."""
        n = len(chunk)
        if offset == 0:
            self.first_open = chunk.price("open", 0)
            self.bh_qty = self.investment / (self.first_open * (1 + self.taker))
        if offset + n == self.rows:
            self.last_close = chunk.price("close", n - 1)
        for t in (walker.start_t, walker.stop_t):
            if t is not None and offset <= t < offset + n:
                self.stamp[t] = int(chunk.ts_a[t - offset])
        local_t: list[int] = []
        kinds: list[int] = []
        segments: list[int] = []
        if walker.start_t is not None and self.market is None and offset <= walker.start_t < offset + n:
            start = walker.start_t - offset
            for kind in self._market(walker.market, walker.start_price):
                local_t.append(start)
                kinds.append(kind)
                segments.append(walker.start_seg)
        codes = np.array(walker.fill_code, dtype=np.int64)
        if codes.size:
            local_t.extend((np.array(walker.fill_t, dtype=np.int64) - offset).tolist())
            segments.extend(((codes >> 1) & 3).tolist())
            limit = 2 * (codes >> 3) + (codes & 1)
            for i, kind in list(self.first_sells.items()):
                hits = np.flatnonzero(limit == 2 * i + 1)
                if hits.size:
                    limit[hits[0]] = kind
                    del self.first_sells[i]
            kinds.extend(limit.tolist())
        walker.fill_t.clear()
        walker.fill_code.clear()
        self._book(offset, chunk, local_t, kinds, segments)

    def _book(
        self, offset: int, chunk: Candles, local_t: list[int], kinds: list[int], segments: list[int]
    ) -> None:
        n = len(chunk)
        table = self.kinds
        stamps = chunk.ts_a[local_t].tolist() if local_t else []
        make = partial(tuple.__new__, GridFillFeeInBase if self.fee_in_base else GridFill)  # no Python frame
        fields = [k.fields for k in table]
        self.fills.extend([make((ts, *fields[k])) for ts, k in zip(stamps, kinds, strict=True)])
        cash0, base0 = self.cash, self.base
        cash_after = list(accumulate(map([k.cash for k in table].__getitem__, kinds), initial=cash0))[1:]
        base_after = list(accumulate(map([k.base for k in table].__getitem__, kinds), initial=base0))[1:]
        kind_arr = np.array(kinds, dtype=np.int64)
        floats = self.kind_floats[kind_arr] if kinds else np.zeros((0, 3))
        cash_f = self.cash_f + np.cumsum(floats[:, 0])
        base_f = self.base_f + np.cumsum(floats[:, 1])
        if kinds:
            counts = np.bincount(kind_arr, minlength=len(table))
            for k in np.flatnonzero(counts).tolist():
                times = int(counts[k])
                self.fees += times * table[k].fee
                profit = table[k].profit
                if profit is not None:
                    self.cycles += times
                    self.realized += times * profit

        f_t = np.array(local_t, dtype=np.int64)
        key = 4 * f_t + np.array(segments, dtype=np.int64) + 1  # points of the walk before each fill
        rising = chunk.close_a >= chunk.open_a
        walk = _Walk(chunk, rising)
        cash_levels = np.concatenate(([self.cash_f], cash_f))  # floats after 0, 1, .. fills
        base_levels = np.concatenate(([self.base_f], base_f))
        pairs = walk.pairs()
        if kinds:
            per_candle = np.bincount(f_t, minlength=n)
            filled = np.flatnonzero(per_candle)  # the candles with fills: every point and fill is marked
            before = np.cumsum(per_candle) - per_candle  # fills before each candle
            quiet_cash, quiet_base = cash_levels[before, None], base_levels[before, None]
            # the filled candles' marks, in walk order: open, its fills, the segment's end, ...
            slot = np.repeat(np.arange(filled.size, dtype=np.int64), per_candle[filled])
            fkey = 4 * slot + (key - 4 * f_t)  # key within the filled candles' points
            points = walk.points(filled)
            at = np.searchsorted(key, 4 * np.repeat(filled, 4) + np.tile(np.arange(4), filled.size), "right")
            loud = np.insert(cash_levels[at] + base_levels[at] * points, fkey, cash_f + base_f * floats[:, 2])
            loud_fill = np.arange(len(kinds), dtype=np.int64) + fkey  # where the fills are in ``loud``
            where = np.repeat(2 * filled + 2, 4 + np.bincount(slot, minlength=filled.size))
        else:
            filled = where = loud = loud_fill = np.zeros(0, dtype=np.int64)
            quiet_cash, quiet_base = self.cash_f, self.base_f
        tops = quiet_cash + quiet_base * pairs[0]
        bottoms = quiet_cash + quiet_base * pairs[1]
        if kinds:
            tops[filled], bottoms[filled] = -np.inf, np.inf  # marked point by point instead
            tops = np.insert(tops.reshape(-1), where, loud)
            bottoms = np.insert(bottoms.reshape(-1), where, loud)
        else:
            tops, bottoms = tops.reshape(-1), bottoms.reshape(-1)
        inserted = where + np.arange(where.size, dtype=np.int64)

        def exact(pos: int, top: bool) -> Decimal:
            j = int(np.searchsorted(inserted, pos))
            if j < where.size and inserted[j] == pos:  # a filled candle's point or a fill
                i = int(np.searchsorted(loud_fill, j))
                if i < len(kinds) and loud_fill[i] == j:
                    return cash_after[i] + base_after[i] * table[kinds[i]].fields[2]
                r, k = divmod(j - i, 4)
                t = int(filled[r])
                fills = int(np.searchsorted(key, 4 * t + k, "right"))
                column = _WALK_COLUMNS[0 if rising[t] else 1][k]
            else:
                t, second = divmod(pos - j, 2)
                fills = int(np.searchsorted(f_t, t))
                column = walk.column(t, second, top)
            cash = cash_after[fills - 1] if fills else cash0
            base = base_after[fills - 1] if fills else base0
            return cash + base * chunk.price(column, t)

        self.peak, self.worst = _drawdown(tops, bottoms, self.peak, self.worst, exact)

        # buy and hold: its coin bought at the first open is held throughout, so it falls as the price
        # does, from a peak of at least investment / qty
        assert self.bh_qty is not None
        bh_qty = self.bh_qty

        def bh_exact(pos: int, top: bool) -> Decimal:
            t, second = divmod(pos, 2)
            return bh_qty * chunk.price(walk.column(t, second, top), t)

        scale = float(bh_qty)
        bh_peak = _Mark(self.bh_peak.value / scale, self.bh_peak.exact)
        bh_peak, self.bh_worst = _drawdown(
            pairs[0].reshape(-1), pairs[1].reshape(-1), bh_peak, self.bh_worst, bh_exact
        )
        self.bh_peak = _Mark(bh_peak.value * scale, bh_peak.exact)

        # time in market: candles in which coin was held at some point
        held_after = np.array(list(map(ZERO.__lt__, base_after)), dtype=bool)
        # fills before each open: those at or before point 4t, i.e. in a candle < t or at t's start
        opens = np.cumsum(np.bincount((key + 3) >> 2, minlength=n + 1)[:n])
        held_at = np.concatenate(([base0 > 0], held_after))[opens]
        if kinds:
            during = np.zeros(n, dtype=bool)
            np.logical_or.at(during, f_t, held_after)
            held_at |= during
        self.held_candles += int(held_at.sum())

        # the equity curve's samples in this chunk: at closes
        for t in self._samples_in(offset, n):
            before = int(np.searchsorted(key, 4 * (t - offset) + 3, side="right"))
            cash = cash_after[before - 1] if before else cash0
            base = base_after[before - 1] if before else base0
            self.curve.append(
                (int(chunk.ts_a[t - offset]), q8(cash + base * chunk.price("close", t - offset)))
            )

        if kinds:
            self.cash, self.base = cash_after[-1], base_after[-1]
            self.cash_f, self.base_f = float(cash_f[-1]), float(base_f[-1])

    def _samples_in(self, offset: int, n: int) -> list[int]:
        from bisect import bisect_left

        lo = bisect_left(self.samples, offset)
        hi = bisect_left(self.samples, offset + n)
        return self.samples[lo:hi]

    def totals(self) -> Totals:
        assert self.first_open is not None and self.last_close is not None and self.bh_qty is not None
        return Totals(
            fills=self.fills,
            cycles=self.cycles,
            realized_profit=q8(self.realized),
            fees=q8(self.fees),
            final_cash=q8(self.cash),
            final_base=self.base,
            final_equity=q8(self.cash + self.base * self.last_close),
            max_drawdown=self.worst[1],
            time_in_market=q8(Decimal(self.held_candles) / self.rows),
            buy_and_hold=q8(self.bh_qty * self.last_close),
            buy_and_hold_drawdown=self.bh_worst[1],
            equity_curve=self.curve,
        )


class _Walk:
    """A chunk's candles as their walk's (top, bottom) pairs: rising candles (open, low), (high, close),
    falling ones (high, low), (high, close).

    Why these are enough where no fill happens in a candle: equity = cash + coin x price with coin >= 0
    is monotone in the price (floats too: rounding is monotone), so within such a candle it orders its
    four marks as the prices do. The drawdown is the largest 1 - later mark / earlier peak, and a mark
    is never needed as a peak when an earlier mark at least as high exists, nor as a trough when a later
    one at most as low follows with no new peak between. Rising (open, low, high, close): the low is
    below the open before it and the close above the high before it, so as peaks only the open and
    the high count; the open is above the low after it and the high above the close after it (the
    high being the only peak between), so as troughs only the low and the close count. Falling (open,
    high, low, close): the high is above the open before it, so it replaces the open as a peak; the
    low is below the open (after the high, which only raises the peak) and the close, so only the low
    counts as a trough; the close, below the high, never is a peak. So each pair's top comes before its
    bottom in the walk and the pairs keep the walk's order: the drawdown of the pairs (running peak of
    the tops, each bottom against it) is the drawdown of the four marks, at half the points."""

    def __init__(self, chunk: Candles, rising: np.ndarray) -> None:
        self.chunk, self.rising = chunk, rising

    def pairs(self) -> np.ndarray:
        """Prices: [0] the tops, [1] the bottoms, n x 2 each (column 0 the first pair of each candle)."""
        c = self.chunk
        pairs = np.empty((2, len(c), 2))
        pairs[0, :, 0] = c.high_a
        np.copyto(pairs[0, :, 0], c.open_a, where=self.rising)
        pairs[0, :, 1] = c.high_a
        pairs[1, :, 0] = c.low_a
        pairs[1, :, 1] = c.close_a
        return pairs

    def column(self, t: int, second: int, top: bool) -> str:
        if not top:
            return "close" if second else "low"
        return "open" if not second and self.rising[t] else "high"

    def points(self, candles: np.ndarray) -> np.ndarray:
        """The four points of each of ``candles`` in walk order, flat."""
        c = self.chunk
        rising = self.rising[candles]
        low, high = c.low_a[candles], c.high_a[candles]
        return np.stack(
            (c.open_a[candles], np.where(rising, low, high), np.where(rising, high, low), c.close_a[candles]),
            axis=1,
        ).reshape(-1)


def _drawdown(
    tops: np.ndarray, bottoms: np.ndarray, peak: _Mark, worst: tuple[float, Decimal], exact
) -> tuple[_Mark, tuple[float, Decimal]]:
    """Carry the running peak and the largest fall over one chunk's marks as (top, bottom) pairs in walk
    order, each top before its bottom (see :class:`_Walk`); ``exact(i, top)`` is the Decimal value of
    ``tops[i]`` (top) or ``bottoms[i]``."""
    if not tops.size:
        return peak, worst
    peaks = np.maximum.accumulate(tops)
    np.maximum(peaks, peak.value, out=peaks)
    if peaks[0] <= 0:  # pragma: no cover - equity at or below zero: no fraction of a peak to speak of
        return peak, worst
    ratio = np.divide(bottoms, peaks)
    trough = int(ratio.argmin())
    fall = 1.0 - float(ratio[trough])
    if fall > worst[0]:
        top_at = int(tops[: trough + 1].argmax())
        top = peak.exact if tops[top_at] <= peak.value else exact(top_at, True)
        bottom = exact(trough, False)
        if top > 0 and bottom < top:
            worst = (fall, q8((top - bottom) / top))
    if peaks[-1] > peak.value:
        best = int(tops.argmax())
        peak = _Mark(float(tops[best]), exact(best, True))
    return peak, worst
