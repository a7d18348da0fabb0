"""Honest strategy figures and safe defaults (issue 16, section 5): each strategy's figures come from the
backtester over the whole shipped history and the last 30 days of both shipped symbols, at the leverage
the bot trades at, with buy and hold beside them; the built-in rows trade at 1-2x after migration 0011."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.services.backtests import (
    DAY_MS,
    FIGURES_DAYS,
    SHIPPED_HOURLY,
    Backtests,
    compute_strategy_figures,
    hourly_candles,
    window_figures,
)
from bot.services.strategies import StrategyDTO
from db.migrate import run_alembic
from engine.trend.strategies import BUILTIN_STRATEGIES, get_strategy


def test_both_windows_of_both_symbols_at_the_leverage_the_bot_trades_at() -> None:
    strategy = get_strategy("ema_adx_baseline")
    figures = compute_strategy_figures(strategy)
    assert figures.leverage == strategy.risk.leverage == 2 and not figures.walk_forward
    assert [(w.symbol, w.days) for w in figures.windows] == [
        ("BTCUSDT", None),
        ("BTCUSDT", FIGURES_DAYS),
        ("ETHUSDT", None),
        ("ETHUSDT", FIGURES_DAYS),
    ]
    for window in figures.windows:
        candles = hourly_candles(window.symbol)
        assert window.leverage == 2 and window.end_ts == candles.timestamps[-1]
        if window.days is None:  # the whole shipped history: 2024-02-19 00:00 .. 2026-02-18 23:00 UTC
            assert (window.start_ts, window.end_ts) == (1708300800000, 1771455600000)
        else:
            assert window.end_ts - window.start_ts == FIGURES_DAYS * DAY_MS - 3_600_000
        # buy and hold over the window, by hand: 10000 buys at the first open after the 0.06 % taker fee
        first = candles.price("open", int(np.searchsorted(candles.timestamps, window.start_ts)))
        last = candles.price("close", len(candles) - 1)
        hold = (Decimal(10000) / (first * Decimal("1.0006")) * last / 10000 - 1) * 100
        assert abs(window.buy_and_hold_percent - hold) <= Decimal("0.01"), window
    assert figures.windows[0].trades > figures.windows[1].trades > 0  # two years trade more than 30 days

    capped = compute_strategy_figures(get_strategy("aggressive"), max_leverage=1)
    assert capped.leverage == 1 and all(w.leverage == 1 for w in capped.windows)


def test_buy_and_hold_on_a_small_real_slice_by_hand() -> None:
    """The first 48 BTCUSDT hours shipped (2024-02-19 00:00 .. 2024-02-20 23:00 UTC), read from
    engine/market_data/data/btcusdt_1h_2y.csv.gz: first open 52,137.68, last close 52,258.82.
    Buy and hold: 10000 / (52137.68 x 1.0006) = 0.19168... BTC, worth 10,017.22 at 52,258.82: +0.17 %."""
    candles = hourly_candles("BTCUSDT").slice(0, 48)
    assert (candles.price("open", 0), candles.price("close", 47)) == (
        Decimal("52137.68"),
        Decimal("52258.82"),
    )
    strategy = get_strategy("ema_adx_baseline")
    sig = np.zeros(len(candles), dtype=np.int8)  # no signal: no trade, the strategy's equity stays flat
    figures = window_figures(strategy, candles, sig, None, symbol="BTCUSDT", leverage=2)
    assert figures.buy_and_hold_percent == Decimal("0.17")
    assert (figures.roi_percent, figures.trades, figures.max_drawdown_percent) == (0, 0, 0)


def test_the_model_is_walked_forward_and_says_so() -> None:
    figures = compute_strategy_figures(get_strategy("ai_model"))
    assert figures.walk_forward and figures.leverage == 2
    assert all(w.trades > 0 for w in figures.windows)


async def test_figures_are_cached_after_the_first_use() -> None:
    backtests = Backtests()
    row = get_strategy("balanced").to_row()
    dto = StrategyDTO(
        id=7,
        name=row["name"],
        kind=row["kind"],
        timeframe=row["timeframe"],
        params=row["params"],
        description=row["description"],
        is_builtin=True,
    )
    first = (await backtests.figures([dto]))[7]
    assert first == compute_strategy_figures(get_strategy("balanced"))
    calls = []
    import bot.services.backtests as module

    original = module.compute_strategy_figures
    module.compute_strategy_figures = lambda *a, **k: calls.append(a) or original(*a, **k)  # type: ignore[assignment]
    try:
        assert (await backtests.figures([dto]))[7] is first  # from memory, not computed again
        assert calls == []
        at_one = (await backtests.figures([dto], max_leverage=1))[7]  # another leverage: its own figures
        assert at_one is not None and at_one.leverage == 1 and len(calls) == 1
    finally:
        module.compute_strategy_figures = original  # type: ignore[assignment]


def test_the_presets_and_the_model_trade_at_1_to_2x() -> None:
    assert {s.name: s.risk.leverage for s in BUILTIN_STRATEGIES} == {
        "ema_adx_baseline": 2,
        "conservative": 1,
        "balanced": 2,
        "aggressive": 2,
        "ai_model": 2,
    }
    assert get_strategy("ai_model").description.startswith("Opt-in AI filter")
    assert set(SHIPPED_HOURLY) == {"BTCUSDT", "ETHUSDT"}


async def _builtins(url: str) -> dict[str, tuple[int, str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.text("SELECT name, params, description FROM strategies WHERE is_builtin")
                )
            ).all()
    finally:
        await engine.dispose()
    import json

    out = {}
    for name, params, description in rows:
        params = json.loads(params) if isinstance(params, str) else params
        out[name] = (params["risk"]["leverage"], description)
    return out


async def test_migration_0011_lowers_the_builtins_leverage_and_back(empty_db_url: str) -> None:
    await run_alembic(empty_db_url, "upgrade", "0010")
    before = await _builtins(empty_db_url)
    assert {name: lev for name, (lev, _d) in before.items()} == {
        "ema_adx_baseline": 5,
        "conservative": 5,
        "balanced": 8,
        "aggressive": 10,
        "ai_model": 5,
    }
    await run_alembic(empty_db_url, "upgrade", "0011")
    after = await _builtins(empty_db_url)
    assert {name: lev for name, (lev, _d) in after.items()} == {
        s.name: s.risk.leverage for s in BUILTIN_STRATEGIES
    }
    assert after["ai_model"][1] == get_strategy("ai_model").description
    assert after["balanced"][1] == before["balanced"][1]
    await run_alembic(empty_db_url, "downgrade", "0010")
    assert await _builtins(empty_db_url) == before
