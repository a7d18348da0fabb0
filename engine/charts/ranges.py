"""PNG of suggested grid ranges over the price (matplotlib, Agg backend, imported only when drawn)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.market_data.candles import Candles

_COLORS = ("#1a9850", "#2c7fb8", "#d95f0e")


def range_suggestion_chart(
    candles: Candles, ranges: Sequence[tuple[Decimal, Decimal, Sequence[Decimal]]], title: str
) -> bytes:
    """The closes of ``candles`` with each suggested range (lower, upper, its lines) drawn over them:
    the first range's lines in full, the others as their bounds. Returns PNG bytes."""
    import matplotlib.dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    times = np.array(candles.timestamps, dtype="datetime64[ms]")
    ax.fill_between(times, candles.low_a, candles.high_a, color="#cccccc", linewidth=0, label="low..high")
    ax.plot(times, candles.close_a, color="#444444", linewidth=0.8, label="close")
    for k, (lower, upper, lines) in enumerate(ranges):
        color = _COLORS[k % len(_COLORS)]
        if k == 0:
            for line in lines:
                ax.axhline(float(line), color=color, linewidth=0.4, alpha=0.6)
        for bound in (lower, upper):
            ax.axhline(float(bound), color=color, linewidth=1.4, linestyle="-" if k == 0 else "--")
        ax.plot([], [], color=color, label=f"{k + 1}: {lower:,f} – {upper:,f}")
    ax.set_title(title)
    ax.set_ylabel("price")
    ax.legend(loc="upper left", fontsize="small")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
