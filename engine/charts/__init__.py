"""PNG charts (matplotlib with the Agg backend, imported only when a chart is drawn): a backtest's price,
lines, fills and equity (`backtests`), and a running grid bot's own fills over its lines (`fills`).

It may import the shared vocabulary at the top of engine/ and, for types only, the backtests' results;
never the database, a venue, the bot application or aiogram.
"""


def warm_up() -> None:
    """Import matplotlib and draw an empty figure once (its fonts load then): about 2 s and 30 MB that the
    first chart would otherwise cost, for a server to spend at start-up instead (bot.app)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    import engine.charts.backtests
    import engine.charts.fills  # noqa: F401

    fig = Figure(figsize=(1, 1), dpi=10)
    FigureCanvasAgg(fig)
    fig.add_subplot().set_title("warm-up")
    fig.savefig(io.BytesIO(), format="png")
