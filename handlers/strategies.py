"""/strategies: every strategy the user can see with its backtest figures (30-day ROI, win rate, max
drawdown, trades: computed by bot.services.backtests on the shipped candles, never typed in), saving a copy
with changed parameters (pick base -> name -> "key=value" pairs) and deleting the user's own copies.

A wrong name or parameter is answered with the reason and asked again (the state stays; /cancel leaves).
Ids in buttons are re-checked by the strategies service: another user's copy is "not found", and only the
user's own copies can be deleted, with a second tap that confirms the pending deletion stored under a
one-time token (bot.services.confirmations). Names and descriptions are HTML-escaped.
"""

from __future__ import annotations

import html
import re
from enum import StrEnum

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import t
from bot.services import validation as v
from bot.services.backtests import DEFAULT_SYMBOL, FIGURES_DAYS, Backtests, Figures, default_backtests
from bot.services.confirmations import Confirmations
from bot.services.dto import UserDTO
from bot.services.errors import NameTaken, NotFound, ValidationError
from bot.services.strategies import MAX_OWN_STRATEGIES, RISK_KEYS, TIMEFRAMES, Strategies, StrategyDTO
from handlers import keyboards as kb
from handlers.callbacks import CancelCD, Confirm, ConfirmCD
from handlers.texts import show

router = Router(name=__name__)

PAIR = re.compile(r"([a-z_][a-z0-9_]*)=(\S+)")
EXAMPLE = "leverage=3 stop_loss_percent=2.5"
TEXT_MAX = 1000
PERCENT_KEYS = ("stop_loss_percent", "take_profit_percent", "entry_percent")


class SaveStrategy(StatesGroup):
    base = State()
    name = State()  # data: base_id
    params = State()  # data: base_id, name


class StratAction(StrEnum):
    copy = "copy"
    base = "base"
    delete = "del"
    list = "list"
    cancel = "x"


class StrategyCD(CallbackData, prefix="sg"):
    action: StratAction
    strategy_id: int = 0


# --------------------------------------------------------------------------- rendering


def _button(text: str, action: StratAction, strategy_id: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=StrategyCD(action=action, strategy_id=strategy_id).pack()
    )


def _date(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d")


def strategy_line(strategy: StrategyDTO, figures: Figures | None, lang: str) -> str:
    badge = t(lang, "strategies.badge.builtin" if strategy.is_builtin else "strategies.badge.own")
    common = {
        "badge": badge,
        "name": html.escape(strategy.name),
        "kind": html.escape(strategy.kind),
        "timeframe": html.escape(strategy.timeframe),
        "description": html.escape(strategy.description[:200]),
    }
    if figures is None:
        return t(lang, "strategies.line_no_figures", **common)
    roi = figures.roi_percent
    return t(
        lang,
        "strategies.line",
        **common,
        roi=f"+{roi}" if roi > 0 else f"{roi}",
        win_rate=f"{figures.win_rate_percent}",
        drawdown=f"{figures.max_drawdown_percent}",
        trades=figures.trades,
    )


def strategy_list(strategies: list[StrategyDTO], figures: dict[int, Figures | None], lang: str) -> str:
    known = [f for f in figures.values() if f is not None]
    first = known[0] if known else None
    parts = [
        t(
            lang,
            "strategies.title",
            symbol=first.symbol if first else DEFAULT_SYMBOL,
            days=first.days if first else FIGURES_DAYS,
            start=_date(first.start_ts) if first else "-",
            end=_date(first.end_ts) if first else "-",
        )
    ]
    parts += [strategy_line(s, figures.get(s.id), lang) for s in strategies]
    parts.append(t(lang, "strategies.footer"))
    return "\n\n".join(parts)


def list_keyboard(strategies: list[StrategyDTO], lang: str) -> InlineKeyboardMarkup:
    rows = [[_button(t(lang, "strategies.btn.copy"), StratAction.copy)]]
    own = [s for s in strategies if not s.is_builtin]
    rows += [
        [
            _button(t(lang, "strategies.btn.delete", name=s.name), StratAction.delete, s.id)
            for s in own[i : i + 2]
        ]
        for i in range(0, len(own), 2)
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def base_keyboard(strategies: list[StrategyDTO], lang: str) -> InlineKeyboardMarkup:
    buttons = [_button(s.name, StratAction.base, s.id) for s in strategies]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_button(t(lang, "wizard.button.cancel"), StratAction.cancel)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def cancel_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(t(lang, "wizard.button.cancel"), StratAction.cancel)]]
    )


def tunable(strategy: StrategyDTO) -> dict[str, object]:
    """The parameters a copy may change, with their values: the timeframe, numeric indicator
    parameters and the risk defaults (nested objects such as the model's settings are not tunable)."""
    values: dict[str, object] = {"timeframe": strategy.timeframe}
    for key, value in strategy.params.items():
        if key != "risk" and isinstance(value, int | float) and not isinstance(value, bool):
            values[key] = value
    risk = strategy.params.get("risk") or {}
    values.update({key: risk[key] for key in RISK_KEYS if key in risk})
    return values


def params_text(strategy: StrategyDTO) -> str:
    return "\n".join(
        f"<code>{html.escape(key)}={html.escape(str(value))}</code>"
        for key, value in tunable(strategy).items()
    )


# --------------------------------------------------------------------------- list, delete


async def _list_screen(
    user: UserDTO, strategies: Strategies, backtests: Backtests, lang: str
) -> tuple[str, InlineKeyboardMarkup]:
    visible = await strategies.list_for(user.id)
    figures = await backtests.figures(visible)  # in a worker thread; cached by parameters
    return strategy_list(visible, figures, lang), list_keyboard(visible, lang)


@router.message(Command("strategies"))
async def strategies_command(
    message: Message,
    state: FSMContext,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    backtests: Backtests | None = None,
) -> None:
    await state.clear()
    placeholder = await message.answer(t(lang, "strategies.computing"))
    text, markup = await _list_screen(user, strategies, backtests or default_backtests(), lang)
    await placeholder.edit_text(text, reply_markup=markup)


@router.callback_query(StrategyCD.filter(F.action == StratAction.list))
async def strategies_button(
    cq: CallbackQuery,
    state: FSMContext,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    backtests: Backtests | None = None,
) -> None:
    await state.clear()
    text, markup = await _list_screen(user, strategies, backtests or default_backtests(), lang)
    await show(cq, text, markup)


async def _own(strategies: Strategies, user: UserDTO, strategy_id: int) -> StrategyDTO:
    strategy = await strategies.get(user.id, strategy_id)
    if strategy.is_builtin:
        raise NotFound("strategy")
    return strategy


@router.callback_query(StrategyCD.filter(F.action == StratAction.delete))
async def ask_delete(
    cq: CallbackQuery,
    callback_data: StrategyCD,
    strategies: Strategies,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
) -> None:
    strategy = await _own(strategies, user, callback_data.strategy_id)
    token = confirmations.issue(user.id, Confirm.strategy_delete, strategy_id=strategy.id)
    markup = kb.confirm(lang, "strategies.btn.delete_confirm", Confirm.strategy_delete, token)
    await show(cq, t(lang, "strategies.confirm_delete", name=html.escape(strategy.name)), markup)


@router.callback_query(ConfirmCD.filter(F.action == Confirm.strategy_delete))
async def delete(
    cq: CallbackQuery,
    callback_data: ConfirmCD,
    state: FSMContext,
    strategies: Strategies,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
    backtests: Backtests | None = None,
) -> None:
    pending = confirmations.consume(user.id, callback_data.token, Confirm.strategy_delete)
    strategy = await _own(strategies, user, pending["strategy_id"])
    await strategies.delete(user.id, strategy.id)
    await state.clear()
    text, markup = await _list_screen(user, strategies, backtests or default_backtests(), lang)
    note = t(lang, "strategies.deleted", name=html.escape(strategy.name))
    await show(cq, f"{note}\n\n{text}", markup)


@router.callback_query(CancelCD.filter(F.action == Confirm.strategy_delete))
async def cancel_delete(
    cq: CallbackQuery,
    callback_data: CancelCD,
    state: FSMContext,
    strategies: Strategies,
    confirmations: Confirmations,
    user: UserDTO,
    lang: str,
    backtests: Backtests | None = None,
) -> None:
    confirmations.revoke(user.id, callback_data.token, Confirm.strategy_delete)
    await strategies_button(cq, state, strategies, user, lang, backtests)


# --------------------------------------------------------------------------- save a copy


@router.callback_query(StrategyCD.filter(F.action == StratAction.cancel))
async def cancel_button(cq: CallbackQuery, state: FSMContext, lang: str) -> None:
    raw = await state.get_state()
    if raw is not None and raw in SaveStrategy:
        await state.clear()
        await show(cq, t(lang, "strategies.cancelled"))
    else:
        await show(cq, t(lang, "wizard.outdated"))


@router.callback_query(StrategyCD.filter(F.action == StratAction.copy))
async def ask_base(
    cq: CallbackQuery, state: FSMContext, strategies: Strategies, user: UserDTO, lang: str
) -> None:
    await state.clear()
    await state.set_state(SaveStrategy.base)
    await show(cq, t(lang, "strategies.ask.base"), base_keyboard(await strategies.list_for(user.id), lang))


@router.callback_query(StateFilter(SaveStrategy.base), StrategyCD.filter(F.action == StratAction.base))
async def chose_base(
    cq: CallbackQuery,
    callback_data: StrategyCD,
    state: FSMContext,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
) -> None:
    base = await strategies.get(user.id, callback_data.strategy_id)  # another user's copy: NotFound
    await state.set_state(SaveStrategy.name)
    await state.update_data(base_id=base.id)
    await show(
        cq,
        t(lang, "strategies.ask.name", base=html.escape(base.name), maximum=v.NAME_MAX),
        cancel_keyboard(lang),
    )


@router.callback_query(StrategyCD.filter(F.action == StratAction.base))
async def stale_base(cq: CallbackQuery, lang: str) -> None:
    await cq.answer(t(lang, "wizard.outdated"))


@router.message(StateFilter(SaveStrategy.name), F.text, ~F.text.startswith("/"))
async def receive_name(
    message: Message, state: FSMContext, strategies: Strategies, user: UserDTO, lang: str
) -> None:
    base = await strategies.get(user.id, int((await state.get_data())["base_id"]))
    try:
        name = v.validate_name(message.text or "")
    except ValidationError:
        await _reask(message, lang, t(lang, "strategies.err.name", maximum=v.NAME_MAX), _ask_name(base, lang))
        return
    own = [s for s in await strategies.list_for(user.id) if not s.is_builtin]
    if any(s.name == name for s in own):
        reason = t(lang, "strategies.err.name_taken", name=html.escape(name))
        await _reask(message, lang, reason, _ask_name(base, lang))
        return
    await state.update_data(name=name)
    await state.set_state(SaveStrategy.params)
    await message.answer(_ask_params(base, lang), reply_markup=cancel_keyboard(lang))


def _ask_name(base: StrategyDTO, lang: str) -> str:
    return t(lang, "strategies.ask.name", base=html.escape(base.name), maximum=v.NAME_MAX)


def _ask_params(base: StrategyDTO, lang: str) -> str:
    return t(
        lang, "strategies.ask.params", example=EXAMPLE, base=html.escape(base.name), params=params_text(base)
    )


async def _reask(message: Message, lang: str, reason: str, question: str) -> None:
    await message.answer(f"⚠️ {reason}\n\n{question}", reply_markup=cancel_keyboard(lang))


class Refused(Exception):
    """A wrong "key=value" answer; `reason` is the user's-language text (escaped)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_overrides(text: str, base: StrategyDTO, lang: str) -> dict[str, object]:
    """ "key=value" pairs separated by spaces, commas, semicolons or lines; "-" for none."""
    stripped = text.strip()
    if stripped in ("-", "—"):
        return {}
    if not stripped or len(stripped) > TEXT_MAX:
        raise Refused(t(lang, "strategies.err.format", example=EXAMPLE, text=html.escape(stripped[:40])))
    known = tunable(base)
    overrides: dict[str, object] = {}
    for token in re.split(r"[\s,;]+", re.sub(r"\s*=\s*", "=", stripped)):
        if not token:
            continue
        match = PAIR.fullmatch(token)
        if match is None:
            raise Refused(t(lang, "strategies.err.format", example=EXAMPLE, text=html.escape(token[:40])))
        key, value = match.groups()
        if key not in known:
            raise Refused(
                t(lang, "strategies.err.unknown_key", param=html.escape(key), base=html.escape(base.name))
            )
        if key in PERCENT_KEYS and not _percent_below_100(value):
            raise Refused(_value_reason(key, value, known, lang))
        overrides[key] = value
    return overrides


def _percent_below_100(value: str) -> bool:
    """The engine takes stop loss, take profit and entry percents above 0 and below 100."""
    try:
        number = v.parse_decimal(value, "percent")  # the one reading of numbers (no 1e2, NaN, 0x10)
    except ValidationError:
        return False
    return 0 < number < 100


def _value_reason(key: str, value: str, known: dict[str, object], lang: str) -> str:
    if key == "timeframe":
        rule = t(lang, "strategies.rule.timeframe", timeframes=", ".join(TIMEFRAMES))
    elif key in ("leverage", "max_positions"):
        rule = t(lang, f"strategies.rule.{key}")
    elif key in PERCENT_KEYS:
        rule = t(lang, "strategies.rule.percent")
    elif isinstance(known.get(key), int):
        rule = t(lang, "strategies.rule.integer")
    else:
        rule = t(lang, "strategies.rule.number")
    return t(lang, "strategies.err.value", value=html.escape(value[:40]), param=html.escape(key), rule=rule)


@router.message(StateFilter(SaveStrategy.params), F.text, ~F.text.startswith("/"))
async def receive_params(
    message: Message,
    state: FSMContext,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    backtests: Backtests | None = None,
) -> None:
    data = await state.get_data()
    base = await strategies.get(user.id, int(data["base_id"]))
    try:
        overrides = parse_overrides(message.text or "", base, lang)
        saved = await strategies.save_copy(user.id, base.id, name=data["name"], overrides=overrides)
    except Refused as refused:
        await _reask(message, lang, refused.reason, _ask_params(base, lang))
        return
    except NameTaken:  # taken meanwhile: back to the name
        await state.set_state(SaveStrategy.name)
        reason = t(lang, "strategies.err.name_taken", name=html.escape(data["name"]))
        await _reask(message, lang, reason, _ask_name(base, lang))
        return
    except ValidationError as err:
        if err.field == "strategy":
            await state.clear()
            await message.answer(f"⚠️ {t(lang, 'strategies.err.limit', limit=MAX_OWN_STRATEGIES)}")
            return
        # validators name "stop_loss" / "take_profit" what the strategy calls "stop_loss_percent" / ...
        key = next((k for k in overrides if k == err.field or k.startswith(f"{err.field}_")), err.field)
        reason = _value_reason(key, str(overrides.get(key, "")), tunable(base), lang)
        await _reask(message, lang, reason, _ask_params(base, lang))
        return
    await state.clear()
    changes = ", ".join(f"{key}={value}" for key, value in overrides.items()) or t(
        lang, "strategies.no_changes"
    )
    note = t(
        lang,
        "strategies.saved",
        name=html.escape(saved.name),
        base=html.escape(base.name),
        changes=html.escape(changes),
    )
    placeholder = await message.answer(f"{note}\n\n{t(lang, 'strategies.computing')}")
    text, markup = await _list_screen(user, strategies, backtests or default_backtests(), lang)
    await placeholder.edit_text(f"{note}\n\n{text}", reply_markup=markup)


@router.message(StateFilter(SaveStrategy.name, SaveStrategy.params), ~F.text)
async def not_text(message: Message, lang: str) -> None:
    await message.answer(t(lang, "wizard.err.text_only"))
