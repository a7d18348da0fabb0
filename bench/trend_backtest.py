"""Benchmark and walk-forward evaluation of the trend bot (engine.trend.backtest).

    .venv/bin/python bench/trend_backtest.py [--repeat 5]      # speed figures
    .venv/bin/python bench/trend_backtest.py --evaluate        # docs/trend_evaluation.md tables

Speed: candles per second of the trend backtest (signals included) on the
1-minute BTC file (~130k candles, strategies run on the 1-minute candles as
they are) and on the hourly BTC file since 2017, for every indicator strategy;
the ai_model's walk-forward run (training included) on the hourly file; and
the model's training time on two years (17,520) of hourly candles. Reads
../shared/data when present; otherwise says so and uses the slices in
engine/market_data/data (figures on much smaller files).

Evaluation: on the hourly BTC (since 2017) and ETH (since 2020) files, the
model's walk-forward probabilities are computed once; the out-of-sample period
starts at its first prediction. Every strategy (the model, the EMA+ADX
baseline, the presets) trades that same period only, with its signals computed
on the full history (indicators are causal), after fees (maker 0.02 %, taker
0.06 %, no slippage, funding ignored); buy-and-hold covers the same period.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.market_data.candles import Candles, load_candles  # noqa: E402
from engine.trend.backtest import TrendBacktestResult, resample, run_trend_backtest, settings_for  # noqa: E402
from engine.trend.features import labels  # noqa: E402
from engine.trend.model import ModelParams, first_prediction_index, train_model, walk_forward_proba  # noqa: E402
from engine.trend.strategies import BUILTIN_STRATEGIES, get_strategy, model_params, signals  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SHARED_1M = SHARED / "binance_BTCUSDT_1m.csv.gz"
SHARED_1H = {"BTC": SHARED / "binance_BTCUSDT_1h.csv", "ETH": SHARED / "binance_ETHUSDT_1h.csv"}
FALLBACK_1M = ROOT / "engine" / "market_data" / "data" / "btcusdt_1m_sample.csv.gz"
FALLBACK_1H = {
    "BTC": ROOT / "engine" / "market_data" / "data" / "btcusdt_1h_2y.csv.gz",
    "ETH": ROOT / "engine" / "market_data" / "data" / "ethusdt_1h_2y.csv.gz",
}
INDICATOR_STRATEGIES = [s for s in BUILTIN_STRATEGIES if s.kind != "ai_model"]


def _files() -> tuple[Path, dict[str, Path]]:
    if SHARED_1M.exists() and all(p.exists() for p in SHARED_1H.values()):
        print(f"data: {SHARED}")
        return SHARED_1M, SHARED_1H
    print(f"data: {SHARED} not found; falling back to the small slices in engine/market_data/data")
    return FALLBACK_1M, FALLBACK_1H


def _best(fn, repeat: int) -> tuple[float, float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times), result


def bench(repeat: int) -> None:
    one_minute, hourly = _files()
    print(
        f"{'file':<34} {'strategy':<18} {'candles':>8} {'trades':>6} {'best s':>8} {'median s':>8} {'candles/s':>12}"
    )
    for path in (one_minute, hourly["BTC"]):
        started = time.perf_counter()
        candles = load_candles(path)
        loaded = time.perf_counter() - started
        for strategy in INDICATOR_STRATEGIES:
            best, median, result = _best(lambda c=candles, s=strategy: run_trend_backtest(c, s), repeat)
            assert isinstance(result, TrendBacktestResult)
            print(
                f"{path.name:<34} {strategy.name:<18} {len(candles):>8} {len(result.trades):>6} "
                f"{best:>8.4f} {median:>8.4f} {len(candles) / best:>12,.0f}"
            )
        print(f"  loaded {len(candles)} candles in {loaded:.2f} s (not counted)")
    candles = load_candles(hourly["BTC"])
    ai = get_strategy("ai_model")
    started = time.perf_counter()
    result = run_trend_backtest(candles, ai)
    elapsed = time.perf_counter() - started
    print(
        f"{hourly['BTC'].name:<34} {'ai_model (wf)':<18} {len(candles):>8} {len(result.trades):>6} "
        f"{elapsed:>8.2f} {'':>8} {len(candles) / elapsed:>12,.0f}   (walk-forward training included, one run)"
    )
    two_years = candles.slice(len(candles) - 17_520, len(candles))
    for kind in ("hgb", "logreg"):
        params = ModelParams(kind=kind, train_window=17_520)
        best, median, model = _best(lambda p=params: train_model(two_years, p), max(1, repeat // 2))
        print(
            f"model training ({kind}) on the last 17,520 hourly candles: best {best:.2f} s, median {median:.2f} s "
            f"({model.trained_rows} labelled rows)"  # type: ignore[attr-defined]
        )


def _pct(x: Decimal | float) -> str:
    return f"{float(x) * 100:+.1f} %"


def _row(name: str, r: TrendBacktestResult) -> str:
    return (
        f"| {name} | {len(r.trades)} | {float(r.win_rate) * 100:.1f} % | {_pct(r.return_fraction)} | "
        f"{float(r.max_drawdown) * 100:.1f} % | {r.sharpe:.2f} | {float(r.exposure) * 100:.0f} % | "
        f"{float(r.fees):,.0f} |"
    )


def evaluate_asset(name: str, candles: Candles) -> None:
    ai = get_strategy("ai_model")
    params = model_params(ai)
    started = time.perf_counter()
    proba = walk_forward_proba(candles, params)
    wf_seconds = time.perf_counter() - started
    first = first_prediction_index(proba)
    assert first is not None
    start_ts = candles.timestamps[first]
    n = len(candles)
    y = labels(candles, params.horizon)
    known = ~np.isnan(proba) & ~np.isnan(y)
    hit = float(((proba[known] >= 0.5) == (y[known] == 1)).mean())
    base_rate = float(y[known].mean())
    confident = known & ((proba >= 0.55) | (proba <= 0.45))
    hit_conf = (
        float(((proba[confident] >= 0.5) == (y[confident] == 1)).mean()) if confident.any() else float("nan")
    )
    try:
        from sklearn.metrics import roc_auc_score

        auc = float(roc_auc_score(y[known], proba[known]))
    except ValueError:
        auc = float("nan")
    fmt = "%Y-%m-%d"
    day = lambda ts: time.strftime(fmt, time.gmtime(ts / 1000))  # noqa: E731
    print(f"\n### {name}/USDT 1h: {n} candles {day(candles.timestamps[0])} .. {day(candles.timestamps[-1])}")
    print(
        f"\nOut of sample: {day(start_ts)} .. {day(candles.timestamps[-1])} ({n - first} hourly candles); "
        f"walk-forward fits: {-(-(n - first) // params.retrain_every)} ({wf_seconds:.1f} s).  "
        f"Model hit rate on the {params.horizon}-candle direction: {hit * 100:.2f} % "
        f"(share of up labels {base_rate * 100:.2f} %; {hit_conf * 100:.2f} % on the "
        f"{confident.sum()} rows with P >= 0.55 or <= 0.45; ROC AUC {auc:.3f}).\n"
    )
    print(
        "| strategy | trades | win rate | return after fees | max drawdown | Sharpe | exposure | fees paid |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows: list[tuple[str, TrendBacktestResult]] = []
    flat: list[tuple[str, TrendBacktestResult]] = []
    for strategy in BUILTIN_STRATEGIES:
        tf_candles = resample(candles, strategy.timeframe)
        if strategy.kind == "ai_model":
            sig = signals(strategy, tf_candles, proba=proba)
        else:
            sig = signals(strategy, tf_candles)
        k = int(np.searchsorted(np.array(tf_candles.timestamps), start_ts))
        part = tf_candles.slice(k, len(tf_candles))
        result = run_trend_backtest(part, strategy, signal_values=sig[k:])
        rows.append((strategy.name, result))
        label = f"{strategy.name} ({strategy.timeframe}, {strategy.risk.leverage}x)"
        print(_row(label, result))
        unlevered = run_trend_backtest(
            part, strategy, settings_for(strategy, leverage=1), signal_values=sig[k:]
        )
        flat.append((f"{strategy.name} ({strategy.timeframe}, 1x)", unlevered))
    bh = rows[0][1]
    print(
        f"| buy and hold (spot, 1x) | 1 | - | {_pct(bh.buy_and_hold_return)} | "
        f"{float(bh.buy_and_hold_drawdown) * 100:.1f} % | - | 100 % | - |"
    )
    print(
        "\nThe same signals and exits at 1x leverage (the preset's stop loss / take profit / entry size kept):\n"
    )
    print(
        "| strategy | trades | win rate | return after fees | max drawdown | Sharpe | exposure | fees paid |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, result in flat:
        print(_row(label, result))
    print("\nBy calendar year (return of the equity over the year, out of sample):\n")
    years = sorted({time.gmtime(int(ts) / 1000).tm_year for ts in bh.close_timestamps})
    print("| strategy | " + " | ".join(str(y) for y in years) + " |")
    print("|---|" + "---|" * len(years))
    for label, result in rows:
        print(f"| {label} | " + " | ".join(_year_return(result, y) for y in years) + " |")
    closes = candles.close_a[first:]
    bh_cells = []
    stamps = np.array(candles.timestamps[first:])
    for year in years:
        lo, hi = _year_bounds(year)
        idx = np.flatnonzero((stamps >= lo) & (stamps < hi))
        prev = idx[0] - 1 if idx[0] > 0 else None
        base = closes[prev] if prev is not None else float(candles.open_a[first])
        bh_cells.append(f"{(closes[idx[-1]] / base - 1) * 100:+.1f} %")
    print("| buy and hold | " + " | ".join(bh_cells) + " |")


def _year_bounds(year: int) -> tuple[int, int]:
    import calendar

    return calendar.timegm((year, 1, 1, 0, 0, 0)) * 1000, calendar.timegm((year + 1, 1, 1, 0, 0, 0)) * 1000


def _year_return(result: TrendBacktestResult, year: int) -> str:
    """Equity at the year's last close / equity at the last close before it (or the start) - 1."""
    lo, hi = _year_bounds(year)
    stamps = result.close_timestamps
    inside = np.flatnonzero((stamps >= lo) & (stamps < hi))
    if not inside.size:
        return "-"
    first = int(inside[0])
    start = result.equity_closes[first - 1] if first > 0 else float(result.initial_equity)
    if start <= 0:
        return "(wiped out)"
    return f"{(result.equity_closes[int(inside[-1])] / start - 1) * 100:+.1f} %"


def evaluate() -> None:
    _, hourly = _files()
    print("## Results (generated by `bench/trend_backtest.py --evaluate`)")
    for name, path in hourly.items():
        evaluate_asset(name, load_candles(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--evaluate", action="store_true", help="print the evaluation tables (markdown)")
    args = parser.parse_args(argv)
    if args.evaluate:
        evaluate()
    else:
        bench(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
