"""/keys: the exchange API key, secret and passphrase, and the trading mode (paper or live).

A switch of the trading mode and the keys' removal take a second tap, which confirms the pending action
stored under a one-time token (bot.services.confirmations); the button carries the token only.

Each message that carried a secret is deleted before anything else happens (invariant 6); the accounts
service encrypts the values, and every answer shows only the masked key. Between the steps the values sit
in the FSM storage, which is in-process memory (MemoryStorage): they never reach the disk or a log.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from bot.i18n import t
from bot.services.accounts import EXCHANGES, Accounts
from bot.services.confirmations import Confirmations
from bot.services.dto import UserDTO
from bot.services.errors import ValidationError
from handlers import keyboards as kb
from handlers import texts as render
from handlers.callbacks import CancelCD, Confirm, ConfirmCD, MenuAction, MenuCD
from handlers.keyboards import KeysAction, KeysCD
from handlers.texts import show

log = logging.getLogger(__name__)

router = Router(name=__name__)

PASSPHRASE_EXCHANGES = frozenset({"bitget", "okx", "kucoin"})  # exchanges whose API keys carry a passphrase


class KeysForm(StatesGroup):
    api_key = State()
    secret = State()
    passphrase = State()


@router.message(Command("keys"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.keys))
async def keys(event: Message | CallbackQuery, state: FSMContext, user: UserDTO, lang: str) -> None:
    await state.clear()
    await show(event, render.keys(user, lang), kb.keys_menu(user, EXCHANGES, lang))


@router.callback_query(KeysCD.filter(F.action == KeysAction.set))
async def ask_api_key(cq: CallbackQuery, callback_data: KeysCD, state: FSMContext, lang: str) -> None:
    if callback_data.exchange not in EXCHANGES:
        await cq.answer(t(lang, "error.invalid.exchange"), show_alert=True)
        return
    await state.set_state(KeysForm.api_key)
    await state.set_data({"exchange": callback_data.exchange})
    await show(cq, t(lang, "keys.ask.api_key", exchange=callback_data.exchange.capitalize()))


@router.message(StateFilter(KeysForm.api_key), F.text, ~F.text.startswith("/"))
async def receive_api_key(message: Message, state: FSMContext, lang: str) -> None:
    await _forget(message)
    await state.update_data(api_key=message.text)
    await state.set_state(KeysForm.secret)
    await message.answer(t(lang, "keys.ask.secret"))


@router.message(StateFilter(KeysForm.secret), F.text, ~F.text.startswith("/"))
async def receive_secret(
    message: Message, state: FSMContext, accounts: Accounts, user: UserDTO, lang: str
) -> None:
    await _forget(message)
    data = await state.update_data(secret=message.text)
    if data["exchange"] in PASSPHRASE_EXCHANGES:
        await state.set_state(KeysForm.passphrase)
        await message.answer(t(lang, "keys.ask.passphrase"))
        return
    await _save(message, state, accounts, user, lang)


@router.message(StateFilter(KeysForm.passphrase), F.text, ~F.text.startswith("/"))
async def receive_passphrase(
    message: Message, state: FSMContext, accounts: Accounts, user: UserDTO, lang: str
) -> None:
    await _forget(message)
    await state.update_data(passphrase=message.text)
    await _save(message, state, accounts, user, lang)


async def _save(message: Message, state: FSMContext, accounts: Accounts, user: UserDTO, lang: str) -> None:
    data = await state.get_data()
    await state.clear()  # a refusal starts over: the secrets must not linger in the FSM storage
    updated = await accounts.set_api_keys(
        user.id,
        exchange_id=data["exchange"],
        api_key=data["api_key"],
        secret=data["secret"],
        passphrase=data.get("passphrase"),
    )
    text = f"{t(lang, 'keys.saved')}\n\n{render.keys(updated, lang)}"
    await message.answer(text, reply_markup=kb.keys_menu(updated, EXCHANGES, lang))


async def _forget(message: Message) -> None:
    """Delete the message that carried a secret, at once."""
    try:
        await message.delete()
    except TelegramBadRequest as exc:  # never log the message itself
        log.warning("could not delete a message with a secret in chat %s: %s", message.chat.id, exc.message)


@router.callback_query(KeysCD.filter(F.action.in_({KeysAction.paper, KeysAction.live})))
async def ask_mode(
    cq: CallbackQuery, callback_data: KeysCD, confirmations: Confirmations, user: UserDTO, lang: str
) -> None:
    mode = callback_data.action.value
    if mode == "live" and not user.has_api_keys:  # said before the confirmation; the service checks again
        raise ValidationError("trading_mode", "set your exchange API keys before live trading")
    token = confirmations.issue(user.id, Confirm.mode, mode=mode)
    await show(cq, t(lang, f"keys.confirm_{mode}"), kb.mode_confirm(mode, token, lang))


@router.callback_query(ConfirmCD.filter(F.action == Confirm.mode))
async def set_mode(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    accounts: Accounts,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.mode)
    updated = await accounts.set_trading_mode(user.id, pending["mode"])
    await show(
        cq,
        f"{t(lang, 'keys.mode_set')}\n\n{render.keys(updated, lang)}",
        kb.keys_menu(updated, EXCHANGES, lang),
    )


@router.callback_query(KeysCD.filter(F.action == KeysAction.clear))
async def ask_clear(cq: CallbackQuery, confirmations: Confirmations, user: UserDTO, lang: str) -> None:
    token = confirmations.issue(user.id, Confirm.keys_clear)
    await show(cq, t(lang, "keys.confirm_clear"), kb.keys_clear_confirm(token, lang))


@router.callback_query(ConfirmCD.filter(F.action == Confirm.keys_clear))
async def clear(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    accounts: Accounts,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    confirmations.consume(user.id, callback_data.token, Confirm.keys_clear)
    updated = await accounts.clear_api_keys(user.id)
    await show(
        cq,
        f"{t(lang, 'keys.cleared')}\n\n{render.keys(updated, lang)}",
        kb.keys_menu(updated, EXCHANGES, lang),
    )


@router.callback_query(CancelCD.filter(F.action.in_({Confirm.mode, Confirm.keys_clear})))
async def cancel(
    cq: CallbackQuery,
    callback_data: CancelCD,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    confirmations.revoke(user.id, callback_data.token, callback_data.action)
    await show(cq, render.keys(user, lang), kb.keys_menu(user, EXCHANGES, lang))
