"""Backtests for the chat: grid and trend runs over a period of the shipped hourly candles, in a worker
thread with progress, and each strategy's 30-day figures (cached).

The candles are the real BTC and ETH hourly candles that ship in engine/market_data/data
(2024-02-19 .. 2026-02-18, see SOURCES.md there). A period is the last 7, 30 or 90 days of them, or
all of them.

Runs happen in a worker thread (`asyncio.to_thread`): the event loop keeps answering other users while
a model is trained. At most `per_user` runs per user (1: a second /backtest is refused while one runs)
and `overall` at once (more wait for a free slot). Progress is reported as a percent 0-100 through an
async callback, at most every `progress_step` percent and once per `progress_interval` seconds; the
latest value is delivered when the interval opens, so a long phase does not hide behind a skipped one.

Model-gated strategies are walked forward over the period exactly as `engine.trend.model` defines it:
the model for a block starting at candle s is fitted on rows known at the close of s - 1 and predicts
`retrain_every` candles; blocks start at the period's first candle (and every block is one progress
step). Other strategies' signals are computed on the whole file, so indicators are warm at the period's
start. The figures of a strategy are its own risk defaults on BTCUSDT over the last 30 days.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.services.errors import DomainError
from bot.services.strategies import StrategyDTO
from engine.grid.backtest import GridBacktestResult, run_grid_backtest
from engine.grid.lines import GridTooSmall
from engine.market_data.candles import Candles, load_candles
from engine.trend.backtest import TrendBacktestResult, resample, run_trend_backtest, settings_for
from engine.trend.model import predict_proba, train_model
from engine.trend.positions import TrendSettings
from engine.trend.strategies import StrategyDef, gate_threshold, model_params, signals

DATA_DIR = Path(__file__).resolve().parents[2] / "engine" / "market_data" / "data"
SHIPPED_HOURLY = {"BTCUSDT": "btcusdt_1h_2y.csv.gz", "ETHUSDT": "ethusdt_1h_2y.csv.gz"}
DEFAULT_SYMBOL = "BTCUSDT"
PERIOD_DAYS = (7, 30, 90)  # and None: every shipped candle
FIGURES_DAYS = 30
FIGURES_KEPT = 512  # strategies whose 30-day figures are kept (a few hundred bytes each)
DAY_MS = 86_400_000
PREDICT_WARMUP = 1000  # candles of history before a block for the features (EMA 200 is settled by then)
DEFAULT_GRID_COUNT = 10
DEFAULT_GRID_INVESTMENT = Decimal(1000)
DEFAULT_GRID_SPAN = Decimal("0.1")  # default range: the period's first open -10 % .. +10 %
INITIAL_EQUITY = Decimal(10000)

Progress = Callable[[int], Awaitable[None]]


class BacktestBusy(DomainError):
    """The user already has a backtest running."""

    code = "backtest_busy"

    def __init__(self) -> None:
        super().__init__("a backtest of yours is already running")


class BacktestFailed(DomainError):
    """The parameters cannot be backtested on these candles (`reason` says why, in English)."""

    code = "backtest_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(f"backtest failed: {reason}", reason=reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GridRequest:
    """A spot grid: prices in quote currency, `investment` in quote currency. None = the defaults
    (the period's first open -/+ 10 %, 10 arithmetic grids, 1000 USDT)."""

    symbol: str
    lower: Decimal | None = None
    upper: Decimal | None = None
    grid_count: int = DEFAULT_GRID_COUNT
    mode: str = "arithmetic"
    investment: Decimal = DEFAULT_GRID_INVESTMENT
    trigger: Decimal | None = None
    stop_upper: Decimal | None = None
    stop_lower: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TrendRequest:
    """A trend strategy with a bot's risk: leverage = the strategy's, capped at `max_leverage`
    (as the live bot does); percents of the entry price, None = none."""

    symbol: str
    strategy: StrategyDef
    max_leverage: int
    max_positions: int
    stop_loss_percent: Decimal | None
    take_profit_percent: Decimal | None
    leverage: int | None = None  # typed by the user: exactly this leverage
    timeframe: str | None = None  # typed by the user: the strategy on these candles

    def settings(self) -> TrendSettings:
        risk = self.strategy.risk
        leverage = self.leverage or risk.leverage
        return TrendSettings.for_bot(
            leverage,
            risk.entry_percent,
            max_leverage=self.leverage or self.max_leverage,
            max_positions=self.max_positions,
            stop_loss_percent=self.stop_loss_percent,
            take_profit_percent=self.take_profit_percent,
        )


@dataclass(frozen=True, slots=True)
class GridOutcome:
    request: GridRequest
    days: int | None
    result: GridBacktestResult
    start_ts: int
    end_ts: int
    chart_png: bytes
    period_low: Decimal = Decimal(0)  # the period's lowest low and highest high
    period_high: Decimal = Decimal(0)

    @property
    def outside(self) -> bool:
        """The range never touches the period's prices: no line can fill (but a start at market)."""
        req = self.request
        assert req.lower is not None and req.upper is not None
        return req.upper < self.period_low or req.lower > self.period_high


@dataclass(frozen=True, slots=True)
class TrendOutcome:
    request: TrendRequest
    days: int | None
    result: TrendBacktestResult
    chart_png: bytes


Outcome = GridOutcome | TrendOutcome


@dataclass(frozen=True, slots=True)
class Figures:
    """A strategy's backtest over the last `days` days: ROI and drawdown in percent of the initial
    equity / the peak, win rate in percent of closed trades."""

    roi_percent: Decimal
    win_rate_percent: Decimal
    max_drawdown_percent: Decimal
    trades: int
    start_ts: int
    end_ts: int
    symbol: str
    days: int


# --------------------------------------------------------------------------- candles


def shipped_symbol(symbol: str | None) -> str | None:
    """The symbol when hourly candles of it ship (BTCUSDT, ETHUSDT), else None."""
    return symbol if symbol in SHIPPED_HOURLY else None


@lru_cache(maxsize=len(SHIPPED_HOURLY))
def hourly_candles(symbol: str) -> Candles:
    return load_candles(DATA_DIR / SHIPPED_HOURLY[symbol])


@lru_cache(maxsize=16)
def timeframe_candles(symbol: str, timeframe: str) -> Candles:
    return resample(hourly_candles(symbol), timeframe)


def period_start(candles: Candles, days: int | None) -> int:
    """Index of the first candle of the last `days` days (0 for None: every candle)."""
    if days is None:
        return 0
    step = timeframe_ms_of(candles)
    since = int(candles.timestamps[-1]) + step - days * DAY_MS
    start = int(np.searchsorted(np.array(candles.timestamps, dtype=np.int64), since, side="left"))
    return min(start, len(candles) - 2)


def timeframe_ms_of(candles: Candles) -> int:
    return int(candles.timestamps[1] - candles.timestamps[0]) if len(candles) > 1 else 3_600_000


# --------------------------------------------------------------------------- the computations (worker thread)


Report = Callable[[int], None]


def trend_signals(
    strategy: StrategyDef, candles: Candles, start: int, report: Report = lambda percent: None
) -> np.ndarray:
    """-1/0/+1 per candle of `candles`; for a model-gated strategy only from `start` on, walked forward
    in blocks from `start` (see the module docstring). `report` gets 0..100 of this phase."""
    if gate_threshold(strategy) is None:
        report(100)
        return signals(strategy, candles)
    params = model_params(strategy)
    n = len(candles)
    proba = np.full(n, np.nan)
    blocks = list(range(start, n, params.retrain_every))
    for done, block_start in enumerate(blocks, start=1):
        block_end = min(block_start + params.retrain_every, n)
        try:
            model = train_model(candles, params, end=block_start)
        except ValueError:  # not enough history before this block: no prediction, no trade
            report(done * 100 // len(blocks))
            continue
        low = max(0, block_start - PREDICT_WARMUP)
        proba[block_start:block_end] = predict_proba(model, candles.slice(low, block_end))[
            block_start - low :
        ]
        report(done * 100 // len(blocks))
    return signals(strategy, candles, proba=proba)


def _phase(report: Report, low: int, high: int) -> Report:
    """A report of 0..100 within one phase, as low..high of the whole run."""
    return lambda percent: report(low + (high - low) * percent // 100)


def compute_trend(
    request: TrendRequest, days: int | None, report: Report, chart: bool = True
) -> TrendOutcome:
    from engine.charts.backtests import trend_backtest_chart

    symbol = shipped_symbol(request.symbol) or DEFAULT_SYMBOL
    report(5)
    try:
        settings = request.settings()
        if request.timeframe and request.timeframe != request.strategy.timeframe:
            request = replace(request, strategy=replace(request.strategy, timeframe=request.timeframe))
        candles = timeframe_candles(symbol, request.strategy.timeframe)
        start = period_start(candles, days)
        sig = trend_signals(request.strategy, candles, start, _phase(report, 10, 75))
        period = candles.slice(start, len(candles))
        result = run_trend_backtest(period, request.strategy, settings, signal_values=sig[start:])
    except ValueError as exc:
        raise BacktestFailed(str(exc)) from exc
    report(85)
    png = trend_backtest_chart(result, period) if chart else b""
    report(100)
    return TrendOutcome(request, days, result, png or b"")


def grid_defaults(request: GridRequest, first_open: Decimal) -> GridRequest:
    if request.lower is not None and request.upper is not None:
        return request
    cent = Decimal("0.01")
    return replace(
        request,
        lower=(first_open * (1 - DEFAULT_GRID_SPAN)).quantize(cent),
        upper=(first_open * (1 + DEFAULT_GRID_SPAN)).quantize(cent),
    )


def compute_grid(request: GridRequest, days: int | None, report: Report) -> GridOutcome:
    from engine.charts.backtests import grid_backtest_chart

    symbol = shipped_symbol(request.symbol) or DEFAULT_SYMBOL
    report(5)
    candles = hourly_candles(symbol)
    start = period_start(candles, days)
    period = candles.slice(start, len(candles))
    request = grid_defaults(request, period.price("open", 0))
    report(20)
    assert request.lower is not None and request.upper is not None
    try:
        result = run_grid_backtest(
            period,
            request.lower,
            request.upper,
            request.grid_count,
            request.mode,
            request.investment,
            trigger=request.trigger,
            stop_upper=request.stop_upper,
            stop_lower=request.stop_lower,
        )
    except GridTooSmall as exc:
        raise BacktestFailed(f"the investment is too small for this grid ({exc})") from exc
    except ValueError as exc:
        raise BacktestFailed(str(exc)) from exc
    report(60)
    png = grid_backtest_chart(result, period, result.lines)
    report(100)
    low = period.price("low", int(period.low_a.argmin()))
    high = period.price("high", int(period.high_a.argmax()))
    return GridOutcome(
        request, days, result, period.timestamps[0], period.timestamps[-1], png or b"", low, high
    )


def compute_figures(strategy: StrategyDef, symbol: str = DEFAULT_SYMBOL, days: int = FIGURES_DAYS) -> Figures:
    """The strategy with its own risk defaults over the last `days` days of the shipped candles."""
    candles = timeframe_candles(symbol, strategy.timeframe)
    start = period_start(candles, days)
    sig = trend_signals(strategy, candles, start)
    result = run_trend_backtest(
        candles.slice(start, len(candles)), strategy, settings_for(strategy), signal_values=sig[start:]
    )
    hundred = Decimal(100)
    return Figures(
        roi_percent=(result.return_fraction * hundred).quantize(Decimal("0.01")),
        win_rate_percent=(result.win_rate * hundred).quantize(Decimal("0.1")),
        max_drawdown_percent=(result.max_drawdown * hundred).quantize(Decimal("0.01")),
        trades=len(result.trades),
        start_ts=result.start_ts,
        end_ts=result.end_ts,
        symbol=symbol,
        days=days,
    )


def figures_key(strategy: StrategyDef) -> str:
    """Two strategies with the same kind, timeframe and parameters have the same figures."""
    row = strategy.to_row()
    return json.dumps([row["kind"], row["timeframe"], row["params"]], sort_keys=True, default=str)


# --------------------------------------------------------------------------- the service


class Backtests:
    """Runs backtests off the event loop, at most `per_user` per user and `overall` at once."""

    def __init__(
        self,
        *,
        per_user: int = 1,
        overall: int = 2,
        progress_step: int = 10,
        progress_interval: float = 1.0,
        figures_kept: int = FIGURES_KEPT,
    ) -> None:
        self.per_user = per_user
        self.figures_kept = figures_kept
        self.overall = overall
        self.progress_step = progress_step
        self.progress_interval = progress_interval
        self._slots: asyncio.Semaphore | None = None
        self._running: dict[int, int] = {}
        self._figures: OrderedDict[str, Figures] = OrderedDict()  # the newest FIGURES_KEPT
        self._figures_lock: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # test hook: called in the worker thread at every progress report (e.g. to make a run slow)
        self.on_step: Callable[[int], None] | None = None

    def running(self, user_id: int) -> int:
        return self._running.get(user_id, 0)

    def launch(self, user_id: int, job: Callable[[], Awaitable[Any]]) -> asyncio.Task[Any]:
        """Count a run for `user_id` (BacktestBusy when they have `per_user` running) and run `job` in the
        background, so the handler returns at once; the count drops when the job ends."""
        self.reserve(user_id)

        async def run() -> None:
            try:
                await job()
            finally:
                self.release(user_id)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_idle(self) -> None:
        """Wait for every background run (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def reserve(self, user_id: int) -> None:
        """Count a run for `user_id` now (before any await), or raise BacktestBusy."""
        if self._running.get(user_id, 0) >= self.per_user:
            raise BacktestBusy()
        self._running[user_id] = self._running.get(user_id, 0) + 1

    def release(self, user_id: int) -> None:
        left = self._running.get(user_id, 0) - 1
        if left > 0:
            self._running[user_id] = left
        else:
            self._running.pop(user_id, None)

    async def run_grid(self, request: GridRequest, days: int | None, progress: Progress) -> GridOutcome:
        return await self._run(lambda report: compute_grid(request, days, report), progress)

    async def run_trend(self, request: TrendRequest, days: int | None, progress: Progress) -> TrendOutcome:
        return await self._run(lambda report: compute_trend(request, days, report), progress)

    async def _run(self, work: Callable[[Report], Any], progress: Progress) -> Any:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.overall)
        async with self._slots:
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[int | None] = asyncio.Queue()
            hook = self.on_step

            def report(percent: int) -> None:
                if hook is not None:
                    hook(percent)
                loop.call_soon_threadsafe(queue.put_nowait, max(0, min(100, int(percent))))

            pump = asyncio.create_task(self._pump(queue, progress))
            try:
                return await asyncio.to_thread(work, report)
            finally:
                loop.call_soon(queue.put_nowait, None)
                with contextlib.suppress(Exception):
                    await pump

    async def _pump(self, queue: asyncio.Queue[int | None], progress: Progress) -> None:
        """Deliver progress: a new value only `progress_step` above the last shown, at most once per
        `progress_interval` seconds; a held-back value goes out when the interval opens."""
        shown, shown_at, pending = 0, -math.inf, None
        while True:
            timeout = (
                None if pending is None else max(0.0, shown_at + self.progress_interval - time.monotonic())
            )
            try:
                value = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                value = -1
            if value is None:
                return
            if value >= shown + self.progress_step and value < 100:
                pending = max(pending or 0, value)
            if pending is not None and time.monotonic() >= shown_at + self.progress_interval:
                with contextlib.suppress(Exception):  # a failed edit must not stop the run
                    await progress(pending)
                shown, shown_at, pending = pending, time.monotonic(), None

    async def figures(self, strategies: list[StrategyDTO]) -> dict[int, Figures | None]:
        """Each strategy's 30-day figures by strategy id (None when they cannot be computed), cached by
        kind, timeframe and parameters."""
        if self._figures_lock is None:
            self._figures_lock = asyncio.Lock()
        definitions: dict[int, StrategyDef | None] = {}
        for strategy in strategies:
            try:
                definitions[strategy.id] = strategy.definition()
            except (ValueError, KeyError, TypeError):
                definitions[strategy.id] = None
        async with self._figures_lock:
            missing = {
                figures_key(d): d
                for d in definitions.values()
                if d is not None and figures_key(d) not in self._figures
            }
            if missing:
                computed = await asyncio.to_thread(_compute_all, list(missing.values()))
                self._figures.update(computed)
            answer = {
                sid: (self._figures.get(figures_key(d)) if d is not None else None)
                for sid, d in definitions.items()
            }
            for key in {figures_key(d) for d in definitions.values() if d is not None} & self._figures.keys():
                self._figures.move_to_end(key)  # a strategy still shown stays
            while len(self._figures) > self.figures_kept:  # users' own strategies come and go
                self._figures.popitem(last=False)
        return answer


def _compute_all(definitions: list[StrategyDef]) -> dict[str, Figures]:
    out: dict[str, Figures] = {}
    for definition in definitions:
        try:
            out[figures_key(definition)] = compute_figures(definition)
        except ValueError:
            continue
    return out


_default: Backtests | None = None
_default_lock = threading.Lock()


def default_backtests() -> Backtests:
    """The process's service when the Dispatcher was not handed one (`backtests=` in its data)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Backtests()
        return _default
