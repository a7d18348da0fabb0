"""`multibot sweep trend`: a walk-forward sweep of a trend strategy's leverage, stop loss and take profit
(engine.trend.sweep); only out-of-sample figures are printed."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

DAY_MS = 86_400_000


def add_trend_sweep_parser(kinds: Any) -> None:
    trend = kinds.add_parser(
        "trend",
        help="walk-forward sweep of a trend strategy (out-of-sample figures only)",
        description=(
            "Choose leverage, SL and TP on each fit window by return, score them on the next window; "
            "report the test windows only."
        ),
    )
    trend.add_argument("--candles", required=True, metavar="FILE", help="candle file")
    trend.add_argument("--strategy", required=True, metavar="NAME", help="built-in strategy name")
    trend.add_argument("--timeframe", metavar="TF", help="candle timeframe (default: the strategy's)")
    trend.add_argument("--leverage", metavar="N:M[:STEP]", help="leverages (default: the strategy's)")
    trend.add_argument(
        "--sl", metavar="A:B[:STEP]", help="stop loss percents (0 = none; default: the strategy's)"
    )
    trend.add_argument(
        "--tp", metavar="A:B[:STEP]", help="take profit percents (0 = none; default: the strategy's)"
    )
    trend.add_argument("--steps", default="3", metavar="K", help="values of a range A:B (default 3)")
    trend.add_argument("--fit-days", default="90", metavar="D", help="fit window in days (default 90)")
    trend.add_argument("--test-days", default="30", metavar="D", help="test window in days (default 30)")
    trend.add_argument("--equity", default="10000", metavar="QUOTE", help="initial equity (default 10000)")
    trend.add_argument("--workers", metavar="N", help="processes (default: one per core)")
    trend.add_argument("--json", action="store_true", help="print one JSON object")
    trend.set_defaults(func=run_trend_sweep_command)


def _percents(text: str | None, field: str, steps: int, default: Decimal | None) -> list[Decimal | None]:
    """Percents as ranges like the grid's (``A``, ``A:B``, ``A:B:STEP``); 0 means none."""
    from bot.cli_numbers import decimal_range
    from bot.services.errors import ValidationError

    if text is None:
        return [default]
    parts = text.split(":")
    if parts and parts[0].strip() in ("0", "0.0"):  # from "none" on: shift the range off zero and back
        shifted = ":".join([str(Decimal(1)), *[str(Decimal(p) + 1) for p in parts[1:2]], *parts[2:]])
        values = [v - 1 for v in decimal_range(shifted, field, steps)]
    else:
        values = decimal_range(text, field, steps)
    if any(v >= 100 for v in values):
        raise ValidationError(field, f"{field} must be below 100 percent")
    return [None if v == 0 else v for v in values]


def run_trend_sweep_command(args: argparse.Namespace) -> int:
    from bot.cli_numbers import fail, int_in, int_range, positive
    from bot.services.errors import ValidationError
    from engine.market_data.candles import CandleFileError, load_candles
    from engine.trend.backtest import candle_interval_ms, resample
    from engine.trend.strategies import get_strategy, timeframe_ms
    from engine.trend.sweep import trend_points, walk_forward

    try:
        strategy = get_strategy(args.strategy)
        timeframe = args.timeframe or strategy.timeframe
        timeframe_ms(timeframe)
        steps = int_in(args.steps, "steps", 1, 20)
        risk = strategy.risk
        leverages = [risk.leverage] if args.leverage is None else int_range(args.leverage, "leverage", 1, 100)
        stop_losses = _percents(args.sl, "sl", steps, risk.stop_loss_percent)
        take_profits = _percents(args.tp, "tp", steps, risk.take_profit_percent)
        fit_days = int_in(args.fit_days, "fit_days", 1, 3650)
        test_days = int_in(args.test_days, "test_days", 1, 3650)
        equity = positive(args.equity, "equity")
        workers = None if args.workers is None else int_in(args.workers, "workers", 1, 64)
    except (ValidationError, ValueError) as exc:
        return fail(str(exc))
    points = trend_points(leverages, stop_losses, take_profits)
    try:
        candles = resample(load_candles(args.candles), timeframe)
        step = candle_interval_ms(candles)
        result = walk_forward(
            candles,
            strategy,
            points,
            fit_candles=fit_days * DAY_MS // step,
            test_candles=test_days * DAY_MS // step,
            initial_equity=equity,
            workers=workers,
        )
    except (CandleFileError, ValueError) as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(walk_forward_json(result, len(points)), separators=(",", ":")))
    else:
        print(render_walk_forward(result, strategy.name, timeframe, len(points)))
    return 0


def _s(value: Decimal) -> str:
    return format(value, "f")


def _point(point: Any) -> dict[str, Any]:
    return {
        "leverage": point.leverage,
        "stop_loss_percent": None if point.stop_loss_percent is None else _s(point.stop_loss_percent),
        "take_profit_percent": None if point.take_profit_percent is None else _s(point.take_profit_percent),
    }


def walk_forward_json(result: Any, combinations: int) -> dict[str, Any]:
    return {
        "combinations": combinations,
        "out_of_sample": {
            "initial_equity": _s(result.initial_equity),
            "final_equity": _s(result.final_equity),
            "total_return": _s(result.total_return),
            "max_drawdown": _s(result.max_drawdown),
            "trades": result.trades,
            "win_rate": _s(result.win_rate),
            "buy_and_hold_return": _s(result.buy_and_hold_return),
        },
        "folds": [
            {
                "fit_start_ts": f.fit_start_ts,
                "test_start_ts": f.test_start_ts,
                "test_end_ts": f.test_end_ts,
                "chosen": _point(f.chosen),
                "test_return": _s(f.test.return_fraction.quantize(Decimal("0.00000001"))),
                "test_max_drawdown": _s(f.test.max_drawdown),
                "test_trades": len(f.test.trades),
                "test_time_in_market": _s(f.test.exposure),
            }
            for f in result.folds
        ],
    }


def render_walk_forward(result: Any, strategy: str, timeframe: str, combinations: int) -> str:
    from datetime import UTC, datetime

    def day(ts: int) -> str:
        return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d")

    def pct(x: Decimal) -> str:
        return f"{x * 100:+.2f} %"

    def none(x: Decimal | None) -> str:
        return "none" if x is None else f"{x} %"

    lines = [
        f"walk-forward of {strategy} ({timeframe}): {combinations} combinations chosen on each fit window, "
        f"scored on the next one; out-of-sample figures only",
        f"{'test window':<24} {'leverage':>8} {'SL':>8} {'TP':>8} {'return':>10} {'max dd':>8} {'trades':>6}",
    ]
    for f in result.folds:
        c = f.chosen
        window = f"{day(f.test_start_ts)} .. {day(f.test_end_ts)}"
        lines.append(
            f"{window:<24} {c.leverage:>7}x {none(c.stop_loss_percent):>8} {none(c.take_profit_percent):>8} "
            f"{pct(f.test.return_fraction):>10} {f.test.max_drawdown * 100:>7.2f}% {len(f.test.trades):>6}"
        )
    lines.append(
        f"out of sample: {pct(result.total_return)} compounded over {len(result.folds)} windows, "
        f"worst drawdown {result.max_drawdown * 100:.2f} %, {result.trades} trades, "
        f"win rate {result.win_rate * 100:.1f} %; buy and hold {pct(result.buy_and_hold_return)}"
    )
    return "\n".join(lines)
