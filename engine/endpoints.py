"""Where an exchange's API lives: a ccxt client's REST endpoints pointed at another base URL (an
operator's EXCHANGE_API_URL: a regional domain, a proxy, or a local test exchange), and a ccxt.pro
client's websocket endpoints at the same host (http -> ws, https -> wss, each endpoint's own path kept:
Bitget's /v2/ws/public, /v3/ws/private, ...). Shared by the live venue's clients and the public market
data."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def point_at(client: Any, base_url: str | None) -> Any:
    """Every REST and websocket endpoint of the ccxt `client` at `base_url` (None: the exchange's
    own); returns it."""
    if base_url:
        base_url = base_url.rstrip("/")
        api = client.urls["api"]
        if isinstance(api, dict):
            client.urls["api"] = {
                name: _websockets_at(url, base_url) if isinstance(url, dict) else base_url
                for name, url in api.items()
            }
        else:
            client.urls["api"] = base_url
    return client


def _websockets_at(urls: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A group of endpoints (ccxt.pro's urls['api']['ws'], bitget's ['demo']): websocket ones moved to
    `base_url`'s host (and path) with their own paths, anything else as REST is."""
    scheme, host, prefix = urlsplit(base_url)[:3]
    ws_scheme = "wss" if scheme == "https" else "ws"
    moved: dict[str, Any] = {}
    for name, url in urls.items():
        if isinstance(url, str) and url.startswith(("ws://", "wss://")):
            moved[name] = f"{ws_scheme}://{host}{prefix}{urlsplit(url).path}"
        elif isinstance(url, dict):
            moved[name] = _websockets_at(url, base_url)
        else:
            moved[name] = base_url
    return moved
