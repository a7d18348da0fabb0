"""The grid backtest's drawdowns (engine.grid.ledger) marked on each candle's (top, bottom) pairs equal
the drawdowns of every point of the walk: checked against the Decimal reference walk of
tests/test_grid_backtest.py on random slices of the real sample files, with chunks small enough
that a slice spans several (the running peak and the fills carry over between chunks)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.grid.backtest as backtest
from engine.grid.backtest import run_grid_backtest
from engine.grid.lines import GridTooSmall
from engine.market_data.candles import Candles, load_candles
from tests.test_grid_backtest import BTC_1M, BTC_CRASH, ETH_1H, Reference

FILES: dict[str, Candles] = {}


def real(name: str) -> Candles:
    if name not in FILES:
        FILES[name] = load_candles({"btc_1m": BTC_1M, "btc_crash": BTC_CRASH, "eth_1h": ETH_1H}[name])
    return FILES[name]


@st.composite
def slices(draw):
    """A random slice of a real file, and a grid around (or partly outside) its prices."""
    candles = real(draw(st.sampled_from(["btc_1m", "btc_crash", "eth_1h"])))
    size = draw(st.integers(1, 400))
    start = draw(st.integers(0, len(candles) - size))
    part = candles.slice(start, start + size)
    low = min(part.price("low", t) for t in range(size))
    high = max(part.price("high", t) for t in range(size))
    span = max(high - low, D(1))
    lower = (low + span * D(draw(st.integers(-30, 60))) / 100).quantize(D("0.01"))
    upper = (lower + span * D(draw(st.integers(5, 120))) / 100).quantize(D("0.01"))
    params = dict(
        lower=lower,
        upper=upper,
        grids=draw(st.integers(1, 60)),
        mode=draw(st.sampled_from(["arithmetic", "geometric"])),
        investment=D(draw(st.sampled_from([1000, 10000, 250000]))),
        buy_fee_in_base=draw(st.booleans()),
    )
    middle = (lower + upper) / 2
    if draw(st.booleans()):
        params["trigger"] = middle.quantize(D("0.01"))
    if draw(st.booleans()):
        params["stop_lower"] = (lower - span * D(draw(st.integers(0, 30))) / 100).quantize(D("0.01"))
    return part, params


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=slices(), chunk_rows=st.sampled_from([1, 2, 3, 7, 64, 1 << 16]))
def test_the_pair_marks_give_every_points_drawdown_on_real_slices(case, chunk_rows):
    part, params = case
    saved = backtest.CHUNK_ROWS
    backtest.CHUNK_ROWS = chunk_rows
    try:
        result = run_grid_backtest(part, **params)
    except (GridTooSmall, ValueError):
        return
    finally:
        backtest.CHUNK_ROWS = saved
    ref = Reference(part, **params).run()
    assert result.max_drawdown == ref.max_drawdown
    assert result.buy_and_hold_drawdown == ref.buy_and_hold_drawdown
    assert result.time_in_market == ref.time_in_market


@pytest.mark.parametrize("rows", [1 << 10, 3000])
def test_drawdown_over_chunks_of_a_whole_file(rows):
    """Candles in chunks of 1,024 (the real file crosses many chunk ends) give the one-chunk figures."""
    candles = real("btc_1m")
    params = dict(lower=D(104000), upper=D(108000), grids=70, mode="geometric", investment=D(10000))
    whole = run_grid_backtest(candles, **params)
    saved = backtest.CHUNK_ROWS
    backtest.CHUNK_ROWS = rows
    try:
        chunked = run_grid_backtest(candles, **params)
    finally:
        backtest.CHUNK_ROWS = saved
    assert (chunked.max_drawdown, chunked.buy_and_hold_drawdown) == (
        whole.max_drawdown,
        whole.buy_and_hold_drawdown,
    )
    assert chunked.max_drawdown == Reference(candles, **params).run().max_drawdown
