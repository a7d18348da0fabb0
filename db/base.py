"""Declarative base with a naming convention, so constraint names are stable across databases."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def from_ms(ts: int | None) -> datetime:
    """Naive UTC of a time in ms since the epoch (now when None), as the TIMESTAMP columns hold it."""
    if ts is None:
        return utcnow()
    return _from_ms(ts)


@functools.lru_cache(maxsize=4096)  # the fills of one price point share their ts (datetimes are immutable)
def _from_ms(ts: int) -> datetime:
    return datetime.fromtimestamp(ts / 1000, UTC).replace(tzinfo=None)


def utcnow() -> datetime:
    """Naive UTC, as the seed's TIMESTAMP columns (without time zone) hold it."""
    return datetime.now(UTC).replace(tzinfo=None)
