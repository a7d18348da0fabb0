"""The user's row for the settings services (reports, notifications, risk guards): read, or locked for a
change, and refused as a ValidationError when the user does not exist."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import ValidationError
from db import queries as q
from db.models import User
from db.session import Database


async def read_user(db: Database, user_id: int) -> User:
    async with db.read() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise ValidationError("user", str(user_id))
    return user


async def locked_user(session: AsyncSession, user_id: int) -> User:
    """The user's row locked in `session`'s write transaction (db.queries.lock_user)."""
    user = await q.lock_user(session, user_id)
    if user is None:
        raise ValidationError("user", str(user_id))
    return user
