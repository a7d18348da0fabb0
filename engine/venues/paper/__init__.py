"""The paper venue: a matching engine with its state in the database. `venue` (the market, one per
process, and each account's `PaperExchange` view of it), `book` (the in-memory index of resting orders),
`state` (the rows held in memory and the transaction that changes them) and `markets` (Bitget's rules
and default fees for every paper market).

It may import the shared vocabulary at the top of engine/, engine.market_data and db; never a bot
type's package, the live venue, the bot application or aiogram.
"""
