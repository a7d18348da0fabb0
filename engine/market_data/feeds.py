"""Price feeds for the paper exchange: a replay of real candles and live public tickers through ccxt.

A feed turns prices into points `(price, ts)` and hands each one to its sink (usually
`PaperVenue.on_price`). One feed per symbol is shared by every paper bot trading that symbol.

Replay: candle k is walked open -> low -> high -> close when close >= open, else open -> high ->
low -> close (engine.market_data.candles.walk_points), one point after another; point p of the replay is
point p % 4 of candle (p // 4) % len(candles). When it reaches the end it starts over, with
timestamps shifted by the file's span so time keeps increasing. `speed` is candles per second.
The position is handed to the sink with each point, so a sink that commits it with the point's
effects lets a restarted replay resume exactly after the last committed point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from engine.endpoints import point_at
from engine.market_data.candles import Candles, load_candles, walk_points

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
POINTS_PER_CANDLE = 4


class PriceSink(Protocol):
    async def __call__(
        self, symbol: str, price: Decimal, ts: int, *, cursor: tuple[str, int] | None
    ) -> Any: ...


class ReplayFeed:
    """Replay of `candles` for `symbol` at `speed` candles per second (see the module docstring)."""

    def __init__(
        self,
        symbol: str,
        candles: Candles,
        *,
        speed: float = 1.0,
        name: str | None = None,
        loop: bool = True,
        sink: PriceSink | None = None,
    ) -> None:
        if len(candles) == 0:
            raise ValueError("a replay needs at least one candle")
        if speed <= 0:
            raise ValueError("speed must be > 0 candles per second")
        self.symbol = symbol
        self.candles = candles
        self.speed = speed
        self.name = name or f"replay:{symbol}"
        self.loop = loop
        self.sink = sink
        self.position = 0  # the next point to emit
        self.last: tuple[Decimal, int] | None = None
        n = len(candles)
        step = int(candles.timestamps[1] - candles.timestamps[0]) if n > 1 else 60_000
        self._span = int(candles.timestamps[-1] - candles.timestamps[0]) + step
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_file(cls, symbol: str, path: str | Path, **kwargs: Any) -> ReplayFeed:
        """A replay of a candle CSV (see engine.market_data.candles); a bare name is looked up in
        engine/market_data/data."""
        path = Path(path)
        if not path.exists() and (DATA_DIR / path).exists():
            path = DATA_DIR / path
        return cls(symbol, load_candles(path), **kwargs)

    @property
    def total_points(self) -> int:
        """Points of one pass over the file."""
        return len(self.candles) * POINTS_PER_CANDLE

    def finished(self) -> bool:
        return not self.loop and self.position >= self.total_points

    def point(self, position: int) -> tuple[Decimal, int]:
        """Price (quote currency) and time (ms) of point `position` of the replay."""
        lap, within = divmod(position, self.total_points)
        index, step = divmod(within, POINTS_PER_CANDLE)
        c = self.candles
        _, open_, high, low, close = c.candle(index)
        return walk_points(open_, high, low, close)[step], int(c.timestamps[index]) + lap * self._span

    def resume_at(self, position: int) -> None:
        """Continue after a restart: `position` is the next point to emit."""
        self.position = max(0, position)
        if self.position:
            self.last = self.point(self.position - 1)

    async def step(self) -> tuple[Decimal, int] | None:
        """Emit the next point to the sink; None when a non-looping replay is over."""
        if self.finished():
            return None
        price, ts = self.point(self.position)
        if self.sink is not None:
            await self.sink(self.symbol, price, ts, cursor=(self.name, self.position + 1))
        self.last = (price, ts)
        self.position += 1
        return price, ts

    async def step_candle(self) -> int:
        """Emit the rest of the current candle's points; returns how many were emitted."""
        emitted = 0
        while not self.finished():
            await self.step()
            emitted += 1
            if self.position % POINTS_PER_CANDLE == 0:
                break
        return emitted

    async def run(self) -> None:
        """Emit candles at `speed` per second until cancelled (or the end, without `loop`)."""
        period = 1.0 / self.speed
        next_at = time.monotonic()
        while not self.finished():
            try:
                await self.step_candle()
            except Exception:  # a failing sink must not kill the feed: the point is emitted again
                log.exception("replay %s: sink failed at point %d", self.name, self.position)
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"feed {self.name}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class LivePriceFeed:
    """Live public prices through ccxt (no keys): polls `fetch_ticker` of each symbol every
    `interval` seconds and hands the last price to the sink. `client` is a ccxt async exchange."""

    def __init__(
        self, client: Any, symbols: list[str], *, interval: float = 2.0, sink: PriceSink | None = None
    ):
        self.client = client
        self.symbols = list(symbols)
        self.interval = interval
        self.sink = sink
        self.last: dict[str, tuple[Decimal, int]] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_exchange(
        cls, exchange_id: str, symbols: list[str], *, api_url: str | None = None, **kwargs: Any
    ) -> LivePriceFeed:
        import ccxt.async_support as ccxt_async

        client = getattr(ccxt_async, exchange_id)({"enableRateLimit": True, "options": {"uta": False}})
        return cls(point_at(client, api_url), symbols, **kwargs)

    async def poll_once(self) -> None:
        for symbol in self.symbols:
            try:
                ticker = await self.client.fetch_ticker(symbol)
            except Exception as exc:  # network trouble: keep the last price, try again next time
                log.warning("live feed %s: %s", symbol, type(exc).__name__)
                continue
            if ticker.get("last") is None:
                continue
            price = Decimal(str(ticker["last"]))
            ts = int(ticker.get("timestamp") or time.time() * 1000)
            self.last[symbol] = (price, ts)
            if self.sink is not None:
                await self.sink(symbol, price, ts, cursor=None)

    async def run(self) -> None:
        """Poll until cancelled: a failing sink (a database that is busy, a venue error) is logged and
        the feed goes on after a growing pause (at most a minute), never dies."""
        failures = 0
        while True:
            try:
                await self.poll_once()
            except Exception:
                failures += 1
                log.exception("live feed: a price point failed (%d in a row)", failures)
                await asyncio.sleep(min(60.0, self.interval * 2**failures))
                continue
            failures = 0
            await asyncio.sleep(self.interval)

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="live price feed")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        close: Callable[[], Awaitable[None]] | None = getattr(self.client, "close", None)
        if close is not None:
            await close()
