"""Trading, with no chat in it: the shared vocabulary at the top (`exchange`: the one interface every
venue implements, its value types and errors; `markets`: trading rules and symbols; `money`: Decimal
rounding and fees; `client_ids`; `ports`: what a runtime gets from the application; `runner`: one tick
of a bot of any type) and one package per idea: `market_data`, `grid`, `trend`, `venues.paper`,
`venues.live`, `charts`. docs/architecture.md draws them.

Nothing in engine/ imports aiogram, handlers or the bot application; the packages import each other
only along the arrows of docs/architecture.md (tests/test_layout.py checks both).
"""
