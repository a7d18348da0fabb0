"""The parameters a user types for /backtest: ``key value`` pairs over the ones shown (the chat keeps them
as text in the FSM data), checked with the fleet's own validation. Grid keys: lower, upper, grids, mode,
investment, trigger, stop_upper, stop_lower (``none`` clears the last three). Trend keys: strategy,
leverage, sl, tp (0 or none = none), positions, timeframe (1h, 4h, 1d: the shipped candles are hourly)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from bot.services import validation as v
from bot.services.errors import ValidationError

GRID_KEYS = {
    "lower": "lower",
    "upper": "upper",
    "grids": "count",
    "count": "count",
    "mode": "mode",
    "investment": "investment",
    "trigger": "trigger",
    "stop_upper": "stop_upper",
    "stop_lower": "stop_lower",
}
TREND_KEYS = {
    "strategy": "strategy",
    "leverage": "leverage",
    "sl": "sl",
    "tp": "tp",
    "positions": "positions",
    "timeframe": "timeframe",
}
TIMEFRAMES = ("1h", "2h", "4h", "6h", "12h", "1d")
CLEARED = ("none", "-", "off", "없음")


class BadParams(ValidationError):
    """What was typed is not ``key value`` pairs of known keys (``field`` names the first bad one)."""


def pairs(text: str, known: dict[str, str]) -> dict[str, str]:
    """``{field: raw value}`` of ``key value`` / ``key=value`` pairs, keys among ``known``."""
    tokens = re.split(r"[\s,;=:]+", text.strip())
    if not tokens or len(tokens) % 2:
        raise BadParams("params", "type key value pairs, like: lower 60000 upper 70000")
    out: dict[str, str] = {}
    for key, value in zip(tokens[0::2], tokens[1::2], strict=True):
        field = known.get(key.lower())
        if field is None:
            raise BadParams(
                "params", f"unknown parameter {key[:20]!r}; known: {', '.join(sorted(set(known)))}"
            )
        out[field] = value
    return out


def _optional(raw: str | None) -> str | None:
    return None if raw is None or raw.strip().lower() in CLEARED else raw


def update_grid(current: dict[str, Any], text: str) -> dict[str, Any]:
    """The grid parameters after ``text`` (strings; None for an unset trigger or stop), all checked
    together; raises ValidationError naming the first wrong one."""
    typed = pairs(text, GRID_KEYS)
    merged = {**current, **typed}
    for key in ("trigger", "stop_upper", "stop_lower"):
        merged[key] = _optional(merged.get(key))
    lower, upper = merged.get("lower"), merged.get("upper")
    if (lower is None) != (upper is None):
        raise ValidationError("params", "give both lower and upper")
    if lower is None:  # the defaults' range (the period's first price -/+ 10 %): check the rest alone
        v.validate_grid_count(merged["count"])
        merged["mode"] = v.validate_grid_mode(merged["mode"])
        v.validate_price(merged["investment"], "total_investment")
        if any(merged[k] for k in ("trigger", "stop_upper", "stop_lower")):
            raise ValidationError("params", "set lower and upper before a trigger or stops")
        return merged
    checked = v.validate_grid_params(
        lower=lower,
        upper=upper,
        grid_count=merged["count"],
        mode=merged["mode"],
        total_investment=merged["investment"],
        trigger_price=merged["trigger"],
        stop_upper=merged["stop_upper"],
        stop_lower=merged["stop_lower"],
    )
    return {
        "lower": _text(checked.lower),
        "upper": _text(checked.upper),
        "count": checked.grid_count,
        "mode": checked.mode,
        "investment": _text(checked.total_investment),
        "trigger": _text(checked.trigger_price),
        "stop_upper": _text(checked.stop_upper),
        "stop_lower": _text(checked.stop_lower),
    }


def update_trend(current: dict[str, Any], text: str, max_leverage: int) -> tuple[dict[str, Any], str | None]:
    """The trend parameters after ``text`` and the strategy name typed (None: unchanged)."""
    typed = pairs(text, TREND_KEYS)
    merged = dict(current)
    if "leverage" in typed:
        merged["leverage"] = v.validate_leverage(typed["leverage"], max_leverage)
    if "positions" in typed:
        merged["positions"] = v.validate_positions(typed["positions"])
    for key, check in (("sl", v.validate_stop_loss), ("tp", v.validate_take_profit)):
        if key in typed:
            raw = typed[key]
            merged[key] = None if raw.strip().lower() in (*CLEARED, "0") else _text(check(raw))
    if "timeframe" in typed:
        timeframe = typed["timeframe"].lower()
        if timeframe not in TIMEFRAMES:
            raise ValidationError("timeframe", f"timeframe must be one of {', '.join(TIMEFRAMES)}")
        merged["timeframe"] = timeframe
    return merged, typed.get("strategy")


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
