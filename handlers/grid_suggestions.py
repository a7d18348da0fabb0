"""The grid wizard's "suggest a range": the suggestions as text and one-tap buttons, and the tapped
button read back (its values are checked like typed answers: callback data can be forged)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from bot.i18n import t
from bot.services.range_suggestions import CandleHistory, Suggestions, default_history, suggest
from engine.markets import MarketRules
from handlers.grid_preview import number

ASK = "?"  # the button's value that asks for suggestions
PREFIX = "s~"  # a suggestion's value: s~lower~upper~count~a|g
MODES = {"a": "arithmetic", "g": "geometric"}


def _pct(fraction: Decimal) -> str:
    value = (fraction * 100).quantize(Decimal("0.1"))
    return f"+{value}" if value > 0 else f"{value}"


def render(suggestions: Suggestions, lang: str) -> str:
    day = datetime.fromtimestamp(suggestions.last_ts / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    rows = [
        t(
            lang,
            "wizard.suggest.head",
            symbol=suggestions.symbol,
            now=day,
            investment=number(suggestions.investment),
        )
    ]
    for k, item in enumerate(suggestions.items, start=1):
        windows = " · ".join(
            t(
                lang,
                "wizard.suggest.window",
                days=w.days,
                roi=_pct(w.roi),
                apr=_pct(w.apr),
                drawdown=f"{(w.max_drawdown * 100).quantize(Decimal('0.1'))}",
                cycles=w.cycles,
            )
            for w in item.windows
        )
        rows.append(
            t(
                lang,
                "wizard.suggest.item",
                k=k,
                lower=number(item.lower),
                upper=number(item.upper),
                count=item.grids,
                mode=t(lang, f"wizard.mode.{item.mode}"),
                windows=windows,
            )
        )
    rows.append(t(lang, "wizard.suggest.tap"))
    return "\n".join(rows)


def buttons(suggestions: Suggestions, lang: str) -> list[tuple[str, str]]:
    return [
        (
            f"{k}: {number(s.lower)}–{number(s.upper)} · {s.grids} · {t(lang, f'wizard.mode.{s.mode}')}",
            f"{PREFIX}{s.lower}~{s.upper}~{s.grids}~{s.mode[0]}",
        )
        for k, s in enumerate(suggestions.items, start=1)
    ]


def parse(value: str) -> tuple[str, str, str, str] | None:
    """(lower, upper, count, mode) of a suggestion button's value, or None when it is not one."""
    if not value.startswith(PREFIX):
        return None
    parts = value[len(PREFIX) :].split("~")
    if len(parts) != 4 or parts[3] not in MODES:
        return None
    try:
        lower, upper = Decimal(parts[0]), Decimal(parts[1])
        count = int(parts[2])
    except (InvalidOperation, ValueError):
        return None
    return str(lower), str(upper), str(count), MODES[parts[3]]


async def compute(
    history: CandleHistory | None,
    user_id: int,
    symbol: str,
    market: MarketRules,
    maker: Decimal,
    taker: Decimal,
) -> Suggestions | None:
    """Suggestions from the last 30 days of ``symbol`` (None without candles), off the event loop."""
    source = history or default_history()
    candles = await source.recent(user_id, symbol, 30)
    if candles is None or len(candles) < 24 * 7:
        return None
    found = await asyncio.to_thread(suggest, candles, symbol, market, maker, taker)
    return found if found.items else None
