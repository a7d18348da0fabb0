"""The fake Bitget's candle endpoints, with Bitget's own limits and paging parameters (its API docs:
spot "Get Candlestick Data" / "Get History Candlestick Data", contract ones, UTA v3 "Get
Kline/Candlestick" / "... History"):

| endpoint | rows per request (default) | window | required |
|---|---|---|---|
| v2 spot/mix market/candles, v3 market/candles | 1,000 (100) | recent only: 1m-5m 30 days, 15m 52, 30m 62, 1H 83, 2H 120, 4H 240, 6H 360 | |
| v2 spot market/history-candles | 200 (100) | all | endTime |
| v2 mix market/history-candles | 200 (100) | all; endTime - startTime <= 90 days | |
| v3 market/history-candles | 100 (100) | all; endTime - startTime <= 90 days | |

A request asks for the newest `limit` rows opening at or after `startTime` and at or before `endTime`,
answered oldest first; a limit above the endpoint's maximum is refused (400172). v3's candles endpoint
documents no maximum of its own: the v2 one's is assumed.

The rows are real candles: a series given with `serve` (a file of engine/market_data/data, Binance's
candles, values unchanged), its open times shifted by a whole number of candles so that one chosen row
is forming at the fake's market time `now` (which the test moves on); rows opening after `now` do not
exist yet, and the forming one is served like Bitget serves it. A symbol and timeframe without a
series answer the rows ccxt recorded from Bitget (tests/fixtures/bitget).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

from engine.market_data.candles import Candles

DAY_MS = 86_400_000
TIMEFRAMES = {  # Bitget's granularities (v2 spot says 1min / 1h, v2 mix and v3 1m / 1H) -> ms
    "1min": 60_000, "1m": 60_000, "3min": 180_000, "3m": 180_000, "5min": 300_000, "5m": 300_000,
    "15min": 900_000, "15m": 900_000, "30min": 1_800_000, "30m": 1_800_000,
    "1h": 3_600_000, "1H": 3_600_000, "4h": 14_400_000, "4H": 14_400_000, "6h": 21_600_000,
    "6H": 21_600_000, "12h": 43_200_000, "12H": 43_200_000, "1day": DAY_MS, "1D": DAY_MS,
}  # fmt: skip
RECENT_DAYS = {60_000: 30, 180_000: 30, 300_000: 30, 900_000: 52, 1_800_000: 62, 3_600_000: 83,
               7_200_000: 120, 14_400_000: 240, 21_600_000: 360}  # fmt: skip
MAX_ROWS = {"recent": 1000, "v2 spot history": 200, "v2 mix history": 200, "v3 history": 100}
MAX_RANGE_MS = 90 * DAY_MS


class CandleError(Exception):
    """Bitget's refusal of a candle request: (code, message)."""


@dataclass
class Series:
    tf_ms: int
    rows: list[list[str]]  # Bitget's rows, oldest first, open times shifted


class CandleBook:
    """The fake's candle series and market clock (see the module docstring)."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, int], Series] = {}
        self.market_now: int | None = None

    def now(self) -> int:
        return self.market_now if self.market_now is not None else int(time.time() * 1000)

    def serve(
        self,
        symbol: str,
        timeframe: str,
        candles: Candles,
        *,
        forming: int,
        lead: int = 50,
        now: int | None = None,
    ) -> int:
        """Serve `candles` for `symbol` ("BTCUSDT") at `timeframe` ("1h"), row `forming` being the forming
        candle at the market time `now`: by default `lead` candles before the wall clock, so that the test
        can move it on by up to `lead` candles (ccxt picks its endpoints by the wall clock). Returns it."""
        tf = TIMEFRAMES[timeframe]
        wall = int(time.time() * 1000)
        forming_open = (wall // tf - lead) * tf if now is None else now // tf * tf
        shift = forming_open - int(candles.timestamps[forming])
        assert shift % tf == 0
        rows = []
        for i, volume in enumerate(candles.volume_text):
            ts, open_, high, low, close = candles.candle(i)
            turnover = Decimal(volume) * close  # Bitget's quote volume (the files have none): volume x close
            rows.append([str(ts + shift), str(open_), str(high), str(low), str(close), volume, str(turnover)])
        self.series[(symbol, tf)] = Series(tf, rows)
        self.market_now = forming_open + tf // 2 if now is None else now
        return self.market_now

    def answer(self, endpoint: str, query: dict[str, str], recorded: list[list[str]]) -> list[list[str]]:
        """The rows of one request to `endpoint` ("v2 spot recent", "v2 mix history", "v3 recent", ...)."""
        granularity = query.get("granularity") or query.get("interval") or ""
        tf = TIMEFRAMES.get(granularity)
        if tf is None:
            raise CandleError("400172", f"Parameter verification failed: granularity {granularity!r}")
        limit = int(query.get("limit") or 100)
        kind = "recent" if endpoint.endswith("recent") else endpoint
        if not 0 < limit <= MAX_ROWS[kind]:
            raise CandleError("400172", f"Parameter verification failed: limit {limit} > {MAX_ROWS[kind]}")
        start = int(query["startTime"]) if query.get("startTime") else None
        end = int(query["endTime"]) if query.get("endTime") else None
        if endpoint == "v2 spot history" and end is None:
            raise CandleError("400172", "Parameter verification failed: endTime is required")
        if (
            (endpoint.startswith("v2 mix") or endpoint.startswith("v3"))
            and start is not None
            and end is not None
        ):
            if end - start > MAX_RANGE_MS:
                raise CandleError(
                    "400172", "Parameter verification failed: the time range is at most 90 days"
                )
        series = self.series.get((query.get("symbol", ""), tf))
        if series is None:
            rows = recorded
        else:
            now = self.now()
            rows = [r for r in series.rows if int(r[0]) <= now]
            if kind == "recent" and tf in RECENT_DAYS:
                oldest = now - RECENT_DAYS[tf] * DAY_MS
                rows = [r for r in rows if int(r[0]) >= oldest]
        picked = [
            r for r in rows if (start is None or int(r[0]) >= start) and (end is None or int(r[0]) <= end)
        ]
        return picked[-limit:]
