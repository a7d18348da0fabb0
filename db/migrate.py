"""`alembic upgrade head` (and friends) in-process, on the URL from settings."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from db.session import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


async def run_alembic(url: str, action: str, *args: str) -> None:
    """Run an alembic command ('upgrade', 'downgrade', 'check', ...) over one async connection."""
    config = alembic_config(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def _run(sync_connection: Connection) -> None:
                config.attributes["connection"] = sync_connection
                getattr(command, action)(config, *args)

            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


async def upgrade_head(url: str) -> None:
    await run_alembic(url, "upgrade", "head")
