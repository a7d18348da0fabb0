"""The live venue: real exchanges over ccxt with the user's own keys. `adapter` (one account's
`Exchange`), `registry` (the ccxt clients, one per account, and the markets they share), `errors`
(ccxt's errors as ours, the retries), `markets` (ccxt's markets as our `Market`), `accounts` (the live
handles of the users who trade with their keys) and `credentials` (keys masked in logs, encrypted at
rest: the exchange layer is the only place that decrypts).

It may import the shared vocabulary at the top of engine/ and ccxt; never a bot type's package, the
paper venue, the database, the bot application or aiogram.
"""
