"""Market data: candle files and the walk inside a candle (`candles`, the door to `candle_columns`,
`candle_files`, `candle_text` and the disk cache `candle_cache`), the price feeds that drive the
paper venue (`feeds`: a replay of real candles, live public tickers) and technical indicators over
candle columns (`indicators`), an exchange's public tickers and candles (`public`), with the real
candles that ship with the product in `data/`.

It may import the shared vocabulary at the top of engine/ (exchange, endpoints), the standard library,
numpy, pyarrow (inside the functions that read files) and ccxt (public market data only); never another
engine package, the database, the bot or aiogram.
"""
