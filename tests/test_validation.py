"""Every validation rule with its boundary values (pure functions, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.services import validation as v
from bot.services.errors import ValidationError


@pytest.mark.parametrize("name", ["a", "x" * 100, "  spaced   out  ", "봇 1", "<b>html</b>"])
def test_names_accepted(name: str) -> None:
    assert 1 <= len(v.validate_name(name)) <= 100


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 101, "tab\x00null", "bell\x07", "zero\u200bwidth", None, 5]
)
def test_names_refused(name: object) -> None:
    with pytest.raises(ValidationError) as err:
        v.validate_name(name)
    assert err.value.field == "name"


def test_name_whitespace_is_folded() -> None:
    assert v.validate_name("  my   grid\n bot ") == "my grid bot"


@pytest.mark.parametrize(
    "raw", ["BTCUSDT", "btcusdt", "btc/usdt", "BTC/USDT", "BTC/USDT:USDT", " btc-usdt ", "BTC_USDT"]
)
def test_symbols_normalise_to_one_market(raw: str) -> None:
    assert v.normalize_symbol(raw) == "BTCUSDT"


@pytest.mark.parametrize(
    "raw", ["", "BTC", "USDT", "BTC/EUR", "BTC/USDT:EUR", "BTC USDT", "B/T/C", "💰USDT", "x" * 40]
)
def test_bad_symbols_refused(raw: str) -> None:
    with pytest.raises(ValidationError):
        v.normalize_symbol(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.01", "0.01"), ("100", "100"), ("99.99", "99.99"), ("12.5%", "12.5"), (" 7 ", "7")],
)
def test_allocation_accepted(raw: str, expected: str) -> None:
    assert v.validate_allocation(raw) == Decimal(expected)


@pytest.mark.parametrize(
    "raw",
    ["0", "0.00", "-1", "100.01", "101", "10.123", "0.001", "abc", "", "NaN", "Infinity", "1e3", 0.5, True],
)
def test_allocation_refused(raw: object) -> None:
    with pytest.raises(ValidationError):
        v.validate_allocation(raw)


def test_leverage_boundaries() -> None:
    assert v.validate_leverage("1") == 1
    assert v.validate_leverage(100) == 100
    for bad in (0, 101, "2.5", "-3", "x"):
        with pytest.raises(ValidationError):
            v.validate_leverage(bad)
    assert v.validate_leverage(20, cap=20) == 20
    with pytest.raises(ValidationError) as err:
        v.validate_leverage(21, cap=20)
    assert err.value.params["maximum"] == 20


def test_positions_boundaries() -> None:
    assert v.validate_positions(1) == 1
    assert v.validate_positions("20") == 20
    for bad in (0, 21, "1.5"):
        with pytest.raises(ValidationError):
            v.validate_positions(bad)


def test_stop_loss_and_take_profit_boundaries() -> None:
    assert v.validate_stop_loss("0.01") == Decimal("0.01")
    assert v.validate_stop_loss("99.99") == Decimal("99.99")
    for bad in ("0", "100", "-1", "5.555"):
        with pytest.raises(ValidationError):
            v.validate_stop_loss(bad)
    assert v.validate_take_profit("0.01") == Decimal("0.01")
    assert v.validate_take_profit("500") == Decimal("500")
    for bad in ("0", "-2", "1000"):
        with pytest.raises(ValidationError):
            v.validate_take_profit(bad)


GOOD_GRID = dict(lower="60000", upper="70000", grid_count=10, mode="arithmetic", total_investment="1000")


def test_grid_params_accepted_at_boundaries() -> None:
    params = v.validate_grid_params(**GOOD_GRID)
    assert (params.lower, params.upper, params.grid_count) == (Decimal(60000), Decimal(70000), 10)
    assert v.validate_grid_params(**{**GOOD_GRID, "grid_count": 2}).grid_count == 2
    assert v.validate_grid_params(**{**GOOD_GRID, "grid_count": "100"}).grid_count == 100
    full = v.validate_grid_params(
        **{**GOOD_GRID, "mode": "Geometric"},
        trigger_price="65000",
        stop_upper="70000.01",
        stop_lower="59999.99",
    )
    assert full.mode == "geometric"
    assert (full.trigger_price, full.stop_upper, full.stop_lower) == (
        Decimal("65000"),
        Decimal("70000.01"),
        Decimal("59999.99"),
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lower": "0"}, "lower_price"),
        ({"lower": "-1"}, "lower_price"),
        ({"upper": "60000"}, "upper_price"),
        ({"upper": "59999"}, "upper_price"),
        ({"grid_count": 1}, "grid_count"),
        ({"grid_count": 101}, "grid_count"),
        ({"grid_count": "10.5"}, "grid_count"),
        ({"mode": "fibonacci"}, "grid_mode"),
        ({"total_investment": "0"}, "total_investment"),
        ({"total_investment": "ten"}, "total_investment"),
        ({"trigger_price": "0"}, "trigger_price"),
        ({"stop_upper": "70000"}, "stop_upper"),
        ({"stop_upper": "0"}, "stop_upper"),
        ({"stop_lower": "60000"}, "stop_lower"),
        ({"stop_lower": "-1"}, "stop_lower"),
        ({"lower": "0.000000001"}, "lower_price"),
        ({"upper": "1000000000000"}, "upper_price"),
    ],
)
def test_grid_params_refused(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        v.validate_grid_params(**{**GOOD_GRID, **change})
    assert err.value.field == field


def test_the_deleted_name_separator_never_survives_in_a_name() -> None:
    assert v.DELETED_NAME_SEPARATOR not in v.validate_name(f"a{v.DELETED_NAME_SEPARATOR}7")


# ---- numbers have one reading (issue 14, item 4); on the old code "0,5" read 5 and "1,5" 15


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0,5", "0.5"),
        ("1,5", "1.5"),
        ("12,25", "12.25"),
        ("0,500", "0.5"),  # no thousands group starts with 0
        (",5", "0.5"),
        ("12,3456", "12.3456"),
        ("1,234.5", "1234.5"),  # a comma before the point groups thousands
        ("1,500,000", "1500000"),  # two commas: thousands only
        ("1.500", "1.5"),
        ("-1,5", "-1.5"),
        ("１２.５", "12.5"),  # full-width digits are digits
        (" 7 %", "7"),
    ],
)
def test_a_comma_is_read_as_the_only_separator_it_can_be(raw: str, expected: str) -> None:
    assert v.parse_decimal(raw, "amount") == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "thousands", "decimal"),
    [("1,500", "1500", "1.5"), ("12,345", "12345", "12.345"), ("1234,567", "1234567", "1234.567"),
     ("1.234,5", "1.2345", "1234.5")],
)  # fmt: skip
def test_a_comma_that_fits_both_ways_is_refused_with_both_readings(
    raw: str, thousands: str, decimal: str
) -> None:
    with pytest.raises(v.AmbiguousNumber) as err:
        v.parse_decimal(raw, "amount")
    assert err.value.field == "amount" and err.value.code == "ambiguous_number"
    assert (err.value.params["thousands"], err.value.params["decimal"]) == (thousands, decimal)


@pytest.mark.parametrize(
    "raw",
    ["1e5", "1E-3", "1e309", "1e-400", "2e1", "NaN", "nan", "sNaN", "inf", "-inf", "Infinity", "-0", "-0.0",
     "0x10", "0X1F", "0b101", "0o17", "1_000", "٣", "١٫٥", "1.2.3", "1,2,3", "5,", "1 000", "--1", ".", ",",
     "+-1", Decimal("NaN"), Decimal("-0"), Decimal("Infinity")],
)  # fmt: skip
def test_scientific_nan_infinite_negative_zero_hex_and_foreign_digits_are_refused(raw: object) -> None:
    with pytest.raises(ValidationError) as err:
        v.parse_decimal(raw, "amount")
    assert not isinstance(err.value, v.AmbiguousNumber)


@pytest.mark.parametrize("raw", ["1,500", "1e2", "0x32", "NaN"])
def test_every_number_typed_anywhere_goes_through_the_same_reading(raw: str) -> None:
    """Allocation, prices, counts, leverage and percents: the same rules (before, "1,5" was 15 % and 15x)."""
    checks = (v.validate_allocation, v.validate_leverage, v.validate_stop_loss, v.validate_grid_count)
    for check in checks:
        with pytest.raises(ValidationError):
            check(raw)
    with pytest.raises(ValidationError):
        v.validate_price(raw, "lower_price")
    assert v.validate_allocation("1,5") == v.validate_stop_loss("1,5") == Decimal("1.5")
    with pytest.raises(ValidationError):
        v.validate_leverage("1,5")  # 1.5, not 15: no whole number


def test_an_order_is_checked_against_the_market_and_the_free_balance() -> None:
    """BTC/USDT on Bitget spot: step and minimum 0.000001 BTC, minimum value 1 USDT; 0.06 % taker fee."""
    from bot.services import errors
    from bot.services.trading import check_order_size
    from engine.exchange import AssetBalance, Balance
    from engine.venues.paper.markets import paper_markets

    market = paper_markets()["BTC/USDT"]
    balance = Balance({"USDT": AssetBalance(Decimal("1000.6"), Decimal(0), Decimal("1000.6")),
                       "BTC": AssetBalance(Decimal("0.02"), Decimal(0), Decimal("0.02"))})  # fmt: skip
    price = Decimal("100000")
    check_order_size(market, "buy", Decimal("0.01"), price, balance)  # 1000 + 0.6 fee: exactly the free USDT
    check_order_size(market, "sell", Decimal("0.02"), price, balance)
    for side, qty, refusal in [
        ("buy", Decimal("0.010001"), errors.InsufficientBalance),  # 1000.1 + 0.60006 > 1000.6
        ("sell", Decimal("0.020001"), errors.InsufficientBalance),
        ("buy", Decimal("0.000009"), errors.OrderTooSmall),  # 0.9 USDT < 1
        ("buy", Decimal("0.0000001"), errors.OrderTooSmall),
        ("buy", Decimal("0.0050005"), errors.OrderStep),
        ("buy", Decimal("1" + "0" * 40), errors.InsufficientBalance),  # no division of a huge quantity
    ]:
        with pytest.raises(refusal):
            check_order_size(market, side, qty, price, balance)
    with pytest.raises(errors.NoPrice):
        check_order_size(market, "buy", Decimal("0.01"), None, balance)
