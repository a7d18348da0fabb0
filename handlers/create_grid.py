"""The grid bot wizard: name -> symbol -> allocation -> lower -> upper -> grid count ->
arithmetic|geometric -> total investment -> trigger, stop_upper, stop_lower (each skippable) ->
the PREVIEW -> "Create" -> Fleet.create_grid_bot. Nothing is written before "Create".

Each answer is checked against the answers before it with the same rules the fleet applies at creation
(bot.services.validation, the market's tick and minimums), so the preview's grid is the one that will be
written.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from html import escape

from aiogram import Router
from aiogram.fsm.state import State, StatesGroup

from bot.config import Settings
from bot.i18n import t
from bot.services import validation as v
from bot.services.dto import AllocationChange
from bot.services.errors import AgainstThePrice, DomainError
from bot.services.fleet import InsufficientCapital, plan_grid
from bot.services.grid_plan import grid_fee_rates
from engine.grid import lines as grid_math
from engine.markets import MarketRules
from handlers import create_common as common
from handlers import grid_suggestions
from handlers.grid_preview import compute_preview, money, number, render_preview
from handlers.wizard import (
    Answers,
    BotKind,
    Reask,
    Step,
    Wizard,
    WizardInput,
    as_reask,
    register_wizard_states,
)

DEFAULT_MAKER_FEE = Settings.model_fields["maker_fee_rate"].default
DEFAULT_TAKER_FEE = Settings.model_fields["taker_fee_rate"].default
QUICK_GRID_COUNTS = (10, 20, 50)
# What a user may type for the mode, in either language.
MODE_WORDS = {
    "a": "arithmetic",
    "arith": "arithmetic",
    "등차": "arithmetic",
    "g": "geometric",
    "geo": "geometric",
    "등비": "geometric",
}


CENT = Decimal("0.01")
ALLOCATED_HEADROOM = Decimal("0.01")  # the "allocated" button keeps 1 % for price moves before the start


class GridWizard(StatesGroup):
    name = State()
    symbol = State()
    allocation = State()
    lower = State()
    upper = State()
    count = State()
    mode = State()
    investment = State()
    trigger = State()
    stop_upper = State()
    stop_lower = State()
    confirm = State()


# ---- what the steps need


async def _market(inp: WizardInput) -> MarketRules:
    market = await inp.fleet.markets.rules(inp.answers["symbol"])
    if market is None:  # the catalog changed under the wizard
        raise Reask("wizard.rule.symbol", field="symbol", symbol=escape(inp.answers["symbol"]))
    return market


def _maker_fee(inp: WizardInput) -> Decimal:
    return inp.settings.maker_fee_rate if inp.settings is not None else DEFAULT_MAKER_FEE


async def _fees(inp: WizardInput) -> tuple[Decimal, Decimal]:
    """(maker, taker) the user's grid pays: their account's own rates when they trade live or demo, the
    paper venue's configured ones otherwise (bot.services.grid_plan.grid_fee_rates)."""
    return await grid_fee_rates(
        getattr(inp.fleet, "fee_rates_for", None),
        inp.user.id,
        inp.answers["symbol"],
        _maker_fee(inp),
        _taker_fee(inp),
    )


async def account_equity(inp: WizardInput) -> Decimal | None:
    """The account's equity in quote currency when the fleet can tell it (`Fleet.account_equity(user_id)`),
    else None: the preview then shows the allocation in percent only."""
    reader = getattr(inp.fleet, "account_equity", None)
    return await reader(inp.user.id) if reader is not None else None


def _params(inp: WizardInput, **override: object) -> v.GridParams:
    """The grid's answers so far (and `override`), checked together; unanswered optional ones are None."""
    answers = inp.answers
    values: dict[str, object] = {
        "lower": answers.get("lower_price"),
        "upper": answers.get("upper_price"),
        "grid_count": answers.get("grid_count"),
        "mode": answers.get("grid_mode") or "arithmetic",
        "total_investment": answers.get("total_investment") or "1",
        "trigger_price": answers.get("trigger_price") or None,
        "stop_upper": answers.get("stop_upper") or None,
        "stop_lower": answers.get("stop_lower") or None,
    }
    values.update(override)
    return v.validate_grid_params(**values)  # type: ignore[arg-type]


def _lines(inp: WizardInput, market: MarketRules, count: int, mode: str) -> list[Decimal]:
    lower, upper = inp.decimal("lower_price"), inp.decimal("upper_price")
    assert lower is not None and upper is not None
    try:
        return grid_math.grid_lines(lower, upper, count, mode, market.price_tick)
    except ValueError:
        raise Reask(
            "wizard.err.narrow", field="grid_count", tick=number(market.price_tick), count=count
        ) from None


async def _quote(inp: WizardInput) -> dict[str, object]:
    return {"quote": (await _market(inp)).quote, "symbol": inp.answers["symbol"]}


# ---- lower, upper

RANGE_SUGGESTIONS = (Decimal(5), Decimal(10), Decimal(20))  # percent below / above the current price


async def _price_params(inp: WizardInput) -> dict[str, object]:
    price = await inp.fleet.last_price(inp.user.id, inp.answers["symbol"])
    now = (
        t(inp.lang, "wizard.price_now", symbol=inp.answers["symbol"], price=number(price))
        if price is not None
        else ""
    )
    return {**await _quote(inp), "price_now": now}


async def _suggestions(inp: WizardInput, sign: int, above: Decimal | None = None) -> list[tuple[str, str]]:
    price = await inp.fleet.last_price(inp.user.id, inp.answers["symbol"])
    if price is None:
        return []
    tick = (await _market(inp)).price_tick
    buttons = []
    for percent in RANGE_SUGGESTIONS:
        value = (price * (100 + sign * percent) / 100).quantize(tick)
        if above is None or value > above:
            buttons.append((f"{'+' if sign > 0 else '−'}{percent} %: {number(value)}", str(value)))
    return buttons


async def lower_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    ask = (t(inp.lang, "wizard.button.suggest"), grid_suggestions.ASK)
    return [*await _suggestions(inp, -1), ask]


async def upper_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    return await _suggestions(inp, +1, above=Decimal(inp.answers["lower_price"]))


async def check_lower(raw: str, inp: WizardInput) -> str | Answers:
    if raw.strip() == grid_suggestions.ASK:
        await _suggest(inp)  # always re-asks: with the suggestions, or saying there are none
    chosen = grid_suggestions.parse(raw.strip())
    if chosen is not None:
        return await _take_suggestion(chosen, inp)
    return str(v.validate_price(raw, "lower_price"))


def _taker_fee(inp: WizardInput) -> Decimal:
    return inp.settings.taker_fee_rate if inp.settings is not None else DEFAULT_TAKER_FEE


async def _suggest(inp: WizardInput) -> None:
    """Raise the re-ask that shows the suggested ranges (text, PNG, one-tap buttons)."""
    market = await _market(inp)
    maker, taker = await _fees(inp)
    found = await grid_suggestions.compute(
        inp.candle_history, inp.user.id, inp.answers["symbol"], market, maker, taker
    )  # type: ignore[arg-type]
    if found is None:
        raise Reask("wizard.suggest.none", icon="🔮", symbol=escape(inp.answers["symbol"]))
    raise Reask(
        "wizard.suggest.result",
        icon="🔮",
        photo=found.chart_png,
        buttons=grid_suggestions.buttons(found, inp.lang),
        text=grid_suggestions.render(found, inp.lang),
    )


async def _take_suggestion(chosen: tuple[str, str, str, str], inp: WizardInput) -> Answers:
    """A suggestion's button: lower, upper, count and mode, checked as if typed one by one."""
    lower, upper, count, mode = chosen
    try:
        lower = str(v.validate_price(lower, "lower_price"))
        step_inp = replace(inp, answers={**inp.answers, "lower_price": lower})
        upper = await check_upper(upper, step_inp)
        step_inp.answers["upper_price"] = upper
        count = await check_count(count, step_inp)
        step_inp.answers["grid_count"] = count
        mode = await check_mode(mode, step_inp)
    except (DomainError, Reask) as err:  # a forged button: say why, at this step
        reask = as_reask(err, "lower_price")
        reask.field = "lower_price"
        reask.params.setdefault(
            "lower", number(Decimal(lower)) if lower.replace(".", "", 1).isdigit() else "-"
        )
        raise reask from None
    return Answers({"lower_price": lower, "upper_price": upper, "grid_count": count, "grid_mode": mode})


async def check_upper(raw: str, inp: WizardInput) -> str:
    return str(v.validate_grid_range(inp.answers["lower_price"], raw)[1])


async def upper_params(inp: WizardInput) -> dict[str, object]:
    return {**await _price_params(inp), "lower": number(Decimal(inp.answers["lower_price"]))}


# ---- grid count, mode


async def check_count(raw: str, inp: WizardInput) -> str:
    count = v.validate_grid_count(raw)
    _lines(inp, await _market(inp), count, "arithmetic")
    return str(count)


async def count_params(inp: WizardInput) -> dict[str, object]:
    return {"minimum": v.GRID_COUNT_MIN, "maximum": v.GRID_COUNT_MAX}


async def count_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    market = await _market(inp)
    fitting = []
    for count in QUICK_GRID_COUNTS:
        try:
            _lines(inp, market, count, "arithmetic")
        except Reask:
            continue
        fitting.append((str(count), str(count)))
    return fitting


async def check_mode(raw: str, inp: WizardInput) -> str:
    text = raw.strip().lower()
    mode = v.validate_grid_mode(MODE_WORDS.get(text, text))
    try:
        _lines(inp, await _market(inp), int(inp.answers["grid_count"]), mode)
    except Reask as err:
        raise Reask("wizard.err.narrow_mode", **err.params) from None
    return mode


async def mode_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    return [(t(inp.lang, f"wizard.mode.{mode}"), mode) for mode in v.GRID_MODES]


# ---- investment


async def _minimum(inp: WizardInput) -> Decimal:
    market = await _market(inp)
    count = int(inp.answers["grid_count"])
    lines = _lines(inp, market, count, inp.answers["grid_mode"])
    return grid_math.min_investment_for(lines, count, market.amount_step, market.min_qty, market.min_notional)


async def check_investment(raw: str, inp: WizardInput) -> str:
    investment = v.validate_price(raw, "total_investment")
    plan_grid(
        _params(inp, total_investment=investment), await _market(inp)
    )  # GridTooSmall: re-asked with the minimum
    allocated = await _allocated(inp)
    if allocated is not None and investment > allocated:  # the start would refuse it: re-asked with the most
        raise InsufficientCapital(investment, allocated)
    return str(investment)


async def _allocated(inp: WizardInput) -> Decimal | None:
    """The bot's share of the account's equity now, in cents rounded down (what a start checks)."""
    equity = await account_equity(inp)
    if equity is None:
        return None
    return (equity * Decimal(inp.answers["allocation"]) / 100).quantize(CENT, rounding=ROUND_DOWN)


async def _wallet_free(inp: WizardInput) -> Decimal | None:
    """The spot wallet's free USDT where the start checks it (`Fleet.grid_wallet_free`), else None."""
    reader = getattr(inp.fleet, "grid_wallet_free", None)
    return await reader(inp.user.id) if reader is not None else None


async def investment_params(inp: WizardInput) -> dict[str, object]:
    return {**await _quote(inp), "minimum": money(await _minimum(inp))}


async def investment_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    minimum = await _minimum(inp)
    buttons = [(t(inp.lang, "wizard.button.minimum", value=money(minimum)), str(minimum))]
    allocated = await _allocated(inp)
    if allocated is not None:
        # the share less ALLOCATED_HEADROOM: the equity moves with prices until the bot starts, and the
        # start refuses an investment above the share it sees then
        offered = (allocated * (1 - ALLOCATED_HEADROOM)).quantize(CENT, rounding=ROUND_DOWN)
        key = "wizard.button.allocated"
        free = await _wallet_free(inp)
        if free is not None and free < offered:  # the start also wants it free in the spot wallet
            offered, key = free.quantize(CENT, rounding=ROUND_DOWN), "wizard.button.spot_free"
        if offered >= minimum:
            buttons.append((t(inp.lang, key, value=money(offered)), str(offered)))
    return buttons


# ---- optional: trigger, stop_upper, stop_lower


TRIGGER_FARTHEST = Decimal("0.5")  # a trigger further than this share of the price away is a typo


async def check_trigger(raw: str, inp: WizardInput) -> str:
    trigger = _params(inp, trigger_price=raw).trigger_price
    assert trigger is not None
    price = await inp.fleet.last_price(inp.user.id, inp.answers["symbol"])
    if price and abs(trigger - price) > price * TRIGGER_FARTHEST:
        raise AgainstThePrice("trigger_price", "trigger_far", trigger, price)
    return str(trigger)


async def check_stop_upper(raw: str, inp: WizardInput) -> str:
    stop = _params(inp, stop_upper=raw).stop_upper
    assert stop is not None
    price = await inp.fleet.last_price(inp.user.id, inp.answers["symbol"])
    if price and stop <= price:  # the bot would stop at its first look
        raise AgainstThePrice("stop_upper", "stop_upper_passed", stop, price)
    return str(stop)


async def check_stop_lower(raw: str, inp: WizardInput) -> str:
    stop = _params(inp, stop_lower=raw).stop_lower
    assert stop is not None
    price = await inp.fleet.last_price(inp.user.id, inp.answers["symbol"])
    if price and stop >= price:
        raise AgainstThePrice("stop_lower", "stop_lower_passed", stop, price)
    return str(stop)


async def range_params(inp: WizardInput) -> dict[str, object]:
    return {
        **await _quote(inp),
        "lower": number(Decimal(inp.answers["lower_price"])),
        "upper": number(Decimal(inp.answers["upper_price"])),
    }


# ---- the preview and the creation


async def summary(inp: WizardInput) -> str:
    """The preview; a grid under the market's minimum goes back to the investment step with the minimum."""
    params = _params(inp)
    market = await _market(inp)
    maker, taker = await _fees(inp)
    # the start runs at the trigger when one is set, else at the price now (unknown: not told)
    start = params.trigger_price or await inp.fleet.last_price(inp.user.id, inp.answers["symbol"])
    try:
        preview = compute_preview(
            lower=params.lower,
            upper=params.upper,
            grid_count=params.grid_count,
            mode=params.mode,
            total_investment=params.total_investment,
            market=market,
            maker_fee_rate=maker,
            allocation_percent=Decimal(inp.answers["allocation"]),
            equity=await account_equity(inp),
            taker_fee_rate=taker,
            start_price=start,
        )
    except ValueError:
        raise Reask(
            "wizard.err.narrow", field="grid_count", tick=number(market.price_tick), count=params.grid_count
        ) from None
    text = render_preview(preview, inp.lang, name=inp.answers["name"])
    if preview.too_small:
        minimum = preview.min_investment or Decimal(0)
        raise Reask(  # the preview already says why and gives the minimum
            "wizard.err.preview",
            field="total_investment",
            buttons=[(t(inp.lang, "wizard.button.minimum", value=money(minimum)), str(minimum))],
            preview=text,
        )
    optional = [
        t(inp.lang, f"wizard.summary.{key}", price=number(value), quote=market.quote)
        for key, value in (
            ("trigger_price", params.trigger_price),
            ("stop_upper", params.stop_upper),
            ("stop_lower", params.stop_lower),
        )
        if value is not None
    ]
    return "\n".join([text, *optional, "", t(inp.lang, "wizard.summary.confirm")])


async def create(inp: WizardInput) -> AllocationChange:
    params = _params(inp)
    return await inp.fleet.create_grid_bot(
        inp.user.id,
        name=inp.answers["name"],
        symbol=inp.answers["symbol"],
        allocation_percent=Decimal(inp.answers["allocation"]),
        lower_price=params.lower,
        upper_price=params.upper,
        grid_count=params.grid_count,
        grid_mode=params.mode,
        total_investment=params.total_investment,
        trigger_price=params.trigger_price,
        stop_upper=params.stop_upper,
        stop_lower=params.stop_lower,
    )


wizard = Wizard(
    kind=BotKind.grid,
    states=GridWizard,
    confirm_state=GridWizard.confirm,
    steps=[
        *common.common_steps(GridWizard),
        Step("lower_price", GridWizard.lower, check_lower, _price_params, lower_buttons),
        Step("upper_price", GridWizard.upper, check_upper, upper_params, upper_buttons),
        Step("grid_count", GridWizard.count, check_count, count_params, count_buttons),
        Step("grid_mode", GridWizard.mode, check_mode, buttons=mode_buttons),
        Step(
            "total_investment", GridWizard.investment, check_investment, investment_params, investment_buttons
        ),
        Step("trigger_price", GridWizard.trigger, check_trigger, range_params, skippable=True),
        Step("stop_upper", GridWizard.stop_upper, check_stop_upper, range_params, skippable=True),
        Step("stop_lower", GridWizard.stop_lower, check_stop_lower, range_params, skippable=True),
    ],
    summary=summary,
    create=create,
)

router = Router(name=__name__)
wizard.attach(router)
register_wizard_states(GridWizard)
