"""Benchmark: candles per second of the grid backtest (engine.grid.backtest.run_grid_backtest).

    .venv/bin/python bench/grid_backtest.py [--grids 100] [--repeat 7] [--investment 10000]

Runs on the 1-minute BTC/USDT files in ../shared/data (relative to the repo)
when present, otherwise says so and falls back to the small slices in
engine/market_data/data. The grid covers the whole file (lowest low .. highest high).
Loading and validating the file is timed separately; the backtest figure
(seconds, candles/s) is the best of --repeat runs after one warm-up run, and the
median is shown next to it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.grid.backtest import run_grid_backtest  # noqa: E402
from engine.market_data.candles import load_candles  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SHARED_FILES = ("binance_BTCUSDT_1m.csv.gz", "binance_BTCUSDT_1m_2024-07-26_2024-08-25.csv")
FALLBACK_FILES = ("btcusdt_1m_sample.csv.gz", "btcusdt_1m_2024-08-04_crash.csv.gz")


def candle_files() -> list[Path]:
    shared = [SHARED / name for name in SHARED_FILES]
    if all(path.exists() for path in shared):
        print(f"data: {SHARED}")
        return shared
    print(
        f"data: {SHARED} not found; falling back to the small slices in engine/market_data/data (figures are noisier)"
    )
    return [ROOT / "engine" / "market_data" / "data" / name for name in FALLBACK_FILES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--investment", default="10000")
    args = parser.parse_args(argv)

    files = candle_files()
    print(
        f"{'file':<46} {'mode':<10} {'candles':>8} {'fills':>6} {'cycles':>6} "
        f"{'best s':>8} {'median s':>8} {'candles/s':>12}"
    )
    for path in files:
        started = time.perf_counter()
        candles = load_candles(path)
        load_seconds = time.perf_counter() - started
        lower = Decimal(repr(float(candles.low_a.min()))).to_integral_value(rounding=ROUND_FLOOR)
        upper = Decimal(repr(float(candles.high_a.max()))).to_integral_value(rounding=ROUND_CEILING)
        for mode in ("arithmetic", "geometric"):
            grid = (candles, lower, upper, args.grids, mode, Decimal(args.investment))
            result = run_grid_backtest(*grid)  # warm-up
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                run_grid_backtest(*grid)
                times.append(time.perf_counter() - started)
            best, median = min(times), statistics.median(times)
            print(
                f"{path.name:<46} {mode:<10} {len(candles):>8} {len(result.fills):>6} {result.cycles:>6} "
                f"{best:>8.4f} {median:>8.4f} {len(candles) / best:>12,.0f}"
            )
        print(f"  loaded {len(candles)} candles in {load_seconds:.3f} s (not counted); grid {lower}..{upper}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
