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
