"""Buttons of messages the bot can no longer see or change: too old (Telegram hands the bot an
InaccessibleMessage) or inline messages (no message at all). Whatever the button would do, it does nothing
now: the person is told it is old and to send /menu for a fresh one. Included right after the group
router, before every feature router.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.i18n import t
from handlers.cosmetic import cosmetic

router = Router(name=__name__)


def is_gone(cq: CallbackQuery) -> bool:
    return not isinstance(cq.message, Message)


@router.callback_query(is_gone)
async def old_button(cq: CallbackQuery, lang: str) -> None:
    await cosmetic(cq.answer(t(lang, "common.old_button"), show_alert=True), "the old-button note")
