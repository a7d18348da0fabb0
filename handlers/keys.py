"""/keys: the exchange API key, secret and passphrase, and the trading mode: paper (simulated here), demo
(Bitget's demo trading, on demo keys) or live. Keys are checked with the exchange before they are stored
(their permissions, account kind and balances shown; wrong ones refused with the exchange's code).

A switch of the trading mode and the keys' removal take a second tap, which confirms the pending action
stored under a one-time token (bot.services.confirmations); the button carries the token only.

Each message that carried a secret is deleted before anything else happens (invariant 6); the accounts
service encrypts the values, and every answer shows only the masked key. Between the steps the values sit
in the FSM storage, which is in-process memory (MemoryStorage): they never reach the disk or a log.
Keys and the mode are handled in the private chat with the bot only: in a group the command says so.
A switch of mode, new keys or their removal while bots run (or stop, or hold something) on the venue
they would leave is refused with the bots' names, and the second tap offered stops them first.
"""

from __future__ import annotations

import contextlib
import html
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
from bot.services.errors import BotsOnVenue, DomainError, KeysNeeded, KeysRefused
from bot.services.exchange_errors import topic_of_code
from bot.services.fleet import Fleet
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


def _private(event: Message | CallbackQuery) -> bool:
    chat = event.chat if isinstance(event, Message) else (event.message.chat if event.message else None)
    return chat is not None and chat.type == "private"


async def _refuse_group(event: Message | CallbackQuery, lang: str) -> bool:
    """True (and the user told to use the private chat) where the event comes from a group."""
    if _private(event):
        return False
    if isinstance(event, CallbackQuery):
        await event.answer(t(lang, "error.private_only"), show_alert=True)
    else:
        await event.answer(t(lang, "error.private_only"))
    return True


@router.message(Command("keys"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.keys))
async def keys(event: Message | CallbackQuery, state: FSMContext, user: UserDTO, lang: str) -> None:
    if await _refuse_group(event, lang):
        return
    await state.clear()
    await show(event, render.keys(user, lang), kb.keys_menu(user, EXCHANGES, lang))


@router.callback_query(KeysCD.filter(F.action == KeysAction.set))
async def ask_api_key(
    cq: CallbackQuery, callback_data: KeysCD, state: FSMContext, accounts: Accounts, user: UserDTO, lang: str
) -> None:
    if await _refuse_group(cq, lang):
        return
    if callback_data.exchange not in EXCHANGES:
        await cq.answer(t(lang, "error.invalid.exchange"), show_alert=True)
        return
    bound = await accounts.bots_on_keys(user.id)
    if bound:
        await _offer_stop(cq, accounts, user, bound, "set", lang)
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
    """The keys are checked with the exchange before they are stored (Accounts.enter_api_keys): keys it
    refuses get one message saying why, with the exchange's code, and the wizard asks for the key again."""
    data = await state.get_data()
    await state.clear()  # a refusal starts over: the secrets must not linger in the FSM storage
    try:
        entered = await accounts.enter_api_keys(
            user.id,
            exchange_id=data["exchange"],
            api_key=data["api_key"],
            secret=data["secret"],
            passphrase=data.get("passphrase"),
            demo=data.get("demo"),
        )
    except KeysRefused as refused:
        await state.set_state(KeysForm.api_key)
        await state.set_data({k: data[k] for k in ("exchange", "demo", "switch") if k in data})
        await message.answer(_refusal(refused, lang))
        return
    updated = entered.user
    switched = False
    if data.get("switch"):  # asked for by a switch to demo or live: now it can be made
        try:
            updated = await accounts.set_trading_mode(user.id, "live", demo=bool(data.get("demo")))
            switched = True
        except DomainError as exc:
            log.info("keys saved, switch not made: %s", exc)
    text = t(
        lang,
        "keys.checked",
        api_key=html.escape(updated.masked_api_key or ""),
        kind=t(lang, f"keys.kind.{entered.kind}"),
        account=html.escape(entered.account_hint or "-"),
        spot=f"{entered.spot_usdt:,.2f}",
        futures=f"{entered.futures_usdt:,.2f}",
    )
    if entered.can_withdraw:
        text += "\n\n" + t(lang, "keys.withdraw_warning")
    if switched:
        text += "\n\n" + t(lang, "keys.switched")
    text += f"\n\n{render.keys(updated, lang)}"
    await message.answer(text, reply_markup=kb.keys_menu(updated, EXCHANGES, lang))


def _refusal(refused: KeysRefused, lang: str) -> str:
    if refused.reason == "no_trade":
        return t(lang, "keys.refused.no_trade")
    code = refused.exchange_code or "-"
    reason = t(lang, f"exchange.error.{topic_of_code(refused.exchange_code)}")
    key = "keys.refused.auth" if refused.reason == "auth" else "keys.refused.exchange"
    return t(lang, key, reason=reason, code=code)


async def _forget(message: Message) -> None:
    """Delete the message that carried a secret, at once."""
    try:
        await message.delete()
    except TelegramBadRequest as exc:  # never log the message itself
        log.warning("could not delete a message with a secret in chat %s: %s", message.chat.id, exc.message)


@router.callback_query(KeysCD.filter(F.action.in_({KeysAction.paper, KeysAction.live, KeysAction.demo})))
async def ask_mode(
    cq: CallbackQuery, callback_data: KeysCD, confirmations: Confirmations, user: UserDTO, lang: str
) -> None:
    """The switch waits for a second tap (a one-time token): live and demo trade real or demo money."""
    if await _refuse_group(cq, lang):
        return
    target = callback_data.action.value
    token = confirmations.issue(user.id, Confirm.mode, target=target)
    await show(cq, t(lang, f"keys.confirm_{target}"), kb.mode_confirm(target, token, lang))


@router.callback_query(ConfirmCD.filter(F.action == Confirm.mode))
async def confirm_mode(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    accounts: Accounts,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
    state: FSMContext | None = None,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.mode)
    await set_mode(cq, KeysCD(action=KeysAction(pending["target"])), accounts, user, lang, state)


async def set_mode(
    cq: CallbackQuery,
    callback_data: KeysCD,
    accounts: Accounts,
    user: UserDTO,
    lang: str,
    state: FSMContext | None = None,
) -> None:
    """Paper (simulated here), demo (Bitget's demo trading: live mode on demo keys) or live. Demo or live
    without keys for it asks for them, then switches."""
    if await _refuse_group(cq, lang):
        return
    target = callback_data.action.value
    mode = "paper" if target == "paper" else "live"
    demo = None if target == "paper" else target == "demo"
    try:
        updated = await accounts.set_trading_mode(user.id, mode, demo=demo)
    except BotsOnVenue:
        waiting = await accounts.bots_on_other_venues(user.id, mode, demo=demo)
        await _offer_stop(cq, accounts, user, waiting, target, lang)
        return
    except KeysNeeded as needed:
        if state is None:
            raise
        await state.set_state(KeysForm.api_key)
        await state.set_data({"exchange": "bitget", "demo": needed.demo, "switch": True})
        await show(cq, t(lang, "keys.ask.env.demo" if needed.demo else "keys.ask.env.live"))
        return
    await show(
        cq,
        f"{t(lang, 'keys.mode_set')}\n\n{render.keys(updated, lang)}",
        kb.keys_menu(updated, EXCHANGES, lang),
    )


async def _offer_stop(
    cq: CallbackQuery, accounts: Accounts, user: UserDTO, bot_ids: list[int], target: str, lang: str
) -> None:
    """Name the bots the change waits for, and offer to stop them first (a second tap)."""
    names = await accounts.bot_names(user.id, bot_ids)
    text = t(lang, "error.bots_on_venue", names=", ".join(html.escape(n) for n in names), count=len(names))
    await show(cq, text, kb.stop_bots_first(len(bot_ids), target, lang))


@router.callback_query(KeysCD.filter(F.action == KeysAction.stop_bots))
async def stop_bots(
    cq: CallbackQuery,
    callback_data: KeysCD,
    state: FSMContext,
    accounts: Accounts,
    fleet: Fleet,
    user: UserDTO,
    lang: str,
) -> None:
    """Stop the bots the change waits for (keeping their holdings), then make the change if it can."""
    if await _refuse_group(cq, lang):
        return
    target = callback_data.target
    mode_target = target in ("paper", "live", "demo")
    waiting = (
        await accounts.bots_on_other_venues(
            user.id,
            "paper" if target == "paper" else "live",
            demo=None if target == "paper" else target == "demo",
        )
        if mode_target
        else await accounts.bots_on_keys(user.id)
    )
    for bot_id in waiting:
        with contextlib.suppress(DomainError):  # stopped meanwhile
            await fleet.stop(user.id, bot_id, holdings="keep")
    if mode_target:
        await set_mode(cq, KeysCD(action=KeysAction(target)), accounts, user, lang, state)
    elif target == "clear":
        await clear(cq, accounts, user, lang)
    else:
        await ask_api_key(cq, KeysCD(action=KeysAction.set), state, accounts, user, lang)


@router.callback_query(KeysCD.filter(F.action == KeysAction.clear))
async def ask_clear(
    cq: CallbackQuery, accounts: Accounts, confirmations: Confirmations, user: UserDTO, lang: str
) -> None:
    if await _refuse_group(cq, lang):
        return
    bound = await accounts.bots_on_keys(user.id)
    if bound:
        await _offer_stop(cq, accounts, user, bound, "clear", lang)
        return
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
    if await _refuse_group(cq, lang):
        return
    confirmations.consume(user.id, callback_data.token, Confirm.keys_clear)
    try:
        updated = await accounts.clear_api_keys(user.id)
    except BotsOnVenue:
        await _offer_stop(cq, accounts, user, await accounts.bots_on_keys(user.id), "clear", lang)
        return
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
