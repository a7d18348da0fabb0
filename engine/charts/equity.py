"""The picture of an account's equity per day (the daily report's), PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal


def equity_days_chart(days: Sequence[tuple[str, Decimal]]) -> bytes:
    """`days` are (ISO date, equity in USDT), oldest first. Returns a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # Agg canvas without touching pyplot's global backend
    ax = fig.subplots()
    xs = [date.fromisoformat(d) for d, _ in days]
    ys = [float(e) for _, e in days]
    ax.plot(xs, ys, color="#1f78b4", linewidth=1.4, marker="o", markersize=3)
    if len(ys) > 1:
        ax.fill_between(xs, ys, min(ys), color="#1f78b4", alpha=0.12)
    ax.set_title("Equity per day")
    ax.set_ylabel("USDT")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
