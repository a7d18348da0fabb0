"""One place where a refused request becomes a message in the user's language.

The fleet and accounts services raise DomainError subclasses with a stable `code` and the numbers the
message needs; the text key is "error.<code>" ("error.invalid.<field>" for a ValidationError).
A button press gets the message as an alert; a typed answer gets it as a reply, and when a wizard or an
edit is waiting for a value, the reply asks again (the FSM state is left as it was).
"""

from __future__ import annotations

import html
import logging
from decimal import Decimal

from aiogram import Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import ErrorEvent

from bot.i18n import CATALOG, DEFAULT_LANGUAGE, t
from bot.services.errors import DomainError, ValidationError
from handlers.cosmetic import cosmetic
from handlers.texts import num
from handlers.wizard import OldButton

log = logging.getLogger(__name__)

router = Router(name=__name__)

ALERT_MAX = 200  # Telegram cuts callback alerts at 200 characters


def error_text(error: DomainError, lang: str) -> str:
    """The user's-language text of a domain error; the English service message when no key exists."""
    key = f"error.{error.code}"
    if isinstance(error, ValidationError) and error.code == "invalid":
        key = f"error.invalid.{error.field}"
    table = CATALOG[DEFAULT_LANGUAGE]
    if key not in table:
        log.warning("no text for domain error %s (%s)", key, error.message)
        return t(lang, "error.generic", message=html.escape(error.message))
    return t(lang, key, **_params(error, lang))


def _params(error: DomainError, lang: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in error.params.items():
        if isinstance(value, Decimal | int) and not isinstance(value, bool):
            params[name] = num(value)
        else:
            params[name] = html.escape(str(value))
    for name in ("wallet", "source"):  # WalletShort names the wallets: spot, futures
        if name in error.params and f"wallet.{error.params[name]}" in CATALOG[DEFAULT_LANGUAGE]:
            params[name] = t(lang, f"wallet.{error.params[name]}")
    if "setting" in error.params:  # StopBotFirst names the setting in English
        key = f"field.{error.params['setting']}"
        params["setting"] = t(lang, key) if key in CATALOG[DEFAULT_LANGUAGE] else params["setting"]
    return params


@router.error(ExceptionTypeFilter(OldButton))
async def old_button(event: ErrorEvent, lang: str = DEFAULT_LANGUAGE) -> None:
    """A button of a message the bot can no longer see (handlers.old_buttons answers most of them)."""
    if event.update.callback_query is not None:
        query = event.update.callback_query.answer(t(lang, "common.old_button"), show_alert=True)
        await cosmetic(query, "the old-button note")


@router.error(ExceptionTypeFilter(DomainError))
async def domain_error(
    event: ErrorEvent, lang: str = DEFAULT_LANGUAGE, state: FSMContext | None = None
) -> None:
    error = event.exception
    assert isinstance(error, DomainError)
    text = error_text(error, lang)
    update = event.update
    if update.callback_query is not None:  # the alert is the answer; an expired query cannot show it
        await cosmetic(update.callback_query.answer(text[:ALERT_MAX], show_alert=True), "an error alert")
    elif update.message is not None:
        if state is not None and await state.get_state() is not None:  # still waiting for a value
            text = f"{text}\n{t(lang, 'error.ask_again')}"
        await update.message.answer(text)


@router.error()
async def unexpected(event: ErrorEvent, lang: str = DEFAULT_LANGUAGE) -> None:
    """Anything no service turned into a domain error (a bug, an outage): logged with its traceback, as
    aiogram would, and the person is told, so no button keeps spinning and no message goes unanswered."""
    error = event.exception
    log.error("unexpected %s in update %s", type(error).__name__, event.update.update_id, exc_info=error)
    text = t(lang, "error.unexpected")
    update = event.update
    if update.callback_query is not None:
        await cosmetic(update.callback_query.answer(text[:ALERT_MAX], show_alert=True), "an error alert")
    elif update.message is not None and update.message.chat.type == "private":
        await cosmetic(update.message.answer(text), "an error note")
