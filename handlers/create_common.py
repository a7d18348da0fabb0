"""What both bot-creation wizards share besides the step engine (`handlers.wizard`): the /newbot entry and
the common steps (name, symbol, allocation, risk).

`router` here holds the entry (/newbot and the main menu's "new bot" button, then the type choice); it is
attached under `handlers.create_trend.router`, so including the two wizard routers is enough.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import t
from bot.services import validation as v
from bot.services.dto import UserDTO
from bot.services.errors import NameTaken, OverAllocation, ValidationError
from bot.services.fleet import Fleet, RiskLimits
from handlers.callbacks import MenuAction, MenuCD
from handlers.cosmetic import cosmetic
from handlers.wizard import (
    BotKind,
    NewBotCD,
    Reask,
    Step,
    WizardAction,
    WizardCD,
    WizardInput,
    cancel_command,
    message_of,
    percent_text,
    register_wizard_states,
)

router = Router(name=__name__)

POPULAR_SYMBOLS = ("BTCUSDT", "ETHUSDT")
QUICK_ALLOCATIONS = (Decimal(10), Decimal(25))
DEFAULT_RISK = RiskLimits()


# --------------------------------------------------------------------------- the type choice


class NewBot(StatesGroup):
    kind = State()  # choosing AI trend or grid


register_wizard_states(NewBot)  # so the wizards' cancel button also closes the type choice


def type_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(lang, "wizard.type.trend"), callback_data=NewBotCD(kind=BotKind.trend).pack()
                ),
                InlineKeyboardButton(
                    text=t(lang, "wizard.type.grid"), callback_data=NewBotCD(kind=BotKind.grid).pack()
                ),
            ],
            [
                InlineKeyboardButton(
                    text=t(lang, "wizard.button.cancel"),
                    callback_data=WizardCD(step="kind", action=WizardAction.cancel).pack(),
                )
            ],
        ]
    )


@router.message(Command("cancel"), StateFilter(NewBot))
async def cancel_type_choice(message: Message, state: FSMContext, lang: str) -> None:
    await cancel_command(message, state, lang)


@router.message(Command("newbot"))
async def newbot_command(message: Message, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str) -> None:
    await _offer_types(message, state, fleet, user, lang)


@router.callback_query(MenuCD.filter(F.action == MenuAction.newbot))
async def newbot_button(cq: CallbackQuery, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str) -> None:
    await cosmetic(cq.answer(), "answering the button")
    await _offer_types(message_of(cq), state, fleet, user, lang)


@router.message(StateFilter(NewBot), ~F.text.startswith("/"))
async def type_not_chosen(message: Message, lang: str) -> None:
    await message.answer(t(lang, "wizard.err.use_buttons"), reply_markup=type_keyboard(lang))


async def _offer_types(message: Message, state: FSMContext, fleet: Fleet, user: UserDTO, lang: str) -> None:
    """The type choice, unless no bot can be created at all (too many bots, nothing left to allocate)."""
    await state.clear()
    summary = await fleet.allocation(user.id)
    if len(summary.shares) >= fleet.max_bots_per_user:
        await message.answer(t(lang, "wizard.err.too_many_bots", limit=fleet.max_bots_per_user))
        return
    if summary.free_percent <= 0:
        await message.answer(t(lang, "wizard.err.nothing_free"))
        return
    await state.set_state(NewBot.kind)
    await message.answer(
        t(lang, "wizard.choose_type", free=percent_text(summary.free_percent)),
        reply_markup=type_keyboard(lang),
    )


# --------------------------------------------------------------------------- the common steps


async def check_name(raw: str, inp: WizardInput) -> str:
    name = v.validate_name(raw)
    if any(bot.name == name for bot in await inp.fleet.list_bots(inp.user.id)):
        raise NameTaken(name)
    return name


async def name_params(inp: WizardInput) -> dict[str, object]:
    return {"maximum": v.NAME_MAX}


async def check_symbol(raw: str, inp: WizardInput) -> str:
    try:
        symbol = v.normalize_symbol(raw)
    except ValidationError:
        symbol = None
    if symbol is None or await inp.fleet.markets.rules(symbol) is None:
        raise Reask("wizard.rule.symbol", symbol=escape(raw.strip()[:40]))
    return symbol


async def symbol_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    return [
        (symbol, symbol) for symbol in POPULAR_SYMBOLS if await inp.fleet.markets.rules(symbol) is not None
    ]


async def free_percent(inp: WizardInput) -> Decimal:
    return (await inp.fleet.allocation(inp.user.id)).free_percent


async def check_allocation(raw: str, inp: WizardInput) -> str:
    percent = v.validate_allocation(raw)
    free = await free_percent(inp)
    if percent > free:
        raise OverAllocation(percent, free)
    return str(percent)


async def allocation_params(inp: WizardInput) -> dict[str, object]:
    return {"free": percent_text(await free_percent(inp))}


async def allocation_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    free = await free_percent(inp)
    quick = [(f"{percent_text(p)} %", percent_text(p)) for p in QUICK_ALLOCATIONS if p < free]
    if free > 0:
        quick.append((t(inp.lang, "wizard.button.all_free", free=percent_text(free)), percent_text(free)))
    return quick


def max_leverage(fleet: Fleet) -> int:
    return min(fleet.max_leverage, v.LEVERAGE_MAX)


async def check_leverage(raw: str, inp: WizardInput) -> str:
    return str(v.validate_leverage(raw, max_leverage(inp.fleet)))


async def leverage_params(inp: WizardInput) -> dict[str, object]:
    return {
        "maximum": max_leverage(inp.fleet),
        "default": min(DEFAULT_RISK.max_leverage, max_leverage(inp.fleet)),
    }


async def leverage_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    default = min(DEFAULT_RISK.max_leverage, max_leverage(inp.fleet))
    return [(t(inp.lang, "wizard.button.default", value=f"{default}x"), str(default))]


async def check_positions(raw: str, inp: WizardInput) -> str:
    return str(v.validate_positions(raw))


async def positions_params(inp: WizardInput) -> dict[str, object]:
    return {"maximum": v.POSITIONS_MAX, "default": DEFAULT_RISK.max_positions}


async def positions_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    default = DEFAULT_RISK.max_positions
    return [(t(inp.lang, "wizard.button.default", value=str(default)), str(default))]


async def check_stop_loss(raw: str, inp: WizardInput) -> str:
    return str(v.validate_stop_loss(raw))


async def stop_loss_params(inp: WizardInput) -> dict[str, object]:
    return {"default": percent_text(DEFAULT_RISK.stop_loss_percent)}


async def stop_loss_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    default = percent_text(DEFAULT_RISK.stop_loss_percent)
    return [(t(inp.lang, "wizard.button.default", value=f"{default} %"), default)]


async def check_take_profit(raw: str, inp: WizardInput) -> str:
    return str(v.validate_take_profit(raw))


async def take_profit_params(inp: WizardInput) -> dict[str, object]:
    return {"default": percent_text(DEFAULT_RISK.take_profit_percent)}


async def take_profit_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    default = percent_text(DEFAULT_RISK.take_profit_percent)
    return [(t(inp.lang, "wizard.button.default", value=f"{default} %"), default)]


def common_steps(states: Any) -> list[Step]:
    """Name, symbol and allocation, on the wizard's own states `states.name`, `.symbol`, `.allocation`."""
    return [
        Step("name", states.name, check_name, name_params),
        Step("symbol", states.symbol, check_symbol, buttons=symbol_buttons),
        Step("allocation", states.allocation, check_allocation, allocation_params, allocation_buttons),
    ]


def risk_steps(states: Any) -> list[Step]:
    """Leverage, max positions, SL % and TP %, each with a one-tap default (RiskLimits' defaults)."""
    return [
        Step("leverage", states.leverage, check_leverage, leverage_params, leverage_buttons),
        Step("max_positions", states.max_positions, check_positions, positions_params, positions_buttons),
        Step("stop_loss", states.stop_loss, check_stop_loss, stop_loss_params, stop_loss_buttons),
        Step("take_profit", states.take_profit, check_take_profit, take_profit_params, take_profit_buttons),
    ]
