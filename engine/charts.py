"""PNG charts of backtests (matplotlib, Agg backend, imported only when a chart is drawn)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.backtest import GridBacktestResult
    from engine.candles import Candles

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
