"""Alembic environment, the `alembic init -t async` shape; the URL comes from multibot's settings.

`db.migrate` runs it in-process by handing over an open connection (config.attributes["connection"]).
"""

from __future__ import annotations

import asyncio
import logging
from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy.engine import Connection

from db.models import Base
from db.session import create_engine

config = context.config
if config.attributes.get("configure_logger", True):
    # the settings live in pyproject.toml's [tool.alembic]; an alembic.ini, where one is given, may
    # still carry a logging configuration
    if config.config_file_name is not None and Path(config.config_file_name).is_file():
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)-5.5s [%(name)s] %(message)s")
        logging.getLogger("alembic").setLevel(logging.INFO)

target_metadata = Base.metadata


def _url() -> str:
    # db.migrate hands the URL over in the main section; the CLI has none (no alembic.ini) and reads settings
    if config.file_config.has_section(config.config_ini_section):
        url = config.get_main_option("sqlalchemy.url")
        if url:
            return url
    from bot.config import load_settings

    return load_settings().database_url


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    backend = connection.dialect.name if connection is not None else url.split(":", 1)[0].split("+")[0]
    context.configure(
        connection=connection,
        url=url if connection is None else None,
        target_metadata=target_metadata,
        render_as_batch=backend == "sqlite",
        compare_type=True,
        literal_binds=connection is None,
        dialect_opts={"paramstyle": "named"} if connection is None else {},
    )


def run_migrations_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
