"""The services the handlers call: the fleet (create, allocate, edit, start, stop and delete bots) and
its views, accounts (language, mode, exchange keys), manual trading, strategies, backtests for the chat,
the one-time confirmations of the two-step actions, input validation, the grid plan, the frozen DTOs they
return and the domain errors they raise. Every method owns its transaction and checks ownership.

It may import db, engine and the standard library; never aiogram, handlers or the application shell
(bot.app, bot.scheduler, bot.engine_service, bot.alerts).
"""
