"""The texts of /backtest (handlers.backtest): the parameters shown before a run, the summaries after."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bot.i18n import t
from bot.services.backtests import GridOutcome, TrendOutcome
from bot.services.strategies import StrategyDTO
from handlers.texts import num

CENT = Decimal("0.01")


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d")


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,f}"


def _pct(fraction: Decimal) -> str:
    """A fraction as a percent with 2 decimals: 0.1234 -> '12.34'."""
    return f"{(fraction * 100).quantize(CENT):f}"


def _signed_pct(part: Decimal, whole: Decimal) -> str:
    value = (part / whole * 100).quantize(CENT) if whole else Decimal(0)
    return f"+{value:f}" if value > 0 else f"{value:f}"


def _percent_or_none(value: Decimal | None, lang: str) -> str:
    return f"{num(value)} %" if value is not None else t(lang, "backtest.none")


def _period_label(days: int | None, lang: str) -> str:
    return t(lang, "backtest.period.label_days", days=days) if days else t(lang, "backtest.period.label_all")


def grid_params_text(data: dict[str, Any], lang: str) -> str:
    grid = data["grid"]
    mode = t(lang, f"bots.grid_mode.{grid['mode']}")
    if grid.get("lower") is None:
        return t(
            lang,
            "backtest.params.grid_defaults",
            symbol=html.escape(data["symbol"]),
            count=grid["count"],
            mode=mode,
            investment=grid["investment"],
        )
    text = t(
        lang,
        "backtest.params.grid",
        symbol=html.escape(data["symbol"]),
        lower=grid["lower"],
        upper=grid["upper"],
        count=grid["count"],
        mode=mode,
        investment=grid["investment"],
    )
    extras = [
        t(lang, f"backtest.params.{key}", price=grid[key])
        for key in ("trigger", "stop_upper", "stop_lower")
        if grid.get(key)
    ]
    return " · ".join([text, *extras])


def trend_params_text(data: dict[str, Any], strategy: StrategyDTO, lang: str) -> str:
    trend = data["trend"]
    leverage = trend.get("leverage") or min(
        strategy.definition().risk.leverage, int(trend["max_leverage"])
    )  # as the live bot caps it, unless the user typed one
    return t(
        lang,
        "backtest.params.trend",
        strategy=html.escape(strategy.name),
        symbol=html.escape(data["symbol"]),
        timeframe=html.escape(trend.get("timeframe") or strategy.timeframe),
        leverage=leverage,
        sl=_percent_or_none(_dec(trend["sl"]), lang),
        tp=_percent_or_none(_dec(trend["tp"]), lang),
        positions=trend["positions"],
    )


def grid_summary(outcome: GridOutcome, lang: str) -> str:
    r, req = outcome.result, outcome.request
    inv = r.investment
    return t(
        lang,
        "backtest.summary.grid",
        symbol=html.escape(req.symbol),
        start=_date(outcome.start_ts),
        end=_date(outcome.end_ts),
        candles=r.candles,
        lower=num(req.lower or 0),
        upper=num(req.upper or 0),
        count=req.grid_count,
        mode=t(lang, f"bots.grid_mode.{req.mode}"),
        investment=num(req.investment),
        cycles=r.cycles,
        fills=len(r.fills),
        profit=_money(r.realized_profit),
        fees=_money(r.fees),
        equity=_money(r.final_equity),
        roi=_signed_pct(r.final_equity - inv, inv),
        drawdown=_pct(r.max_drawdown),
        in_market=_pct(r.time_in_market),
        hold=_money(r.buy_and_hold),
        hold_roi=_signed_pct(r.buy_and_hold - inv, inv),
        hold_drawdown=_pct(r.buy_and_hold_drawdown),
    ) + (
        "\n"
        + t(
            lang,
            "backtest.outside",
            lower=num(req.lower or 0),
            upper=num(req.upper or 0),
            low=num(outcome.period_low),
            high=num(outcome.period_high),
        )
        if outcome.outside
        else ""
    )


def trend_summary(outcome: TrendOutcome, timeframe: str, lang: str) -> str:
    r = outcome.result
    st = r.settings
    return t(
        lang,
        "backtest.summary.trend",
        strategy=html.escape(r.strategy),
        symbol=html.escape(outcome.request.symbol),
        timeframe=html.escape(timeframe),
        start=_date(r.start_ts),
        end=_date(r.end_ts),
        candles=r.candles,
        leverage=st.leverage,
        sl=_percent_or_none(st.stop_loss_percent, lang),
        tp=_percent_or_none(st.take_profit_percent, lang),
        entry=num(st.entry_percent),
        trades=len(r.trades),
        win_rate=_pct(r.win_rate),
        profit=_money(r.profit),
        roi=_signed_pct(r.profit, r.initial_equity),
        equity=_money(r.initial_equity),
        drawdown=_pct(r.max_drawdown),
        sharpe=f"{r.sharpe:.2f}",
        exposure=_pct(r.exposure),
        hold_roi=_signed_pct(r.buy_and_hold - r.initial_equity, r.initial_equity),
        hold_drawdown=_pct(r.buy_and_hold_drawdown),
    )


def _dec(text: str | None) -> Decimal | None:
    return Decimal(text) if text else None
