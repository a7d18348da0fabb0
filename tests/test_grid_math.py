"""engine/grid/lines.py: lines, amounts, minimum investment and the interval state machine."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.client_ids import belongs_to, next_client_id
from engine.grid.intervals import (
    CycleResult,
    IntervalStatus,
    OrderIntent,
    Side,
    client_order_id,
    initial_placement,
    market_buy,
    new_interval,
    on_buy_filled,
    on_order_placed,
    on_sell_filled,
    on_sell_partly_filled,
    place_buy,
)
from engine.grid.lines import (
    GridTooSmall,
    check_grid_investment,
    cycle_profit,
    grid_lines,
    interval_qty,
    interval_quantities,
    min_investment_for,
    per_grid_amount,
)
from engine.money import fee_for, round_to_tick

TICK = D("0.01")

# ------------------------------------------------------------------- grid lines


def test_arithmetic_lines_equal_steps():
    # (200 - 100) / 4 = 25 per step
    assert grid_lines(D(100), D(200), 4, "arithmetic", TICK) == [
        D("100.00"),
        D("125.00"),
        D("150.00"),
        D("175.00"),
        D("200.00"),
    ]


def test_arithmetic_lines_round_to_tick():
    # 100 + 1/3 = 100.333.. -> 100.33 ; 100 + 2/3 = 100.666.. -> 100.67
    assert grid_lines(D(100), D(101), 3, "arithmetic", TICK) == [
        D("100.00"),
        D("100.33"),
        D("100.67"),
        D("101.00"),
    ]


def test_arithmetic_ties_round_half_even():
    # 100 + 0.05 / 2 = 100.025 -> 100.02 (2 is even); 100 + 0.07 / 2 = 100.035 -> 100.04
    assert grid_lines(D(100), D("100.05"), 2, "arithmetic", TICK)[1] == D("100.02")
    assert grid_lines(D(100), D("100.07"), 2, "arithmetic", TICK)[1] == D("100.04")


def test_geometric_lines_equal_ratios():
    # 100 * (400/100)^(1/2) = 200 exactly; 8 decimals without a tick
    assert grid_lines(D(100), D(400), 2, "geometric") == [
        D("100.00000000"),
        D("200.00000000"),
        D("400.00000000"),
    ]
    # 1000 * 2^(1/3) = 1259.92104989487..., 1000 * 2^(2/3) = 1587.40105196819...
    assert grid_lines(D(1000), D(2000), 3, "geometric", TICK) == [
        D("1000.00"),
        D("1259.92"),
        D("1587.40"),
        D("2000.00"),
    ]
    assert grid_lines(D(1000), D(2000), 3, "geometric")[1:3] == [D("1259.92104989"), D("1587.40105197")]


def test_coarse_tick_price_and_integer_tick():
    assert round_to_tick(D("123.456"), D("0.5")) == D("123.5")
    assert round_to_tick(D("123.25"), D("0.5")) == D("123.0")  # 246.5 ticks -> 246 (even)
    assert grid_lines(D(10), D(20), 2, "arithmetic", D(1)) == [D(10), D(15), D(20)]


@pytest.mark.parametrize(
    ("lower", "upper", "count", "mode", "tick"),
    [
        (D(100), D(100), 4, "arithmetic", TICK),  # lower == upper
        (D(0), D(100), 4, "geometric", TICK),  # lower must be > 0
        (D(100), D(200), 0, "arithmetic", TICK),
        (D(100), D(200), 4, "fibonacci", TICK),
        (D(100), D(200), 4, "arithmetic", D(0)),
        (D(100), D("100.02"), 4, "arithmetic", TICK),  # 0.005 per step collapses at a 0.01 tick
    ],
)
def test_grid_lines_refuses_bad_input(lower, upper, count, mode, tick):
    with pytest.raises(ValueError):
        grid_lines(lower, upper, count, mode, tick)


prices = st.decimals(min_value=D("0.01"), max_value=D(200000), places=2)


@settings(max_examples=200, deadline=None)
@given(
    lower=prices,
    width=st.decimals(min_value=D("0.01"), max_value=D(10), places=2),
    count=st.integers(min_value=1, max_value=100),
    mode=st.sampled_from(["arithmetic", "geometric"]),
    tick=st.sampled_from([D("0.01"), D("0.1"), D("0.5"), D(1)]),
)
def test_lines_properties(lower, width, count, mode, tick):
    upper = lower * (1 + width)
    try:
        lines = grid_lines(lower, upper, count, mode, tick)
    except ValueError as exc:
        # only when the tick is too coarse for this many lines
        assert "round" in str(exc)
        return
    assert len(lines) == count + 1
    assert all(a < b for a, b in itertools.pairwise(lines))
    assert lines[0] == round_to_tick(lower, tick)
    assert lines[-1] == round_to_tick(upper, tick)
    assert all((x / tick) == (x / tick).to_integral_value() for x in lines)
    for k, line in enumerate(lines):
        exact = lower + (upper - lower) * k / count if mode == "arithmetic" else None
        if exact is not None:
            assert abs(line - exact) <= tick / 2 + D("1e-20")


# ------------------------------------------------------------------ amounts


def test_per_grid_amount_rounds_down_to_8_decimals():
    assert per_grid_amount(D(1000), 4) == D("250.00000000")
    assert per_grid_amount(D(1000), 3) == D("333.33333333")
    assert per_grid_amount(D(2000), 3) == D("666.66666666")  # 666.666...: down, not 666.66666667


def test_interval_qty_rounds_down_to_lot_step():
    # 100 / 105573.73 = 0.00094720...: 0.000947 x 105573.73 = 99.98 <= 100 < 0.000948 x 105573.73 = 100.08
    assert interval_qty(D(100), D("105573.73"), D("0.000001")) == D("0.000947")
    assert interval_qty(D(100), D(100), D("0.001")) == D("1.000")  # an exact quotient stays whole
    assert interval_qty(D(100), D(101), D("0.001")) == D("0.990")  # 0.990099...
    assert interval_qty(D(1), D(100000), D("0.000001")) == D("0.000010")


@settings(max_examples=300, deadline=None)
@given(
    per_grid=st.decimals(min_value=D("0.01"), max_value=D(100000), places=8),
    price=st.decimals(min_value=D("0.0001"), max_value=D(500000), places=4),
    step=st.sampled_from([D("0.000001"), D("0.0001"), D("0.01"), D(1), D("0.5")]),
)
def test_interval_qty_is_the_largest_step_multiple_that_fits(per_grid, price, step):
    qty = interval_qty(per_grid, price, step)
    assert qty >= 0
    assert qty % step == 0
    assert qty * price <= per_grid
    assert (qty + step) * price > per_grid


@settings(max_examples=100, deadline=None)
@given(total=st.decimals(min_value=D("0.01"), max_value=D(10**9), places=8), count=st.integers(1, 100))
def test_per_grid_amount_never_exceeds_the_total(total, count):
    per_grid = per_grid_amount(total, count)
    assert per_grid * count <= total
    assert total - per_grid * count < count * D("0.00000001")


def test_fee_and_cycle_profit():
    # 102 x 0.98 x 0.0005 = 0.04998 ; 103 x 0.98 x 0.0005 = 0.05047
    assert fee_for(D("102.00"), D("0.980"), D("0.0005")) == D("0.04998000")
    assert fee_for(D("103.00"), D("0.980"), D("0.0005")) == D("0.05047000")
    # 0.98 x (103 - 102) - 0.04998 - 0.05047 = 0.87955
    assert cycle_profit(D("0.980"), D(102), D(103), D("0.04998"), D("0.05047")) == D("0.87955000")
    # 8 decimals, half even: 105573.73 x 0.000947 x 0.0002 = 0.019995664462 -> 0.01999566
    assert fee_for(D("105573.73"), D("0.000947"), D("0.0002")) == D("0.01999566")
    assert fee_for(D("0.5"), D("0.00000001"), D("1")) == D("0E-8")  # 0.000000005 -> 0 (even)
    assert fee_for(D("1.5"), D("0.00000001"), D("1")) == D("0.00000002")  # 0.000000015 -> 0.00000002


# ------------------------------------------------------ minimum investment

LINES_100_200 = [D("100.00"), D("125.00"), D("150.00"), D("175.00"), D("200.00")]


def test_min_investment_by_hand():
    # min qty 0.01, min notional 5, lot 0.001:
    #   line 100: 5/100 = 0.05  -> 0.050 -> 5.000 quote
    #   line 125: 5/125 = 0.04  -> 0.040 -> 5.000
    #   line 150: 5/150 = 0.0333 -> 0.034 -> 5.100   <- the largest
    #   line 175: 5/175 = 0.02857 -> 0.029 -> 5.075
    # per grid 5.10 x 4 grids = 20.40
    minimum = min_investment_for(LINES_100_200, 4, D("0.001"), D("0.01"), D(5))
    assert minimum == D("20.40")
    check_grid_investment(D("20.40"), LINES_100_200, 4, D("0.001"), D("0.01"), D(5))
    with pytest.raises(GridTooSmall) as info:
        # 20.39 / 4 = 5.0975; 5.0975 / 150 = 0.03398 -> 0.033 -> 4.95 < 5
        check_grid_investment(D("20.39"), LINES_100_200, 4, D("0.001"), D("0.01"), D(5))
    assert info.value.min_investment == D("20.40")
    assert isinstance(info.value, ValueError)
    assert "20.40" in str(info.value)


def test_min_investment_without_exchange_minimums_is_one_lot_per_interval():
    # one lot of 0.001 at the highest buy line 175 costs 0.175 -> 0.175 x 4 = 0.70
    assert min_investment_for(LINES_100_200, 4, D("0.001")) == D("0.70")


@settings(max_examples=150, deadline=None)
@given(
    lower=st.decimals(min_value=D(1), max_value=D(100000), places=2),
    width=st.decimals(min_value=D("0.05"), max_value=D(3), places=2),
    count=st.integers(2, 60),
    mode=st.sampled_from(["arithmetic", "geometric"]),
    step=st.sampled_from([D("0.000001"), D("0.0001"), D("0.01")]),
    min_qty=st.sampled_from([D(0), D("0.0001"), D("0.01")]),
    min_notional=st.sampled_from([D(0), D(1), D(5), D(10)]),
)
def test_min_investment_is_the_smallest_that_fits(lower, width, count, mode, step, min_qty, min_notional):
    try:
        lines = grid_lines(lower, lower * (1 + width), count, mode, D("0.01"))
    except ValueError:
        return
    minimum = min_investment_for(lines, count, step, min_qty, min_notional)
    assert minimum == minimum.quantize(D("0.01"))
    check_grid_investment(minimum, lines, count, step, min_qty, min_notional)
    per_grid = per_grid_amount(minimum, count)
    for qty, line in zip(interval_quantities(lines, per_grid, step), lines, strict=False):
        assert qty >= min_qty and qty >= step and qty * line >= min_notional
    if minimum > D("0.01"):
        with pytest.raises(GridTooSmall):
            check_grid_investment(minimum - D("0.01"), lines, count, step, min_qty, min_notional)


# ----------------------------------------------------------- state machine

LINES = [D("100.00"), D("101.00"), D("102.00"), D("103.00"), D("104.00")]
NS = "q7k2x"  # an installation's namespace (engine.client_ids)


def test_initial_placement_splits_at_the_price():
    assert initial_placement(LINES, D("102.5")) == ([0, 1, 2], [3])
    assert initial_placement(LINES, D("102.00")) == ([0, 1], [2, 3])  # a buy line at the price: market
    assert initial_placement(LINES, D(99)) == ([], [0, 1, 2, 3])
    assert initial_placement(LINES, D(105)) == ([0, 1, 2, 3], [])


def test_interval_full_cycle_by_hand():
    state = new_interval(2, LINES, D("0.980"))
    assert (state.status, state.cycle, state.buy_price, state.sell_price) == ("pending", 0, D(102), D(103))

    state, buy = place_buy(state)
    assert buy == OrderIntent(2, 0, Side.BUY, D(102), D("0.980"))
    assert state.status is IntervalStatus.BUY_PLACED
    state = on_order_placed(state, buy)

    buy_fee = fee_for(D(102), D("0.980"), D("0.0005"))  # 0.04998
    state, sell = on_buy_filled(state, D(102), D("0.980"), buy_fee, 1000)
    assert state.status is IntervalStatus.BUY_FILLED
    assert sell == OrderIntent(2, 0, Side.SELL, D(103), D("0.980"))
    state = on_order_placed(state, sell)
    assert state.status is IntervalStatus.SELL_PLACED

    sell_fee = fee_for(D(103), D("0.980"), D("0.0005"))  # 0.05047
    state, result, again = on_sell_filled(state, D(103), D("0.980"), sell_fee, 2000)
    assert result == CycleResult(
        interval=2,
        cycle=0,
        qty=D("0.980"),
        buy_price=D(102),
        sell_price=D(103),
        buy_fee=D("0.04998000"),
        sell_fee=D("0.05047000"),
        profit=D("0.87955000"),  # 0.98 x 1 - 0.04998 - 0.05047
        ts=2000,
    )
    assert state.status is IntervalStatus.SELL_FILLED
    assert state.cycle == 1
    assert state.realized_profit == D("0.87955000")
    assert again == OrderIntent(2, 1, Side.BUY, D(102), D("0.980"))
    assert again.client_order_id(NS, 7) == "q7k2x7i2c1b"
    state = on_order_placed(state, again)
    assert state.status is IntervalStatus.BUY_PLACED


def test_market_bought_interval_profit_uses_the_market_price():
    state = new_interval(3, LINES, D("0.970"))
    intent = market_buy(state)
    assert intent.price is None and intent.side is Side.BUY
    fee = fee_for(D("102.5"), D("0.970"), D("0.001"))  # 102.5 x 0.97 x 0.001 = 0.099425
    state, sell = on_buy_filled(state, D("102.5"), D("0.970"), fee, 0)
    state = on_order_placed(state, sell)
    sell_fee = fee_for(D(104), D("0.970"), D("0.0005"))  # 0.05044
    state, result, _ = on_sell_filled(state, D(104), D("0.970"), sell_fee, 1)
    # 0.97 x (104 - 102.5) - 0.099425 - 0.05044 = 1.305135
    assert result.profit == D("1.30513500")


def test_a_sell_filled_in_part_books_the_part_and_the_interval_keeps_the_rest():
    state = new_interval(2, LINES, D("0.980"))
    state, buy = place_buy(state)
    state = on_order_placed(state, buy)
    buy_fee = fee_for(D(102), D("0.980"), D("0.0005"))  # 0.04998
    state, sell = on_buy_filled(state, D(102), D("0.979"), buy_fee, 1000)  # holds 0.979 (fee in the coin)
    assert sell.qty == D("0.979") and state.held == D("0.979") and state.qty == D("0.980")
    state = on_order_placed(state, sell)
    sell_fee = fee_for(D(103), D("0.4"), D("0.0005"))  # 0.0206
    state, part = on_sell_partly_filled(state, D(103), D("0.4"), sell_fee, 2000)
    # the part's share of the entry fee: 0.04998 x 0.4 / 0.979 = 0.02042084 (8 decimals)
    assert part.buy_fee == D("0.02042084") and not part.complete
    # 0.4 x (103 - 102) - 0.02042084 - 0.0206 = 0.35897916
    assert part.profit == D("0.35897916")
    assert state.status is IntervalStatus.BUY_FILLED and state.cycle == 0
    assert state.held == D("0.579") and state.entry_fee == D("0.02955916")
    state, rest = on_order_placed(state, OrderIntent(2, 0, Side.SELL, D(103), D("0.579"))), None
    state, rest, again = on_sell_filled(state, D(103), D("0.579"), D("0.02981850"), 3000)
    # 0.579 x 1 - 0.02955916 - 0.0298185 = 0.51962234; the two parts' entry fees add up to the whole
    assert rest.profit == D("0.51962234") and rest.buy_fee + part.buy_fee == buy_fee
    assert state.realized_profit == part.profit + rest.profit and state.cycle == 1
    assert again.qty == D("0.980")  # the next buy is again the interval's own quantity
    with pytest.raises(ValueError):
        on_sell_filled(state, D(103), D("0.5"), D(0), 0)  # nothing held any more


def test_invalid_transitions_are_refused():
    state = new_interval(0, LINES, D(1))
    with pytest.raises(ValueError):
        on_sell_filled(state, D(101), D(1), D(0), 0)
    state, _ = place_buy(state)
    with pytest.raises(ValueError):
        place_buy(state)
    with pytest.raises(ValueError):
        on_order_placed(state, OrderIntent(1, 0, Side.BUY, D(101), D(1)))  # another interval's order
    with pytest.raises(ValueError):
        new_interval(4, LINES, D(1))  # 4 grids: intervals 0..3


def test_client_order_id_is_deterministic_and_short():
    assert client_order_id(NS, 12, 3, 7, "buy") == "q7k2x12i3c7b"
    assert client_order_id(NS, 12, 3, 7, "sell") == "q7k2x12i3c7s"
    assert client_order_id(NS, 12, 3, 7, Side.SELL) == "q7k2x12i3c7s"
    # ten million bots, 99 intervals, a cycle a second for three years: a market buy sent again 99 times
    # still fits Bitget's 32 characters (a unified account's limit)
    longest = next_client_id(client_order_id(NS, 9_999_999, 99, 10**8, "sell") + "m")
    for _ in range(98):
        longest = next_client_id(longest)
    assert len(longest) <= 32 and longest.endswith("mr99")
    for bad in [(-1, 0, 0, "buy"), (1, 0, 0, "hold"), (1, True, 0, "buy"), (10**20, 99, 10**12, "buy")]:
        with pytest.raises(ValueError):
            client_order_id(NS, *bad)
    with pytest.raises(ValueError):  # not an installation's namespace
        client_order_id("mb", 12, 3, 7, "buy")


ORDER_KEYS = st.tuples(
    st.sampled_from([NS, "z0000"]),
    st.integers(0, 10**9),
    st.integers(0, 99),
    st.integers(0, 10**9),
    st.sampled_from(["buy", "sell"]),
)


@given(a=ORDER_KEYS, b=ORDER_KEYS)
def test_client_order_ids_are_unique_and_exchange_safe(a, b):
    ida, idb = client_order_id(*a), client_order_id(*b)
    assert client_order_id(*a) == ida
    assert re.fullmatch(r"[A-Za-z0-9]{1,32}", ida)
    assert (ida == idb) == (a == b)
    # an id belongs to its own installation's bot only, never to another installation's same bot
    assert belongs_to(ida, a[0], a[1])
    assert belongs_to(ida, b[0], b[1]) == (a[:2] == b[:2])
