"""Quick checks of the chat's pure parts: callback data sizes, keyboards, rendering, error texts, router order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.services.confirmations import Confirmations
from bot.services.dto import AllocationSummary, BotDTO, BotShare, UserDTO
from bot.services.errors import DomainError, NotFound, OverAllocation, StopBotFirst, ValidationError
from bot.services.fleet import GridTooSmall
from bot.services.lifecycle import Holdings
from handlers import build_router
from handlers import keyboards as kb
from handlers import texts as render
from handlers.callbacks import BotAction, BotCD, CancelCD, Confirm, ConfirmCD, MenuAction, MenuCD
from handlers.errors import error_text

MAX_ID = 2**31 - 1


def make_bot(**changes: object) -> BotDTO:
    values: dict[str, object] = dict(
        id=MAX_ID,
        user_id=1,
        name="Alpha",
        bot_type="ai_trend",
        symbol="BTCUSDT",
        strategy_id=None,
        allocation_percent=Decimal("30.00"),
        max_leverage=10,
        max_positions=3,
        stop_loss_percent=Decimal("5.00"),
        take_profit_percent=Decimal("10.00"),
        telegram_notify=True,
        is_running=False,
        is_active=True,
        total_trades=0,
        winning_trades=0,
        total_pnl=Decimal(0),
        last_error=None,
        last_started_at=None,
        last_stopped_at=None,
        last_trade_at=None,
    )
    values.update(changes)
    return BotDTO(**values)  # type: ignore[arg-type]


def make_user(**changes: object) -> UserDTO:
    values: dict[str, object] = dict(
        id=1,
        telegram_id=5,
        chat_id=5,
        username="u",
        language="en",
        exchange_id="bitget",
        trading_mode="paper",
        demo_trading=False,
        has_api_keys=False,
        masked_api_key=None,
    )
    values.update(changes)
    return UserDTO(**values)  # type: ignore[arg-type]


TOKEN = Confirmations().issue(1, Confirm.stop, bot_id=MAX_ID)  # a real one: its length is what rides


def all_callback_data() -> list[str]:
    packed = [MenuCD(action=a).pack() for a in MenuAction]
    packed += [BotCD(action=a, bot_id=MAX_ID).pack() for a in BotAction]
    packed += [kb.EditCD(field=f, bot_id=MAX_ID).pack() for f in kb.EditField]
    packed += [ConfirmCD(action=a, token="T" * 12).pack() for a in Confirm]
    packed += [CancelCD(action=a, token="T" * 12).pack() for a in Confirm]
    packed += [kb.KeysCD(action=a, exchange="bitget").pack() for a in kb.KeysAction]
    packed += [kb.LangCD(code=c).pack() for c in kb.LANGUAGE_NAMES]
    return packed


def test_callback_data_fits_telegrams_64_bytes() -> None:
    packed = all_callback_data()
    assert max(len(p.encode()) for p in packed) <= 64
    assert len(set(packed)) == len(packed)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_keyboard_button_carries_short_callback_data(lang: str) -> None:
    bot = make_bot(is_running=True, name="x" * 100)
    summary = AllocationSummary((BotShare(MAX_ID, "a", "grid", Decimal(30), True),), Decimal(30), Decimal(70))
    markups = [
        kb.main_menu(lang),
        kb.bot_list([bot, make_bot(id=2)], lang),
        kb.bot_card(bot, lang),
        kb.stop_confirm(Holdings(), {"confirm": TOKEN}, lang),
        kb.stop_confirm(Holdings(coin=Decimal("0.1"), asset="BTC"), {"keep": TOKEN, "close": TOKEN}, lang),
        kb.stop_confirm(Holdings(positions=2, close_on_stop=True), {"keep": TOKEN, "close": TOKEN}, lang),
        kb.delete_confirm(Holdings(), {"confirm": TOKEN}, lang),
        kb.delete_confirm(Holdings(coin=Decimal("0.1"), asset="BTC"), {"keep": TOKEN, "close": TOKEN}, lang),
        kb.delete_confirm(Holdings(positions=1), {"keep": TOKEN, "close": TOKEN}, lang),
        kb.stop_all_holdings({"keep": TOKEN, "close": TOKEN}, lang),
        kb.stop_bots_first(3, "live", lang),
        kb.close_confirm(TOKEN, lang),
        kb.trade_confirm(TOKEN, lang),
        kb.keys_clear_confirm(TOKEN, lang),
        kb.edit_menu(bot, lang),
        kb.risk_menu(bot, lang),
        kb.allocation(summary, lang),
        kb.stop_all_confirm(TOKEN, lang),
        kb.languages(),
        kb.keys_menu(make_user(has_api_keys=True, trading_mode="live"), ("bitget",), lang),
        kb.keys_clear_confirm(TOKEN, lang),
    ]
    for markup in markups:
        for row in markup.inline_keyboard:
            for button in row:
                assert button.text and button.callback_data and len(button.callback_data.encode()) <= 64


def test_user_text_is_escaped_everywhere_it_is_shown() -> None:
    bot = make_bot(name="<b>x</b>&", last_error="<oops>")
    share = BotShare(1, "<b>x</b>&", "ai_trend", Decimal(10), False)
    shown = [
        render.bot_card(bot, Decimal(70), "en"),
        render.bot_list([bot], Decimal(70), "ko"),
        render.trades(bot, "en"),
        render.allocation(AllocationSummary((share,), Decimal(10), Decimal(90)), "en"),
    ]
    for text in shown:
        assert "<b>x</b>&" not in text and "&lt;b&gt;x&lt;/b&gt;&amp;" in text
    assert "&lt;oops&gt;" in shown[0]


def test_numbers_and_the_allocation_bar() -> None:
    assert [render.num(Decimal(v)) for v in ("30.00", "0.50", "100", "12.25")] == [
        "30",
        "0.5",
        "100",
        "12.25",
    ]
    assert [render.signed(Decimal(v)) for v in ("12.5", "-3", "0")] == ["+12.50", "-3.00", "0.00"]
    assert render.allocation_bar(Decimal(0)) == "░" * 20
    assert render.allocation_bar(Decimal(35)) == "█" * 7 + "░" * 13  # 35 % of 20 cells
    assert render.allocation_bar(Decimal(100)) == "█" * 20


def test_trades_summary_once_there_are_trades() -> None:
    bot = make_bot(
        total_trades=4,
        winning_trades=3,
        total_pnl=Decimal("12.345"),
        last_trade_at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
    )
    text = render.trades(bot, "en")
    assert "Trades: 4 (won 3) · win rate 75%" in text and "+12.35 USDT" in text and "2025-01-02 03:04" in text


@pytest.mark.parametrize(
    ("error", "en", "ko"),
    [
        (
            OverAllocation(Decimal("60.00"), Decimal("50.00")),
            "60% is more than is free: only 50%",
            "잔고의 50%만",
        ),
        (StopBotFirst("allocation"), "before changing the allocation", "자금 배분을(를)"),
        (NotFound(), "Not found", "찾을 수 없습니다"),
        (ValidationError("allocation", "allocation must be a number"), "at most 100", "100 이하"),
        (GridTooSmall(Decimal("150.50")), "at least 150.5 USDT", "최소 150.5 USDT"),
    ],
)
def test_domain_errors_read_in_the_users_language(error: DomainError, en: str, ko: str) -> None:
    assert en in error_text(error, "en")
    assert ko in error_text(error, "ko")


def test_an_error_without_a_text_falls_back_to_its_escaped_message() -> None:
    assert error_text(DomainError("a <strange> refusal"), "ko") == "⚠️ a &lt;strange&gt; refusal"
    assert error_text(ValidationError("no_such_field", "x < y"), "en") == "⚠️ x &lt; y"


def test_routers_are_composed_in_a_fixed_order_and_can_be_built_twice() -> None:
    first = [r.name for r in build_router().sub_routers]
    second = [r.name for r in build_router().sub_routers]
    assert first == second
    # updates no person sent and old buttons first (they have no user), then /cancel; the catch-all last
    assert first[:3] == ["handlers.groups", "handlers.old_buttons", "handlers.start"]
    assert first[-1] == "handlers.start.fallback"
    assert first.index("handlers.bots") < first.index("handlers.allocation") < first.index("handlers.errors")
    assert {"handlers.create_trend", "handlers.create_grid", "handlers.keys"} <= set(first)
