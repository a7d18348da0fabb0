"""The AI model is trained once and stored: a restarted process loads it instead of retraining."""

from __future__ import annotations

import numpy as np
import pytest

import engine.trend.candles as trend_candles
from bot.services.strategies import Strategies
from db.session import Database
from engine.market_data.candles import load_candles
from engine.market_data.feeds import DATA_DIR
from engine.trend.candles import ClosedCandles, ModelStore
from engine.trend.model import predict_proba


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_model_survives_a_restart_without_retraining(
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    alice,  # type: ignore[no-untyped-def]
) -> None:
    candles = load_candles(
        DATA_DIR / "ethusdt_1h_2y.csv.gz"
    )  # real hourly candles shipped in engine/market_data/data
    history = ClosedCandles(candles, candles.timestamps[-1])
    row = await Strategies(database).by_name(alice.id, "ai_model")
    strategy = row.definition()

    trainings: list[int] = []
    real_train = trend_candles.train_model

    def counting_train(*args, **kwargs):  # type: ignore[no-untyped-def]
        trainings.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(trend_candles, "train_model", counting_train)
    first = await ModelStore(database).model_for(row.id, strategy, "ETH/USDT", history)
    assert first is not None and trainings == [1]

    restarted = ModelStore(database)  # a new process: nothing in memory
    again = await restarted.model_for(row.id, strategy, "ETH/USDT", history)
    assert trainings == [1], "the stored model should have been loaded, not retrained"
    assert again is not None and again.feature_names == first.feature_names
    probe = candles.slice(len(candles) - 300, len(candles))
    # the same predictions (the first rows have no features yet: NaN in both)
    assert np.array_equal(predict_proba(again, probe), predict_proba(first, probe), equal_nan=True)
