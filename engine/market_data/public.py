"""An exchange's public market data (no keys): tickers and candles through ccxt, in Decimal. Paper bots
on live prices read their candles here (engine.trend.candles), and the live price feed its tickers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.endpoints import point_at
from engine.exchange import Candle, ExchangeError, TemporaryExchangeError, Ticker


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


class PublicMarketData:
    """The part of `engine.exchange.Exchange` that public data answers: `fetch_ticker`, `fetch_candles`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def for_exchange(cls, exchange_id: str, *, api_url: str | None = None) -> PublicMarketData:
        import ccxt.async_support as ccxt_async

        client = getattr(ccxt_async, exchange_id)({"enableRateLimit": True, "options": {"uta": False}})
        return cls(point_at(client, api_url))

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
        return [
            Candle(int(ts), _dec(o), _dec(h), _dec(low), _dec(c), _dec(v))
            for ts, o, h, low, c, v in (row[:6] for row in rows)
        ]

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
