"""Indicators against hand-computed values, and the no-look-ahead property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.market_data import indicators as ind

nan = float("nan")


def same(a, b, tol=1e-9) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.all((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= tol)))


def test_ema_by_hand() -> None:
    # period 3: alpha = 2/4 = 0.5, seed = mean(1, 2, 3) = 2 at index 2
    # then 0.5*4 + 0.5*2 = 3, 0.5*5 + 0.5*3 = 4, 0.5*6 + 0.5*4 = 5
    assert same(ind.ema([1, 2, 3, 4, 5, 6], 3), [nan, nan, 2, 3, 4, 5])
    # period 1 is the series itself; too short a series is all NaN
    assert same(ind.ema([3, 1, 4], 1), [3, 1, 4])
    assert same(ind.ema([3, 1], 3), [nan, nan])
    with pytest.raises(ValueError):
        ind.ema([1, 2], 0)


def test_rsi_wilder_by_hand() -> None:
    close = [10, 11, 10.5, 12, 11, 13]
    # deltas 1, -0.5, 1.5, -1, 2; period 3 seeds at close index 3:
    # gain = (1 + 0 + 1.5)/3 = 0.8333, loss = 0.5/3 = 0.1667, RS 5 -> 100 - 100/6 = 83.333
    # idx 4: gain = (0.8333*2 + 0)/3 = 0.5556, loss = (0.1667*2 + 1)/3 = 0.4444, RS 1.25 -> 55.556
    # idx 5: gain = (0.5556*2 + 2)/3 = 1.0370, loss = 0.4444*2/3 = 0.2963, RS 3.5 -> 77.778
    expected = [nan, nan, nan, 100 - 100 / 6, 100 - 100 / 2.25, 100 - 100 / 4.5]
    assert same(ind.rsi(close, 3), expected, tol=1e-9)
    assert same(ind.rsi([1, 2, 3, 4, 5], 3)[3:], [100, 100])  # no losses
    assert same(ind.rsi([5, 5, 5, 5, 5], 3)[3:], [50, 50])  # no move at all


def test_true_range_and_atr_by_hand() -> None:
    high, low, close = [10, 11, 12, 11], [8, 9, 10, 8], [9, 10, 11, 9]
    # TR: 2 (h-l), max(2, |11-9|, |9-9|) = 2, max(2, 2, 0) = 2, max(3, |11-11|, |8-11|) = 3
    assert same(ind.true_range(high, low, close), [2, 2, 2, 3])
    # period 2: seed = mean(TR[1], TR[2]) = 2 at index 2; then (2*1 + 3)/2 = 2.5
    assert same(ind.atr(high, low, close, 2), [nan, nan, 2, 2.5])


def test_adx_on_a_staircase_is_100() -> None:
    # highs and lows rise by 1 every candle: +DM = 1, -DM = 0 -> +DI = 100 * 1/TR, -DI = 0,
    # DX = 100 everywhere, so the ADX is 100 once it exists (index 2*period - 1)
    high = np.arange(10, 30, dtype=float) + 1
    low = np.arange(10, 30, dtype=float)
    close = low + 0.5
    a, plus, minus = ind.adx(high, low, close, 3)
    assert np.isnan(a[:5]).all() and same(a[5:], np.full(15, 100.0))
    # TR = max(1, |h - prev c| = 1.5, |l - prev c| = 0.5) = 1.5 -> +DI = 100 * 1 / 1.5
    assert same(plus[3:], np.full(17, 100 / 1.5)) and same(minus[3:], np.zeros(17))


def _adx_reference(high, low, close, period):
    """TA-Lib style ADX with explicit Wilder sums, written as a plain loop."""
    n = len(high)
    tr = [0.0] * n
    pdm = [0.0] * n
    mdm = [0.0] * n
    for i in range(1, n):
        tr[i] = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        up, down = high[i] - high[i - 1], low[i - 1] - low[i]
        pdm[i] = up if up > down and up > 0 else 0.0
        mdm[i] = down if down > up and down > 0 else 0.0
    out = [nan] * n
    s_tr, s_p, s_m = sum(tr[1 : period + 1]), sum(pdm[1 : period + 1]), sum(mdm[1 : period + 1])
    dxs = []
    for i in range(period, n):
        if i > period:
            s_tr = s_tr - s_tr / period + tr[i]
            s_p = s_p - s_p / period + pdm[i]
            s_m = s_m - s_m / period + mdm[i]
        pdi, mdi = 100 * s_p / s_tr, 100 * s_m / s_tr
        dxs.append(100 * abs(pdi - mdi) / (pdi + mdi) if pdi + mdi else 0.0)
        if len(dxs) == period:
            value = sum(dxs) / period
            out[i] = value
        elif len(dxs) > period:
            value = (value * (period - 1) + dxs[-1]) / period
            out[i] = value
    return out


def test_adx_matches_a_plain_loop_reference() -> None:
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, 300))
    high = close + rng.uniform(0, 1, 300)
    low = close - rng.uniform(0, 1, 300)
    assert same(ind.adx(high, low, close, 14)[0], _adx_reference(high, low, close, 14), tol=1e-8)


def test_macd_is_ema_difference_with_its_signal() -> None:
    close = np.array([10, 11, 12, 11, 13, 14, 13, 15, 16, 15], dtype=float)
    line, signal, hist = ind.macd(close, 2, 4, 3)
    assert same(line, ind.ema(close, 2) - ind.ema(close, 4))
    # the line exists from index 3; its EMA(3) seeds at index 5 with mean(line[3:6])
    assert np.isnan(signal[:5]).all()
    assert math.isclose(signal[5], line[3:6].mean())
    assert math.isclose(signal[6], 0.5 * line[6] + 0.5 * signal[5])
    assert same(hist, line - signal)


def test_bollinger_by_hand() -> None:
    mid, upper, lower = ind.bollinger([1, 2, 3, 4], 3, 2.0)
    # window (1, 2, 3): mean 2, population std sqrt(2/3)
    sd = math.sqrt(2 / 3)
    assert same(mid, [nan, nan, 2, 3])
    assert same(upper, [nan, nan, 2 + 2 * sd, 3 + 2 * sd])
    assert same(lower, [nan, nan, 2 - 2 * sd, 3 - 2 * sd])


def test_volume_ratio_and_zscore_use_the_candles_before() -> None:
    v = [1, 3, 2, 6]
    # idx 2: 2 / mean(1, 3) = 1; idx 3: 6 / mean(3, 2) = 2.4
    assert same(ind.volume_ratio(v, 2), [nan, nan, 1.0, 2.4])
    # idx 2: mean 2, std 1 -> 0; idx 3: mean 2.5, std 0.5 -> 7
    assert same(ind.volume_zscore(v, 2), [nan, nan, 0.0, 7.0])
    assert same(ind.volume_zscore([5, 5, 5, 9], 2), [nan, nan, 0.0, 0.0])  # flat window: 0


def test_rsi_divergence_by_hand() -> None:
    close = np.array([10, 9, 8, 7.5, 12, 13, 14], dtype=float)
    r = np.array([50, 40, 30, 35, 60, 70, 65], dtype=float)
    div = ind.rsi_divergence(close, r, 2)
    # idx 3: close 7.5 < min(9, 8) and RSI 35 > min(40, 30): bullish
    # idx 6: close 14 > max(12, 13) and RSI 65 < max(60, 70): bearish
    # idx 5: new high 13 with RSI 70 > max(35, 60): no divergence
    assert div.tolist() == [0, 0, 0, 1, 0, 0, -1]


series = st.lists(st.floats(min_value=1, max_value=1000, allow_nan=False), min_size=40, max_size=120)


@settings(max_examples=40, deadline=None)
@given(series, st.integers(min_value=5, max_value=39), st.integers(min_value=0, max_value=10**6))
def test_no_look_ahead(values: list[float], cut: int, seed: int) -> None:
    """The value at i is the same whether or not the candles after i exist (or are changed)."""
    rng = np.random.default_rng(seed)
    close = np.array(values)
    high = close * (1 + rng.uniform(0, 0.02, close.size))
    low = close * (1 - rng.uniform(0, 0.02, close.size))
    vol = rng.uniform(0, 100, close.size)
    altered = close.copy()
    altered[cut + 1 :] = rng.uniform(1, 1000, close.size - cut - 1)
    for fn in (
        lambda c, h, lo, v: ind.ema(c, 5),
        lambda c, h, lo, v: ind.rsi(c, 5),
        lambda c, h, lo, v: ind.atr(h, lo, c, 5),
        lambda c, h, lo, v: ind.adx(h, lo, c, 5)[0],
        lambda c, h, lo, v: ind.macd(c, 3, 6, 4)[2],
        lambda c, h, lo, v: ind.bollinger(c, 5)[1],
        lambda c, h, lo, v: ind.volume_zscore(v, 5),
        lambda c, h, lo, v: ind.rsi_divergence(c, ind.rsi(c, 5), 5),
    ):
        full = fn(close, high, low, vol)
        prefix = fn(close[: cut + 1], high[: cut + 1], low[: cut + 1], vol[: cut + 1])
        changed = fn(altered, np.maximum(high, altered), np.minimum(low, altered), vol)
        assert same(full[: cut + 1], prefix, tol=1e-7)
        assert same(full[: cut + 1], changed[: cut + 1], tol=1e-7)


def test_smoothing_is_bit_for_bit_the_old_lfilter() -> None:
    """The recursive EMA replaced scipy.signal.lfilter (a second of import time): same floats, same order."""
    signal = pytest.importorskip("scipy.signal")  # scikit-learn depends on scipy, so it is installed
    from engine.market_data.candles import load_candles
    from engine.market_data.feeds import DATA_DIR

    close = load_candles(DATA_DIR / "btcusdt_1h_2y.csv.gz").close_a
    for period in (2, 14, 50, 200):
        alpha = 2.0 / (period + 1)
        seed = float(close[:period].mean())
        old, _ = signal.lfilter([alpha], [1.0, -(1.0 - alpha)], close[period:], zi=[(1.0 - alpha) * seed])
        new = ind.ema(close, period)[period:]
        assert new.tobytes() == old.tobytes()


def test_importing_the_indicators_does_not_pull_scipy() -> None:
    import subprocess
    import sys

    code = "import sys, engine.market_data.indicators, engine.trend.strategies; assert 'scipy' not in sys.modules and 'sklearn' not in sys.modules, sorted(m for m in sys.modules if m.startswith(('scipy', 'sklearn')))[:5]"
    subprocess.run([sys.executable, "-c", code], check=True)
