"""The request budget of this process's address (IP) for an exchange's public endpoints: one limiter
shared by every ccxt client of the process, the accounts' ones (a ticker, the markets) and the public
market data's (candles, tickers), on top of ccxt's own limiter, which each client keeps for its account.

Bitget counts its public market endpoints per IP (20 requests per second each: candles, tickers,
symbols); the process stays under half of that so that a few thousand bots starting at once wait
here instead of earning 429 "Too Many Requests". aiolimiter's leaky bucket (a maintained library,
already the alert sender's) lets a burst of `max_rate` through, then `max_rate` per `period`.
"""

from __future__ import annotations

from typing import Any

from aiolimiter import AsyncLimiter

PUBLIC_REQUESTS_PER_SECOND = 10


def public_limiter(max_rate: float = PUBLIC_REQUESTS_PER_SECOND, period: float = 1.0) -> AsyncLimiter:
    """The process's limiter for public requests (at most `max_rate` per `period` seconds)."""
    return AsyncLimiter(max_rate, period)


def is_public(api: Any) -> bool:
    """A ccxt endpoint of the exchange's public API (ccxt names it ['public', 'spot'] or 'public')."""
    head = api[0] if isinstance(api, list | tuple) and api else api
    return head == "public"


def share_public_limit(client: Any, limiter: AsyncLimiter | None) -> Any:
    """Every public request of the ccxt `client` first takes its place in `limiter` (None: no shared
    limit); private ones only pass ccxt's own limiter. Returns the client."""
    if limiter is None:
        return client
    request = client.request

    async def limited(
        path: str, api: Any = "public", method: str = "GET", params: Any = None, config: Any = None
    ) -> Any:
        if is_public(api):
            await limiter.acquire()
        return await request(
            path, api, method, {} if params is None else params, config={} if config is None else config
        )

    client.request = limited
    return client
