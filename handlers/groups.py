"""The bot outside a person's private chat: groups, supergroups and channels, and messages no person sent.

Everything the bot does is one person's own business (their bots, balance and keys), so it works in the
private chat only. In a group, one of our commands gets a short reply that says so and links to the
private chat; everything else is ignored. A message sent on behalf of a chat (an anonymous admin, a
linked channel) or without a sender is no person's: its command is answered the same way in a group, the
rest ignored; in a private chat it gets one line asking for /start from the person's own account. A
button pressed in a group says where it works. Included first: no other router sees these updates, and
none of them reaches the database (the user middleware leaves them alone, `is_a_persons_own`).
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    TelegramObject,
)

from bot.i18n import t
from handlers.cosmetic import cosmetic

router = Router(name=__name__)

# our commands (bot.app.COMMANDS and /menu); a command of another bot (/start@otherbot) is not ours
OUR_COMMANDS = (
    "balance",
    "report",
    "notify",
    "risk",
    "positions",
    "pnl",
    "trades",
    "start",
    "menu",
    "bots",
    "newbot",
    "allocation",
    "stopall",
    "strategies",
    "backtest",
    "trade",
    "keys",
    "language",
    "help",
    "cancel",
)


def is_a_persons_own(event: TelegramObject) -> bool:
    """True for a person's update in their private chat (or on a button of no chat: an inline message)."""
    if isinstance(event, Message):
        sender = event.from_user
        return (
            event.chat.type == "private"
            and sender is not None
            and not sender.is_bot
            and event.sender_chat is None
        )
    if isinstance(event, CallbackQuery):
        return not event.from_user.is_bot and (event.message is None or event.message.chat.type == "private")
    sender = getattr(event, "from_user", None)
    chat = getattr(event, "chat", None)
    return sender is not None and not sender.is_bot and (chat is None or chat.type == "private")


def _outside(event: TelegramObject) -> bool:
    return not is_a_persons_own(event)


def _in_a_group(message: Message) -> bool:
    return message.chat.type != "private"


@router.message(_outside, _in_a_group, Command(*OUR_COMMANDS))
async def private_only(message: Message, bot: Bot, lang: str) -> None:
    me = await bot.me()
    username = me.username or ""
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=t(lang, "group.btn.open_private"), url=f"https://t.me/{username}")]
        ]
    )
    reply = message.answer(
        t(lang, "group.private_only", bot=username),
        reply_markup=markup,
        reply_parameters=ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True),
    )
    await cosmetic(reply, "the private-only note in a group")


@router.message(_outside, _in_a_group)
async def ignore(message: Message) -> None:
    """Group chatter, another bot's commands, messages on behalf of a chat: nothing to answer."""


@router.message(_outside)
async def no_person(message: Message, lang: str) -> None:
    """A private chat's message without a person behind it (no sender, or a bot)."""
    await cosmetic(message.answer(t(lang, "common.no_sender")), "the note on a message without a sender")


@router.callback_query(_outside)
async def button_in_a_group(cq: CallbackQuery, bot: Bot, lang: str) -> None:
    me = await bot.me()
    await cosmetic(
        cq.answer(t(lang, "group.button", bot=me.username or ""), show_alert=True), "a group button"
    )
