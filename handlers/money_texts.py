"""The money lines of a bot's card. A grid bot (bot/services/grid_money.py computes them): investment and
value, total PnL split into grid profit and floating PnL, ROI and APR, running time, cycles, fees, the coin
held and its average cost, the resting orders, and the price against the range. A trend bot
(bot/services/trend_money.py): each open position with side, size, entry, mark, unrealized PnL,
liquidation price, stop loss and take profit; realized PnL, win rate, trades, fees, ROI and max drawdown.
Money at 2 decimals with thousands separators, percentages at 2, prices and quantities as the ledger
holds them."""

from __future__ import annotations

import bisect
from decimal import ROUND_HALF_UP, Decimal

from bot.i18n import t
from bot.services.dto import GridDTO
from bot.services.trend_money import TrendMoney

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


def trend_money_lines(money: TrendMoney | None, lang: str) -> list[str]:
    if money is None:
        return []
    lines = []
    for p in money.positions:
        lines.append(
            t(
                lang,
                "bots.money.position",
                side=t(lang, f"bots.money.side.{p.side}"),
                qty=_plain(p.qty),
                leverage=p.leverage,
                entry=_plain(p.entry_price, grouped=True),
                mark=_plain(p.mark, grouped=True) if p.mark is not None else "-",
                pnl=_signed(p.unrealized_pnl) if p.unrealized_pnl is not None else "-",
                liquidation=_plain(p.liquidation, grouped=True) if p.liquidation is not None else "-",
                sl=_plain(p.stop_loss, grouped=True) if p.stop_loss is not None else "-",
                tp=_plain(p.take_profit, grouped=True) if p.take_profit is not None else "-",
            )
        )
    if not money.positions:
        lines.append(t(lang, "bots.money.no_position"))
    lines.append(
        t(
            lang,
            "bots.money.trend",
            realized=_signed(money.realized_pnl),
            unrealized=_signed(money.unrealized_pnl),
            trades=money.trades,
            win_rate=f"{_percent(money.win_rate)}%" if money.win_rate is not None else "-",
            fees=_money(money.fees_paid),
        )
    )
    lines.append(
        t(
            lang,
            "bots.money.trend_risk",
            roi=f"{_signed(money.roi_percent)}%" if money.roi_percent is not None else "-",
            drawdown=_money(money.max_drawdown),
            drawdown_pct=(
                f" ({_percent(money.max_drawdown_percent)}%)"
                if money.max_drawdown_percent is not None
                else ""
            ),
        )
    )
    return lines


def _share(percent: Decimal | None) -> str:
    return f" ({_percent(percent)}%)" if percent is not None else ""


def _percent(value: Decimal) -> str:
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,f}"


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


# the formats other screens share
money_text = _money
signed_money = _signed
plain = _plain
