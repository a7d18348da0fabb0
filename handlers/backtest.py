"""/backtest: bot type -> parameters (from one of the user's bots, or the defaults / a strategy) -> period ->
a background run whose progress message is edited as it goes -> the summary and the chart as a photo.

The run happens in `bot.services.backtests.Backtests` (a worker thread): this handler returns as soon as the
run is launched, so the user's own next commands and every other user's are answered meanwhile. A bot id in a
button is re-checked through the fleet (someone else's bot -> "not found"); a strategy id through the
strategies service. Everything the user named (bots, strategies) is HTML-escaped.
"""

from __future__ import annotations

import contextlib
import html
import logging
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.i18n import t
from bot.services import backtest_params
from bot.services.backtests import (
    DEFAULT_SYMBOL,
    PERIOD_DAYS,
    BacktestBusy,
    BacktestFailed,
    Backtests,
    GridRequest,
    TrendRequest,
    default_backtests,
    hourly_candles,
    shipped_symbol,
)
from bot.services.dto import BotDTO, UserDTO
from bot.services.errors import NotFound, ValidationError
from bot.services.fleet import Fleet
from bot.services.strategies import Strategies, StrategyDTO
from bot.services.validation import LEVERAGE_MAX as LEVERAGE_CAP
from handlers.backtest_texts import (
    _date,
    _dec,
    _period_label,
    grid_params_text,
    grid_summary,
    trend_params_text,
    trend_summary,
)
from handlers.callbacks import MenuAction, MenuCD
from handlers.texts import num, show
from handlers.wizard import message_of

log = logging.getLogger(__name__)

router = Router(name=__name__)

DEFAULT_STRATEGY = "ai_model"
CENT = Decimal("0.01")


class BacktestFlow(StatesGroup):
    kind = State()
    source = State()
    strategy = State()
    period = State()
    params = State()  # typing parameters to change


class BtStep(StrEnum):
    kind = "k"  # value: "g" | "t"
    source = "s"  # value: "d" (defaults) or a bot id
    strategy = "st"  # value: a strategy id
    period = "p"  # value: "7" | "30" | "90" | "all"
    edit = "e"  # asked at the period question: type parameters to change
    cancel = "x"


class BacktestCD(CallbackData, prefix="bt"):
    """A /backtest button; `step` must be the question being asked (an old button is refused)."""

    step: BtStep
    value: str = ""


STATE_OF = {
    BtStep.kind: BacktestFlow.kind,
    BtStep.source: BacktestFlow.source,
    BtStep.strategy: BacktestFlow.strategy,
    BtStep.period: BacktestFlow.period,
    BtStep.edit: BacktestFlow.period,
}
BOT_TYPE = {"g": "grid", "t": "ai_trend"}


# --------------------------------------------------------------------------- keyboards


def _button(text: str, step: BtStep, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=BacktestCD(step=step, value=value).pack())


def _keyboard(lang: str, buttons: list[InlineKeyboardButton], per_row: int = 2) -> InlineKeyboardMarkup:
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    rows.append([_button(t(lang, "wizard.button.cancel"), BtStep.cancel)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def kind_keyboard(lang: str) -> InlineKeyboardMarkup:
    return _keyboard(
        lang,
        [
            _button(t(lang, "backtest.kind.trend"), BtStep.kind, "t"),
            _button(t(lang, "backtest.kind.grid"), BtStep.kind, "g"),
        ],
    )


def source_keyboard(bots: list[BotDTO], lang: str) -> InlineKeyboardMarkup:
    buttons = [_button(f"🤖 {b.name}", BtStep.source, str(b.id)) for b in bots]
    buttons.append(_button(t(lang, "backtest.source.defaults"), BtStep.source, "d"))
    return _keyboard(lang, buttons, per_row=1)


def strategy_keyboard(strategies: list[StrategyDTO], lang: str) -> InlineKeyboardMarkup:
    return _keyboard(lang, [_button(s.name, BtStep.strategy, str(s.id)) for s in strategies])


def period_keyboard(lang: str) -> InlineKeyboardMarkup:
    buttons = [_button(t(lang, "backtest.period.days", days=d), BtStep.period, str(d)) for d in PERIOD_DAYS]
    buttons.append(_button(t(lang, "backtest.period.all"), BtStep.period, "all"))
    markup = _keyboard(lang, buttons, per_row=4)
    markup.inline_keyboard.insert(-1, [_button(t(lang, "backtest.edit"), BtStep.edit)])
    return markup


# --------------------------------------------------------------------------- the dialog


@router.message(Command("backtest"))
@router.callback_query(MenuCD.filter(F.action == MenuAction.backtest))
async def backtest_command(event: Message | CallbackQuery, state: FSMContext, lang: str) -> None:
    await state.clear()
    await state.set_state(BacktestFlow.kind)
    candles = hourly_candles(DEFAULT_SYMBOL)
    text = t(
        lang, "backtest.choose_kind", first=_date(candles.timestamps[0]), last=_date(candles.timestamps[-1])
    )
    await show(event, text, kind_keyboard(lang))


@router.callback_query(BacktestCD.filter(F.step == BtStep.cancel))
async def cancel_button(cq: CallbackQuery, state: FSMContext, lang: str) -> None:
    raw = await state.get_state()
    if raw is not None and raw in BacktestFlow:
        await state.clear()
        await show(cq, t(lang, "wizard.cancelled"))
    else:
        await show(cq, t(lang, "wizard.outdated"))


@router.callback_query(BacktestCD.filter())
async def on_button(
    cq: CallbackQuery,
    callback_data: BacktestCD,
    state: FSMContext,
    bot: Bot,
    fleet: Fleet,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    backtests: Backtests | None = None,
) -> None:
    if await state.get_state() != STATE_OF[callback_data.step].state:
        await cq.answer(t(lang, "wizard.outdated"))
        return
    step, value = callback_data.step, callback_data.value
    if step == BtStep.kind:
        await _chose_kind(cq, state, fleet, strategies, user, lang, value)
    elif step == BtStep.source:
        await _chose_source(cq, state, fleet, strategies, user, lang, value)
    elif step == BtStep.strategy:
        strategy = await strategies.get(user.id, _id(value, "strategy"))
        await _trend_from(cq, state, strategy, lang, risk_of=None)
    elif step == BtStep.edit:
        await state.set_state(BacktestFlow.params)
        kind = (await state.get_data()).get("kind")
        await show(cq, t(lang, "backtest.edit.grid" if kind == "g" else "backtest.edit.trend"))
    else:
        await _chose_period(cq, state, bot, strategies, user, lang, value, backtests or default_backtests())


@router.message(BacktestFlow.params, F.text, ~F.text.startswith("/"))
async def on_params(
    message: Message, state: FSMContext, strategies: Strategies, user: UserDTO, lang: str
) -> None:
    """Typed parameters: checked, then the period question again with them (or the reason, to retype)."""
    data = await state.get_data()
    text = message.text or ""
    try:
        if data.get("kind") == "g":
            grid = backtest_params.update_grid(data["grid"], text)
            data = {**data, "grid": grid}
            strategy = None
        else:
            trend, name = backtest_params.update_trend(data["trend"], text, LEVERAGE_CAP)
            if name is not None:  # another strategy: its own SL / TP unless typed
                strategy = await strategies.by_name(user.id, name)
                trend["strategy_id"] = strategy.id
            else:
                strategy = await strategies.get(user.id, int(trend["strategy_id"]))
            data = {**data, "trend": trend}
    except (ValidationError, NotFound) as exc:
        await message.answer(t(lang, "backtest.edit.wrong", reason=html.escape(str(exc))))
        return
    await state.update_data(**data)
    await state.set_state(BacktestFlow.period)
    params = grid_params_text(data, lang) if strategy is None else trend_params_text(data, strategy, lang)
    last = hourly_candles(shipped_symbol(data["symbol"]) or DEFAULT_SYMBOL).timestamps[-1]
    await message.answer(
        t(lang, "backtest.choose_period", params=params, now=_when(last)), reply_markup=period_keyboard(lang)
    )


def _id(value: str, what: str) -> int:
    if not value.isdigit() or len(value) > 12:
        raise NotFound(what)
    return int(value)


async def _chose_kind(
    cq: CallbackQuery,
    state: FSMContext,
    fleet: Fleet,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    value: str,
) -> None:
    if value not in BOT_TYPE:
        await cq.answer(t(lang, "wizard.outdated"))
        return
    await state.update_data(kind=value)
    bots = [b for b in await fleet.list_bots(user.id) if b.bot_type == BOT_TYPE[value]]
    if bots:
        await state.set_state(BacktestFlow.source)
        await show(cq, t(lang, "backtest.choose_source"), source_keyboard(bots, lang))
        return
    note = t(lang, "backtest.choose_source_none")
    await _defaults(cq, state, strategies, user, lang, value, note)


async def _defaults(
    cq: CallbackQuery,
    state: FSMContext,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    kind: str,
    note: str = "",
) -> None:
    if kind == "g":
        await _ask_period(cq, state, lang, {"symbol": DEFAULT_SYMBOL, "grid": _grid_defaults()}, note=note)
        return
    await state.set_state(BacktestFlow.strategy)
    visible = await strategies.list_for(user.id)
    text = t(lang, "backtest.choose_strategy")
    await show(cq, f"{note}\n{text}" if note else text, strategy_keyboard(visible, lang))


def _grid_defaults() -> dict[str, Any]:
    request = GridRequest(DEFAULT_SYMBOL)
    return {
        "lower": None,
        "upper": None,
        "count": request.grid_count,
        "mode": request.mode,
        "investment": num(request.investment),
    }


async def _chose_source(
    cq: CallbackQuery,
    state: FSMContext,
    fleet: Fleet,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    value: str,
) -> None:
    kind = (await state.get_data()).get("kind", "t")
    if value == "d":
        await _defaults(cq, state, strategies, user, lang, kind)
        return
    bot = await fleet.get_bot(user.id, _id(value, "bot"))  # someone else's bot: NotFound
    if bot.bot_type != BOT_TYPE[kind]:
        raise NotFound("bot")
    symbol = shipped_symbol(bot.symbol) or DEFAULT_SYMBOL
    note = (
        ""
        if symbol == bot.symbol
        else t(lang, "backtest.symbol_note", symbol=html.escape(bot.symbol), fallback=symbol)
    )
    if kind == "g":
        grid = bot.grid
        if grid is None:
            raise NotFound("bot")
        params = {
            "lower": num(grid.lower_price),
            "upper": num(grid.upper_price),
            "count": grid.grid_count,
            "mode": grid.grid_mode,
            "investment": num(grid.total_investment),
        }
        await _ask_period(cq, state, lang, {"symbol": symbol, "grid": params}, note=note)
        return
    strategy = await _strategy_of(strategies, user, bot.strategy_id)
    await _trend_from(cq, state, strategy, lang, risk_of=bot, symbol=symbol, note=note)


async def _strategy_of(strategies: Strategies, user: UserDTO, strategy_id: int | None) -> StrategyDTO:
    """The bot's strategy; the default one when it has none (or it was deleted)."""
    if strategy_id is not None:
        with contextlib.suppress(NotFound):
            return await strategies.get(user.id, strategy_id)
    return await strategies.by_name(user.id, DEFAULT_STRATEGY)


async def _trend_from(
    cq: CallbackQuery,
    state: FSMContext,
    strategy: StrategyDTO,
    lang: str,
    *,
    risk_of: BotDTO | None,
    symbol: str = DEFAULT_SYMBOL,
    note: str = "",
) -> None:
    """Trend parameters: the bot's risk settings, or the strategy's own defaults."""
    if risk_of is not None:
        trend = {
            "strategy_id": strategy.id,
            "max_leverage": risk_of.max_leverage,
            "positions": risk_of.max_positions,
            "sl": _text(risk_of.stop_loss_percent),
            "tp": _text(risk_of.take_profit_percent),
        }
    else:
        risk = strategy.definition().risk
        trend = {
            "strategy_id": strategy.id,
            "max_leverage": risk.leverage,
            "positions": risk.max_positions,
            "sl": _text(risk.stop_loss_percent),
            "tp": _text(risk.take_profit_percent),
        }
    data = {"symbol": symbol, "trend": trend}
    await _ask_period(cq, state, lang, data, note=note, strategy=strategy)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


async def _ask_period(
    cq: CallbackQuery,
    state: FSMContext,
    lang: str,
    data: dict[str, Any],
    *,
    note: str = "",
    strategy: StrategyDTO | None = None,
) -> None:
    await state.update_data(**data)
    await state.set_state(BacktestFlow.period)
    params = grid_params_text(data, lang) if strategy is None else trend_params_text(data, strategy, lang)
    last = hourly_candles(shipped_symbol(data["symbol"]) or DEFAULT_SYMBOL).timestamps[-1]
    text = t(lang, "backtest.choose_period", params=params, now=_when(last))
    await show(cq, f"{note}\n{text}" if note else text, period_keyboard(lang))


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M")


async def _chose_period(
    cq: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    strategies: Strategies,
    user: UserDTO,
    lang: str,
    value: str,
    backtests: Backtests,
) -> None:
    if value != "all" and value not in {str(d) for d in PERIOD_DAYS}:
        await cq.answer(t(lang, "wizard.outdated"))
        return
    days = None if value == "all" else int(value)
    data = await state.get_data()
    timeframe = "1h"
    request: GridRequest | TrendRequest
    if data.get("kind") == "g":
        grid = data["grid"]
        request = GridRequest(
            symbol=data["symbol"],
            lower=_dec(grid["lower"]),
            upper=_dec(grid["upper"]),
            grid_count=int(grid["count"]),
            mode=grid["mode"],
            investment=Decimal(grid["investment"]),
            trigger=_dec(grid.get("trigger")),
            stop_upper=_dec(grid.get("stop_upper")),
            stop_lower=_dec(grid.get("stop_lower")),
        )
    else:
        trend = data["trend"]
        strategy = await strategies.get(user.id, int(trend["strategy_id"]))  # deleted meanwhile: NotFound
        timeframe = trend.get("timeframe") or strategy.timeframe
        request = TrendRequest(
            symbol=data["symbol"],
            strategy=strategy.definition(),
            max_leverage=int(trend["max_leverage"]),
            max_positions=int(trend["positions"]),
            stop_loss_percent=_dec(trend["sl"]),
            take_profit_percent=_dec(trend["tp"]),
            leverage=trend.get("leverage"),
            timeframe=trend.get("timeframe"),
        )
    message = message_of(cq)
    period = _period_label(days, lang)

    async def progress(percent: int) -> None:
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_text(t(lang, "backtest.progress", period=period, percent=percent))

    async def job() -> None:
        await _run_and_report(bot, user, lang, backtests, request, days, timeframe, progress, message)

    if backtests.running(user.id) >= backtests.per_user:
        raise BacktestBusy()  # the error router's alert; the period question stays
    await state.clear()
    await show(cq, t(lang, "backtest.progress", period=period, percent=0))
    backtests.launch(user.id, job)


async def _run_and_report(
    bot: Bot,
    user: UserDTO,
    lang: str,
    backtests: Backtests,
    request: GridRequest | TrendRequest,
    days: int | None,
    timeframe: str,
    progress: Any,
    message: Message,
) -> None:
    """The background part: run, then edit the progress message into the summary and send the chart."""
    try:
        if isinstance(request, GridRequest):
            grid = await backtests.run_grid(request, days, progress)
            summary, png, title = grid_summary(grid, lang), grid.chart_png, t(lang, "backtest.kind.grid")
        else:
            trend = await backtests.run_trend(request, days, progress)
            summary, png = trend_summary(trend, timeframe, lang), trend.chart_png
            title = html.escape(request.strategy.name)
    except BacktestFailed as exc:
        await _replace(bot, user, message, t(lang, "backtest.failed", reason=html.escape(exc.reason)))
        return
    except Exception:
        log.exception("backtest of user %s failed", user.id)
        await _replace(bot, user, message, t(lang, "backtest.failed", reason="internal error"))
        return
    await _replace(bot, user, message, summary)
    await bot.send_photo(
        user.chat_id,
        BufferedInputFile(png, filename=f"backtest-{user.id}.png"),
        caption=t(lang, "backtest.caption", title=title),
    )


async def _replace(bot: Bot, user: UserDTO, message: Message, text: str) -> None:
    try:
        await message.edit_text(text)
    except TelegramBadRequest:  # deleted or too old: send it anew
        await bot.send_message(user.chat_id, text)
