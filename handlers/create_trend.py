"""The AI trend bot wizard: type -> name -> symbol -> allocation -> leverage -> max positions -> SL % ->
TP % -> summary -> "Create" -> Fleet.create_trend_bot. Nothing is written before "Create".

`router` also carries the /newbot entry (`handlers.create_common.router`) as a sub-router.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from aiogram import Router
from aiogram.fsm.state import State, StatesGroup

from bot.dto import AllocationChange
from bot.fleet import RiskLimits
from bot.i18n import t
from handlers import create_common as common
from handlers.create_common import BotKind, Wizard, WizardInput


class TrendWizard(StatesGroup):
    name = State()
    symbol = State()
    allocation = State()
    leverage = State()
    max_positions = State()
    stop_loss = State()
    take_profit = State()
    confirm = State()


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
    return t(
        inp.lang,
        "wizard.summary.trend",
        name=escape(answers["name"]),
        symbol=escape(answers["symbol"]),
        allocation=common.percent_text(allocation),
        free_after=common.percent_text(max(free - allocation, Decimal(0))),
        leverage=answers["leverage"],
        positions=answers["max_positions"],
        stop_loss=answers["stop_loss"],
        take_profit=answers["take_profit"],
    )


async def create(inp: WizardInput) -> AllocationChange:
    return await inp.fleet.create_trend_bot(
        inp.user.id,
        name=inp.answers["name"],
        symbol=inp.answers["symbol"],
        allocation_percent=Decimal(inp.answers["allocation"]),
        risk=_risk(inp),
    )


wizard = Wizard(
    kind=BotKind.trend,
    states=TrendWizard,
    confirm_state=TrendWizard.confirm,
    steps=[*common.common_steps(TrendWizard), *common.risk_steps(TrendWizard)],
    summary=summary,
    create=create,
)

router = Router(name=__name__)
wizard.attach(router)
common.register_wizard_states(TrendWizard)
router.include_router(common.router)
