"""`multibot backtest ...`: replay a bot on a candle file and print the figures.

`multibot backtest grid --candles FILE.csv[.gz] --lower L --upper U --grids N
--investment X [...]` runs :func:`engine.grid.backtest.run_grid_backtest`. Errors
(file, row, parameters) print one line to stderr and exit with status 2.
`multibot backtest trend --candles FILE.csv[.gz] --strategy NAME [--timeframe 1h]
[--leverage N --sl P --tp P --fee-rate R ...]` runs
:func:`engine.trend.backtest.run_trend_backtest` (1-minute files are resampled to
the timeframe).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.grid.backtest import GridBacktestResult

# The engine (numpy, pyarrow) is imported by the commands themselves, so `multibot --help` stays quick.
EXIT_USAGE = 2
PROG = "multibot backtest"


def add_backtest_parser(subparsers: Any) -> None:
    """Register ``backtest`` (with its ``grid`` subcommand) on an argparse subparsers object."""
    backtest = subparsers.add_parser(
        "backtest",
        help="replay a bot on historical candles",
        description="Replay a bot on a candle CSV (timestamp,open,high,low,close,volume).",
    )
    kinds = backtest.add_subparsers(dest="backtest_kind", metavar="KIND", required=True)
    grid = kinds.add_parser(
        "grid",
        help="backtest a spot grid bot",
        description="Backtest a spot grid bot with the paper exchange's fill rules on candles.",
    )
    grid.add_argument("--candles", required=True, metavar="FILE.csv[.gz]", help="candle file")
    grid.add_argument("--lower", required=True, metavar="PRICE", help="lowest grid line")
    grid.add_argument("--upper", required=True, metavar="PRICE", help="highest grid line")
    grid.add_argument("--grids", required=True, metavar="N", help="number of intervals (2..100)")
    grid.add_argument("--mode", default="arithmetic", help="arithmetic or geometric (default arithmetic)")
    grid.add_argument(
        "--investment", required=True, metavar="QUOTE", help="total investment in quote currency"
    )
    grid.add_argument("--fee-rate", default="0.0002", metavar="RATE", help="maker fee rate (default 0.0002)")
    grid.add_argument(
        "--taker-fee-rate", default="0.0006", metavar="RATE", help="taker fee rate (default 0.0006)"
    )
    grid.add_argument("--price-tick", default="0.01", metavar="TICK", help="price tick (default 0.01)")
    grid.add_argument("--amount-step", default="0.000001", metavar="STEP", help="lot step (default 0.000001)")
    grid.add_argument("--trigger", metavar="PRICE", help="start when the price touches this price")
    grid.add_argument("--stop-upper", metavar="PRICE", help="stop when the price reaches this or above")
    grid.add_argument("--stop-lower", metavar="PRICE", help="stop when the price reaches this or below")
    grid.add_argument(
        "--buy-fee-in-base",
        action="store_true",
        help="charge each buy's fee in the coin bought and sell what is left (Bitget spot; rule 8)",
    )
    grid.add_argument("--json", action="store_true", help="print one JSON object (figures and fills)")
    grid.add_argument("--chart", metavar="OUT.png", help="also draw a PNG chart")
    grid.set_defaults(func=run_grid_backtest_command)
    _add_trend_parser(kinds)


def _add_trend_parser(kinds: Any) -> None:
    trend = kinds.add_parser(
        "trend",
        help="backtest an AI trend bot strategy",
        description=(
            "Backtest a trend strategy on candles: market entries at the next open (taker fee, "
            "optional slippage), stop loss / take profit filled along the intra-candle walk. "
            "Funding is ignored."
        ),
    )
    trend.add_argument("--candles", required=True, metavar="FILE.csv[.gz]", help="candle file")
    trend.add_argument("--strategy", required=True, metavar="NAME", help="built-in strategy name")
    trend.add_argument("--timeframe", metavar="TF", help="candle timeframe (default: the strategy's)")
    trend.add_argument("--leverage", metavar="N", help="leverage 1..100 (default: the strategy's)")
    trend.add_argument("--sl", metavar="P", help="stop loss, percent of the entry price (0 = none)")
    trend.add_argument("--tp", metavar="P", help="take profit, percent of the entry price (0 = none)")
    trend.add_argument("--entry-percent", metavar="P", help="margin per entry, percent of allocated capital")
    trend.add_argument("--max-positions", metavar="N", help="open positions at most (default 3)")
    trend.add_argument("--market", default="swap", help="swap (long and short) or spot (long only)")
    trend.add_argument("--equity", default="10000", metavar="QUOTE", help="initial equity (default 10000)")
    trend.add_argument(
        "--allocation", default="100", metavar="P", help="allocation percent of the equity (default 100)"
    )
    trend.add_argument("--fee-rate", default="0.0002", metavar="RATE", help="maker fee rate (default 0.0002)")
    trend.add_argument(
        "--taker-fee-rate", default="0.0006", metavar="RATE", help="taker fee rate (default 0.0006)"
    )
    trend.add_argument("--slippage", default="0", metavar="RATE", help="market order slippage (default 0)")
    trend.add_argument("--json", action="store_true", help="print one JSON object (figures and trades)")
    trend.add_argument("--chart", metavar="OUT.png", help="also draw a PNG chart")
    trend.set_defaults(func=run_trend_backtest_command)


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_grid_backtest_command(args: argparse.Namespace) -> int:
    """Run ``backtest grid`` for parsed ``args``; returns the exit status."""
    from bot.cli_numbers import positive, rate
    from bot.services.errors import ValidationError
    from bot.services.validation import validate_grid_params
    from engine.grid.backtest import run_grid_backtest
    from engine.grid.lines import GridTooSmall
    from engine.market_data.candles import CandleFileError, open_candles

    try:
        params = validate_grid_params(
            lower=args.lower,
            upper=args.upper,
            grid_count=args.grids,
            mode=args.mode,
            total_investment=args.investment,
            trigger_price=args.trigger,
            stop_upper=args.stop_upper,
            stop_lower=args.stop_lower,
        )
        maker = rate(args.fee_rate, "fee_rate")
        taker = rate(args.taker_fee_rate, "taker_fee_rate")
        tick = positive(args.price_tick, "price_tick")
        step = positive(args.amount_step, "amount_step")
    except ValidationError as exc:
        return _fail(str(exc))
    try:
        candles = open_candles(
            args.candles
        )  # chunk by chunk from the cache: memory does not grow with the file
        result = run_grid_backtest(
            candles,
            params.lower,
            params.upper,
            params.grid_count,
            params.mode,
            params.total_investment,
            maker_fee_rate=maker,
            taker_fee_rate=taker,
            price_tick=tick,
            amount_step=step,
            trigger=params.trigger_price,
            stop_upper=params.stop_upper,
            stop_lower=params.stop_lower,
            buy_fee_in_base=args.buy_fee_in_base,
        )
    except GridTooSmall as exc:
        return _fail(f"{exc} (per-interval quantity would round down to 0 at lot step {step})")
    except (CandleFileError, ValueError) as exc:
        return _fail(str(exc))
    if args.chart:
        from engine.charts.backtests import grid_backtest_chart
        from engine.market_data.candles import load_candles

        try:
            grid_backtest_chart(result, load_candles(args.candles), result.lines, args.chart)
        except OSError as exc:
            return _fail(f"cannot write chart {args.chart}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(result_json(result), separators=(",", ":")))
    else:
        print(render_text(result, args.candles, args.chart))
    return 0


def _s(value: Decimal) -> str:
    return format(value, "f")


def result_json(result: GridBacktestResult) -> dict[str, Any]:
    """The ``--json`` object: Decimals as strings, ``cycles``/``ts``/``interval`` as ints. With
    ``--buy-fee-in-base`` a buy's ``fee`` is its fee in quote and ``fee_base`` the coin taken; a sell's
    ``qty`` is the quantity sold."""

    shown: dict[int, str] = {}  # fills of one kind share their Decimal objects: format each object once

    def text(value: Decimal) -> str:
        out = shown.get(id(value))
        if out is None:
            out = shown[id(value)] = _s(value)
        return out

    def fill(f: Any) -> dict[str, Any]:
        out = {
            "ts": f.ts,
            "interval": f.interval,
            "side": f.side,
            "price": text(f.price),
            "qty": text(f.qty),
            "fee": text(f.fee),
        }
        if result.buy_fee_in_base and f.side == "buy":
            out["fee_base"] = text(f.fee_base)
        return out

    return {
        "cycles": result.cycles,
        "realized_profit": _s(result.realized_profit),
        "fees": _s(result.fees),
        "final_equity": _s(result.final_equity),
        "max_drawdown": _s(result.max_drawdown),
        "buy_and_hold": _s(result.buy_and_hold),
        "fills": [fill(f) for f in result.fills],
        "time_in_market": _s(result.time_in_market),
        "buy_and_hold_drawdown": _s(result.buy_and_hold_drawdown),
        "final_base": _s(result.final_base),
        "candles": result.candles,
        "first_ts": result.first_ts,
        "last_ts": result.last_ts,
        "buy_fee_in_base": result.buy_fee_in_base,
    }


def _percent_of(part: Decimal, whole: Decimal) -> str:
    return f"{part / whole * 100:+.2f} %" if whole else "n/a"


def render_text(result: GridBacktestResult, source: str, chart: str | None = None) -> str:
    """The human summary printed without ``--json``."""
    from datetime import UTC, datetime

    def when(ts: int | None) -> str:
        return (
            datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts is not None else "-"
        )

    inv = result.investment
    rows = [
        ("candles", f"{result.candles} from {source}"),
        (
            "grid",
            f"{len(result.lines) - 1} grids {result.lines[0]} .. {result.lines[-1]}, "
            f"{result.per_grid_amount} per grid",
        ),
        (
            "started",
            f"{when(result.started_ts)} at {result.start_price}"
            if result.started_ts is not None
            else "never (the trigger price was not reached)",
        ),
    ]
    if result.stop_reason:
        rows.append(("stopped", f"{when(result.stopped_ts)} ({result.stop_reason})"))
    rows += [
        ("fills", str(len(result.fills))),
        ("cycles", str(result.cycles)),
        ("realized profit", f"{_s(result.realized_profit)} ({_percent_of(result.realized_profit, inv)})"),
        ("fees", _s(result.fees)),
        ("final equity", f"{_s(result.final_equity)} ({_percent_of(result.final_equity - inv, inv)})"),
        ("max drawdown", f"{result.max_drawdown * 100:.2f} % (along every candle's walk)"),
        ("time in market", f"{result.time_in_market * 100:.2f} % of candles"),
        (
            "buy and hold",
            f"{_s(result.buy_and_hold)} ({_percent_of(result.buy_and_hold - inv, inv)}), "
            f"max drawdown {result.buy_and_hold_drawdown * 100:.2f} %",
        ),
    ]
    if result.buy_fee_in_base:
        rows.append(("fees in coin", "yes: buys pay their fee in the coin bought, sells sell what is left"))
    if chart:
        rows.append(("chart", chart))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def run_trend_backtest_command(args: argparse.Namespace) -> int:
    """Run ``backtest trend`` for parsed ``args``; returns the exit status."""
    from bot.cli_numbers import int_in, percent_or_none, positive, rate
    from bot.services.errors import ValidationError
    from bot.services.validation import parse_decimal
    from engine.market_data.candles import CandleFileError, load_candles
    from engine.trend.backtest import resample, result_json, run_trend_backtest, settings_for
    from engine.trend.strategies import get_strategy, timeframe_ms

    try:
        strategy = get_strategy(args.strategy)
        timeframe = args.timeframe or strategy.timeframe
        timeframe_ms(timeframe)
        if args.market not in ("swap", "spot"):
            raise ValidationError("market", "market must be swap or spot")
        leverage = None if args.leverage is None else int_in(args.leverage, "leverage", 1, 100)
        if args.market == "spot":
            leverage = 1
        entry = None
        if args.entry_percent is not None:
            entry = parse_decimal(args.entry_percent, "entry_percent")
            if not 0 < entry <= 100:
                raise ValidationError("entry_percent", "entry_percent must be above 0 and at most 100")
        settings = settings_for(
            strategy,
            leverage=leverage,
            stop_loss_percent=percent_or_none(args.sl, "sl"),
            take_profit_percent=percent_or_none(args.tp, "tp"),
            max_positions=None
            if args.max_positions is None
            else int_in(args.max_positions, "max_positions", 1, 20),
            entry_percent=entry,
            market_type=args.market,
        )
        equity = positive(args.equity, "equity")
        allocation = positive(args.allocation, "allocation")
        if allocation > 100:
            raise ValidationError("allocation", "allocation must be above 0 and at most 100")
        maker = rate(args.fee_rate, "fee_rate")
        taker = rate(args.taker_fee_rate, "taker_fee_rate")
        slippage = rate(args.slippage, "slippage")
    except (ValidationError, ValueError) as exc:
        return _fail(str(exc))
    try:
        candles = resample(load_candles(args.candles), timeframe)
        result = run_trend_backtest(
            candles,
            strategy,
            settings,
            initial_equity=equity,
            allocation_percent=allocation,
            maker_fee_rate=maker,
            taker_fee_rate=taker,
            slippage=slippage,
        )
    except (CandleFileError, ValueError) as exc:
        return _fail(str(exc))
    if args.chart:
        from engine.charts.backtests import trend_backtest_chart

        try:
            trend_backtest_chart(result, candles, args.chart)
        except OSError as exc:
            return _fail(f"cannot write chart {args.chart}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(result_json(result), separators=(",", ":")))
    else:
        print(render_trend_text(result, args.candles, timeframe, args.chart))
    return 0


def render_trend_text(result: Any, source: str, timeframe: str, chart: str | None = None) -> str:
    """The human summary of a trend backtest."""
    from datetime import UTC, datetime

    def when(ts: int) -> str:
        return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")

    st = result.settings
    inv = result.initial_equity
    sl = "none" if st.stop_loss_percent is None else f"{st.stop_loss_percent} %"
    tp = "none" if st.take_profit_percent is None else f"{st.take_profit_percent} %"
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.exit_reasons().items())) or "-"
    rows = [
        ("candles", f"{result.candles} x {timeframe} from {source}"),
        ("period", f"{when(result.start_ts)} .. {when(result.end_ts)}"),
        (
            "strategy",
            f"{result.strategy} ({st.market_type}, {st.leverage}x, SL {sl}, TP {tp}, "
            f"{st.entry_percent} % per entry, max {st.max_positions} positions)",
        ),
        ("trades", f"{len(result.trades)} (exits: {reasons})"),
        ("win rate", f"{result.win_rate * 100:.2f} %"),
        ("profit after fees", f"{_s(result.profit)} ({_percent_of(result.profit, inv)})"),
        ("fees", _s(result.fees)),
        ("final equity", _s(result.final_equity)),
        ("max drawdown", f"{result.max_drawdown * 100:.2f} % (along every candle's walk)"),
        ("sharpe", f"{result.sharpe:.2f} (hourly returns, annualised)"),
        ("time in market", f"{result.exposure * 100:.2f} % of candles"),
        (
            "buy and hold",
            f"{_s(result.buy_and_hold)} ({_percent_of(result.buy_and_hold - inv, inv)}), "
            f"max drawdown {result.buy_and_hold_drawdown * 100:.2f} %",
        ),
        ("note", "funding payments are not modelled"),
    ]
    if chart:
        rows.append(("chart", chart))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.backtest_cli grid|trend ...`` (the same as ``multibot backtest ...``)."""
    parser = argparse.ArgumentParser(prog="multibot")
    add_backtest_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["backtest", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
