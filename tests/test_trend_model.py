"""Features of closed candles, labels, walk-forward training without look-ahead, persistence."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from engine.market_data.candles import Candles, load_candles, parse_candles
from engine.trend.features import FEATURE_NAMES, features, labels
from engine.trend.model import (
    ModelFormatError,
    ModelParams,
    first_prediction_index,
    load_model,
    predict_proba,
    save_model,
    train_model,
    walk_forward_proba,
)
from engine.trend.strategies import get_strategy, signals

DATA = Path(__file__).resolve().parents[1] / "engine" / "market_data" / "data"
HEADER = "timestamp,open,high,low,close,volume"
SMALL = ModelParams(horizon=4, train_window=600, retrain_every=150, min_train=400, max_iter=30)


@pytest.fixture(scope="module")
def eth_1h() -> Candles:
    return load_candles(DATA / "ethusdt_1h_2y.csv.gz")


@pytest.fixture(scope="module")
def eth_short(eth_1h: Candles) -> Candles:
    return eth_1h.slice(0, 1400)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((np.isnan(a) & np.isnan(b)) | (a == b)))


def altered_after(candles: Candles, t: int, factor: str = "0.7") -> Candles:
    """The same candles up to ``t``; later prices scaled by ``factor`` and volumes tripled."""
    from decimal import Decimal

    f = Decimal(factor)
    rows = []
    for i in range(len(candles)):
        ts, o, h, lo, c = candles.candle(i)
        v = Decimal(candles.volume_text[i])
        if i > t:
            o, h, lo, c, v = o * f, h * f, lo * f, c * f, v * 3
        rows.append(f"{ts},{o},{h},{lo},{c},{v}")
    return parse_candles(HEADER + "\n" + "\n".join(rows) + "\n", "<altered>")


def test_features_use_closed_candles_only(eth_short: Candles) -> None:
    full = features(eth_short)
    assert full.shape == (len(eth_short), len(FEATURE_NAMES))
    for cut in (250, 700):
        assert same(full[:cut], features(eth_short.slice(0, cut)))
    # after the EMA 200 warm-up every feature is finite
    assert np.isfinite(full[260:]).all()


def test_labels_are_the_direction_of_the_next_k_candles() -> None:
    rows = [(i * 3_600_000, c, c, c, c) for i, c in enumerate([10, 11, 9, 12, 12, 8])]
    body = "\n".join(f"{ts},{o},{h},{lo},{c},1" for ts, o, h, lo, c in rows)
    candles = parse_candles(f"{HEADER}\n{body}\n")
    # K = 2: close[i+2] > close[i]? 9>10 no, 12>11 yes, 12>9 yes, 8>12 no; the last two unknown
    assert same(labels(candles, 2), np.array([0, 1, 1, 0, np.nan, np.nan]))
    with pytest.raises(ValueError):
        labels(candles, 0)


def test_walk_forward_predictions_do_not_look_ahead(eth_short: Candles) -> None:
    proba = walk_forward_proba(eth_short, SMALL)
    first = first_prediction_index(proba)
    # first fit needs min_train labelled rows: features are finite from ~row 200 (EMA 200 slope)
    assert first is not None and 500 < first < 800
    assert np.isnan(proba[:first]).all() and np.isfinite(proba[first:]).all()
    t = 1000
    changed = walk_forward_proba(altered_after(eth_short, t), SMALL)
    assert same(proba[: t + 1], changed[: t + 1])  # nothing at or before t moved
    assert not same(proba[t + 1 :], changed[t + 1 :])  # the altered future did change later ones


def test_train_model_uses_only_labels_known_at_the_end(eth_short: Candles) -> None:
    end = 900
    model = train_model(eth_short, SMALL, end=end)
    # the last label used is row end - 1 - horizon: its future (close at end - 1) was known
    assert model.trained_until_ts == eth_short.timestamps[end - 1 - SMALL.horizon]
    assert model.fitted_at_ts == eth_short.timestamps[end - 1]
    assert model.trained_rows == SMALL.train_window
    again = train_model(altered_after(eth_short, end - 1), SMALL, end=end)
    x = features(eth_short)[end - 50 : end]
    assert np.array_equal(model.classifier.predict_proba(x), again.classifier.predict_proba(x))
    with pytest.raises(ValueError, match="not enough history"):
        train_model(eth_short, SMALL, end=300)


def test_save_and_load_round_trip(eth_short: Candles) -> None:
    model = train_model(eth_short, SMALL)
    blob = save_model(model)
    assert isinstance(blob, bytes)
    back = load_model(blob)
    assert back.params == SMALL and back.feature_names == FEATURE_NAMES
    assert back.trained_until_ts == model.trained_until_ts
    assert same(predict_proba(back, eth_short), predict_proba(model, eth_short))


def test_load_refuses_foreign_or_stale_bytes(eth_short: Candles) -> None:
    model = train_model(eth_short, ModelParams(kind="logreg", min_train=400, train_window=600))
    payload = pickle.loads(save_model(model))
    for key, value in (
        ("version", 99),
        ("feature_names", ["x"]),
        ("sklearn_version", "0.1"),
        ("format", "x"),
    ):
        with pytest.raises(ModelFormatError):
            load_model(pickle.dumps({**payload, key: value}))
    with pytest.raises(ModelFormatError):
        load_model(b"not a pickle")


def test_model_trains_on_two_years_of_hourly_candles(eth_1h: Candles) -> None:
    # how fast: bench/trend_backtest.py measures it (no timing in unit tests)
    model = train_model(eth_1h, ModelParams(train_window=17_520))
    assert model.trained_rows > 17_000


def test_ai_model_signals_need_the_gate_and_the_trend_filter(eth_short: Candles) -> None:
    strategy = get_strategy("ai_model")
    proba = walk_forward_proba(eth_short, SMALL)
    sig = signals(strategy, eth_short, proba=proba)
    assert set(np.unique(sig)) <= {-1, 0, 1}
    first = first_prediction_index(proba)
    assert first is not None and not sig[:first].any()
    threshold = strategy.params["threshold"]
    assert (proba[sig == 1] >= threshold).all() and (proba[sig == -1] <= 1 - threshold).all()
    # a gate that never opens: no signal at all
    assert not signals(strategy, eth_short, proba=np.full(len(eth_short), 0.5)).any()
