"""PNG charts of backtests (matplotlib, Agg backend, imported only when a chart is drawn)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.grid.backtest import GridBacktestResult
    from engine.market_data.candles import Candles
    from engine.trend.backtest import TrendBacktestResult

_MAX_PRICE_POINTS = 5000  # the close line is thinned to this many points; the eye cannot see more
_MAX_GRID_LINES_DRAWN = 200


def grid_backtest_chart(
    result: GridBacktestResult,
    candles: Candles,
    lines: Sequence[Decimal],
    path_or_buffer: str | Path | IO[bytes] | None = None,
) -> bytes | None:
    """Price (close) with the grid lines and the fills, and the equity curve below it.

    Writes a PNG to ``path_or_buffer`` (a path or a binary file object); with
    None, returns the PNG bytes instead.
    """
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, without touching pyplot's global backend
    price_ax, equity_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))

    times = np.array(candles.timestamps, dtype="datetime64[ms]")
    step = max(1, len(times) // _MAX_PRICE_POINTS)
    price_ax.plot(times[::step], candles.close_a[::step], color="#444444", linewidth=0.8, label="close")
    if len(lines) <= _MAX_GRID_LINES_DRAWN:
        for line in lines:
            price_ax.axhline(float(line), color="#9aa7b8", linewidth=0.5, alpha=0.7)

    buys = [f for f in result.fills if f.side == "buy"]
    sells = [f for f in result.fills if f.side == "sell"]
    for fills, marker, color, label in ((buys, "^", "#1a9850", "buy"), (sells, "v", "#d73027", "sell")):
        if fills:
            price_ax.scatter(
                np.array([f.ts for f in fills], dtype="datetime64[ms]"),
                [float(f.price) for f in fills],
                marker=marker,
                s=14,
                color=color,
                label=f"{label} ({len(fills)})",
                zorder=3,
            )
    price_ax.set_ylabel("price")
    price_ax.legend(loc="upper left", fontsize="small")
    price_ax.set_title(
        f"grid backtest: {len(lines) - 1} grids, {result.cycles} cycles, "
        f"realized {result.realized_profit:.2f}, final equity {result.final_equity:.2f}"
    )

    if result.equity_curve:
        equity_ax.plot(
            np.array([ts for ts, _ in result.equity_curve], dtype="datetime64[ms]"),
            [float(eq) for _, eq in result.equity_curve],
            color="#2c7fb8",
            linewidth=1.0,
        )
    equity_ax.axhline(float(result.investment), color="#999999", linewidth=0.6, linestyle="--")
    equity_ax.set_ylabel("equity")
    equity_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(equity_ax.xaxis.get_major_locator()))

    if path_or_buffer is None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    fig.savefig(path_or_buffer, format="png")
    return None


def trend_backtest_chart(
    result: TrendBacktestResult,
    candles: Candles,
    path_or_buffer: str | Path | IO[bytes] | None = None,
) -> bytes | None:
    """Price (close) with every entry and exit, and the equity curve against buy-and-hold below.

    Long entries are green up-triangles, short entries red down-triangles; exits
    are crosses coloured by reason (TP, SL, signal, ...). Writes a PNG to
    ``path_or_buffer``; with None, returns the PNG bytes.
    """
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    price_ax, equity_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))

    times = np.array(candles.timestamps, dtype="datetime64[ms]")
    step = max(1, len(times) // _MAX_PRICE_POINTS)
    price_ax.plot(times[::step], candles.close_a[::step], color="#444444", linewidth=0.8, label="close")
    for side, marker, color in (("long", "^", "#1a9850"), ("short", "v", "#d73027")):
        entries = [t for t in result.trades if t.side == side]
        if entries:
            price_ax.scatter(
                np.array([t.entry_ts for t in entries], dtype="datetime64[ms]"),
                [float(t.entry_price) for t in entries],
                marker=marker,
                s=18,
                color=color,
                label=f"{side} entry ({len(entries)})",
                zorder=3,
            )
    colors = {"tp": "#2c7fb8", "sl": "#f46d43", "signal": "#7b3294", "liquidation": "#000000"}
    for reason in sorted({t.reason for t in result.trades}):
        exits = [t for t in result.trades if t.reason == reason]
        price_ax.scatter(
            np.array([t.exit_ts for t in exits], dtype="datetime64[ms]"),
            [float(t.exit_price) for t in exits],
            marker="x",
            s=14,
            color=colors.get(reason, "#888888"),
            label=f"exit {reason} ({len(exits)})",
            zorder=3,
        )
    price_ax.set_ylabel("price")
    price_ax.legend(loc="upper left", fontsize="small")
    price_ax.set_title(
        f"trend backtest: {result.strategy}, {len(result.trades)} trades, "
        f"win rate {float(result.win_rate) * 100:.1f} %, profit {result.profit:.2f}"
    )

    if result.equity_curve:
        curve_t = np.array([ts for ts, _ in result.equity_curve], dtype="datetime64[ms]")
        equity_ax.plot(
            curve_t,
            [float(eq) for _, eq in result.equity_curve],
            color="#2c7fb8",
            linewidth=1.0,
            label="strategy",
        )
        first = float(candles.open_a[0])
        hold = float(result.initial_equity) / first
        equity_ax.plot(
            times[::step],
            hold * candles.close_a[::step],
            color="#999999",
            linewidth=0.8,
            label="buy and hold (before fees)",
        )
    equity_ax.axhline(float(result.initial_equity), color="#999999", linewidth=0.6, linestyle="--")
    equity_ax.set_ylabel("equity")
    equity_ax.legend(loc="upper left", fontsize="small")
    equity_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(equity_ax.xaxis.get_major_locator()))

    if path_or_buffer is None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    fig.savefig(path_or_buffer, format="png")
    return None
