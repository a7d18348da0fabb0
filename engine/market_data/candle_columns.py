"""Candles in columns and the exact price behind each float (engine.market_data.candles is the door).

A candle file is CSV (optionally gzip-compressed, ``.csv.gz``) with the header
``timestamp,open,high,low,close,volume``: the candle's open time in ms since the
epoch (UTC), prices in quote currency and the base-asset volume, numbers written
as plain decimals (no exponent). Rows are strictly increasing in time. Parquet and
Feather files with the same columns load too (engine.market_data.candle_files).

The loaded :class:`Candles` is columnar: an int64 array of timestamps and float64
arrays of open, high, low, close and volume (48 bytes per candle). The exact price
is a Decimal computed from the float only where a fill or an equity needs it: when
every price of the file is written in canonical form (no leading or trailing zeros)
with at most 15 significant digits, the float's shortest representation *is* the
text of the file (see :func:`decimal_of`), so nothing else is kept. Files that are
not (``105597.10``, or 17 digits) keep their price texts beside the floats.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import numpy as np

HEADER = "timestamp,open,high,low,close,volume"
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")
# A decimal with at most 15 significant digits converts to a float that keeps its
# order and equality with every other such decimal (DBL_DIG = 15).
FLOAT_EXACT_DIGITS = 15

P = TypeVar("P", float, Decimal)


class CandleFileError(ValueError):
    """A candle file that cannot be used; the message names the file and the line."""


def decimal_of(value: float, point: bool = False) -> Decimal:
    """The decimal a file wrote for ``value``, when it wrote it canonically with <= 15 digits.

    A decimal d of at most 15 significant digits is the only such decimal that
    converts to ``float(d)``, so the shortest representation of that float
    (``repr``) has d's digits. Integers are written ``105664`` or, with ``point``
    (as Python and pandas print floats), ``105664.0``: the same value, and the same
    Decimal exponent as the file's text.
    """
    if not point and value.is_integer():
        return Decimal(int(value))
    return Decimal(repr(value))


def canonical_text(value: float, point: bool = False) -> str:
    """The text :func:`decimal_of` stands for (``105597.1``, ``100`` or ``100.0``, ``0.00001``)."""
    return format(decimal_of(value, point), "f")


class Timestamps(Sequence[int]):
    """A read-only view of an int64 array of timestamps whose items are Python ints (so no numpy
    integer reaches JSON or a database); ``array`` is the array, ``np.asarray`` works on it."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index):  # type: ignore[no-untyped-def, override]
        if isinstance(index, slice):
            return Timestamps(self.array[index])
        return int(self.array[index])

    def __iter__(self) -> Iterator[int]:
        return iter(self.array.tolist())

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        return self.array if dtype is None else self.array.astype(dtype, copy=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self.tolist() == list(other)

    __hash__ = None  # type: ignore[assignment]

    def tolist(self) -> list[int]:
        return self.array.tolist()


@dataclass(frozen=True, eq=False)
class Candles:
    """Candles in columns; index ``i`` is the i-th row of the file.

    ``ts_a`` (int64, ms since the epoch, the candle's open time; ``timestamps``
    shows it as Python ints) and the float64 arrays ``open_a``, ``high_a``,
    ``low_a``, ``close_a``, ``volume_a``.
    ``float_exact`` is True when every price has at most 15 significant digits, so
    float comparisons between prices (and against other such decimals) give the
    same answer as Decimal ones. ``texts`` holds the four price columns as written
    when the floats alone do not give them back exactly (else None); ``point`` says
    how the file writes integral prices (``100.0``: True, ``100``: False).
    """

    source: str
    ts_a: np.ndarray
    open_a: np.ndarray
    high_a: np.ndarray
    low_a: np.ndarray
    close_a: np.ndarray
    volume_a: np.ndarray
    float_exact: bool = True
    texts: tuple[list[str], list[str], list[str], list[str]] | None = None
    point: bool = False

    def __len__(self) -> int:
        return len(self.ts_a)

    @property
    def timestamps(self) -> Timestamps:
        return Timestamps(self.ts_a)

    @property
    def open_f(self) -> list[float]:
        return self.open_a.tolist()

    @property
    def high_f(self) -> list[float]:
        return self.high_a.tolist()

    @property
    def low_f(self) -> list[float]:
        return self.low_a.tolist()

    @property
    def close_f(self) -> list[float]:
        return self.close_a.tolist()

    @property
    def volume_text(self) -> list[str]:
        """The volumes as shortest decimals (the file may have written them with more zeros)."""
        return [format(Decimal(repr(v)), "f") for v in self.volume_a.tolist()]

    def column(self, column: str) -> np.ndarray:
        """The float64 array of a price column (open/high/low/close)."""
        if column not in PRICE_COLUMNS:
            raise ValueError(f"unknown price column {column!r}")
        return getattr(self, f"{column}_a")

    def price(self, column: str, index: int) -> Decimal:
        """The exact price of ``column`` (open/high/low/close) at row ``index``."""
        values = self.column(column)
        if self.texts is not None:
            return Decimal(self.texts[PRICE_COLUMNS.index(column)][index])
        return decimal_of(float(values[index]), self.point)

    def candle(self, index: int) -> tuple[int, Decimal, Decimal, Decimal, Decimal]:
        """``(timestamp, open, high, low, close)`` of one row, prices as Decimal."""
        return (
            int(self.ts_a[index]),
            self.price("open", index),
            self.price("high", index),
            self.price("low", index),
            self.price("close", index),
        )

    def prices(self, column: str) -> list[Decimal]:
        """Every exact price of a column (slow: for the few callers that walk in Decimal)."""
        if self.texts is not None:
            return [Decimal(x) for x in self.texts[PRICE_COLUMNS.index(column)]]
        return [decimal_of(x, self.point) for x in self.column(column).tolist()]

    def text(self, column: str) -> list[str]:
        """A price column as the file wrote it (computed for canonical files)."""
        if self.texts is not None:
            return self.texts[PRICE_COLUMNS.index(column)]
        return [canonical_text(x, self.point) for x in self.column(column).tolist()]

    @property
    def open_text(self) -> list[str]:
        return self.text("open")

    @property
    def high_text(self) -> list[str]:
        return self.text("high")

    @property
    def low_text(self) -> list[str]:
        return self.text("low")

    @property
    def close_text(self) -> list[str]:
        return self.text("close")

    def slice(self, start: int, stop: int) -> Candles:
        """Rows ``start:stop`` as a new :class:`Candles` (views of the same arrays, already validated)."""
        start, stop, _ = slice(start, stop).indices(len(self))
        texts = None if self.texts is None else tuple(col[start:stop] for col in self.texts)
        return Candles(
            f"{self.source}[{start}:{stop}]",
            self.ts_a[start:stop],
            self.open_a[start:stop],
            self.high_a[start:stop],
            self.low_a[start:stop],
            self.close_a[start:stop],
            self.volume_a[start:stop],
            self.float_exact,
            texts,  # type: ignore[arg-type]
            self.point,
        )

    def chunks(self, size: int) -> Iterator[tuple[int, Candles]]:
        """``(offset, rows offset..offset+size)`` views in order (see :class:`CandleChunks`)."""
        for start in range(0, len(self), size):
            yield start, self.slice(start, start + size)

    @property
    def rows(self) -> int:
        return len(self)

    def first_open(self) -> Decimal:
        return self.price("open", 0)

    def last_close(self) -> Decimal:
        return self.price("close", len(self) - 1)


class CandleChunks:
    """Something a backtest can walk in order without holding every candle: ``rows``, ``float_exact``
    and ``chunks(size)`` yielding ``(offset, Candles)``. :class:`Candles` is one (views of itself);
    a cached candle file is another (engine.market_data.candle_cache.CachedCandles reads each chunk
    from disk), so a backtest of 5 million candles needs memory for one chunk only."""

    rows: int
    float_exact: bool
    source: str
    point: bool

    def chunks(self, size: int) -> Iterator[tuple[int, Candles]]:  # pragma: no cover - protocol
        raise NotImplementedError


def from_columns(
    source: str,
    timestamps: np.ndarray,
    open_a: np.ndarray,
    high_a: np.ndarray,
    low_a: np.ndarray,
    close_a: np.ndarray,
    volume_a: np.ndarray,
    float_exact: bool = True,
    texts: tuple[list[str], list[str], list[str], list[str]] | None = None,
    point: bool = False,
) -> Candles:
    """Candles from already validated columns (as contiguous int64 / float64 arrays)."""
    return Candles(
        source,
        np.ascontiguousarray(timestamps, dtype=np.int64),
        *(np.ascontiguousarray(a, dtype=np.float64) for a in (open_a, high_a, low_a, close_a, volume_a)),
        float_exact,
        texts,
        point,
    )


def walk_points(open_: P, high: P, low: P, close: P) -> tuple[P, P, P, P]:
    """The path the price is assumed to take inside one candle.

    open -> low -> high -> close when close >= open (a rising candle dips first),
    else open -> high -> low -> close.
    """
    if close >= open_:
        return (open_, low, high, close)
    return (open_, high, low, close)
