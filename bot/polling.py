"""Long polling that one bad update cannot stop.

aiogram validates a whole getUpdates answer at once: one update it cannot parse (a field of a type it does
not expect, a newer Bot API's shape) makes every fetch fail with ClientDecodeError at the same offset, so
no update is processed any more, for anyone. `SkipUnparseableUpdates` (a request middleware of the bot's
session, aiogram's hook around every API call) validates such an answer update by update, logs each one
that fails (its id and the failing fields, never its content: it may carry a secret someone typed) and
hands the dispatcher an empty `Update` with the same id in its place. aiogram's polling then moves the
offset past it as after any update, and `drop_empty_updates` (the first outer middleware of the
dispatcher) stops the stand-in before any handler, so the bot keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import ClientDecodeError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError
from pydantic import ValidationError

log = logging.getLogger(__name__)

MAX_REPORTED_FIELDS = 3


class SkipUnparseableUpdates(BaseRequestMiddleware):
    """getUpdates answers with the updates aiogram cannot parse replaced by empty stand-ins (logged)."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        try:
            return await make_request(bot, method)
        except ClientDecodeError as exc:
            if not isinstance(method, GetUpdates):
                raise
            updates = _one_by_one(bot, exc)
            if updates is None:
                raise
            return updates


def _one_by_one(bot: Bot, exc: ClientDecodeError) -> list[Update] | None:
    """The answer's updates parsed one at a time; None when the answer is not a list of updates at all."""
    answer = exc.data
    if (
        not isinstance(answer, dict)
        or answer.get("ok") is not True
        or not isinstance(answer.get("result"), list)
    ):
        return None
    updates: list[Update] = []
    for raw in answer["result"]:
        try:
            updates.append(Update.model_validate(raw, context={"bot": bot}))
        except ValidationError as error:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                log.error(
                    "an update without a valid update_id cannot be parsed nor skipped: %s", _fields(error)
                )
                return None
            log.warning("skipped update %d: aiogram cannot parse it (%s)", update_id, _fields(error))
            updates.append(Update(update_id=update_id))
    return updates


def _fields(error: ValidationError) -> str:
    """Where and why validation failed, without the values."""
    problems = [
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)[:MAX_REPORTED_FIELDS]
    ]
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


async def drop_empty_updates(handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
    """An update with no event (a skipped one's stand-in) goes no further: no handler has anything to do."""
    if isinstance(event, Update) and _event_of(event) is None:
        return UNHANDLED
    return await handler(event, data)


def _event_of(update: Update) -> object | None:
    try:
        return update.event
    except UpdateTypeLookupError:  # no field aiogram knows
        return None
