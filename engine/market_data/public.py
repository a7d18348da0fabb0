"""An exchange's public market data (no keys): tickers and candles through ccxt, in Decimal. Paper bots
on live prices read their candles here (engine.trend.candles, through the process's candle store), and
the live price feed its tickers. Every request first takes its place in the process's public limiter
(engine.public_limits) when one is given."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiolimiter import AsyncLimiter

from engine.endpoints import point_at
from engine.exchange import Candle, ExchangeError, TemporaryExchangeError, Ticker
from engine.public_limits import share_public_limit


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


class PublicMarketData:
    """The part of `engine.exchange.Exchange` that public data answers: `fetch_ticker`, `fetch_candles`."""

    def __init__(self, client: Any, *, demo: bool = False) -> None:
        self.client = client
        self.demo = demo

    @classmethod
    def for_exchange(
        cls, exchange_id: str, *, api_url: str | None = None, limiter: AsyncLimiter | None = None
    ) -> PublicMarketData:
        """`limiter`: the process's public limiter (the live registry's `public_limiter`)."""
        import ccxt.async_support as ccxt_async

        client = getattr(ccxt_async, exchange_id)({"enableRateLimit": True, "options": {"uta": False}})
        return cls(share_public_limit(point_at(client, api_url), limiter))

    @property
    def candle_key(self) -> tuple[str, bool]:
        """The exchange's live candles: one series with its live accounts' (see candle_store)."""
        return str(self.client.id), self.demo

    async def fetch_ticker(self, symbol: str) -> Ticker:
        raw = await self._call(self.client.fetch_ticker, symbol)
        last = raw.get("last") if raw.get("last") is not None else raw.get("close")
        if last is None:
            raise ExchangeError(f"{symbol} ticker has no last price")
        bid, ask = raw.get("bid"), raw.get("ask")
        return Ticker(
            symbol,
            _dec(last),
            _dec(bid) if bid is not None else None,
            _dec(ask) if ask is not None else None,
            raw.get("timestamp"),
        )

    async def fetch_candles(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        rows = await self._call(self.client.fetch_ohlcv, symbol, timeframe, since, limit)
        return _candles(rows)

    async def fetch_candle_page(self, symbol: str, timeframe: str, *, until: int, limit: int) -> list[Candle]:
        """Up to `limit` candles opening at or before `until` (ms), oldest first (ccxt picks the endpoint
        and its page size: see engine.venues.live.adapter.CcxtExchange.fetch_candle_page)."""
        rows = await self._call(self.client.fetch_ohlcv, symbol, timeframe, None, limit, {"until": until})
        return _candles(rows)

    async def close(self) -> None:
        await self.client.close()

    @staticmethod
    async def _call(fn: Any, *args: Any) -> Any:
        import ccxt

        try:
            return await fn(*args)
        except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
            raise TemporaryExchangeError(f"{type(exc).__name__}: {exc}") from exc
        except ccxt.BaseError as exc:
            raise ExchangeError(f"{type(exc).__name__}: {exc}") from exc


def _candles(rows: list[list[Any]]) -> list[Candle]:
    return [
        Candle(int(ts), _dec(o), _dec(h), _dec(low), _dec(c), _dec(v))
        for ts, o, h, low, c, v in (row[:6] for row in rows)
    ]
