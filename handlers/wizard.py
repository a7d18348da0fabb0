"""The step engine of the bot-creation wizards: their callback data, `Step`, `Wizard`, the keyboards and
the shared cancel.

A wizard is a list of `Step`s. Each step owns one FSM state and one answer; the engine asks the question,
checks the answer (typed, or a one-tap button that "types" a value for the user), re-asks with the reason in
the user's language when the check fails, and moves on. Answers live only in the FSM data (as text) until
the summary's "Create" button: nothing is written before that. /cancel (and the cancel button) works at
every step and drops the answers.

`Wizard.attach` puts a wizard's handlers on its own router; the wizard starts from its button on the type
choice (`NewBotCD`, shown by `handlers.create_common`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from html import escape

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.config import Settings
from bot.i18n import t
from bot.services.dto import AllocationChange, UserDTO
from bot.services.errors import (
    AgainstThePrice,
    DomainError,
    NameTaken,
    NotFound,
    OverAllocation,
    ValidationError,
)
from bot.services.fleet import Fleet, GridTooSmall, InsufficientCapital
from bot.services.strategies import Strategies
from bot.services.validation import AmbiguousNumber
from handlers.callbacks import BotAction, BotCD
from handlers.cosmetic import cosmetic

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- callback data


class BotKind(StrEnum):
    trend = "t"
    grid = "g"


class NewBotCD(CallbackData, prefix="nb"):
    """The type chosen on the /newbot screen."""

    kind: BotKind


class WizardAction(StrEnum):
    answer = "a"  # answer the step `step` with `value` (a one-tap default or a choice)
    skip = "s"  # leave an optional step empty
    confirm = "ok"  # the summary's "Create"
    cancel = "x"


class WizardCD(CallbackData, prefix="wz"):
    """A wizard button. `step` is the step it belongs to, so a stale button of an earlier step is refused;
    `value` goes through the same check as typed text (callback data can be forged)."""

    step: str
    action: WizardAction
    value: str = ""


CONFIRM_STEP = "confirm"


# --------------------------------------------------------------------------- the step engine


class Reask(Exception):
    """A wrong answer: `key` is the reason's text key, `params` its (already escaped) placeholders.

    `field` names the step to return to when raised at the summary; `buttons` are extra one-tap answers.
    """

    def __init__(
        self,
        key: str,
        *,
        field: str | None = None,
        buttons: Sequence[tuple[str, str]] = (),
        icon: str = "⚠️",
        photo: bytes | None = None,
        **params: object,
    ) -> None:
        super().__init__(key)
        self.key = key
        self.field = field
        self.buttons = tuple(buttons)
        self.icon = icon  # "⚠️" for a wrong answer; a step may re-ask with news instead (a suggestion)
        self.photo = photo  # a PNG sent before the question
        self.params = params


@dataclass(frozen=True, slots=True)
class Answers:
    """What a step's check returns to answer this step *and* the steps after it in one go (a suggested
    range fills lower, upper, grid count and mode); the wizard goes on at the first step still open."""

    values: dict[str, str]


@dataclass(slots=True)
class WizardInput:
    """What a step's functions see: the services, the user and the answers so far (text)."""

    fleet: Fleet
    user: UserDTO
    lang: str
    answers: dict[str, str]
    settings: Settings | None = None
    strategies: Strategies | None = None  # the trend wizard's strategy step
    candle_history: object | None = (
        None  # the grid wizard's range suggestions (bot.services.range_suggestions)
    )

    def decimal(self, key: str) -> Decimal | None:
        value = self.answers.get(key)
        return Decimal(value) if value else None


Check = Callable[[str, WizardInput], Awaitable["str | Answers"]]
Params = Callable[[WizardInput], Awaitable[dict[str, object]]]
Buttons = Callable[[WizardInput], Awaitable[list[tuple[str, str]]]]


async def _no_params(inp: WizardInput) -> dict[str, object]:
    return {}


async def _no_buttons(inp: WizardInput) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True, slots=True)
class Step:
    """One question. `key` is the answer's name (the fleet's field name, e.g. "stop_loss") and the suffix of
    the texts "wizard.ask.<key>" (the question) and "wizard.rule.<key>" (the rule, when a check fails).
    `params` fills both texts' placeholders; `buttons` are one-tap answers (label, value)."""

    key: str
    state: State
    check: Check
    params: Params = _no_params
    buttons: Buttons = _no_buttons
    skippable: bool = False


Summary = Callable[[WizardInput], Awaitable[str]]
Create = Callable[[WizardInput], Awaitable[AllocationChange]]


@dataclass(slots=True)
class Wizard:
    """A bot-creation wizard: its steps in order, the summary shown before "Create", and the create call."""

    kind: BotKind
    states: type[StatesGroup]
    confirm_state: State
    steps: list[Step]
    summary: Summary
    create: Create
    by_key: dict[str, Step] = field(init=False)

    def __post_init__(self) -> None:
        self.by_key = {step.key: step for step in self.steps}

    @property
    def title_key(self) -> str:
        return f"wizard.title.{self.kind.name}"

    def attach(self, router: Router) -> None:
        """Register the wizard's handlers on `router`, /cancel first."""
        in_wizard = StateFilter(self.states)
        router.message.register(cancel_command, Command("cancel"), in_wizard)
        router.callback_query.register(cancel_button, WizardCD.filter(F.action == WizardAction.cancel))
        router.callback_query.register(self.begin, NewBotCD.filter(F.kind == self.kind))
        router.message.register(self.on_text, in_wizard, F.text, ~F.text.startswith("/"))
        router.message.register(self.on_other, in_wizard, ~F.text)
        router.callback_query.register(
            self.on_confirm,
            StateFilter(self.confirm_state),
            WizardCD.filter(F.action == WizardAction.confirm),
        )
        router.callback_query.register(self.on_button, in_wizard, WizardCD.filter())

    # ---- handlers

    async def begin(
        self,
        cq: CallbackQuery,
        state: FSMContext,
        fleet: Fleet,
        user: UserDTO,
        lang: str,
        settings: Settings | None = None,
        strategies: Strategies | None = None,
        candle_history: object | None = None,
    ) -> None:
        await _acknowledge(cq)
        await _drop_keyboard(cq)
        await state.set_data({"kind": self.kind.value, "answers": {}})
        inp = WizardInput(fleet, user, lang, {}, settings, strategies, candle_history)
        await self._ask(message_of(cq), state, self.steps[0], inp)

    async def on_text(
        self,
        message: Message,
        state: FSMContext,
        fleet: Fleet,
        user: UserDTO,
        lang: str,
        settings: Settings | None = None,
        strategies: Strategies | None = None,
        candle_history: object | None = None,
    ) -> None:
        inp = await _input(state, fleet, user, lang, settings, strategies, candle_history)
        step = self._current(await state.get_state())
        if step is None:  # at the summary: a typed text is no answer to "Create / Cancel"
            await message.answer(t(lang, "wizard.err.use_buttons"))
            return
        await self._accept(message, state, step, message.text or "", inp)

    async def on_other(self, message: Message, state: FSMContext, lang: str) -> None:
        await message.answer(t(lang, "wizard.err.text_only"))

    async def on_button(
        self,
        cq: CallbackQuery,
        callback_data: WizardCD,
        state: FSMContext,
        fleet: Fleet,
        user: UserDTO,
        lang: str,
        settings: Settings | None = None,
        strategies: Strategies | None = None,
        candle_history: object | None = None,
    ) -> None:
        step = self._current(await state.get_state())
        if step is None or callback_data.step != step.key or callback_data.action == WizardAction.confirm:
            await cq.answer(t(lang, "wizard.outdated"))
            return
        if callback_data.action == WizardAction.skip and not step.skippable:
            await cq.answer(t(lang, "wizard.outdated"))
            return
        await _acknowledge(cq)
        await _drop_keyboard(cq)
        inp = await _input(state, fleet, user, lang, settings, strategies, candle_history)
        message = message_of(cq)
        if callback_data.action == WizardAction.skip:
            await self._store(message, state, step, "", inp)
        else:
            await self._accept(message, state, step, callback_data.value, inp)

    async def on_confirm(
        self,
        cq: CallbackQuery,
        callback_data: WizardCD,
        state: FSMContext,
        fleet: Fleet,
        user: UserDTO,
        lang: str,
        settings: Settings | None = None,
        strategies: Strategies | None = None,
    ) -> None:
        inp = await _input(state, fleet, user, lang, settings, strategies)
        if callback_data.step != CONFIRM_STEP:
            await cq.answer(t(lang, "wizard.outdated"))
            return
        await _acknowledge(cq)
        await _drop_keyboard(cq)
        await state.set_state(None)  # a second tap on "Create" finds no wizard
        message = message_of(cq)
        try:
            change = await self.create(inp)
        except (DomainError, Reask) as err:
            await self._back_to_step(message, state, err, inp)
            return
        await state.clear()
        await message.answer(
            t(lang, "wizard.created", name=escape(change.bot.name), free=percent_text(change.free_percent)),
            reply_markup=created_keyboard(lang, change.bot.id),
        )

    # ---- the engine

    def _current(self, raw_state: str | None) -> Step | None:
        return next((step for step in self.steps if step.state.state == raw_state), None)

    async def _accept(
        self, message: Message, state: FSMContext, step: Step, raw: str, inp: WizardInput
    ) -> None:
        try:
            clean = await step.check(raw, inp)
        except (DomainError, Reask) as err:
            reask = as_reask(err, step.key)
            if reask.photo:
                from aiogram.types import BufferedInputFile

                await message.answer_photo(BufferedInputFile(reask.photo, filename=f"{step.key}.png"))
            await self._ask(
                message,
                state,
                step,
                inp,
                reason=await self._reason(reask, inp),
                extra=reask.buttons,
                icon=reask.icon,
            )
            return
        if isinstance(clean, Answers):
            await self._store_many(message, state, step, clean.values, inp)
            return
        await self._store(message, state, step, clean, inp)

    async def _store_many(
        self, message: Message, state: FSMContext, step: Step, values: dict[str, str], inp: WizardInput
    ) -> None:
        inp.answers.update(values)
        data = await state.get_data()
        await state.update_data(answers=inp.answers, revisit=False)
        index = self.steps.index(step)
        later = [s for s in self.steps[index + 1 :] if s.key not in values]
        if data.get("revisit") or not later:
            await self._show_summary(message, state, inp)
        else:
            await self._ask(message, state, later[0], inp)

    async def _store(
        self, message: Message, state: FSMContext, step: Step, clean: str, inp: WizardInput
    ) -> None:
        inp.answers[step.key] = clean
        data = await state.get_data()
        revisit = bool(data.get("revisit"))
        await state.update_data(answers=inp.answers, revisit=False)
        index = self.steps.index(step)
        if revisit or index + 1 == len(self.steps):
            await self._show_summary(message, state, inp)
        else:
            await self._ask(message, state, self.steps[index + 1], inp)

    async def _ask(
        self,
        message: Message,
        state: FSMContext,
        step: Step,
        inp: WizardInput,
        *,
        reason: str | None = None,
        extra: Sequence[tuple[str, str]] = (),
        icon: str = "⚠️",
    ) -> None:
        await state.set_state(step.state)
        params = await step.params(inp)
        number = self.steps.index(step) + 1
        text = "\n".join(
            part
            for part in (
                f"{icon} {reason}\n" if reason else "",
                t(inp.lang, self.title_key, step=number, total=len(self.steps)),
                t(inp.lang, f"wizard.ask.{step.key}", **params),
                t(inp.lang, "wizard.cancel_hint"),
            )
            if part
        )
        buttons = [*extra, *(b for b in await step.buttons(inp) if b not in extra)]
        await message.answer(text, reply_markup=step_keyboard(inp.lang, step, buttons))

    async def _show_summary(self, message: Message, state: FSMContext, inp: WizardInput) -> None:
        try:
            text = await self.summary(inp)
        except (DomainError, Reask) as err:
            await self._back_to_step(message, state, err, inp)
            return
        await state.set_state(self.confirm_state)
        await message.answer(text, reply_markup=confirm_keyboard(inp.lang))

    async def _back_to_step(
        self, message: Message, state: FSMContext, err: DomainError | Reask, inp: WizardInput
    ) -> None:
        """A refusal at the summary or at "Create": re-ask the step it is about, then come back here."""
        reask = as_reask(err, None)
        step = self.by_key.get(reask.field or "")
        reason = await self._reason(reask, inp, step)
        if step is None:  # nothing the user can fix in this wizard (e.g. too many bots)
            await state.clear()
            await message.answer(f"⚠️ {reason}\n{t(inp.lang, 'wizard.cancelled')}")
            return
        await state.update_data(revisit=True)
        await self._ask(message, state, step, inp, reason=reason, extra=reask.buttons)

    async def _reason(self, reask: Reask, inp: WizardInput, step: Step | None = None) -> str:
        step = step or self.by_key.get(reask.field or "")
        params: dict[str, object] = dict(await step.params(inp)) if step else {}
        params.update(reask.params)
        try:
            return t(inp.lang, reask.key, **params)
        except (KeyError, IndexError):
            log.warning("text %s lacks a placeholder in %s", reask.key, sorted(params))
            return t(inp.lang, "wizard.err.generic")


def as_reask(err: DomainError | Reask, step_key: str | None) -> Reask:
    """A domain error as the reason to re-ask; user-supplied values in it are escaped."""
    if isinstance(err, Reask):
        if err.field is None and step_key is not None:
            err.field = step_key
        return err
    if isinstance(err, OverAllocation):
        return Reask(
            "wizard.err.over_allocation",
            field="allocation",
            requested=percent_text(err.requested),
            free=percent_text(err.free),
        )
    if isinstance(err, NameTaken):
        return Reask("wizard.err.name_taken", field="name", name=escape(str(err.params.get("name", ""))))
    if isinstance(err, AgainstThePrice):
        return Reask(
            f"wizard.err.{err.reason}",
            field=err.field,
            value=f"{Decimal(err.params['value']).normalize():,f}",
            price=f"{Decimal(err.params['price']).normalize():,f}",
        )
    if isinstance(err, InsufficientCapital):
        most = err.params["allocated"]
        return Reask(
            "wizard.err.over_capital",
            field="total_investment",
            buttons=[(f"{most:,f}", str(most))],
            needed=f"{err.params['needed']:,f}",
            allocated=f"{most:,f}",
        )
    if isinstance(err, GridTooSmall):
        return Reask(
            "wizard.err.grid_too_small",
            field="total_investment",
            buttons=[(f"{err.min_investment}", str(err.min_investment))],
            minimum=f"{err.min_investment:,f}",
        )
    if isinstance(err, AmbiguousNumber):
        params = {k: escape(str(err.params[k])) for k in ("text", "thousands", "decimal")}
        return Reask("wizard.err.ambiguous_number", field=err.field, **params)
    if isinstance(err, ValidationError):
        return Reask(f"wizard.rule.{err.field}", field=err.field)
    if isinstance(err, NotFound) and err.params.get("what") == "strategy":  # deleted before "Create"
        return Reask("wizard.rule.strategy", field="strategy", name="-")
    params = {k: escape(str(value)) for k, value in err.params.items()}
    key = f"wizard.err.{err.code}"
    return Reask(key if _has_text(key) else "wizard.err.generic", field=None, **params)


def _has_text(key: str) -> bool:
    try:
        t("en", key)
    except KeyError:
        return False
    return True


async def _input(
    state: FSMContext,
    fleet: Fleet,
    user: UserDTO,
    lang: str,
    settings: Settings | None,
    strategies: Strategies | None = None,
    candle_history: object | None = None,
) -> WizardInput:
    data = await state.get_data()
    answers = dict(data.get("answers") or {})
    return WizardInput(fleet, user, lang, answers, settings, strategies, candle_history)


def message_of(cq: CallbackQuery) -> Message:
    """The pressed message. `handlers.old_buttons` answers the buttons of inaccessible and inline messages
    before any wizard sees them; OldButton, should one get here, gets the same answer (handlers.errors)."""
    if not isinstance(cq.message, Message):
        raise OldButton()
    return cq.message


class OldButton(Exception):
    """A button of a message the bot can no longer see (too old, or inline)."""


async def _acknowledge(cq: CallbackQuery) -> None:
    """Stop the button's spinner: cosmetic, a failure (an expired query, a 429) never ends the step."""
    await cosmetic(cq.answer(), "answering the button")


async def _drop_keyboard(cq: CallbackQuery) -> None:
    """Take the buttons off the message that was answered, so an old question is not answered twice.
    Cosmetic: the step refuses a stale button anyway, so a failed removal (404, 429) never loses the
    answer."""
    if isinstance(cq.message, Message) and cq.message.reply_markup is not None:
        await cosmetic(cq.message.edit_reply_markup(reply_markup=None), "removing the answered buttons")


def percent_text(value: Decimal) -> str:
    """A percent (0-100) as the texts show it: 25 rather than 25.00, 12.5 as it is."""
    return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"


# --------------------------------------------------------------------------- keyboards


def step_keyboard(lang: str, step: Step, buttons: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=label,
                callback_data=WizardCD(step=step.key, action=WizardAction.answer, value=value).pack(),
            )
            for label, value in buttons[i : i + 3]
        ]
        for i in range(0, len(buttons), 3)
    ]
    last = []
    if step.skippable:
        last.append(
            InlineKeyboardButton(
                text=t(lang, "wizard.button.skip"),
                callback_data=WizardCD(step=step.key, action=WizardAction.skip).pack(),
            )
        )
    last.append(
        InlineKeyboardButton(
            text=t(lang, "wizard.button.cancel"),
            callback_data=WizardCD(step=step.key, action=WizardAction.cancel).pack(),
        )
    )
    return InlineKeyboardMarkup(inline_keyboard=[*rows, last])


def confirm_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(lang, "wizard.button.create"),
                    callback_data=WizardCD(step=CONFIRM_STEP, action=WizardAction.confirm).pack(),
                ),
                InlineKeyboardButton(
                    text=t(lang, "wizard.button.cancel"),
                    callback_data=WizardCD(step=CONFIRM_STEP, action=WizardAction.cancel).pack(),
                ),
            ]
        ]
    )


def created_keyboard(lang: str, bot_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(lang, "wizard.button.start"),
                    callback_data=BotCD(action=BotAction.start, bot_id=bot_id).pack(),
                ),
                InlineKeyboardButton(
                    text=t(lang, "wizard.button.open"),
                    callback_data=BotCD(action=BotAction.card, bot_id=bot_id).pack(),
                ),
            ]
        ]
    )


# --------------------------------------------------------------------------- cancel


async def cancel_command(message: Message, state: FSMContext, lang: str) -> None:
    await state.clear()
    await message.answer(t(lang, "wizard.cancelled"))


async def cancel_button(cq: CallbackQuery, state: FSMContext, lang: str) -> None:
    raw_state = await state.get_state()
    await _acknowledge(cq)
    await _drop_keyboard(cq)
    if raw_state is None or not _is_wizard_state(raw_state):
        return  # an old wizard's cancel button: nothing is open
    await state.clear()
    await message_of(cq).answer(t(lang, "wizard.cancelled"))


_WIZARD_GROUPS: list[type[StatesGroup]] = []


def _is_wizard_state(raw_state: str) -> bool:
    return any(raw_state in group for group in _WIZARD_GROUPS)


def register_wizard_states(group: type[StatesGroup]) -> None:
    """Let the shared cancel button know a wizard's states (and nobody else's)."""
    if group not in _WIZARD_GROUPS:
        _WIZARD_GROUPS.append(group)
