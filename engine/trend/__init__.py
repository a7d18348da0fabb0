"""The AI trend bot: its position rules and client order ids (`positions`), the built-in strategies and
their signals (`strategies`), the model's candle features and the walk-forward classifier (`features`,
`model`), the closed candles and trained models a running bot reads (`candles`), its ledger in the
database (`store`), one tick against an exchange (`runtime`), and the backtest on candles (`backtest`).

It may import the shared vocabulary at the top of engine/ (exchange, markets, money, client_ids,
ports), engine.market_data, and db; never the grid's package, a venue's package, the bot application
or aiogram.
"""
