"""The picture of one bot's own fills: its grid lines and every buy and sell over time, PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal


def bot_fills_chart(
    title: str,
    fills: Sequence[tuple[datetime, str, Decimal]],
    lines: Sequence[Decimal] = (),
    current_price: Decimal | None = None,
) -> bytes:
    """`fills` are (time, side 'buy'|'sell', price); lines are drawn when given. Returns a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # Agg canvas without touching pyplot's global backend
    ax = fig.subplots()
    for line in lines if len(lines) <= 101 else ():
        ax.axhline(float(line), color="#9aa7b8", linewidth=0.6, alpha=0.8)
    ordered = sorted(fills, key=lambda f: f[0])
    if ordered:
        ax.plot([f[0] for f in ordered], [float(f[2]) for f in ordered], color="#888888", linewidth=0.6)
    for side, marker, color in (("buy", "^", "#1a9850"), ("sell", "v", "#d73027")):
        points = [f for f in ordered if f[1] == side]
        if points:
            ax.scatter(
                [p[0] for p in points],
                [float(p[2]) for p in points],
                marker=marker,
                color=color,
                s=28,
                label=f"{side} ({len(points)})",
                zorder=3,
            )
    if current_price is not None:
        ax.axhline(float(current_price), color="#1f78b4", linestyle="--", linewidth=0.9, label="price")
    ax.set_title(title)
    ax.set_ylabel("price (USDT)")
    if ordered or current_price is not None:
        ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
