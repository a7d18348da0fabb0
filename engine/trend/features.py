"""Features and labels for the trend classifier, from closed candles only.

Row ``i`` of :func:`features` describes the market as it was when candle ``i``
closed: every column uses candles ``<= i`` (the indicators of
:mod:`engine.market_data.indicators` are causal), so a prediction made at that close never
sees the future. :func:`labels` is the opposite on purpose: the label of row
``i`` is the direction of the *next* ``horizon`` candles (close ``i + horizon``
against close ``i``) and is only known ``horizon`` candles later; the
walk-forward trainer in :mod:`engine.trend.model` never fits on a label that was
not known at the time of the prediction.

Features are scale-free (returns, ratios, 0..1 oscillators) so one model can
serve BTC and ETH, 2017 and 2026 prices alike.
"""

from __future__ import annotations

import numpy as np

from engine.market_data import indicators as ind
from engine.market_data.candles import Candles

RETURN_HORIZONS = (1, 3, 6, 12, 24, 48)
EMA_PERIODS = (20, 50, 200)
SLOPE_LAG = 5  # EMA slope = relative change of the EMA over this many candles

FEATURE_NAMES: tuple[str, ...] = (
    *(f"ret_{h}" for h in RETURN_HORIZONS),
    *(f"ema{p}_slope" for p in EMA_PERIODS),
    *(f"close_vs_ema{p}" for p in EMA_PERIODS),
    "ema20_vs_ema50",
    "rsi14",
    "atr14_pct",
    "adx14",
    "di_spread",
    "macd_hist_pct",
    "bb_percent_b",
    "bb_width",
    "volume_z20",
    "volatility_24",
    "range_pct",
    "close_in_range",
)


def volumes(candles: Candles) -> np.ndarray:
    """The base-asset volumes as float64."""
    return candles.volume_a


def _lagged_ratio(x: np.ndarray, lag: int) -> np.ndarray:
    """x[i] / x[i - lag] - 1, NaN for the first ``lag`` rows."""
    out = np.full(x.shape, np.nan)
    if x.size > lag:
        out[lag:] = x[lag:] / x[:-lag] - 1.0
    return out


def features(candles: Candles) -> np.ndarray:
    """A (len(candles), len(FEATURE_NAMES)) float64 matrix; NaN during indicator warm-up."""
    close, high, low, open_ = candles.close_a, candles.high_a, candles.low_a, candles.open_a
    vol = volumes(candles)
    log_close = np.log(close)
    cols: list[np.ndarray] = []
    for h in RETURN_HORIZONS:
        r = np.full(close.shape, np.nan)
        r[h:] = log_close[h:] - log_close[:-h]
        cols.append(r)
    emas = {p: ind.ema(close, p) for p in EMA_PERIODS}
    cols.extend(_lagged_ratio(emas[p], SLOPE_LAG) for p in EMA_PERIODS)
    cols.extend(close / emas[p] - 1.0 for p in EMA_PERIODS)
    cols.append(emas[20] / emas[50] - 1.0)
    cols.append(ind.rsi(close, 14) / 100.0)
    cols.append(ind.atr(high, low, close, 14) / close)
    adx, plus_di, minus_di = ind.adx(high, low, close, 14)
    cols.append(adx / 100.0)
    cols.append((plus_di - minus_di) / 100.0)
    cols.append(ind.macd(close)[2] / close)
    middle, upper, lower = ind.bollinger(close, 20, 2.0)
    band = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        cols.append(np.where(band > 0, (close - lower) / band, 0.5))
    cols.append(band / middle)
    cols.append(ind.volume_zscore(vol, 20))
    one = np.full(close.shape, np.nan)
    one[1:] = log_close[1:] - log_close[:-1]
    vol24 = np.full(close.shape, np.nan)
    if close.size > 24:
        vol24[24:] = np.lib.stride_tricks.sliding_window_view(one[1:], 24).std(axis=1)
    cols.append(vol24)
    cols.append((high - low) / open_)
    span = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        cols.append(np.where(span > 0, (close - low) / span, 0.5))
    matrix = np.column_stack(cols)
    assert matrix.shape[1] == len(FEATURE_NAMES)
    return matrix


def labels(candles: Candles, horizon: int) -> np.ndarray:
    """Direction of the next ``horizon`` candles: 1.0 when close[i + horizon] > close[i], else
    0.0; NaN for the last ``horizon`` rows (their future is not in the data)."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    close = candles.close_a
    out = np.full(close.shape, np.nan)
    if close.size > horizon:
        out[:-horizon] = (close[horizon:] > close[:-horizon]).astype(np.float64)
    return out
