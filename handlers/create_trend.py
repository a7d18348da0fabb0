"""The AI trend bot wizard: type -> name -> symbol -> allocation -> strategy -> leverage -> max positions ->
SL % -> TP % -> summary -> "Create" -> Fleet.create_trend_bot. Nothing is written before "Create".

The strategy step offers the strategies the user can see (built-ins and their own copies, see
/strategies); the default is the AI model. A button carries the strategy's id, a typed answer its name;
both are looked up among the user's visible strategies (a forged id of someone else's copy is refused),
and the fleet re-checks visibility at "Create".

`router` also carries the /newbot entry (`handlers.create_common.router`) as a sub-router.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from aiogram import Router
from aiogram.fsm.state import State, StatesGroup

from bot.i18n import t
from bot.services.dto import AllocationChange
from bot.services.fleet import RiskLimits
from bot.services.strategies import StrategyDTO
from handlers import create_common as common
from handlers.wizard import BotKind, Reask, Step, Wizard, WizardInput, percent_text, register_wizard_states


class TrendWizard(StatesGroup):
    name = State()
    symbol = State()
    allocation = State()
    strategy = State()
    leverage = State()
    max_positions = State()
    stop_loss = State()
    take_profit = State()
    confirm = State()


DEFAULT_STRATEGY = "ai_model"


async def _visible(inp: WizardInput) -> list[StrategyDTO]:
    return await inp.strategies.list_for(inp.user.id) if inp.strategies is not None else []


def _default(strategies: list[StrategyDTO]) -> StrategyDTO | None:
    builtin = [s for s in strategies if s.is_builtin]
    return next((s for s in builtin if s.name == DEFAULT_STRATEGY), builtin[0] if builtin else None)


async def check_strategy(raw: str, inp: WizardInput) -> str:
    """A strategy id (from a button) or name (typed) among the user's visible strategies; their own
    copy wins over a built-in of the same name."""
    text = raw.strip()
    visible = await _visible(inp)
    found = next((s for s in visible if str(s.id) == text), None)
    found = found or next((s for s in visible if s.name == text and not s.is_builtin), None)
    found = found or next((s for s in visible if s.name == text), None)
    if found is None:
        raise Reask("wizard.rule.strategy", name=escape(text[:40]))
    return str(found.id)


async def strategy_params(inp: WizardInput) -> dict[str, object]:
    default = _default(await _visible(inp))
    return {"default": escape(default.name) if default else "-"}


async def strategy_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    visible = await _visible(inp)
    default = _default(visible)
    buttons = [(t(inp.lang, "wizard.button.default", value=default.name), str(default.id))] if default else []
    return buttons + [(s.name, str(s.id)) for s in visible if s is not default]


async def strategy_name(inp: WizardInput) -> str:
    strategy_id = inp.answers.get("strategy")
    visible = await _visible(inp)
    found = next((s for s in visible if str(s.id) == strategy_id), None)
    if found is None:
        raise Reask("wizard.rule.strategy", field="strategy", name="-")
    return found.name


def _risk(inp: WizardInput) -> RiskLimits:
    answers = inp.answers
    return RiskLimits(
        max_leverage=int(answers["leverage"]),
        max_positions=int(answers["max_positions"]),
        stop_loss_percent=Decimal(answers["stop_loss"]),
        take_profit_percent=Decimal(answers["take_profit"]),
    )


async def summary(inp: WizardInput) -> str:
    answers = inp.answers
    allocation = Decimal(answers["allocation"])
    free = await common.free_percent(inp)
    text = t(
        inp.lang,
        "wizard.summary.trend",
        name=escape(answers["name"]),
        symbol=escape(answers["symbol"]),
        allocation=percent_text(allocation),
        free_after=percent_text(max(free - allocation, Decimal(0))),
        leverage=answers["leverage"],
        positions=answers["max_positions"],
        stop_loss=answers["stop_loss"],
        take_profit=answers["take_profit"],
    )
    line = t(inp.lang, "wizard.summary.strategy_line", strategy=escape(await strategy_name(inp)))
    head, _, tail = text.rpartition("\n\n")  # the strategy goes above the closing "nothing is saved" line
    return f"{head}\n{line}\n\n{tail}" if head else f"{text}\n{line}"


async def create(inp: WizardInput) -> AllocationChange:
    return await inp.fleet.create_trend_bot(
        inp.user.id,
        name=inp.answers["name"],
        symbol=inp.answers["symbol"],
        allocation_percent=Decimal(inp.answers["allocation"]),
        risk=_risk(inp),
        strategy_id=int(inp.answers["strategy"]) if inp.answers.get("strategy") else None,
    )


wizard = Wizard(
    kind=BotKind.trend,
    states=TrendWizard,
    confirm_state=TrendWizard.confirm,
    steps=[
        *common.common_steps(TrendWizard),
        Step("strategy", TrendWizard.strategy, check_strategy, strategy_params, strategy_buttons),
        *common.risk_steps(TrendWizard),
    ],
    summary=summary,
    create=create,
)

router = Router(name=__name__)
wizard.attach(router)
register_wizard_states(TrendWizard)
router.include_router(common.router)
