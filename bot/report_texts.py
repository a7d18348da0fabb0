"""A report's outbox payload (bot/services/reports.py) as the message and the picture the sender sends:
the text in the user's language and a PNG of the equity per day."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import t
from handlers.money_texts import money_text, signed_money

ZERO = Decimal(0)


def render_report(payload: dict[str, Any], lang: str) -> str:
    zone = ZoneInfo(payload["zone"])
    start = _local(payload["start"], zone)
    end = _local(payload["end"], zone)
    lines = [
        t(
            lang,
            f"report.title.{payload['report']}",
            start=start.strftime("%Y-%m-%d %H:%M"),
            end=end.strftime("%Y-%m-%d %H:%M"),
            zone=html.escape(payload["zone"]),
        )
    ]
    equity, before = _dec(payload.get("equity")), _dec(payload.get("equity_before"))
    if equity is None:
        lines.append(t(lang, "report.equity_unknown"))
    elif before is None:
        lines.append(t(lang, "report.equity_first", equity=money_text(equity)))
    else:
        change = equity - before
        percent = f" / {signed_money(change / before * 100)} %" if before > 0 else ""
        lines.append(
            t(lang, "report.equity", equity=money_text(equity), change=signed_money(change) + percent)
        )
    lines.append(
        t(
            lang,
            "report.pnl",
            pnl=signed_money(Decimal(payload["pnl"])),
            unrealized=signed_money(Decimal(payload["unrealized"])),
        )
    )
    lines.append(
        t(
            lang,
            "report.activity",
            trades=payload["trades"],
            cycles=payload["cycles"],
            fees=money_text(Decimal(payload["fees"])),
        )
    )
    bots = payload.get("bots") or []
    if bots:
        lines.append(t(lang, "report.bots"))
        for name, pnl, cycles, trades, fees in bots:
            values = {
                "pnl": signed_money(Decimal(pnl)),
                "cycles": cycles,
                "trades": trades,
                "fees": money_text(Decimal(fees)),
            }
            if name:
                lines.append(t(lang, "report.bot", name=html.escape(name), **values))
            else:
                lines.append(t(lang, "report.manual", **values))
    else:
        lines.append(t(lang, "report.none"))
    best, worst = payload.get("best"), payload.get("worst")
    if best and worst:
        lines.append(
            t(
                lang,
                "report.best",
                name=html.escape(best[0]),
                pnl=signed_money(Decimal(best[1])),
                worst=html.escape(worst[0]),
                worst_pnl=signed_money(Decimal(worst[1])),
            )
        )
    errors = int(payload.get("errors") or 0)
    lines.append(t(lang, "report.errors", errors=errors) if errors else t(lang, "report.no_errors"))
    return "\n".join(lines)


def report_chart(payload: dict[str, Any], lang: str) -> tuple[bytes, str] | None:
    """The PNG of equity per day and its caption; None without at least one day of equity."""
    days = [(d, Decimal(e)) for d, e in payload.get("days") or []]
    if not days:
        return None
    from engine.charts.equity import equity_days_chart

    return equity_days_chart(days), t(lang, "report.chart", days=len(days))


def _local(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).astimezone(zone)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


__all__ = ["render_report", "report_chart"]
