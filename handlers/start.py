"""/start, /help, /cancel, the language choice and the main menu.

This router is included first so /cancel and /start work from inside any wizard or edit.
`fallback_router` is included last: it answers what nothing else handled.
"""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.i18n import t
from bot.services.account_money import AccountMoney
from bot.services.accounts import Accounts
from bot.services.dto import UserDTO
from handlers import keyboards as kb
from handlers.callbacks import MenuAction, MenuCD
from handlers.money_texts import money_text, signed_money
from handlers.texts import show

router = Router(name=__name__)
fallback_router = Router(name=f"{__name__}.fallback")


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext, lang: str) -> None:
    was_busy = await state.get_state() is not None
    await state.clear()
    await message.answer(
        t(lang, "common.cancelled" if was_busy else "common.nothing_to_cancel"),
        reply_markup=kb.main_menu(lang),
    )


@router.message(CommandStart())
async def start(message: Message, state: FSMContext, user: UserDTO, lang: str) -> None:
    await state.clear()
    name = message.from_user.first_name if message.from_user else user.username or ""
    await message.answer(t(lang, "start.welcome", name=html.escape(name)), reply_markup=kb.main_menu(lang))


@router.message(Command("help"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.help))
async def help_(event: Message | CallbackQuery, lang: str) -> None:
    await show(event, t(lang, "help.text"), kb.back_to_menu(lang))


@router.message(Command("menu"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.main))
async def main_menu(
    event: Message | CallbackQuery, state: FSMContext, money: AccountMoney, user: UserDTO, lang: str
) -> None:
    await state.clear()
    status = await money.status(user.id)
    line = t(
        lang,
        "menu.status",
        equity=money_text(status.equity) if status.equity is not None else "-",
        today=signed_money(status.today),
        running=status.running,
        bots=status.bots,
    )
    await show(event, f"{line}\n\n{t(lang, 'menu.title')}", kb.main_menu(lang))


@router.message(Command("language"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.language))
async def choose_language(event: Message | CallbackQuery, lang: str) -> None:
    await show(event, t(lang, "lang.choose"), kb.languages())


@router.callback_query(kb.LangCD.filter())
async def set_language(
    cq: CallbackQuery, callback_data: kb.LangCD, accounts: Accounts, user: UserDTO
) -> None:
    updated = await accounts.set_language(user.id, callback_data.code)
    await show(
        cq,
        f"{t(updated.language, 'lang.set')}\n\n{t(updated.language, 'menu.title')}",
        kb.main_menu(updated.language),
    )


@fallback_router.callback_query()
async def unknown_button(cq: CallbackQuery, lang: str) -> None:
    await cq.answer(t(lang, "common.unknown_button"), show_alert=True)


@fallback_router.message()
async def unknown_message(message: Message, lang: str) -> None:
    await message.answer(t(lang, "common.unknown_message"), reply_markup=kb.main_menu(lang))
