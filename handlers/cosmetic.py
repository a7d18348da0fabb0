"""Cosmetic calls: the ones that decorate an action without being it (taking the buttons off an answered
question, acknowledging a button's spinner, a chat action, a short note in a group). They never fail the
action: a 429 is waited out when it is short (once), and any refusal or network error is logged and
skipped, so the user's answer is kept and the step goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods import TelegramMethod

log = logging.getLogger(__name__)

MAX_WAIT = 2.0  # seconds of a 429 worth waiting out for a cosmetic call; longer ones are skipped


async def cosmetic(call: TelegramMethod[Any], what: str) -> bool:
    """Await `call` (a bound aiogram method, e.g. `message.edit_reply_markup(...)`); False when skipped."""
    for attempt in (1, 2):
        try:
            await call
        except TelegramRetryAfter as exc:
            if attempt == 1 and exc.retry_after <= MAX_WAIT:
                await asyncio.sleep(exc.retry_after)
                continue
            log.info("skipped %s: flood control, retry after %s s", what, exc.retry_after)
            return False
        except TelegramAPIError as exc:  # refused (400, 403, 404, 5xx) or the network failed
            log.info("skipped %s: %s: %s", what, type(exc).__name__, exc.message)
            return False
        return True
    return False
