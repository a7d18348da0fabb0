"""Technical indicators over candle columns (numpy float64 arrays, oldest first).

Every function is causal: the value at index ``i`` uses only inputs at indices
``<= i`` (the candle that closed at ``i`` and those before it), so a signal read
at a candle's close never looks ahead. Indices before an indicator has enough
history ("warm-up") hold NaN.

Smoothing conventions (the textbook / TA-Lib ones, so values can be checked by hand):

* EMA(period): alpha = 2 / (period + 1), seeded with the simple mean of the first
  ``period`` values (first value at index period - 1).
* Wilder smoothing (RSI, ATR, ADX): alpha = 1 / period, seeded with the simple
  mean of the first ``period`` inputs.

Prices are floats here on purpose: indicators only decide *whether* to trade;
every recorded amount is computed in Decimal by :mod:`engine.trend.positions`.
"""

from __future__ import annotations

from itertools import accumulate

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "adx",
    "atr",
    "bollinger",
    "ema",
    "macd",
    "rolling_mean",
    "rsi",
    "rsi_divergence",
    "true_range",
    "volume_ratio",
    "volume_zscore",
]


def _as_array(values: np.ndarray | list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _check_period(period: int) -> None:
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"period must be a positive integer, got {period!r}")


def _smooth(values: np.ndarray, alpha: float, period: int) -> np.ndarray:
    """Exponential smoothing seeded with the mean of the first ``period`` non-NaN values.

    NaNs before the first valid value are skipped (the output stays NaN there);
    the seed sits at index ``first_valid + period - 1``.
    """
    out = np.full(values.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size == 0:
        return out
    first = int(valid[0])
    seed_at = first + period - 1
    if seed_at >= values.size:
        return out
    seed = float(values[first : seed_at + 1].mean())
    out[seed_at] = seed
    rest = values[seed_at + 1 :]
    if rest.size:
        # y[n] = alpha * x[n] + (1 - alpha) * y[n-1], starting from y = seed: the same float operations
        # in the same order as scipy.signal.lfilter([alpha], [1, alpha - 1]) (whose import alone took a
        # second), so the values are bit for bit the same; about 40 ns per value
        keep = 1.0 - alpha
        steps = accumulate(rest.tolist(), lambda y, x: alpha * x + keep * y, initial=seed)
        next(steps)
        out[seed_at + 1 :] = np.fromiter(steps, dtype=np.float64, count=rest.size)
    return out


def ema(values: np.ndarray | list[float], period: int) -> np.ndarray:
    """Exponential moving average (alpha = 2/(period+1), SMA seed at index period-1)."""
    _check_period(period)
    return _smooth(_as_array(values), 2.0 / (period + 1), period)


def rolling_mean(values: np.ndarray | list[float], period: int) -> np.ndarray:
    """Simple mean of the ``period`` values ending at each index (inclusive)."""
    _check_period(period)
    x = _as_array(values)
    out = np.full(x.shape, np.nan)
    if x.size >= period:
        out[period - 1 :] = sliding_window_view(x, period).mean(axis=1)
    return out


def rsi(close: np.ndarray | list[float], period: int = 14) -> np.ndarray:
    """Wilder's RSI, 0..100. First value at index ``period`` (needs ``period`` price changes).

    average gain / loss: Wilder smoothing of the up / down moves; RSI = 100 -
    100 / (1 + gain / loss); 100 when there were no losses, 50 when the price did not move.
    """
    _check_period(period)
    c = _as_array(close)
    out = np.full(c.shape, np.nan)
    if c.size <= period:
        return out
    delta = np.diff(c)
    gain = _smooth(np.clip(delta, 0.0, None), 1.0 / period, period)
    loss = _smooth(np.clip(-delta, 0.0, None), 1.0 / period, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + gain / loss)
    value = np.where(loss == 0.0, np.where(gain == 0.0, 50.0, 100.0), value)
    out[1:] = np.where(np.isnan(gain), np.nan, value)
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """max(high - low, |high - previous close|, |low - previous close|); high - low at index 0."""
    h, lo, c = _as_array(high), _as_array(low), _as_array(close)
    tr = h - lo
    if c.size > 1:
        prev = c[:-1]
        tr[1:] = np.maximum(tr[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev)))
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's average true range (price units). Seeded with the mean TR of indices 1..period,
    so the first value is at index ``period`` (TA-Lib's convention)."""
    _check_period(period)
    tr = true_range(high, low, close)
    tr[0] = np.nan  # the first candle has no previous close
    return _smooth(tr, 1.0 / period, period)


def adx(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilder's ADX with +DI and -DI (all 0..100). Returns ``(adx, plus_di, minus_di)``.

    +DM = up move when it exceeds the down move and is positive (else 0), -DM
    likewise; TR, +DM and -DM are Wilder-smoothed from index 1 (DI first at
    index ``period``); DX = 100 |+DI - -DI| / (+DI + -DI); ADX is DX
    Wilder-smoothed, first at index ``2 * period - 1``.
    """
    _check_period(period)
    h, lo = _as_array(high), _as_array(low)
    n = h.size
    plus_dm = np.full(n, np.nan)
    minus_dm = np.full(n, np.nan)
    if n > 1:
        up = h[1:] - h[:-1]
        down = lo[:-1] - lo[1:]
        plus_dm[1:] = np.where((up > down) & (up > 0), up, 0.0)
        minus_dm[1:] = np.where((down > up) & (down > 0), down, 0.0)
    tr = true_range(h, lo, close)
    tr[0] = np.nan
    alpha = 1.0 / period
    tr_s = _smooth(tr, alpha, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = 100.0 * _smooth(plus_dm, alpha, period) / tr_s
        minus_di = 100.0 * _smooth(minus_dm, alpha, period) / tr_s
        total = plus_di + minus_di
        dx = np.where(total > 0, 100.0 * np.abs(plus_di - minus_di) / total, 0.0)
    plus_di = np.where(tr_s == 0, 0.0, plus_di)
    minus_di = np.where(tr_s == 0, 0.0, minus_di)
    dx = np.where(np.isnan(tr_s), np.nan, dx)
    return _smooth(dx, alpha, period), plus_di, minus_di


def macd(
    close: np.ndarray | list[float], fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line (EMA fast - EMA slow), its signal line (EMA of the MACD line, seeded once the
    line exists) and the histogram (line - signal). Returns ``(line, signal, histogram)``."""
    c = _as_array(close)
    line = ema(c, fast) - ema(c, slow)
    signal_line = ema(line, signal)
    return line, signal_line, line - signal_line


def bollinger(
    close: np.ndarray | list[float], period: int = 20, width: float = 2.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger bands ``(middle, upper, lower)``: the ``period`` mean of the closes ending at
    each index, +/- ``width`` population standard deviations (ddof 0) of the same window."""
    _check_period(period)
    c = _as_array(close)
    middle = np.full(c.shape, np.nan)
    spread = np.full(c.shape, np.nan)
    if c.size >= period:
        windows = sliding_window_view(c, period)
        middle[period - 1 :] = windows.mean(axis=1)
        spread[period - 1 :] = windows.std(axis=1)
    return middle, middle + width * spread, middle - width * spread


def _previous_window(values: np.ndarray, period: int) -> np.ndarray:
    """Windows of the ``period`` values *before* each index (row j is for index j + period)."""
    return sliding_window_view(values[:-1], period)


def volume_ratio(volume: np.ndarray | list[float], period: int = 20) -> np.ndarray:
    """This candle's volume / the mean volume of the ``period`` candles before it
    (1.5 means 50 % above average). First value at index ``period``; inf when the
    average is 0 and the volume is not."""
    _check_period(period)
    v = _as_array(volume)
    out = np.full(v.shape, np.nan)
    if v.size > period:
        mean = _previous_window(v, period).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[period:] = np.where(mean > 0, v[period:] / mean, np.where(v[period:] > 0, np.inf, 1.0))
    return out


def volume_zscore(volume: np.ndarray | list[float], period: int = 20) -> np.ndarray:
    """(volume - mean) / std over the ``period`` candles before each index (ddof 0);
    0 when those candles all had the same volume. First value at index ``period``."""
    _check_period(period)
    v = _as_array(volume)
    out = np.full(v.shape, np.nan)
    if v.size > period:
        windows = _previous_window(v, period)
        mean = windows.mean(axis=1)
        std = windows.std(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[period:] = np.where(std > 0, (v[period:] - mean) / std, 0.0)
    return out


def rsi_divergence(close: np.ndarray | list[float], rsi_values: np.ndarray, lookback: int = 14) -> np.ndarray:
    """Regular RSI divergence at each candle: +1 bullish, -1 bearish, 0 none.

    Bullish at ``i``: the close makes a new low against the ``lookback`` closes
    before it, while the RSI stays above its lowest value of those candles (a
    higher low). Bearish: a new high in price with the RSI below its highest.
    Uses candles ``i - lookback .. i`` only; 0 while the RSI is warming up.
    """
    _check_period(lookback)
    c = _as_array(close)
    r = _as_array(rsi_values)
    out = np.zeros(c.shape, dtype=np.int8)
    if c.size <= lookback:
        return out
    prev_c = _previous_window(c, lookback)
    prev_r = _previous_window(r, lookback)
    cur_c, cur_r = c[lookback:], r[lookback:]
    with np.errstate(invalid="ignore"):
        bull = (cur_c < prev_c.min(axis=1)) & (cur_r > prev_r.min(axis=1))
        bear = (cur_c > prev_c.max(axis=1)) & (cur_r < prev_r.max(axis=1))
    out[lookback:] = np.where(bull, 1, np.where(bear, -1, 0))
    return out
