"""The middleware that puts the current user into every handler's data, and keeps strangers out.

Data contract for handlers (by parameter name):
  fleet: Fleet, accounts: Accounts, services: Services, settings: Settings  (Dispatcher workflow data)
  user: UserDTO   registered through `accounts.register` on first contact (language from Telegram's
                  language_code), read on every later update
  lang: str       "ko" or "en", the user's chosen language
A person's update that is no confirm or cancel button of a two-step action drops their pending
confirmations first (`Confirmations.forget`): a confirmation acts as the very next step or never.
Updates that are not a person's own in their private chat (group and channel messages, messages sent on
behalf of a chat or without a sender, buttons pressed in a group) never reach the database: they get
`lang` from the sender's Telegram language only and go on to `handlers.groups`, the first router, which
answers them without a user.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, TelegramObject, Update, User

from bot.i18n import t
from bot.services.accounts import Accounts, language_from
from bot.services.confirmations import Confirmations
from bot.services.errors import NotFound
from handlers.callbacks import CancelCD, ConfirmCD
from handlers.groups import is_a_persons_own

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UserMiddleware(BaseMiddleware):
    """Outer middleware on `dp.update`: runs before any filter, after aiogram's user context and FSM."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: User | None = data.get("event_from_user")
        accounts: Accounts = data["accounts"]
        inner = event.event if isinstance(event, Update) else event
        if tg_user is None or not is_a_persons_own(inner):
            data["lang"] = language_from(tg_user.language_code if tg_user else None)
            return await handler(event, data)
        if not accounts.is_allowed(tg_user.id):
            await _refuse(data["bot"], event, tg_user)
            return None
        chat = data.get("event_chat")
        try:
            user = await accounts.get(tg_user.id)
        except NotFound:
            user = await accounts.register(
                telegram_id=tg_user.id,
                chat_id=chat.id if chat is not None else tg_user.id,
                username=tg_user.username,
                first_name=tg_user.first_name,
                language_code=tg_user.language_code,
            )
        # mutate `data` in place: aiogram's error middleware holds this same dict, so the error router
        # sees `user` and `lang` too
        data["user"] = user
        data["lang"] = user.language
        confirmations: Confirmations | None = data.get("confirmations")
        if confirmations is not None and not _answers_a_confirmation(inner):
            confirmations.forget(user.id)
        return await handler(event, data)


SECOND_TAPS = (f"{ConfirmCD.__prefix__}:", f"{CancelCD.__prefix__}:")


def _answers_a_confirmation(event: TelegramObject) -> bool:
    return isinstance(event, CallbackQuery) and (event.data or "").startswith(SECOND_TAPS)


async def _refuse(bot: Bot, event: TelegramObject, tg_user: User) -> None:
    """One polite refusal per update, in the stranger's language; nothing is stored."""
    text = t(language_from(tg_user.language_code), "common.not_allowed")
    log.info("refused update from telegram id %s (not on the allowlist)", tg_user.id)
    if not isinstance(event, Update):
        return
    if event.message is not None:
        await bot.send_message(event.message.chat.id, text)
    elif event.callback_query is not None:
        await bot.answer_callback_query(event.callback_query.id, text, show_alert=True)
