"""The grid preview: exact Decimal figures from hand calculations, and its text in both languages."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n import CATALOG, placeholders
from bot.sandbox.formatting import parse_html
from engine.markets import BITGET_SPOT, MarketRules
from handlers.grid_preview import (
    compute_preview,
    condensed_lines,
    interval_profit_percent,
    render_preview,
)

D = Decimal
BTC = BITGET_SPOT["BTCUSDT"]  # tick 0.01, lot 0.000001, min qty 0.000001, min notional 1 USDT
ETH = BITGET_SPOT["ETHUSDT"]  # tick 0.01, lot 0.0001, min qty 0.0001, min notional 1 USDT
MAKER = D("0.0002")


def btc_grid(equity: Decimal | None = D(10000)):
    # 60,000 .. 70,000 in 10 arithmetic grids: lines every 1,000; 1,000 USDT -> 100 USDT per grid
    return compute_preview(
        lower=D(60000),
        upper=D(70000),
        grid_count=10,
        mode="arithmetic",
        total_investment=D(1000),
        market=BTC,
        maker_fee_rate=MAKER,
        allocation_percent=D(10),
        equity=equity,
    )


def test_arithmetic_grid_figures() -> None:
    preview = btc_grid()
    assert preview.lines == tuple(D(60000 + 1000 * k).quantize(D("0.01")) for k in range(11))
    assert preview.per_grid_amount == D("100.00000000")  # 1000 / 10
    # qty of interval i = 100 / line i, floored to 0.000001
    assert preview.quantities[0] == D("0.001666")  # 100 / 60000 = 0.0016666…
    assert preview.quantities[9] == D("0.001449")  # 100 / 69000 = 0.00144927…
    # lowest: (61000 x 0.9998 - 60000 x 1.0002) / 60000 x 100 = (60987.8 - 60012) / 600 = 1.62633… -> 1.62
    assert preview.profit_lowest_percent == D("1.62")
    # highest: (70000 x 0.9998 - 69000 x 1.0002) / 69000 x 100 = (69986 - 69013.8) / 690 = 1.40898… -> 1.40
    assert preview.profit_highest_percent == D("1.40")
    # allocated capital: 10 % of 10,000 = 1,000 = the investment: enough
    assert preview.allocated_capital == D("1000.00")
    assert not preview.over_allocation and not preview.too_small and not preview.loses_per_cycle
    assert preview.min_investment is None


def test_geometric_grid_has_equal_profit_per_grid() -> None:
    market = MarketRules("XUSDT", "X", "USDT", D("0.01"), D("0.01"), D("0.01"), D("1"))
    # 100 .. 400 in 2 geometric grids: ratio sqrt(4) = 2 -> lines 100, 200, 400
    preview = compute_preview(
        lower=D(100),
        upper=D(400),
        grid_count=2,
        mode="geometric",
        total_investment=D(100),
        market=market,
        maker_fee_rate=MAKER,
        allocation_percent=D(5),
        equity=None,
    )
    assert preview.lines == (D("100.00"), D("200.00"), D("400.00"))
    # (200 x 0.9998 - 100 x 1.0002) / 100 x 100 = 199.96 - 100.02 = 99.94
    # (400 x 0.9998 - 200 x 1.0002) / 200 x 100 = (399.92 - 200.04) / 2 = 99.94
    assert preview.profit_lowest_percent == preview.profit_highest_percent == D("99.94")
    assert preview.quantities == (D("0.50"), D("0.25"))  # 50 / 100, 50 / 200
    assert preview.allocated_capital is None


def test_profit_is_rounded_down_and_can_be_negative() -> None:
    # a 0.01 step on 100: (100.01 x 0.9998 - 100 x 1.0002) / 100 x 100 = 99.989998 - 100.02 = -0.030002 -> -0.04
    assert interval_profit_percent(D("100.00"), D("100.01"), MAKER) == D("-0.04")
    # no fee: 1 % exactly
    assert interval_profit_percent(D(100), D(101), D(0)) == D("1.00")
    preview = compute_preview(
        lower=D("100"),
        upper=D("100.10"),
        grid_count=10,
        mode="arithmetic",
        total_investment=D(1000),
        market=ETH,
        maker_fee_rate=MAKER,
        allocation_percent=D(10),
    )
    assert preview.loses_per_cycle


def test_too_small_investment_gives_the_minimum() -> None:
    # ETH 2000 .. 3000 in 4 grids: lines 2000, 2250, 2500, 2750, 3000. 3 USDT -> 0.75 per grid ->
    # 0.75 / 2000 = 0.000375 -> 0.0003 ETH = 0.6 USDT, under the 1 USDT minimum.
    preview = compute_preview(
        lower=D(2000),
        upper=D(3000),
        grid_count=4,
        mode="arithmetic",
        total_investment=D(3),
        market=ETH,
        maker_fee_rate=MAKER,
        allocation_percent=D(1),
        equity=D(100),
    )
    assert preview.too_small
    # each line needs ceil(1 / line, 0.0001) ETH: 2000 -> 0.0005 (1.000), 2250 -> 0.0005 (1.125),
    # 2500 -> 0.0004 (1.000), 2750 -> 0.0004 (1.100); the largest, 1.125 per grid x 4 = 4.50
    assert preview.min_investment == D("4.50")
    # allocated 1 % of 100 = 1.00 < 3: the capital line warns too
    assert preview.allocated_capital == D("1.00") and preview.over_allocation
    # and 4.50 does work
    enough = compute_preview(
        lower=D(2000),
        upper=D(3000),
        grid_count=4,
        mode="arithmetic",
        total_investment=D("4.50"),
        market=ETH,
        maker_fee_rate=MAKER,
        allocation_percent=D(1),
    )
    assert not enough.too_small and enough.quantities == (D("0.0005"), D("0.0005"), D("0.0004"), D("0.0004"))


def test_lines_are_condensed_when_many() -> None:
    lines = [D(k) for k in range(11)]
    assert condensed_lines(lines) == [D(0), D(1), D(2), None, D(8), D(9), D(10)]
    assert condensed_lines(lines[:7]) == lines[:7]


def test_rendered_preview_in_english() -> None:
    text = render_preview(btc_grid(), "en", name="<Grid & Co>")
    plain, _ = parse_html(text)  # valid HTML for Telegram
    assert "Grid preview: <Grid & Co>" in plain and "&lt;Grid &amp; Co&gt;" in text
    assert "Lines (11): 60,000.00 · 61,000.00 · 62,000.00 · … · 68,000.00 · 69,000.00 · 70,000.00" in plain
    assert "Per grid: 100.00 USDT (total 1,000.00 USDT)" in plain
    assert "Quantity per grid: 0.001449 – 0.001666 BTC" in plain
    assert "(0.02 % maker on each fill): 1.62 % at the lowest grid, 1.40 % at the highest" in plain
    assert "Capital needed: 1,000.00 USDT · this bot's allocation: 10 % = 1,000.00 USDT" in plain
    assert "⚠️" not in plain


def test_rendered_preview_warnings_in_korean() -> None:
    preview = compute_preview(
        lower=D(2000),
        upper=D(3000),
        grid_count=4,
        mode="arithmetic",
        total_investment=D(3),
        market=ETH,
        maker_fee_rate=MAKER,
        allocation_percent=D(1),
        equity=D(100),
    )
    plain, _ = parse_html(render_preview(preview, "ko", name="그리드"))
    assert "라인 (5개): 2,000.00 · 2,250.00 · 2,500.00 · 2,750.00 · 3,000.00" in plain
    assert "가능한 최소 투자금: 4.50 USDT" in plain
    assert "시작되지 않습니다" in plain  # over the allocated capital
    unknown = render_preview(btc_grid(equity=None), "en", name="g")
    assert "this bot's allocation: 10 % of your balance" in unknown


def test_wizard_texts_exist_in_both_languages_with_the_same_placeholders() -> None:
    en = {k: v for k, v in CATALOG["en"].items() if k.startswith("wizard.")}
    ko = {k: v for k, v in CATALOG["ko"].items() if k.startswith("wizard.")}
    assert en.keys() == ko.keys()
    assert {k: placeholders(v) for k, v in en.items()} == {k: placeholders(v) for k, v in ko.items()}
    for text in (*en.values(), *ko.values()):
        parse_html(text.replace("{", "").replace("}", ""))  # every template is valid Telegram HTML


def test_the_start_at_the_price_now_buys_at_market_and_rests_the_rest() -> None:
    """BTC at 65,500 in the 60,000 .. 70,000 grid of 10 (fill rule 3): the buy lines 60,000 .. 65,000 lie
    below the price and rest 6 buys; the intervals at 66,000, 67,000, 68,000 and 69,000 are bought at
    market in one order and rest 4 sells. Their quantities (rule 2, 100 USDT / line floored to 0.000001):
    0.001515 + 0.001492 + 0.001470 + 0.001449 = 0.005926 BTC; x 65,500 = 388.153 USDT; taker fee 0.06 %
    of it = 0.2328918 USDT."""
    preview = compute_preview(
        lower=D(60000),
        upper=D(70000),
        grid_count=10,
        mode="arithmetic",
        total_investment=D(1000),
        market=BTC,
        maker_fee_rate=MAKER,
        allocation_percent=D(10),
        equity=D(10000),
        taker_fee_rate=D("0.0006"),
        start_price=D(65500),
    )
    assert (preview.resting_buys, preview.resting_sells) == (6, 4)
    assert preview.market_qty == D("0.005926")
    assert preview.market_cost == D("388.153000")
    assert preview.market_fee == D("0.2328918")
    assert not preview.near_edge and not preview.outside_range
    text = parse_html(render_preview(preview, "en", name="G"))[0]
    assert "Fee rates used: maker 0.02 %, taker 0.06 %" in text
    assert (
        "At the start (65,500 USDT): buys 0.005926 BTC at market ≈ 388.15 USDT (taker fee ≈ 0.23 USDT)"
        in text
    )
    assert "Orders resting after the start: buy 6, sell 4" in text
    assert "⚠️" not in text


def test_a_start_within_one_grid_of_an_edge_or_outside_the_range_is_warned() -> None:
    def at(price: str):
        return compute_preview(
            lower=D(60000),
            upper=D(70000),
            grid_count=10,
            mode="arithmetic",
            total_investment=D(1000),
            market=BTC,
            maker_fee_rate=MAKER,
            allocation_percent=D(10),
            taker_fee_rate=D("0.0006"),
            start_price=D(price),
        )

    # 60,500: between the lowest line and the next; 9 intervals bought at market, 1 buy rests
    low = at("60500")
    assert low.near_edge and (low.resting_buys, low.resting_sells) == (1, 9)
    # 69,500: within the highest grid; nothing bought at market, 10 buys rest
    high = at("69500")
    assert high.near_edge and (high.resting_buys, high.resting_sells, high.market_qty) == (10, 0, 0)
    assert "nothing is bought at market" in parse_html(render_preview(high, "en", name="G"))[0]
    # 61,000 is one grid up: no longer within one grid of the edge
    assert not at("61000").near_edge and not at("69000").near_edge
    # below the range every interval is bought at market; above it all rest buys
    below, above = at("59000"), at("71000")
    assert below.outside_range and not below.near_edge and below.resting_sells == 10
    assert above.outside_range and above.resting_buys == 10
    for preview, lang, words in ((low, "en", "within one grid"), (below, "ko", "범위 밖")):
        assert words in parse_html(render_preview(preview, lang, name="G"))[0]


def test_without_a_price_the_start_is_not_guessed() -> None:
    preview = btc_grid()
    assert preview.start_price is None and (preview.resting_buys, preview.resting_sells) == (0, 0)
    assert "At the start" not in parse_html(render_preview(preview, "en", name="G"))[0]
