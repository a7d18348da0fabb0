"""PNG charts (matplotlib with the Agg backend, imported only when a chart is drawn): a backtest's price,
lines, fills and equity (`backtests`), and a running grid bot's own fills over its lines (`fills`).

It may import the shared vocabulary at the top of engine/ and, for types only, the backtests' results;
never the database, a venue, the bot application or aiogram.
"""
