"""Closed candles and trained models for the AI trend runtime (engine.trend.runtime).

Candles: the trend bot decides on each *closed* candle of its timeframe. With the replay feed the
closed candles are the feed's own file rows before the one the price is in (volume included, which
the strategies need), so no aggregation of points is needed: a point's ts is its candle's open time,
and a candle is closed once a point of a later candle was seen. Laps of a looping replay shift the
timestamps by the file's span (client order ids stay unique). With ``compressed`` (the sandbox's
default) every replayed file candle counts as one candle of the bot's timeframe, so a 1h strategy
trades on the 1m replay within minutes; otherwise the rows are resampled to the timeframe
(engine.trend.backtest.resample). Replayed candles reach paper bots only: a live or demo bot reads its
own exchange's candles, and a paper bot on live prices (no replay for the symbol) the exchange's public
candles (``public``), from one store for the whole process (engine.market_data.candle_store): per
exchange, demo flag, symbol and timeframe, paged back once to the rows the bot's strategy needs
(:func:`history_rows`: a model-gated one's model trains on ``min_train`` rows after the features' warm-up),
then only the candles closed since.

Models: a model-gated strategy's classifier is loaded from the ``trend_models`` table (per strategy
id, symbol, timeframe), trained once on the history when missing or unreadable and again after
``retrain_every`` new candles, and stored, so a restart does not retrain from nothing.
"""

from __future__ import annotations

import asyncio
import logging

import numpy as np
from sqlalchemy import select

from db.models import TrendModelRow
from db.session import Database
from engine.exchange import Exchange
from engine.market_data.candle_store import CandleStore, ClosedCandles
from engine.market_data.feeds import ReplayFeed
from engine.trend.backtest import candle_interval_ms, resample
from engine.trend.features import EMA_PERIODS, SLOPE_LAG
from engine.trend.model import ModelFormatError, TrendModel, load_model, save_model, train_model
from engine.trend.strategies import StrategyDef, gate_threshold, model_params, timeframe_ms

log = logging.getLogger(__name__)
HISTORY_LIMIT = 1000  # closed candles a strategy without a model reads (its indicators' warm-up is <= 250)
FEATURE_WARMUP = max(EMA_PERIODS) - 1 + SLOPE_LAG  # rows before the model's features are all finite

__all__ = ["HISTORY_LIMIT", "CandleSource", "ClosedCandles", "ModelStore", "history_rows"]


def history_rows(strategy: StrategyDef) -> int:
    """Closed candles the strategy needs: a model-gated one's model trains on ``min_train`` labelled rows,
    which start after the features' warm-up and end ``horizon`` candles before the last one."""
    if gate_threshold(strategy) is None:
        return HISTORY_LIMIT
    params = model_params(strategy)
    return max(HISTORY_LIMIT, params.min_train + params.horizon + FEATURE_WARMUP)


class CandleSource:
    """Closed candles per spot symbol ("BTC/USDT"): from replay feeds for paper bots, else from an
    exchange (see the module docstring). `public` is the exchange's public market data (no keys)."""

    def __init__(
        self, *, compressed: bool = True, public: Exchange | None = None, store: CandleStore | None = None
    ) -> None:
        self.compressed = compressed
        self.public = public
        self.store = store or CandleStore()
        self.feeds: dict[str, ReplayFeed] = {}
        self._cache: dict[tuple[str, str], tuple[tuple[int, int], ClosedCandles | None]] = {}

    def add_feed(self, feed: ReplayFeed) -> None:
        self.feeds[feed.symbol] = feed

    async def closed(
        self,
        exchange: Exchange,
        symbol: str,
        timeframe: str,
        now_ts: int,
        *,
        venue: str = "paper",
        rows: int = HISTORY_LIMIT,
    ) -> ClosedCandles | None:
        """The closed candles of ``symbol`` as of price time ``now_ts`` (ms), None before the first.
        ``exchange`` is the bot's own account, ``venue`` its binding (paper, live, demo); from an
        exchange at least ``rows`` of them where it has that many (:func:`history_rows`)."""
        feed = self.feeds.get(symbol) if venue == "paper" else None
        if feed is None:
            source = exchange if venue != "paper" else self.public or exchange
            return await self.store.closed(source, symbol, timeframe, timeframe_ms(timeframe), now_ts, rows)
        c = feed.candles
        step = candle_interval_ms(c)
        span = int(c.timestamps[-1] - c.timestamps[0]) + step
        lap = max(0, (now_ts - int(c.timestamps[0])) // span)
        k = int(np.searchsorted(c.timestamps, now_ts - lap * span, side="left"))
        cached = self._cache.get((symbol, timeframe))
        if cached is not None and cached[0] == (lap, k):
            return cached[1]
        found: ClosedCandles | None = None
        if k > 0:
            history = c.slice(0, k)
            if not self.compressed and timeframe_ms(timeframe) != step:
                try:
                    history = resample(history, timeframe)
                except ValueError:  # not one complete candle of the timeframe yet
                    history = None  # type: ignore[assignment]
            if history is not None:
                found = ClosedCandles(history, int(history.timestamps[-1]) + lap * span)
        self._cache[(symbol, timeframe)] = ((lap, k), found)
        return found


class ModelStore:
    """Trained classifiers per (strategy id, symbol, timeframe): memory, then the database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._models: dict[tuple[int | None, str, str], tuple[TrendModel, int]] = {}

    async def model_for(
        self, strategy_id: int | None, strategy: StrategyDef, symbol: str, history: ClosedCandles
    ) -> TrendModel | None:
        """A model trained on candles before ``history.last_ts``; None while history is too short."""
        key = (strategy_id, symbol, strategy.timeframe)
        params = model_params(strategy)
        found = self._models.get(key) or await self._load(key)
        if found is not None:
            model, until = found
            newer = len(history.candles) - int(np.searchsorted(history.candles.timestamps, until)) - 1
            if newer < params.retrain_every or until > history.last_ts:
                self._models[key] = found
                return model
        try:
            model = await asyncio.to_thread(train_model, history.candles, params)
        except ValueError as exc:  # not enough history yet: no model, no gated signal
            log.info("trend model %s: %s", key, exc)
            return found[0] if found else None
        until = int(history.candles.timestamps[-1])
        self._models[key] = (model, until)
        if strategy_id is not None:
            await self._save(key, model, until)
        return model

    async def _load(self, key: tuple[int | None, str, str]) -> tuple[TrendModel, int] | None:
        if key[0] is None:
            return None
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(TrendModelRow).where(
                        TrendModelRow.strategy_id == key[0],
                        TrendModelRow.symbol == key[1],
                        TrendModelRow.timeframe == key[2],
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            blob, until = row.model, row.trained_until
        try:
            return load_model(blob), until
        except ModelFormatError as exc:
            log.warning("stored trend model %s unusable, retraining: %s", key, exc)
            return None

    async def _save(self, key: tuple[int | None, str, str], model: TrendModel, until: int) -> None:
        blob = save_model(model)
        async with self.db.write() as session:
            row = (
                await session.execute(
                    select(TrendModelRow).where(
                        TrendModelRow.strategy_id == key[0],
                        TrendModelRow.symbol == key[1],
                        TrendModelRow.timeframe == key[2],
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                session.add(
                    TrendModelRow(
                        strategy_id=key[0], symbol=key[1], timeframe=key[2], model=blob, trained_until=until
                    )
                )
            else:
                row.model, row.trained_until = blob, until
