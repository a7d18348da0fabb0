"""Candle files: loading, validation and the intra-candle walk (the door to engine.market_data's candles).

A candle file is CSV (optionally gzip-compressed, ``.csv.gz``) with the header
``timestamp,open,high,low,close,volume``: the candle's open time in ms since the
epoch (UTC), prices in quote currency and the base-asset volume, numbers written
as plain decimals (no exponent). Rows are strictly increasing in time. Parquet and
Feather files with the same columns load too.

* :class:`Candles` (engine.market_data.candle_columns): int64 timestamps and float64
  prices and volumes in columns, 48 bytes per candle; the exact Decimal of a price
  from its float (or, for files not written canonically, from the kept texts).
* :func:`load_candles`: pyarrow and vectorised checks (engine.market_data.candle_files),
  the disk cache (engine.market_data.candle_cache), the exact reading in Python for
  error messages naming the line (engine.market_data.candle_text).
"""

from __future__ import annotations

from pathlib import Path

from engine.market_data.candle_columns import (
    COLUMNS,
    HEADER,
    PRICE_COLUMNS,
    CandleChunks,
    CandleFileError,
    Candles,
    Timestamps,
    canonical_text,
    decimal_of,
    from_columns,
    walk_points,
)
from engine.market_data.candle_files import load_file, open_file, parse_text

__all__ = [
    "COLUMNS",
    "HEADER",
    "PRICE_COLUMNS",
    "CandleChunks",
    "CandleFileError",
    "Candles",
    "Timestamps",
    "canonical_text",
    "decimal_of",
    "from_columns",
    "load_candles",
    "open_candles",
    "parse_candles",
    "walk_points",
]


def load_candles(path: str | Path, *, cache: bool | None = None) -> Candles:
    """Load and validate a candle file (``.csv``, ``.csv.gz``, ``.parquet``, ``.feather``/``.arrow``).

    Raises :class:`CandleFileError` (a ``ValueError``) with a one-line message
    naming the file and, for a bad row, its line number (the header is line 1).
    A loaded file is kept in the disk cache (engine.market_data.candle_cache) unless
    ``cache`` is False (None: the cache's default, see there).
    """
    return load_file(path, cache=cache)


def open_candles(path: str | Path, *, cache: bool | None = None) -> CandleChunks:
    """The candles of a file for a walk in order, read chunk by chunk from the cache when it is on
    (memory for one chunk, whatever the file's size); else loaded (see :func:`load_candles`)."""
    return open_file(path, cache=cache)  # type: ignore[return-value]


def parse_candles(text: str, source: str = "<text>") -> Candles:
    """Parse and validate candle CSV text (same rules and messages as :func:`load_candles`)."""
    return parse_text(text, source)
