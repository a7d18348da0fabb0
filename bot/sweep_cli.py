"""`multibot sweep ...`: run many backtests of one bot type over ranges of its parameters and rank them.

`multibot sweep grid --candles FILE --lower A:B --upper C:D --grids 10:100 --mode both --investment X
[--top 10] [--json]` runs every combination through engine.grid.sweep (the same fill rules as
`multibot backtest grid`), ranked by profit (final equity - investment); the top rows are backtested in
full for their drawdown and time in market. A range is ``A:B`` (``--steps`` values from A to B; grid
counts: up to 10 whole numbers) or ``A:B:STEP``; a single value fixes the parameter.

`multibot sweep trend --candles FILE --strategy NAME [--leverage 1:5] [--sl 1:4] [--tp 2:8]` walks
forward (engine.trend.sweep): the parameters are chosen on each window and scored on the next one, and
only those out-of-sample figures are reported.

Errors print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any


def add_sweep_parser(subparsers: Any) -> None:
    """Register ``sweep`` (``grid`` and ``trend``) on an argparse subparsers object."""
    sweep = subparsers.add_parser(
        "sweep", help="backtest ranges of parameters and rank them", description=__doc__.splitlines()[0]
    )
    kinds = sweep.add_subparsers(dest="sweep_kind", metavar="KIND", required=True)
    grid = kinds.add_parser("grid", help="sweep a spot grid bot's range, grid count and mode")
    grid.add_argument("--candles", required=True, metavar="FILE", help="candle file (.csv[.gz], .parquet)")
    grid.add_argument("--lower", required=True, metavar="A:B[:STEP]", help="lowest line(s)")
    grid.add_argument("--upper", required=True, metavar="C:D[:STEP]", help="highest line(s)")
    grid.add_argument("--grids", required=True, metavar="N:M[:STEP]", help="grid count(s), 2..100")
    grid.add_argument("--mode", default="both", help="arithmetic, geometric or both (default both)")
    grid.add_argument("--investment", required=True, metavar="QUOTE", help="total investment")
    grid.add_argument("--steps", default="5", metavar="K", help="values of a price range A:B (default 5)")
    grid.add_argument("--top", default="10", metavar="N", help="rows to show (default 10)")
    grid.add_argument("--fee-rate", default="0.0002", metavar="RATE", help="maker fee rate (default 0.0002)")
    grid.add_argument(
        "--taker-fee-rate", default="0.0006", metavar="RATE", help="taker fee rate (default 0.0006)"
    )
    grid.add_argument("--price-tick", default="0.01", metavar="TICK", help="price tick (default 0.01)")
    grid.add_argument("--amount-step", default="0.000001", metavar="STEP", help="lot step (default 0.000001)")
    grid.add_argument(
        "--buy-fee-in-base", action="store_true", help="buys pay their fee in the coin (rule 8)"
    )
    grid.add_argument("--workers", metavar="N", help="processes (default: one per core)")
    grid.add_argument("--json", action="store_true", help="print one JSON object")
    grid.set_defaults(func=run_grid_sweep_command)
    from bot.trend_sweep_cli import add_trend_sweep_parser

    add_trend_sweep_parser(kinds)


def run_grid_sweep_command(args: argparse.Namespace) -> int:
    import time

    from bot.cli_numbers import decimal_range, fail, int_in, int_range, positive, rate
    from bot.services.errors import ValidationError
    from engine.grid.sweep import GridCosts, backtest_point, grid_points, ranked, sweep_grid
    from engine.market_data.candles import CandleFileError, load_candles

    try:
        tick = positive(args.price_tick, "price_tick")
        steps = int_in(args.steps, "steps", 1, 100)
        lowers = decimal_range(args.lower, "lower", steps, tick)
        uppers = decimal_range(args.upper, "upper", steps, tick)
        counts = int_range(args.grids, "grids", 2, 100)
        if args.mode not in ("arithmetic", "geometric", "both"):
            raise ValidationError("mode", "mode must be arithmetic, geometric or both")
        modes = ["arithmetic", "geometric"] if args.mode == "both" else [args.mode]
        costs = GridCosts(
            investment=positive(args.investment, "investment"),
            maker_fee_rate=rate(args.fee_rate, "fee_rate"),
            taker_fee_rate=rate(args.taker_fee_rate, "taker_fee_rate"),
            price_tick=tick,
            amount_step=positive(args.amount_step, "amount_step"),
            buy_fee_in_base=args.buy_fee_in_base,
        )
        top = int_in(args.top, "top", 1, 1000)
        workers = None if args.workers is None else int_in(args.workers, "workers", 1, 64)
    except ValidationError as exc:
        return fail(str(exc))
    points = grid_points(lowers, uppers, counts, modes)
    if not points:
        return fail("no combination has its lower price below its upper price")
    started = time.perf_counter()
    try:
        candles = load_candles(args.candles)
        rows, skipped = sweep_grid(candles, points, costs, workers=workers)
    except (CandleFileError, ValueError) as exc:
        return fail(str(exc))
    if not rows:
        return fail(f"none of the {len(points)} combinations can run (too narrow for the tick or too small)")
    best = ranked(rows, top)
    full = [backtest_point(candles, row.point, costs) for row in best]
    seconds = time.perf_counter() - started
    if args.json:
        print(
            json.dumps(sweep_json(candles, rows, skipped, best, full, costs, seconds), separators=(",", ":"))
        )
    else:
        print(render_sweep(candles, rows, skipped, best, full, costs, seconds))
    return 0


def _s(value: Decimal) -> str:
    return format(value, "f")


def sweep_json(candles, rows, skipped, best, full, costs, seconds: float) -> dict[str, Any]:
    return {
        "candles": len(candles),
        "first_ts": candles.timestamps[0],
        "last_ts": candles.timestamps[-1],
        "combinations": len(rows) + len(skipped),
        "ran": len(rows),
        "skipped": len(skipped),
        "seconds": round(seconds, 3),
        "investment": _s(costs.investment),
        "buy_fee_in_base": costs.buy_fee_in_base,
        "top": [
            {
                "lower": _s(row.point.lower),
                "upper": _s(row.point.upper),
                "grids": row.point.grids,
                "mode": row.point.mode,
                "profit": _s(row.profit),
                "realized_profit": _s(row.realized_profit),
                "final_equity": _s(row.final_equity),
                "cycles": row.cycles,
                "fees": _s(row.fees),
                "max_drawdown": _s(result.max_drawdown),
                "time_in_market": _s(result.time_in_market),
                "buy_and_hold": _s(result.buy_and_hold),
            }
            for row, result in zip(best, full, strict=True)
        ],
    }


def render_sweep(candles, rows, skipped, best, full, costs, seconds: float) -> str:
    from datetime import UTC, datetime

    def day(ts: int) -> str:
        return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M")

    inv = costs.investment
    lines = [
        f"{len(rows)} combinations backtested ({len(skipped)} skipped: too narrow or too small) on "
        f"{len(candles)} candles {day(candles.timestamps[0])} .. {day(candles.timestamps[-1])} UTC "
        f"in {seconds:.2f} s",
        f"{'#':>3} {'lower':>12} {'upper':>12} {'grids':>5} {'mode':<10} {'profit':>12} {'%':>7} "
        f"{'cycles':>6} {'fees':>10} {'max dd':>7} {'in mkt':>7}",
    ]
    for k, (row, result) in enumerate(zip(best, full, strict=True), start=1):
        lines.append(
            f"{k:>3} {_s(row.point.lower):>12} {_s(row.point.upper):>12} {row.point.grids:>5} "
            f"{row.point.mode:<10} {row.profit:>12.2f} {row.profit / inv * 100:>6.2f}% {row.cycles:>6} "
            f"{row.fees:>10.2f} {result.max_drawdown * 100:>6.2f}% {result.time_in_market * 100:>6.1f}%"
        )
    hold = full[0].buy_and_hold
    lines.append(f"buy and hold over the same candles: {hold - inv:.2f} ({(hold - inv) / inv * 100:+.2f} %)")
    return "\n".join(lines)
