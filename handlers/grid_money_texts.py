"""The money lines of a grid bot's card (bot/services/grid_money.py computes them): investment and value,
total PnL split into grid profit and floating PnL, ROI and APR, running time, cycles, fees, the coin held
and its average cost, the resting orders, and the price against the range. Money at 2 decimals with
thousands separators, percentages at 2, prices and quantities as the ledger holds them."""

from __future__ import annotations

import bisect
from decimal import ROUND_HALF_UP, Decimal

from bot.i18n import t
from bot.services.dto import GridDTO

CENT = Decimal("0.01")


def grid_money_lines(grid: GridDTO, symbol: str, lang: str) -> list[str]:
    money = grid.money
    if money is None:
        return []
    asset = symbol.split("/")[0].removesuffix("USDT")  # BTCUSDT or BTC/USDT: BTC
    lines = [
        t(lang, "bots.money.value", investment=_money(money.investment), value=_money(money.current_value)),
        t(
            lang,
            "bots.money.pnl",
            total=_signed(money.total_pnl),
            roi=_signed(money.roi_percent),
            grid=_signed(money.grid_profit),
            floating=_signed(money.floating_pnl),
        ),
    ]
    running = _duration(money.seconds_running, lang)
    common = {"running": running, "cycles": money.cycles, "fees": _money(money.fees_paid)}
    if money.apr_percent is not None:
        lines.append(t(lang, "bots.money.apr", apr=_signed(money.apr_percent), **common))
    else:
        lines.append(t(lang, "bots.money.apr_none", **common))
    resting = {"buys": money.buys_resting, "sells": money.sells_resting, "asset": asset}
    if money.held > 0 and money.average_cost is not None:
        lines.append(
            t(lang, "bots.money.held", held=_plain(money.held), cost=_money(money.average_cost), **resting)
        )
    else:
        lines.append(t(lang, "bots.money.held_none", **resting))
    if money.mark is not None and grid.lines:
        lines.append(_price_line(money.mark, grid.lines, lang))
    return lines


def _price_line(price: Decimal, lines: tuple[Decimal, ...], lang: str) -> str:
    shown = _plain(price, grouped=True)
    if price < lines[0]:
        return t(lang, "bots.money.price_below", price=shown)
    if price > lines[-1]:
        return t(lang, "bots.money.price_above", price=shown)
    line = max(1, bisect.bisect_right(lines, price))  # lines at or below the price, counted from 1
    return t(lang, "bots.money.price_in", price=shown, line=line, lines=len(lines))


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,f}"


def _signed(value: Decimal) -> str:
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP)
    return f"+{rounded:,f}" if rounded > 0 else f"{rounded:,f}"


def _plain(value: Decimal, *, grouped: bool = False) -> str:
    number = value.normalize()
    if number == number.to_integral():
        number = number.quantize(Decimal(1))
    return f"{number:,f}" if grouped else f"{number:f}"


def _duration(seconds: int, lang: str) -> str:
    days, rest = divmod(seconds, 86_400)
    return t(lang, "bots.money.duration", days=days, hours=rest // 3600, minutes=rest % 3600 // 60)
