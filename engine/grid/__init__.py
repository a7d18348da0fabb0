"""The grid bot: its lines and per-interval amounts (`lines`), the interval state machine and its client
order ids (`intervals`), the book a running bot holds and the store that loads and saves it (`store`),
one tick against an exchange (`runtime`), and the backtest on candles under DESIGN.md's fill rules
(`backtest`).

It may import the shared vocabulary at the top of engine/ (exchange, markets, money, client_ids,
ports), engine.market_data, and db (the store and its queries); never another bot type's package, a
venue's package, the bot application or aiogram.
"""
