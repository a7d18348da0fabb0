"""Backtest of the AI trend bot on candles: the rules of :mod:`engine.trend.positions` bar by bar,
filled with the paper exchange's rules.

Per candle ``t`` (index into the candles):

1. At the open: resting exits of positions held from before that the open
   already passed fill first (a stop loss at the open price: it is a stop-market
   order; a take profit at its own price: a resting limit); then the market
   orders decided at the close of ``t - 1`` fill at the open, closes before
   opens, at open x (1 + slippage) for buys and open x (1 - slippage) for sells
   (rounded to the tick), taker fee. A new position's stop loss / take profit /
   liquidation levels come from its fill price and rest from that point on.
2. The candle is walked as the grid's fill rules say (:func:`engine.market_data.candles.walk_points`:
   open -> low -> high -> close when close >= open, else open -> high -> low ->
   close). Going down, long stops (stop loss, or liquidation when nearer) and
   short take profits at or above the price reached fill at their own price,
   highest first; going up, long take profits and short stops at or below it,
   lowest first. So when a candle could fill both the stop and the target of a
   position, the walk order decides which came first. Take profits pay the maker
   fee, stop losses and liquidations the taker fee.
3. At the close: the candle's signal goes through :func:`engine.trend.positions.decide`
   (sizing from the wallet balance = initial equity + closed pnl - entry fees of
   open positions, times ``allocation_percent``); its orders fill at the next
   open. Orders decided at the last close are dropped; positions still open
   after the last candle are closed at its close (taker fee, reason ``end``).

Not modelled: funding payments (ignored: the figures are before funding),
maintenance margin (a position is liquidated when the price has moved
1/leverage against it, losing about its margin), partial fills and order book
depth beyond ``slippage``.

Figures: ``profit`` = final equity - initial equity, after every fee.
``max_drawdown``: the largest fall of the equity, as a fraction of the peak before
it, with the equity marked at every point of every candle's walk (open, low, high,
close in the walk's order: its low for a long book, its high for a short one),
at every exit and at the start, with the positions held at that moment (before:
at the closes only, which understated it). ``sharpe``: mean / standard deviation
(ddof 1) of the equity's returns per hour (per candle for candles longer than an
hour), annualised with sqrt(8760) (sqrt of periods per 365-day year; crypto
trades around the clock), risk-free rate 0. ``exposure``: the fraction of
candles during which at least one position was open (the time in market).
``buy_and_hold``: the initial equity buys at the first open (taker fee paid),
valued at the last close; its drawdown is marked at the same points of the walk.

Speed: indicators and signals are numpy; the Python loop only visits candles
that have pending orders, a signal, or a price that reaches an open position's
exit (found with vectorised scans over the candles in between).
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from engine.exchange import Market
from engine.market_data.candles import Candles, from_columns, walk_points
from engine.money import ZERO, q8, round_to_tick
from engine.trend.positions import (
    ClosedTrade,
    TrendIntent,
    TrendPosition,
    TrendSettings,
    TrendState,
    allocated_capital,
    decide,
    exit_hit,
    market_fee,
    on_entry_filled,
    on_exit_filled,
    stop_of,
)
from engine.trend.strategies import StrategyDef, signals, timeframe_ms

HOUR_MS = 3_600_000
YEAR_MS = 365 * 24 * HOUR_MS
_EQUITY_SAMPLES = 2000
_FIRST_CHUNK = 256
_MAX_CHUNK = 1 << 16


@dataclass(frozen=True)
class TrendBacktestResult:
    """Figures of one run. Money in quote currency (Decimal, 8 decimals); ratios as fractions."""

    strategy: str
    settings: TrendSettings
    candles: int
    start_ts: int
    end_ts: int
    timeframe_ms: int
    initial_equity: Decimal
    final_equity: Decimal
    profit: Decimal
    fees: Decimal
    trades: list[ClosedTrade]
    win_rate: Decimal
    max_drawdown: Decimal
    sharpe: float
    exposure: Decimal
    buy_and_hold: Decimal
    buy_and_hold_drawdown: Decimal
    signals: int
    equity_curve: list[tuple[int, Decimal]] = field(repr=False)
    equity_closes: np.ndarray = field(repr=False)  # float equity at every candle's close
    close_timestamps: np.ndarray = field(repr=False)  # open time (ms) of those candles

    @property
    def return_fraction(self) -> Decimal:
        return self.profit / self.initial_equity

    @property
    def buy_and_hold_return(self) -> Decimal:
        return self.buy_and_hold / self.initial_equity - 1

    def exit_reasons(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trade in self.trades:
            counts[trade.reason] = counts.get(trade.reason, 0) + 1
        return counts


def default_market(symbol: str = "BTC/USDT:USDT", market_type: str = "swap") -> Market:
    """A market for backtests: tick 0.01, lot 0.000001, no minimums, Bitget-like fees."""
    return Market(
        symbol=symbol,
        base=symbol.split("/")[0],
        quote="USDT",
        type="spot" if market_type == "spot" else "swap",
        price_tick=Decimal("0.01"),
        amount_step=Decimal("0.000001"),
        min_qty=ZERO,
        min_notional=ZERO,
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0006"),
    )


def settings_for(
    strategy: StrategyDef,
    *,
    leverage: int | None = None,
    stop_loss_percent: Decimal | str | None = "default",
    take_profit_percent: Decimal | str | None = "default",
    max_positions: int | None = None,
    entry_percent: Decimal | None = None,
    market_type: str = "swap",
) -> TrendSettings:
    """The strategy's risk defaults with the given overrides ("default" keeps the strategy's)."""
    risk = strategy.risk
    sl = risk.stop_loss_percent if stop_loss_percent == "default" else stop_loss_percent
    tp = risk.take_profit_percent if take_profit_percent == "default" else take_profit_percent
    lev = risk.leverage if leverage is None else leverage
    return TrendSettings.for_bot(
        lev,
        risk.entry_percent if entry_percent is None else entry_percent,
        max_leverage=lev,
        max_positions=risk.max_positions if max_positions is None else max_positions,
        stop_loss_percent=sl,  # type: ignore[arg-type]
        take_profit_percent=tp,  # type: ignore[arg-type]
        market_type="spot" if market_type == "spot" else "swap",
    )


def candle_interval_ms(candles: Candles) -> int:
    """The candles' interval: the smallest step between two timestamps (60000 for 1m)."""
    if len(candles) < 2:
        return HOUR_MS
    return int(np.diff(np.array(candles.timestamps, dtype=np.int64)).min())


def resample(candles: Candles, timeframe: str) -> Candles:
    """Candles of a longer ``timeframe`` ("4h") from shorter ones, buckets aligned to UTC.

    open = first open, high/low = extremes, close = last close, volume = sum.
    The first and last buckets are dropped when incomplete (a partial last
    candle has not closed). Raises ValueError when ``timeframe`` is shorter than
    the candles or not a multiple of their interval.
    """
    step = candle_interval_ms(candles)
    target = timeframe_ms(timeframe)
    if target < step or target % step:
        raise ValueError(
            f"cannot make {timeframe} candles from {step // 60000}-minute candles "
            "(the timeframe must be a multiple of the file's interval)"
        )
    if target == step:
        return candles
    ts = np.array(candles.timestamps, dtype=np.int64)
    bucket = ts // target
    starts = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    ends = np.concatenate((starts[1:], [ts.size])) - 1
    per_bucket = target // step
    keep = np.ones(starts.size, dtype=bool)
    if ends[0] - starts[0] + 1 < per_bucket:
        keep[0] = False
    if ends[-1] - starts[-1] + 1 < per_bucket:
        keep[-1] = False
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        raise ValueError(f"not one complete {timeframe} candle in the file")
    high_i = np.array(
        [int(s + np.argmax(candles.high_a[s : e + 1])) for s, e in zip(starts, ends, strict=True)]
    )
    low_i = np.array(
        [int(s + np.argmin(candles.low_a[s : e + 1])) for s, e in zip(starts, ends, strict=True)]
    )
    vol_sum = np.add.reduceat(candles.volume_a, starts)  # starts are increasing; ends follow them
    # the volume as the text resample wrote before (8 decimals), so indicators see the same numbers
    volume = np.array([float(f"{v:.8f}") for v in vol_sum.tolist()], dtype=np.float64)
    texts = None
    if candles.texts is not None:
        o, h, lo, c = candles.texts
        texts = (
            [o[i] for i in starts.tolist()],
            [h[i] for i in high_i.tolist()],
            [lo[i] for i in low_i.tolist()],
            [c[i] for i in ends.tolist()],
        )
    return from_columns(
        f"{candles.source}@{timeframe}",
        bucket[starts] * target,
        candles.open_a[starts],
        candles.high_a[high_i],
        candles.low_a[low_i],
        candles.close_a[ends],
        volume,
        float_exact=candles.float_exact,
        texts=texts,  # type: ignore[arg-type]
        point=candles.point,
    )


class _Run:
    """The bar-by-bar loop (see the module docstring); fills the ledger used by the summary."""

    def __init__(
        self,
        candles: Candles,
        sig: np.ndarray,
        settings: TrendSettings,
        market: Market,
        initial: Decimal,
        allocation: Decimal,
        maker: Decimal,
        taker: Decimal,
        slippage: Decimal,
        bot_id: int,
    ) -> None:
        self.c = candles
        self.ts: list[int] = candles.timestamps.tolist()
        self.sig = sig
        self.settings = settings
        self.market = market
        self.allocation = allocation
        self.maker, self.taker, self.slippage = maker, taker, slippage
        self.bot_id = bot_id
        self.state = TrendState()
        self.cash = initial  # wallet: initial + closed pnl - entry fees of open positions
        self.trades: list[ClosedTrade] = []
        self.fees = ZERO
        self.entry_t: dict[int, int] = {}
        self.held: list[tuple[int, int]] = []  # (first candle, last candle) each position was open
        # ledger after each visited candle: equity at close = cash - basis + net_qty * close
        self.mark_t: list[int] = []
        self.mark_cash: list[Decimal] = []
        self.mark_basis: list[Decimal] = []
        self.mark_qty: list[Decimal] = []
        # candles visited: the (cash, basis, qty, price) of each mark along their walk
        self.walk_marks: dict[int, list[tuple[Decimal, Decimal, Decimal, Decimal]]] = {}

    # -- fills -----------------------------------------------------------------

    def _close(self, p: TrendPosition, price: Decimal, fee_rate: Decimal, t: int, reason: str) -> None:
        fee = market_fee(price, p.qty, fee_rate)
        self.state, trade = on_exit_filled(self.state, p.seq, price, fee, self.ts[t], reason)
        self.cash += p.unrealized_pnl(price) - trade.exit_fee
        self.fees += trade.exit_fee
        self.trades.append(trade)
        self.held.append((self.entry_t.pop(p.seq), t))

    def _fill_market(self, intents: list[TrendIntent], t: int) -> None:
        open_ = self.c.price("open", t)
        tick = self.market.price_tick
        for intent in sorted(intents, key=lambda i: i.action != "close"):
            up = intent.side == "buy"
            price = open_ * (1 + self.slippage) if up else open_ * (1 - self.slippage)
            price = round_to_tick(price, tick) if self.slippage else open_
            if intent.action == "close":
                p = next((x for x in self.state.positions if x.seq == intent.seq), None)
                if p is not None:  # else an exit already took it
                    self._close(p, price, self.taker, t, intent.reason)
                continue
            fee = market_fee(price, intent.qty, self.taker)
            self.state, _ = on_entry_filled(
                self.state, intent, price, intent.qty, fee, self.ts[t], self.settings, tick
            )
            self.cash -= fee
            self.fees += fee
            self.entry_t[intent.seq] = t

    def _gap_exits(self, t: int) -> None:
        open_ = self.c.price("open", t)
        for p in list(self.state.positions):
            reason = exit_hit(p, open_)
            if reason == "tp":
                assert p.take_profit is not None
                self._close(p, p.take_profit, self.maker, t, "tp")
            elif reason is not None:
                self._close(p, open_, self.taker, t, reason)

    def _state(self) -> tuple[Decimal, Decimal, Decimal]:
        """(wallet cash, signed entry basis, signed qty): equity at price p = cash - basis + qty x p."""
        positions = self.state.positions
        basis = sum((p.direction * p.qty * p.entry_price for p in positions), ZERO)
        qty = sum((p.direction * p.qty for p in positions), ZERO)
        return self.cash, basis, qty

    def _walk(self, t: int, marks: list[tuple[Decimal, Decimal, Decimal, Decimal]]) -> None:
        """Exits along the walk; ``marks`` gets the equity's state at each exit and each point."""
        o, h, lo, c = (self.c.price(col, t) for col in ("open", "high", "low", "close"))
        points = walk_points(o, h, lo, c)
        for a, b in itertools.pairwise(points):
            if b == a or not self.state.positions:
                marks.append((*self._state(), b))
                continue
            hits: list[tuple[Decimal, TrendPosition, str]] = []
            for p in self.state.positions:
                stop = stop_of(p)
                if b < a:  # going down: long stops, short targets
                    if p.side == "long" and stop is not None and stop[0] >= b:
                        hits.append((stop[0], p, stop[1]))
                    elif p.side == "short" and p.take_profit is not None and p.take_profit >= b:
                        hits.append((p.take_profit, p, "tp"))
                else:  # going up: long targets, short stops
                    if p.side == "long" and p.take_profit is not None and p.take_profit <= b:
                        hits.append((p.take_profit, p, "tp"))
                    elif p.side == "short" and stop is not None and stop[0] <= b:
                        hits.append((stop[0], p, stop[1]))
            hits.sort(key=lambda x: (x[0], x[1].seq), reverse=b < a)
            for level, p, reason in hits:
                self._close(p, level, self.maker if reason == "tp" else self.taker, t, reason)
                marks.append((*self._state(), level))
            marks.append((*self._state(), b))

    def _mark(self, t: int) -> None:
        basis = sum((p.direction * p.qty * p.entry_price for p in self.state.positions), ZERO)
        qty = sum((p.direction * p.qty for p in self.state.positions), ZERO)
        if self.mark_t and self.mark_t[-1] == t:
            self.mark_cash[-1], self.mark_basis[-1], self.mark_qty[-1] = self.cash, basis, qty
            return
        self.mark_t.append(t)
        self.mark_cash.append(self.cash)
        self.mark_basis.append(basis)
        self.mark_qty.append(qty)

    def _candle(self, t: int, pending: list[TrendIntent]) -> list[TrendIntent]:
        """Everything that happens in candle ``t``; returns the orders for the next open."""
        open_ = self.c.price("open", t)
        marks = [(*self._state(), open_)]  # the equity along this candle's walk (see _summarise)
        if self.state.positions:
            self._gap_exits(t)
        if pending:
            self._fill_market(pending, t)
        marks.append((*self._state(), open_))
        self._walk(t, marks)
        intents: list[TrendIntent] = []
        signal = int(self.sig[t])
        if signal and t + 1 < len(self.c):
            allocated = allocated_capital(self.cash, self.allocation) if self.cash > 0 else ZERO
            intents = decide(
                self.bot_id,
                self.ts[t],
                signal,
                self.c.price("close", t),
                self.state,
                allocated,
                self.settings,
                self.market,
            )
        if t == len(self.c) - 1:
            close = self.c.price("close", t)
            for p in list(self.state.positions):
                self._close(p, close, self.taker, t, "end")
            marks.append((*self._state(), close))
        self.walk_marks[t] = marks
        self._mark(t)
        return intents

    # -- the loop --------------------------------------------------------------

    def run(self) -> None:
        n = len(self.c)
        sig = self.sig
        any_signal = np.flatnonzero(sig != 0)
        entry_signal = np.flatnonzero(sig > 0) if self.settings.market_type == "spot" else any_signal
        any_list, entry_list = any_signal.tolist(), entry_signal.tolist()
        pending: list[TrendIntent] = []
        t = 0
        while t < n:
            if not pending:
                if not self.state.positions:
                    k = bisect_left(entry_list, t)
                    if k == len(entry_list):
                        break
                    t = entry_list[k]
                else:
                    t = self._next_event(t, n, any_list)
                    if t >= n:
                        t = n - 1
            pending = self._candle(t, pending)
            t += 1
        if self.state.positions:  # pragma: no cover - the last candle closes everything
            raise AssertionError("positions left open")

    def _next_event(self, t: int, n: int, any_list: list[int]) -> int:
        """The first candle >= t with a signal or a price that reaches an open position's exit."""
        k = bisect_left(any_list, t)
        stop_at = any_list[k] if k < len(any_list) else n
        if not self.c.float_exact:
            return t
        lo, hi = -math.inf, math.inf
        for p in self.state.positions:
            stop = stop_of(p)
            down = stop[0] if p.side == "long" and stop else p.take_profit if p.side == "short" else None
            up = p.take_profit if p.side == "long" else stop[0] if stop else None
            if down is not None:
                lo = max(lo, float(down))
            if up is not None:
                hi = min(hi, float(up))
        low_a, high_a = self.c.low_a, self.c.high_a
        chunk = _FIRST_CHUNK
        while t < stop_at:
            end = min(t + chunk, stop_at)
            mask = (low_a[t:end] <= lo) | (high_a[t:end] >= hi)
            k = int(mask.argmax())
            if mask[k]:
                return t + k
            t = end
            chunk = min(chunk * 4, _MAX_CHUNK)
        return stop_at


def run_trend_backtest(
    candles: Candles,
    strategy: StrategyDef,
    settings: TrendSettings | None = None,
    *,
    signal_values: np.ndarray | None = None,
    market: Market | None = None,
    initial_equity: Decimal = Decimal("10000"),
    allocation_percent: Decimal = Decimal("100"),
    maker_fee_rate: Decimal = Decimal("0.0002"),
    taker_fee_rate: Decimal = Decimal("0.0006"),
    slippage: Decimal = ZERO,
    bot_id: int = 0,
) -> TrendBacktestResult:
    """Run ``strategy`` over ``candles`` (already in the strategy's timeframe).

    ``settings`` default to the strategy's risk defaults on a USDT-M
    perpetual; ``signal_values`` (one -1/0/+1 per candle) replace the
    strategy's own signals (the evaluation computes them once on a longer
    history); ``slippage`` is a fraction of the price (0.0005 = 0.05 %) applied
    to the market orders; fee rates are fractions (0.0006 = 0.06 %).
    """
    n = len(candles)
    if n < 2:
        raise ValueError("a backtest needs at least 2 candles")
    if initial_equity <= 0:
        raise ValueError("initial equity must be more than 0")
    settings = settings or settings_for(strategy)
    market = market or default_market(market_type=settings.market_type)
    sig = signals(strategy, candles) if signal_values is None else np.asarray(signal_values)
    if sig.shape != (n,):
        raise ValueError(f"expected {n} signals, got {sig.shape}")
    sig = sig.astype(np.int8)
    run = _Run(
        candles, sig, settings, market, initial_equity, allocation_percent,
        maker_fee_rate, taker_fee_rate, slippage, bot_id,
    )  # fmt: skip
    run.run()
    return _summarise(run, strategy, initial_equity, taker_fee_rate)


def _summarise(run: _Run, strategy: StrategyDef, initial: Decimal, taker: Decimal) -> TrendBacktestResult:
    c = run.c
    n = len(c)
    closes = c.close_a
    # equity at every close from the ledger (state is constant between visited candles)
    cash = basis = qty = np.zeros(0)
    if run.mark_t:
        marks = np.array(run.mark_t, dtype=np.int64)
        idx = np.searchsorted(marks, np.arange(n), side="right") - 1
        cash = np.array([float(x) for x in run.mark_cash])
        basis = np.array([float(x) for x in run.mark_basis])
        qty = np.array([float(x) for x in run.mark_qty])
        safe = np.maximum(idx, 0)
        equity = np.where(idx >= 0, cash[safe] - basis[safe] + qty[safe] * closes, float(initial))
    else:
        idx = np.full(n, -1)
        equity = np.full(n, float(initial))

    def exact(t: int) -> Decimal:
        j = int(idx[t])
        if j < 0:
            return initial
        return run.mark_cash[j] - run.mark_basis[j] + run.mark_qty[j] * c.price("close", t)

    max_dd = _walk_drawdown(run, initial, idx, (cash, basis, qty) if run.mark_t else None)
    step = candle_interval_ms(c)
    first_open = c.price("open", 0)
    bh_qty = initial / (first_open * (1 + taker))
    points = _walk_points(c)
    bh_curve = np.concatenate(([float(initial)], float(bh_qty) * points.reshape(-1)))
    bh_dd = _drawdown(bh_curve, lambda i: initial if i == 0 else bh_qty * _point_price(c, i - 1))

    exposure_marks = np.zeros(n + 1, dtype=np.int64)
    for first, last in run.held:
        exposure_marks[first] += 1
        exposure_marks[last + 1] -= 1
    exposed = int((np.cumsum(exposure_marks[:n]) > 0).sum())

    wins = sum(1 for tr in run.trades if tr.pnl > 0)
    final = q8(run.cash)
    every = max(1, -(-n // _EQUITY_SAMPLES))
    sample = list(range(0, n, every))
    if sample[-1] != n - 1:
        sample.append(n - 1)
    return TrendBacktestResult(
        strategy=strategy.name,
        settings=run.settings,
        candles=n,
        start_ts=int(c.timestamps[0]),
        end_ts=int(c.timestamps[-1]),
        timeframe_ms=step,
        initial_equity=initial,
        final_equity=final,
        profit=q8(final - initial),
        fees=q8(run.fees),
        trades=run.trades,
        win_rate=q8(Decimal(wins) / len(run.trades)) if run.trades else ZERO,
        max_drawdown=max_dd,
        sharpe=sharpe_ratio(c.timestamps, equity, float(initial), step),
        exposure=q8(Decimal(exposed) / n),
        buy_and_hold=q8(bh_qty * c.price("close", n - 1)),
        buy_and_hold_drawdown=bh_dd,
        signals=int(np.count_nonzero(run.sig)),
        equity_curve=[(int(c.timestamps[t]), q8(exact(t))) for t in sample],
        equity_closes=equity,
        close_timestamps=np.array(c.timestamps, dtype=np.int64),
    )


_WALK_COLUMNS = (("open", "low", "high", "close"), ("open", "high", "low", "close"))


def _walk_points(c: Candles) -> np.ndarray:
    """(n, 4) prices of each candle's walk in order (engine.market_data.candles.walk_points)."""
    rising = c.close_a >= c.open_a
    points = np.empty((len(c), 4))
    points[:, 0] = c.open_a
    points[:, 1] = np.where(rising, c.low_a, c.high_a)
    points[:, 2] = np.where(rising, c.high_a, c.low_a)
    points[:, 3] = c.close_a
    return points


def _point_price(c: Candles, p: int) -> Decimal:
    """The exact price of point ``p`` (candle p // 4, point p % 4) of the walk."""
    t, k = divmod(p, 4)
    rising = c.close_a[t] >= c.open_a[t]
    return c.price(_WALK_COLUMNS[0 if rising else 1][k], t)


def _walk_drawdown(run: _Run, initial: Decimal, idx: np.ndarray, floats) -> Decimal:
    """Max drawdown of the equity marked at every point of every candle's walk (open, low, high, close
    in the walk's order), at every exit, and at the start. Candles the loop did not visit hold the state
    of the last visited one; visited candles have their own marks (state changes inside them)."""
    c = run.c
    n = len(c)
    points = _walk_points(c)
    # the state before candle t: after the last visited candle < t
    before = np.concatenate(([-1], idx[:-1])) if n else idx
    if floats is not None:
        cash, basis, qty = floats
        safe = np.maximum(before, 0)
        held = np.where(before >= 0, cash[safe] - basis[safe], float(initial))
        signed = np.where(before >= 0, qty[safe], 0.0)
        values = held[:, None] + signed[:, None] * points
    else:
        values = np.full((n, 4), float(initial))
    visited = sorted(run.walk_marks)
    keep = np.ones(n, dtype=bool)
    keep[visited] = False
    flat = values[keep].reshape(-1)
    kept_before = np.cumsum(keep) - keep  # candles kept before each candle
    inserts: list[int] = []
    extra: list[float] = []
    owners: list[tuple[int, int]] = []  # (candle, mark number) of each inserted mark
    for t in visited:
        for k, (m_cash, m_basis, m_qty, price) in enumerate(run.walk_marks[t]):
            inserts.append(4 * int(kept_before[t]))
            extra.append(float(m_cash) - float(m_basis) + float(m_qty) * float(price))
            owners.append((t, k))
    curve = np.insert(flat, inserts, extra) if inserts else flat
    curve = np.concatenate(([float(initial)], curve))
    # where each mark of the curve came from: inserted (visited) or a point of a kept candle
    inserted_at = np.array(inserts, dtype=np.int64) + np.arange(len(inserts), dtype=np.int64)
    kept_index = np.flatnonzero(keep)

    def exact(i: int) -> Decimal:
        if i == 0:
            return initial
        pos = i - 1
        j = int(np.searchsorted(inserted_at, pos))
        if j < len(inserts) and inserted_at[j] == pos:
            t, k = owners[j]
            m_cash, m_basis, m_qty, price = run.walk_marks[t][k]
            return m_cash - m_basis + m_qty * price
        plain = pos - j  # marks of kept candles before this one
        t = int(kept_index[plain // 4])
        b = int(before[t])
        price = _point_price(c, 4 * t + plain % 4)
        if b < 0:
            return initial
        return run.mark_cash[b] - run.mark_basis[b] + run.mark_qty[b] * price

    return _drawdown(curve, exact)


def _drawdown(curve: np.ndarray, exact) -> Decimal:
    """Largest (peak - trough) / peak of ``curve``; the chosen pair is recomputed exactly."""
    peaks = np.maximum.accumulate(curve)
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peaks > 0, (peaks - curve) / peaks, 0.0)
    trough = int(falls.argmax())
    if falls[trough] <= 0:
        return q8(ZERO)
    peak = int(curve[: trough + 1].argmax())
    top, bottom = exact(peak), exact(trough)
    if top <= 0 or bottom >= top:
        return q8(ZERO)
    return q8(min((top - bottom) / top, Decimal(1)) if bottom > 0 else Decimal(1))


def sharpe_ratio(timestamps: list[int], equity: np.ndarray, initial: float, step_ms: int) -> float:
    """Annualised Sharpe of the equity's hourly returns (see the module docstring).

    ``equity`` is marked at each candle's close; with candles shorter than an
    hour the last close of every UTC hour is used. Returns 0.0 when the
    returns have no variance or fewer than two exist.
    """
    period = max(step_ms, HOUR_MS)
    ts = np.array(timestamps, dtype=np.int64)
    if period > step_ms:
        key = (ts + step_ms - 1) // period  # the hour each candle closes in
        last = np.flatnonzero(np.concatenate((key[1:] != key[:-1], [True])))
        equity = equity[last]
    curve = np.concatenate(([initial], equity))
    if curve.size < 3 or np.any(curve[:-1] <= 0):
        return 0.0
    returns = np.diff(curve) / curve[:-1]
    std = float(returns.std(ddof=1))
    if std == 0 or not math.isfinite(std):
        return 0.0
    return float(returns.mean() / std * math.sqrt(YEAR_MS / period))


def result_json(result: TrendBacktestResult) -> dict[str, Any]:
    """A JSON-ready dict of the figures and trades (Decimals as strings, ts as ms ints)."""

    def s(value: Decimal) -> str:
        return format(value, "f")

    st = result.settings
    return {
        "strategy": result.strategy,
        "candles": result.candles,
        "start_ts": result.start_ts,
        "end_ts": result.end_ts,
        "timeframe_ms": result.timeframe_ms,
        "leverage": st.leverage,
        "stop_loss_percent": None if st.stop_loss_percent is None else s(st.stop_loss_percent),
        "take_profit_percent": None if st.take_profit_percent is None else s(st.take_profit_percent),
        "entry_percent": s(st.entry_percent),
        "max_positions": st.max_positions,
        "market_type": st.market_type,
        "initial_equity": s(result.initial_equity),
        "final_equity": s(result.final_equity),
        "profit": s(result.profit),
        "fees": s(result.fees),
        "trades_count": len(result.trades),
        "win_rate": s(result.win_rate),
        "max_drawdown": s(result.max_drawdown),
        "sharpe": round(result.sharpe, 4),
        "exposure": s(result.exposure),
        "time_in_market": s(result.exposure),
        "buy_and_hold": s(result.buy_and_hold),
        "buy_and_hold_drawdown": s(result.buy_and_hold_drawdown),
        "signals": result.signals,
        "exit_reasons": result.exit_reasons(),
        "trades": [
            {
                "seq": tr.seq,
                "side": tr.side,
                "qty": s(tr.qty),
                "entry_ts": tr.entry_ts,
                "entry_price": s(tr.entry_price),
                "entry_fee": s(tr.entry_fee),
                "exit_ts": tr.exit_ts,
                "exit_price": s(tr.exit_price),
                "exit_fee": s(tr.exit_fee),
                "pnl": s(tr.pnl),
                "reason": tr.reason,
            }
            for tr in result.trades
        ],
    }
