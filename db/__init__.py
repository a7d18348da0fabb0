"""The database: SQLAlchemy models (`models`, with the column types of `types` and the naming convention
of `base`), the engine and sessions with SQLite's single writer (`session`), multi-row statements for the
engine's hot path (`bulk`), the queries that keep the invariants inside one transaction (`queries`) and
migrations run in-process (`migrate`).

It imports SQLAlchemy, Alembic and the drivers; never the engine, the bot application or aiogram.
"""
