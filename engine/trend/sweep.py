"""Walk-forward sweeps of a trend strategy's main parameters (leverage, stop loss, take profit): on each
window the parameters with the best return are chosen, then scored on the next window, which they
never saw; only those out-of-sample figures are reported.

The strategy's signals are computed once over the whole candles (indicators are causal; a model-gated
strategy's model is itself trained walk-forward, engine.trend.model), and every run is
engine.trend.backtest.run_trend_backtest on a window of them. The out-of-sample windows follow each
other: each starts with the equity the previous one ended with, so the total return compounds as a bot
that re-chose its parameters every window would have.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from engine.market_data.candles import Candles
from engine.money import q8
from engine.trend.backtest import TrendBacktestResult, run_trend_backtest, settings_for
from engine.trend.strategies import StrategyDef, gate_threshold, model_params, signals


@dataclass(frozen=True)
class TrendPoint:
    """One combination: leverage, and stop loss / take profit in percent of the entry (None: none)."""

    leverage: int
    stop_loss_percent: Decimal | None
    take_profit_percent: Decimal | None


@dataclass(frozen=True)
class Fold:
    """One window pair: the parameters chosen on the fit window and their figures on the test window."""

    fit_start_ts: int
    test_start_ts: int
    test_end_ts: int
    chosen: TrendPoint
    fit_return: Decimal
    test: TrendBacktestResult


@dataclass(frozen=True)
class WalkForward:
    """Out-of-sample figures only: ``total_return`` compounds the test windows (fraction), drawdown is
    the worst of the test windows', trades and win rate are over all test windows."""

    folds: list[Fold]
    initial_equity: Decimal
    final_equity: Decimal
    total_return: Decimal
    max_drawdown: Decimal
    trades: int
    win_rate: Decimal
    buy_and_hold_return: Decimal


def trend_points(
    leverages: Sequence[int], stop_losses: Sequence[Decimal | None], take_profits: Sequence[Decimal | None]
) -> list[TrendPoint]:
    return [TrendPoint(lev, sl, tp) for lev in leverages for sl in stop_losses for tp in take_profits]


def strategy_signals(strategy: StrategyDef, candles: Candles) -> np.ndarray:
    """-1/0/+1 per candle, without look-ahead (a model-gated strategy's model walks forward)."""
    if gate_threshold(strategy) is None:
        return signals(strategy, candles)
    from engine.trend.model import walk_forward_proba

    return signals(strategy, candles, proba=walk_forward_proba(candles, model_params(strategy)))


_JOB: tuple | None = None


def _run(args: tuple[int, int, TrendPoint, Decimal]) -> TrendBacktestResult:
    assert _JOB is not None
    candles, strategy, sig, costs = _JOB
    start, stop, point, equity = args
    settings = settings_for(
        strategy,
        leverage=point.leverage,
        stop_loss_percent=point.stop_loss_percent,
        take_profit_percent=point.take_profit_percent,
    )
    return run_trend_backtest(
        candles.slice(start, stop),
        strategy,
        settings,
        signal_values=sig[start:stop],
        initial_equity=equity,
        **costs,
    )


def walk_forward(
    candles: Candles,
    strategy: StrategyDef,
    points: Sequence[TrendPoint],
    *,
    fit_candles: int,
    test_candles: int,
    initial_equity: Decimal = Decimal(10000),
    maker_fee_rate: Decimal = Decimal("0.0002"),
    taker_fee_rate: Decimal = Decimal("0.0006"),
    workers: int | None = None,
) -> WalkForward:
    """Fit on ``fit_candles``, test on the next ``test_candles``, move on by ``test_candles``."""
    n = len(candles)
    if fit_candles < 2 or test_candles < 2 or fit_candles + test_candles > n:
        raise ValueError(
            f"need at least one fit window and one test window: {fit_candles} + {test_candles} candles, "
            f"the file has {n}"
        )
    if not points:
        raise ValueError("no parameters to sweep")
    global _JOB
    sig = strategy_signals(strategy, candles)
    costs = {"maker_fee_rate": maker_fee_rate, "taker_fee_rate": taker_fee_rate}
    _JOB = (candles, strategy, sig, costs)
    workers = workers or min(os.cpu_count() or 1, 8)
    pool = None
    if workers > 1 and len(points) > 1:
        import multiprocessing

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    run = pool.map if pool is not None else map
    folds: list[Fold] = []
    equity = initial_equity
    last = n - 1
    try:
        for start in range(0, n - fit_candles - test_candles + 1, test_candles):
            fit_stop = start + fit_candles
            test_stop = min(fit_stop + test_candles, n)
            fits = list(run(_run, [(start, fit_stop, p, initial_equity) for p in points]))
            best = max(range(len(points)), key=lambda k: (fits[k].profit, -k))
            test = _run((fit_stop, test_stop, points[best], equity))
            folds.append(
                Fold(
                    int(candles.timestamps[start]),
                    int(candles.timestamps[fit_stop]),
                    int(candles.timestamps[test_stop - 1]),
                    points[best],
                    q8(fits[best].return_fraction),
                    test,
                )
            )
            equity = test.final_equity
            last = test_stop - 1
    finally:
        if pool is not None:
            pool.shutdown()
        _JOB = None
    trades = [t for f in folds for t in f.test.trades]
    first_open = candles.price("open", fit_candles)  # buy and hold over the same out-of-sample candles
    last_close = candles.price("close", last)
    return WalkForward(
        folds=folds,
        initial_equity=initial_equity,
        final_equity=equity,
        total_return=q8(equity / initial_equity - 1),
        max_drawdown=max(f.test.max_drawdown for f in folds),
        trades=len(trades),
        win_rate=q8(Decimal(sum(1 for t in trades if t.pnl > 0)) / len(trades)) if trades else Decimal(0),
        buy_and_hold_return=q8(last_close / first_open - 1),
    )
