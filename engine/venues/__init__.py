"""The venues a bot trades on, each behind the one interface of engine.exchange: the local paper
matching engine (`paper`) and the live exchanges over ccxt (`live`).

A venue may import the shared vocabulary at the top of engine/ (exchange, markets, money, client_ids),
engine.market_data and db; never a bot type's package, another venue, the bot application or aiogram.
"""
