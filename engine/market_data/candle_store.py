"""Closed candles of an exchange, one series per (exchange, demo flag, symbol, timeframe) for the whole
process, shared by every bot that reads it.

The first need of a series pages back from now until it holds the rows asked for (or the exchange has
nothing older): each page is the newest `PAGE_LIMIT` candles up to an end time, through the source's
`fetch_candle_page` (ccxt's fetch_ohlcv with `until`; ccxt picks Bitget's candles endpoint for recent
pages and history-candles, with its smaller pages, for older ones). Concurrent first needs of one series
wait for one fetch. Afterwards a request goes out only once a candle after the last closed one can have
closed (never inside a timeframe), asks only for the candles since, and pages back further if the gap
is wider than one page. A candle is stored once it has closed (its open time + the timeframe <= now):
the forming candle is never used as closed. Rows are keyed by open time (a candle fetched twice is kept
once); a gap the exchange itself has (no trades, maintenance) stays a gap. At most `KEEP` times the
largest need is kept.

A source without `fetch_candle_page` (another `Exchange`) gets one `fetch_candles(limit=rows)` per new
candle, the way it always did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from engine.exchange import Candle
from engine.market_data.candles import Candles, parse_candles

log = logging.getLogger(__name__)

PAGE_LIMIT = 1000  # Bitget's candles endpoints answer at most 1,000 rows (history-candles 200, v3 100)
KEEP = 2  # rows kept: at most this many times the largest need
RETRY_MS = 60_000  # a candle that should have closed but is not served yet: asked again after this


@dataclass(frozen=True)
class ClosedCandles:
    """Closed candles oldest first; ``last_ts`` the newest one's open time (ms, lap-shifted)."""

    candles: Candles
    last_ts: int


@runtime_checkable
class PagedCandles(Protocol):
    """A source of candles that pages (engine.venues.live.adapter, engine.market_data.public)."""

    @property
    def candle_key(self) -> Hashable:
        """Whose candles these are: (exchange id, demo flag); sources with one key share a series."""
        ...

    async def fetch_candle_page(self, symbol: str, timeframe: str, *, until: int, limit: int) -> list[Candle]:
        """Up to `limit` candles (fewer where the endpoint pages smaller) opening at or before `until`
        (ms), oldest first."""
        ...


@dataclass
class _Series:
    rows: dict[int, Candle] = field(default_factory=dict)
    exhausted: bool = False  # the exchange has no older candle
    view: ClosedCandles | None = None
    asked_at: int | None = None  # `now` of the last request
    asked_rows: int = 0  # the most rows a request was for
    need: int = 0  # the largest number of rows asked for
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def last_ts(self) -> int | None:
        return self.view.last_ts if self.view is not None else None


class CandleStore:
    """The process's closed candles (see the module docstring); `requests` counts the fetches sent."""

    def __init__(self) -> None:
        self._series: dict[tuple[Hashable, str, str], _Series] = {}
        self.requests = 0

    async def closed(
        self, source: Any, symbol: str, timeframe: str, tf_ms: int, now_ts: int, rows: int
    ) -> ClosedCandles | None:
        """At least `rows` closed candles of `symbol` as of `now_ts` (ms) where the exchange has them
        (all it has otherwise), None before the first."""
        key = (source.candle_key if isinstance(source, PagedCandles) else id(source), symbol, timeframe)
        series = self._series.setdefault(key, _Series())
        series.need = max(series.need, rows)
        if not self._due(series, tf_ms, now_ts, rows) and not series.lock.locked():
            return series.view
        async with series.lock:  # a fetch under way: its answer is this one's too
            if self._due(series, tf_ms, now_ts, rows):  # not fetched meanwhile by another waiter
                await self._update(series, source, symbol, timeframe, tf_ms, now_ts, rows)
        return series.view

    @staticmethod
    def _due(series: _Series, tf_ms: int, now_ts: int, rows: int) -> bool:
        last = series.last_ts
        if last is None or (len(series.rows) < rows and not series.exhausted):
            return (
                series.asked_at is None
                or rows > series.asked_rows  # a bigger need than the last request's
                or now_ts >= series.asked_at + min(RETRY_MS, tf_ms)
            )
        if now_ts < last + 2 * tf_ms:  # the candle after the last one has not closed yet
            return False
        # it should have: ask, but not again at once when the exchange does not serve it yet
        return (
            series.asked_at is None
            or series.asked_at < last + 2 * tf_ms
            or (now_ts >= series.asked_at + min(RETRY_MS, tf_ms))
        )

    async def _update(
        self, series: _Series, source: Any, symbol: str, timeframe: str, tf_ms: int, now_ts: int, rows: int
    ) -> None:
        series.asked_at, series.asked_rows = now_ts, max(series.asked_rows, rows)
        if not isinstance(source, PagedCandles):
            self.requests += 1
            fetched = await source.fetch_candles(symbol, timeframe, limit=rows)
            series.rows, series.exhausted = {}, True  # all it gives: asked again for the next candle
            self._merge(series, fetched, tf_ms, now_ts)
            self._publish(series, symbol, timeframe, rows)
            return
        last = series.last_ts
        if last is None:  # nothing closed held yet (a first need, or asked before any candle closed)
            series.exhausted = False
        else:  # the candles since the last closed one, a page back more if need be
            missing = (now_ts - last) // tf_ms + 1
            await self._page_back(
                series, source, symbol, timeframe, tf_ms, now_ts, now_ts, missing, stop=last
            )
        oldest = min(series.rows) if series.rows else None
        if len(self._closed_rows(series, tf_ms, now_ts)) < rows and not series.exhausted:
            until = now_ts if oldest is None else oldest - 1
            await self._page_back(series, source, symbol, timeframe, tf_ms, now_ts, until, rows, stop=None)
        self._publish(series, symbol, timeframe, rows)

    async def _page_back(
        self,
        series: _Series,
        source: PagedCandles,
        symbol: str,
        timeframe: str,
        tf_ms: int,
        now_ts: int,
        until: int,
        wanted: int,
        *,
        stop: int | None,
    ) -> None:
        """Pages ending at `until`, then before the oldest row each brought, until `stop` (an open time
        already held) is reached, or else `wanted` closed rows are held, or the exchange has no more."""
        first = True
        while True:
            limit = min(PAGE_LIMIT, max(1, wanted if stop is not None and first else PAGE_LIMIT))
            self.requests += 1
            page = await source.fetch_candle_page(symbol, timeframe, until=until, limit=limit)
            first = False
            older = [c for c in page if c.ts <= until]
            self._merge(series, older, tf_ms, now_ts)
            if not older:
                if stop is None:
                    series.exhausted = True
                return
            oldest = min(c.ts for c in older)
            if stop is not None:
                if oldest <= stop + tf_ms:
                    return
            elif len(self._closed_rows(series, tf_ms, now_ts)) >= wanted:
                return
            until = oldest - 1

    @staticmethod
    def _merge(series: _Series, candles: list[Candle], tf_ms: int, now_ts: int) -> None:
        for candle in candles:
            if candle.ts + tf_ms <= now_ts:  # closed: the forming candle is never stored
                series.rows[candle.ts] = candle

    @staticmethod
    def _closed_rows(series: _Series, tf_ms: int, now_ts: int) -> list[int]:
        return [ts for ts in series.rows if ts + tf_ms <= now_ts]

    @staticmethod
    def _publish(series: _Series, symbol: str, timeframe: str, rows: int) -> None:
        if not series.rows:
            series.view = None
            return
        keys = sorted(series.rows)
        keep = KEEP * max(series.need, rows)
        if len(keys) > keep:
            for ts in keys[:-keep]:
                del series.rows[ts]
            keys = keys[-keep:]
            series.exhausted = False
        if (
            series.view is not None
            and series.view.last_ts == keys[-1]
            and len(series.view.candles) == len(keys)
        ):
            return
        text = "timestamp,open,high,low,close,volume\n" + "".join(
            f"{r.ts},{r.open},{r.high},{r.low},{r.close},{r.volume}\n"
            for r in map(series.rows.__getitem__, keys)
        )
        candles = parse_candles(text, f"{symbol}@{timeframe}")
        series.view = ClosedCandles(candles, keys[-1])
