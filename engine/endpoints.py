"""Where an exchange's API lives: a ccxt client's REST endpoints pointed at another base URL (an
operator's EXCHANGE_API_URL: a regional domain, a proxy, or a local test exchange). Shared by the live
venue's clients and the public market data."""

from __future__ import annotations

from typing import Any


def point_at(client: Any, base_url: str | None) -> Any:
    """Every REST endpoint of the ccxt `client` at `base_url` (None: the exchange's own); returns it."""
    if base_url:
        base_url = base_url.rstrip("/")
        api = client.urls["api"]
        if isinstance(api, dict):
            client.urls["api"] = {name: base_url for name in api}
        else:
            client.urls["api"] = base_url
    return client
