"""The fill loop of the grid backtest (rules 3-5 of DESIGN.md's fill rules; engine.grid.backtest says
what the rules and the decisions where they are silent are). It finds *which* lines fill *when*; what
each fill amounts to is engine.grid.ledger's.

The book is the single integer m, the "empty" line: buys rest on lines < m, sells on lines > m, so the
nearest buy is line m-1 and the nearest sell line m+1 (rule 3 starts from that invariant and rules
4-5 keep it). Candles that reach neither are skipped with vectorised numpy scans.

The candles come in chunks (engine.market_data.candles.CandleChunks), so a walk over millions of
candles holds one chunk at a time; the state (m, started, stopped, the previous close) carries over.
Each fill is recorded as its candle's global index and a code ``8 * interval + 2 * segment + side``
(side 0 buy, 1 sell; segment 0..2 of the candle's walk: the ledger marks equity between segments).
"""

from __future__ import annotations

from bisect import bisect_left
from decimal import Decimal

import numpy as np

from engine.market_data.candles import Candles

NEG_INF = float("-inf")
POS_INF = float("inf")
_PY_SCAN = 64  # candles checked in Python before switching to numpy chunks
_FIRST_CHUNK = 256
_MAX_CHUNK = 1 << 16


def fill_code(interval: int, segment: int, side: int) -> int:
    return 8 * interval + 2 * segment + side


class Walker:
    """Rules 3-5 over candles fed chunk by chunk (:meth:`feed`)."""

    def __init__(
        self,
        lines: list[Decimal],
        exact: bool,
        trigger: Decimal | None,
        stop_upper: Decimal | None,
        stop_lower: Decimal | None,
    ) -> None:
        self.lines = lines
        self.exact = exact  # floats decide (every price and line has <= 15 digits), else Decimals
        self.trigger = trigger
        conv = float if exact else Decimal
        self.line_v: list = [conv(x) for x in lines]
        self.stop_up = conv(stop_upper) if stop_upper is not None else POS_INF
        self.stop_lo = conv(stop_lower) if stop_lower is not None else NEG_INF
        self.trigger_v = conv(trigger) if trigger is not None else None
        self.count = len(lines) - 1
        self.m = -1
        self.offset = 0
        self.prev_close = None  # close of the candle before the current chunk
        self.started = False
        self.done = False  # stopped, or nothing more can happen
        # fills: global candle index and code (see the module docstring)
        self.fill_t: list[int] = []
        self.fill_code: list[int] = []
        self.start_t: int | None = None
        self.start_seg = -1  # the market buy happened in this segment of the start candle (-1: at its open)
        self.start_price: Decimal | None = None
        self.market: list[int] = []
        self.stop_t: int | None = None
        self.stop_reason: str | None = None

    # -- feeding ---------------------------------------------------------------

    def feed(self, offset: int, chunk: Candles) -> None:
        """Walk the candles of ``chunk`` (global indices offset..offset+len-1)."""
        n = len(chunk)
        if self.done or n == 0:
            return
        self.offset = offset
        self.chunk = chunk
        if self.exact:  # numpy finds the candles that can fill (:meth:`_fast`); Python reads only those
            self.open_v: list = chunk.open_a  # type: ignore[assignment]
            self.high_v: list = chunk.high_a  # type: ignore[assignment]
            self.low_v: list = chunk.low_a  # type: ignore[assignment]
            self.close_v: list = chunk.close_a  # type: ignore[assignment]
        else:  # too many digits for floats: compare Decimals (slower, same rules)
            self.open_v = chunk.prices("open")
            self.high_v = chunk.prices("high")
            self.low_v = chunk.prices("low")
            self.close_v = chunk.prices("close")
        try:
            self._feed(n)
        finally:
            self.prev_close = self.close_v[n - 1] if not self.exact else float(self.close_v[n - 1])
            del self.open_v, self.high_v, self.low_v, self.close_v, self.chunk

    def _feed(self, n: int) -> None:
        t = 0
        if not self.started:
            if self.trigger is None:
                running = self._start(0, -1, self.chunk.price("open", 0), self.open_v[0]) and self._walk(
                    0, 0, from_open=False
                )
            else:
                found = self._find_trigger(n)
                if found is None:
                    return
                t, seg = found
                running = self._start(t, seg, self.trigger, self.trigger_v) and (
                    self._walk(t, 0, from_open=True) if seg < 0 else self._walk(t, seg, from_open=False)
                )
            if not running:
                self.done = True
                return
            t += 1
        self._loop(t, n)

    # -- the start -----------------------------------------------------------

    def _find_trigger(self, n: int) -> tuple[int, int] | None:
        """(candle, first segment to walk) where the path first touches the trigger in this chunk.

        Segment -1 means "before the candle's walk" (touched on the jump into it).
        """
        trig = self.trigger_v
        c = self.chunk
        prev = self.prev_close
        if self.exact:
            touch = (c.low_a <= trig) & (c.high_a >= trig)
            gap = np.zeros(n, dtype=bool)
            closes = c.close_a[:-1] if prev is None else np.concatenate(([prev], c.close_a[:-1]))
            first = 0 if prev is None else -1
            opens = c.open_a[first + 1 :] if prev is None else c.open_a
            if closes.size:
                gap[1 + first :] = (np.minimum(closes, opens) <= trig) & (np.maximum(closes, opens) >= trig)
            hits = np.flatnonzero(touch | gap)
            if not hits.size:
                return None
            t = int(hits[0])
            on_gap = bool(gap[t])
        else:
            on_gap = False
            for t in range(n):
                a = self.close_v[t - 1] if t > 0 else prev
                if a is not None:
                    b = self.open_v[t]
                    if min(a, b) <= trig <= max(a, b):
                        on_gap = True
                        break
                if self.low_v[t] <= trig <= self.high_v[t]:
                    break
            else:
                return None
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

    def _start(self, t: int, seg: int, price: Decimal, price_v) -> bool:
        """Rule 3 at ``price``; False when the price is already at a stop (no trading)."""
        self.started = True
        self.start_t = self.offset + t
        self.start_seg = seg
        self.start_price = price
        if price_v >= self.stop_up or price_v <= self.stop_lo:
            self._stop(t, "stop_upper" if price_v >= self.stop_up else "stop_lower")
            return False
        below = bisect_left(self.lines, price)  # lines strictly below the price
        self.m = min(below, self.count)
        self.market = list(range(below, self.count))
        return True

    def _stop(self, t: int, reason: str) -> None:
        self.stop_t = self.offset + t
        self.stop_reason = reason
        self.done = True

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
        fill_t, codes = self.fill_t, self.fill_code
        g = self.offset + t
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
                    fill_t.append(g)
                    codes.append(8 * m + 2 * seg)
            else:
                stop = target >= self.stop_up
                if stop:
                    target = self.stop_up
                while m < count and line_v[m + 1] <= target:
                    fill_t.append(g)
                    codes.append(8 * m + 2 * seg + 1)
                    m += 1
            if stop:
                self.m = m
                self._stop(t, "stop_lower" if down else "stop_upper")
                return False
        self.m = m
        return True

    def _loop(self, t: int, n: int) -> None:
        """Walk candles ``t..n-1`` of the chunk: skip the quiet ones, walk the others inline."""
        if self.stop_lo == NEG_INF and self.stop_up == POS_INF:
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
            c = self.chunk
            hits = np.flatnonzero((c.low_a[t:n] <= self.stop_lo) | (c.high_a[t:n] >= self.stop_up))
            return t + int(hits[0]) if hits.size else n
        for k in range(t, n):
            if self.low_v[k] <= self.stop_lo or self.high_v[k] >= self.stop_up:
                return k
        return n

    def _fast(self, t: int, n: int) -> None:
        """Rules 4-5 on candles ``t..n-1`` of the chunk, none of which reaches a stop."""
        if self.exact:
            self._fast_floats(t, n)
            return
        count = self.count
        # padded lines: lv[m] is the nearest buy (line m-1), lv[m+2] the nearest sell (line m+1)
        lv = [NEG_INF, *self.line_v, POS_INF]
        open_v, high_v, low_v, close_v = self.open_v, self.high_v, self.low_v, self.close_v
        low_a, high_a = self.chunk.low_a, self.chunk.high_a
        add_t, add_code = self.fill_t.append, self.fill_code.append
        off = self.offset
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
            g = t + off
            if close >= open_v[t]:  # open -> low -> high -> close
                price = low_v[t]
                while lv[m] >= price:
                    m -= 1
                    add_t(g)
                    add_code(8 * m)  # segment 0, buy
                price = high_v[t]
                while lv[m + 2] <= price:
                    add_t(g)
                    add_code(8 * m + 3)  # segment 1, sell
                    m += 1
                while lv[m] >= close:
                    m -= 1
                    add_t(g)
                    add_code(8 * m + 4)  # segment 2, buy
            else:  # open -> high -> low -> close
                price = high_v[t]
                while lv[m + 2] <= price:
                    add_t(g)
                    add_code(8 * m + 1)  # segment 0, sell
                    m += 1
                price = low_v[t]
                while lv[m] >= price:
                    m -= 1
                    add_t(g)
                    add_code(8 * m + 2)  # segment 1, buy
                while lv[m + 2] <= close:
                    add_t(g)
                    add_code(8 * m + 5)  # segment 2, sell
                    m += 1
            t += 1
        self.m = m
        assert 0 <= m <= count

    def _fast_floats(self, t: int, n: int) -> None:
        """:meth:`_fast` when floats decide: numpy picks the candles that may fill, Python walks those.

        After every walked candle the nearest buy is below its close and the nearest sell above it:
        line m-1 < close < line m+1 (a segment down fills every buy at or above its end, so the buy
        left is below it, and the sell above the buys filled on the way is above it; the same upwards;
        rule 3's start has line m-1 < P <= line m < line m+1). So a candle can fill nothing when no
        line lies in [min(low, previous close), max(high, previous close)]: line m-1 is then below
        the low and line m+1 above the high. Nor when the only line there is line m, the empty one.
        The candle leaves m as it is and the close it ends at keeps the invariant. The others (a line
        there other than m, or two or more lines) are walked as in :meth:`_fast`.
        """
        if t >= n:
            return
        c = self.chunk
        lines = np.array(self.line_v)
        before = c.close_a[t - 1] if t else self.prev_close
        assert before is not None  # the start candle is walked by _walk
        previous = np.empty(n - t)
        previous[0] = before
        previous[1:] = c.close_a[t : n - 1]
        below = np.searchsorted(lines, np.minimum(c.low_a[t:n], previous), "left")  # lines < the lowest
        upto = np.searchsorted(lines, np.maximum(c.high_a[t:n], previous), "right")  # lines <= the highest
        inside = upto - below
        maybe = np.flatnonzero(inside)
        only = np.where(inside[maybe] == 1, below[maybe], -1)  # the one line there; -1: two or more
        maybe += t
        lv = [NEG_INF, *self.line_v, POS_INF]
        add_t, add_code = self.fill_t.append, self.fill_code.append
        off = self.offset
        m = self.m
        for t, line, o, high, low, close in zip(
            maybe.tolist(),
            only.tolist(),
            c.open_a[maybe].tolist(),
            c.high_a[maybe].tolist(),
            c.low_a[maybe].tolist(),
            c.close_a[maybe].tolist(),
            strict=True,
        ):
            if line == m:
                continue
            g = t + off
            if close >= o:  # open -> low -> high -> close
                while lv[m] >= low:
                    m -= 1
                    add_t(g)
                    add_code(8 * m)  # segment 0, buy
                while lv[m + 2] <= high:
                    add_t(g)
                    add_code(8 * m + 3)  # segment 1, sell
                    m += 1
                while lv[m] >= close:
                    m -= 1
                    add_t(g)
                    add_code(8 * m + 4)  # segment 2, buy
            else:  # open -> high -> low -> close
                while lv[m + 2] <= high:
                    add_t(g)
                    add_code(8 * m + 1)  # segment 0, sell
                    m += 1
                while lv[m] >= low:
                    m -= 1
                    add_t(g)
                    add_code(8 * m + 2)  # segment 1, buy
                while lv[m + 2] <= close:
                    add_t(g)
                    add_code(8 * m + 5)  # segment 2, sell
                    m += 1
        self.m = m
        assert 0 <= m <= self.count
