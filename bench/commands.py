"""Benchmark: the backtest commands as a user runs them (whole processes), against a plain `csv.reader`
pass over the same file measured in the same run.

    .venv/bin/python bench/commands.py [--repeat 3] [--skip-5m]

Files: the 90-day 1-minute BTC file of ../shared/data (130,708 real candles) as it is, and laps of it
with the timestamps shifted by its span (real prices, 1,000,000 and 5,000,000 candles), written to a
temporary directory; the 30-day file (43,209 candles) for the sweep. Without ../shared/data it says so
and stops. Each command runs with a fresh, empty candle cache ("first run") and then again with it
filled ("cached"); the best of --repeat runs is shown, with its peak RSS (the child's ru_maxrss).

Targets (issue 17): backtest grid on 1 M candles >= 1 M candles/s first run and >= 2 M candles/s cached;
peak RSS <= 200 MiB on 5 M candles; backtest trend <= 1 s on the 90-day file; a sweep of >= 1,000 grid
combinations over 30 days of 1-minute candles <= 2 s on 2 cores; `multibot --help` < 0.4 s.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
NINETY_DAYS = SHARED / "binance_BTCUSDT_1m.csv.gz"
THIRTY_DAYS = SHARED / "binance_BTCUSDT_1m_2024-07-26_2024-08-25.csv"
MULTIBOT = [sys.executable, "-m", "bot"]


def lapped(source: Path, rows: int, target: Path) -> Path:
    """``rows`` candles: the source file again and again, timestamps shifted by its span each lap."""
    text = gzip.decompress(source.read_bytes()).decode() if source.suffix == ".gz" else source.read_text()
    header, *body = text.strip().split("\n")
    parsed = [line.split(",", 1) for line in body]
    first, last = int(parsed[0][0]), int(parsed[-1][0])
    span = last - first + 60_000
    with open(target, "w") as out:
        out.write(header + "\n")
        written, lap = 0, 0
        while written < rows:
            shift = lap * span
            chunk = parsed[: rows - written]
            out.write("".join(f"{int(ts) + shift},{rest}\n" for ts, rest in chunk))
            written += len(chunk)
            lap += 1
    return target


def csv_reader_seconds(path: Path) -> float:
    """One plain csv.reader pass over the file (decompressing when gzip), in this process."""
    started = time.perf_counter()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        for _ in csv.reader(handle):
            pass
    return time.perf_counter() - started


def run(args: list[str], cache: Path) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one command, as a separate process (with its modules' bytecode cached,
    as an installed command has it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["MULTIBOT_CANDLE_CACHE"] = str(cache)
    started = time.perf_counter()
    process = subprocess.Popen([*MULTIBOT, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"command failed ({status}): multibot {' '.join(args)}")
    return seconds, usage.ru_maxrss / 1024


def best(args: list[str], repeat: int, cache: Path, *, cold: bool) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        if cold:
            shutil.rmtree(cache, ignore_errors=True)
        runs.append(run(args, cache))
    return min(runs)


def grid_args(path: Path) -> list[str]:
    return ["backtest", "grid", "--candles", str(path), "--lower", "98000", "--upper", "124000"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-5m", action="store_true", help="leave out the 5 M candle file")
    options = parser.parse_args(argv)
    if not NINETY_DAYS.exists() or not THIRTY_DAYS.exists():
        print(f"data: {SHARED} not found; these benchmarks need its 1-minute files")
        return 0
    print(f"data: {SHARED}; {os.cpu_count()} cores; best of {options.repeat}")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "bot", "engine", "db", "handlers"], cwd=ROOT)
    work = Path(tempfile.mkdtemp(prefix="multibot-bench-"))
    cache = work / "cache"
    try:
        files = [("90 days", NINETY_DAYS, 130_708)]
        files.append(("1 M", lapped(NINETY_DAYS, 1_000_000, work / "btc_1m_x1M.csv"), 1_000_000))
        if not options.skip_5m:
            files.append(("5 M", lapped(NINETY_DAYS, 5_000_000, work / "btc_1m_x5M.csv"), 5_000_000))
        help_s = min(run(["--help"], cache)[0] for _ in range(options.repeat))
        print(f"multibot --help: {help_s:.3f} s (target < 0.4 s)")
        print(
            f"{'command':<34} {'candles':>9} {'csv.reader s':>12} {'run':>7} {'s':>7} {'candles/s':>11} "
            f"{'x csv.reader':>12} {'peak RSS':>9}"
        )
        for label, path, rows in files:
            reader = csv_reader_seconds(path)
            grid = [*grid_args(path), "--grids", "100", "--investment", "10000"]
            for run_label, cold in (("first", True), ("cached", False)):
                if not cold:
                    run(grid, cache)  # fill the cache
                seconds, rss = best(grid, options.repeat if rows < 5_000_000 else 1, cache, cold=cold)
                print(
                    f"{'backtest grid ' + label:<34} {rows:>9,} {reader:>12.3f} {run_label:>7} {seconds:>7.3f} "
                    f"{rows / seconds:>11,.0f} {seconds / reader:>12.2f} {rss:>7.0f} MiB"
                )
        reader = csv_reader_seconds(NINETY_DAYS)
        trends = [
            ("ema_adx_baseline", None),
            ("conservative", None),
            ("aggressive", None),
            ("aggressive", "1m"),
        ]
        for strategy, timeframe in trends:
            args = ["backtest", "trend", "--candles", str(NINETY_DAYS), "--strategy", strategy]
            args += ["--timeframe", timeframe] if timeframe else []
            strategy = f"{strategy} {timeframe or '(its tf)'}"
            for run_label, cold in (("first", True), ("cached", False)):
                if not cold:
                    run(args, cache)
                seconds, rss = best(args, options.repeat, cache, cold=cold)
                print(
                    f"{'backtest trend ' + strategy:<34} {130_708:>9,} {reader:>12.3f} {run_label:>7} "
                    f"{seconds:>7.3f} {130_708 / seconds:>11,.0f} {seconds / reader:>12.2f} {rss:>7.0f} MiB"
                )
        reader = csv_reader_seconds(THIRTY_DAYS)
        sweep = ["sweep", "grid", "--candles", str(THIRTY_DAYS), "--lower", "49000:56000", "--upper"]
        sweep += ["62000:70000", "--grids", "10:100:9", "--mode", "both", "--investment", "10000", "--steps"]
        sweep += ["7", "--json"]
        combos = 7 * 7 * len(range(10, 101, 9)) * 2  # 7 lowers x 7 uppers x 11 grid counts x 2 modes = 1,078
        for run_label, cold in (("first", True), ("cached", False)):
            if not cold:
                run(sweep, cache)
            seconds, rss = best(sweep, options.repeat, cache, cold=cold)
            print(
                f"{f'sweep grid {combos} combinations':<34} {43_209:>9,} {reader:>12.3f} {run_label:>7} "
                f"{seconds:>7.3f} {combos / seconds:>9,.0f}/s {seconds / reader:>12.2f} {rss:>7.0f} MiB"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
