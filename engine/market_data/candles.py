"""Candle files: loading, validation and the intra-candle walk.

A candle file is CSV (optionally gzip-compressed, ``.csv.gz``) with the header
``timestamp,open,high,low,close,volume``: the candle's open time in ms since the
epoch (UTC), prices in quote currency and the base-asset volume, numbers written
as plain decimals (no exponent). Rows are strictly increasing in time.

The loaded :class:`Candles` is columnar: the original price strings are kept
(exact ``Decimal`` on demand, for fills and equity) next to float copies (lists
for scalar access and numpy arrays for vectorised scans in hot loops).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import numpy as np

HEADER = "timestamp,open,high,low,close,volume"
COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
PRICE_COLUMNS = ("open", "high", "low", "close")

_NUMBER = r"-?\d+(?:\.\d+)?"
P = TypeVar("P", float, Decimal)

_ROW = re.compile(rf"(-?\d+),({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER})")
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(_NUMBER)
# A decimal with at most 15 significant digits converts to a float that keeps its
# order and equality with every other such decimal (DBL_DIG = 15).
_FLOAT_EXACT_DIGITS = 15


class CandleFileError(ValueError):
    """A candle file that cannot be used; the message names the file and the line."""


@dataclass(frozen=True, eq=False)
class Candles:
    """Candles in columns; index ``i`` is the i-th row of the file.

    ``timestamps`` are ms since the epoch (candle open time). ``*_text`` hold the
    prices exactly as written in the file; ``*_f`` are float lists and ``*_a``
    float64 numpy arrays of the same prices. ``float_exact`` is True when every
    price has at most 15 significant digits, so float comparisons between prices
    (and against other such decimals) give the same answer as Decimal ones.
    """

    source: str
    timestamps: list[int]
    open_text: list[str]
    high_text: list[str]
    low_text: list[str]
    close_text: list[str]
    volume_text: list[str]
    open_f: list[float]
    high_f: list[float]
    low_f: list[float]
    close_f: list[float]
    open_a: np.ndarray
    high_a: np.ndarray
    low_a: np.ndarray
    close_a: np.ndarray
    float_exact: bool

    def __len__(self) -> int:
        return len(self.timestamps)

    def price(self, column: str, index: int) -> Decimal:
        """The exact price of ``column`` (open/high/low/close) at row ``index``."""
        if column not in PRICE_COLUMNS:
            raise ValueError(f"unknown price column {column!r}")
        return Decimal(getattr(self, f"{column}_text")[index])

    def candle(self, index: int) -> tuple[int, Decimal, Decimal, Decimal, Decimal]:
        """``(timestamp, open, high, low, close)`` of one row, prices as Decimal."""
        return (
            self.timestamps[index],
            Decimal(self.open_text[index]),
            Decimal(self.high_text[index]),
            Decimal(self.low_text[index]),
            Decimal(self.close_text[index]),
        )

    def slice(self, start: int, stop: int) -> Candles:
        """Rows ``start:stop`` as a new :class:`Candles` (already validated)."""
        return _build(
            f"{self.source}[{start}:{stop}]",
            self.timestamps[start:stop],
            self.open_text[start:stop],
            self.high_text[start:stop],
            self.low_text[start:stop],
            self.close_text[start:stop],
            self.volume_text[start:stop],
        )


def walk_points(open_: P, high: P, low: P, close: P) -> tuple[P, P, P, P]:
    """The path the price is assumed to take inside one candle.

    open -> low -> high -> close when close >= open (a rising candle dips first),
    else open -> high -> low -> close.
    """
    if close >= open_:
        return (open_, low, high, close)
    return (open_, high, low, close)


def load_candles(path: str | Path) -> Candles:
    """Load and validate a ``.csv`` or ``.csv.gz`` candle file.

    Raises :class:`CandleFileError` (a ``ValueError``) with a one-line message
    naming the file and, for a bad row, its line number (the header is line 1).
    """
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CandleFileError(f"{name}: no such file") from None
    except OSError as exc:
        raise CandleFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    if name.endswith(".gz") or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise CandleFileError(f"{name}: not a valid gzip file ({exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CandleFileError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    return parse_candles(text, name)


def parse_candles(text: str, source: str = "<text>") -> Candles:
    """Parse and validate candle CSV text (same rules as :func:`load_candles`)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].lstrip("\ufeff") != HEADER:
        got = lines[0][:80] if lines else ""
        raise CandleFileError(f"{source}: line 1: header must be exactly {HEADER!r}, got {got!r}")
    body = lines[1:]
    if not body:
        raise CandleFileError(f"{source}: no candles after the header")

    matches = list(map(_ROW.fullmatch, body))
    if None in matches:
        row = matches.index(None)
        raise CandleFileError(f"{source}: line {row + 2}: {_why_malformed(body[row])}")
    rows = [m.groups() for m in matches]
    ts_t, open_t, high_t, low_t, close_t, vol_t = (list(col) for col in zip(*rows, strict=True))
    return _build(source, [int(x) for x in ts_t], open_t, high_t, low_t, close_t, vol_t, validate=True)


def _why_malformed(line: str) -> str:
    fields = line.split(",")
    if len(fields) != len(COLUMNS):
        return f"expected {len(COLUMNS)} columns, got {len(fields)}: {line[:80]!r}"
    for column, field in zip(COLUMNS, fields, strict=True):
        pattern = _INTEGER if column == "timestamp" else _DECIMAL
        if not pattern.fullmatch(field):
            kind = "an integer" if column == "timestamp" else "a plain decimal number"
            return f"{column} is not {kind}: {field[:40]!r}"
    return f"malformed row: {line[:80]!r}"  # pragma: no cover - the regexes above agree with _ROW


def _significant_digits(text: str) -> int:
    return len(text.replace(".", "").lstrip("-0"))


def _build(
    source: str,
    timestamps: list[int],
    open_t: list[str],
    high_t: list[str],
    low_t: list[str],
    close_t: list[str],
    vol_t: list[str],
    validate: bool = False,
) -> Candles:
    text_cols = (open_t, high_t, low_t, close_t)
    float_exact = all(
        max(map(len, col), default=0) <= _FLOAT_EXACT_DIGITS
        or max(map(_significant_digits, col)) <= _FLOAT_EXACT_DIGITS
        for col in text_cols
    )
    open_f, high_f, low_f, close_f = ([float(x) for x in col] for col in text_cols)
    open_a, high_a, low_a, close_a = (
        np.array(col, dtype=np.float64) for col in (open_f, high_f, low_f, close_f)
    )
    if validate:
        _validate(source, timestamps, text_cols, vol_t, (open_a, high_a, low_a, close_a), float_exact)
    return Candles(
        source=source,
        timestamps=timestamps,
        open_text=open_t,
        high_text=high_t,
        low_text=low_t,
        close_text=close_t,
        volume_text=vol_t,
        open_f=open_f,
        high_f=high_f,
        low_f=low_f,
        close_f=close_f,
        open_a=open_a,
        high_a=high_a,
        low_a=low_a,
        close_a=close_a,
        float_exact=float_exact,
    )


def _validate(
    source: str,
    timestamps: list[int],
    text_cols: tuple[list[str], ...],
    vol_t: list[str],
    arrays: tuple[np.ndarray, ...],
    float_exact: bool,
) -> None:
    """Raise CandleFileError for the first bad row (the lowest line number wins)."""
    open_a, high_a, low_a, close_a = arrays
    problems: list[tuple[int, str]] = []

    def first(mask: np.ndarray, describe) -> None:
        hits = np.flatnonzero(mask)
        if hits.size:
            row = int(hits[0])
            problems.append((row, describe(row)))

    for column, col in zip(PRICE_COLUMNS, arrays, strict=True):
        first(col <= 0, lambda r, c=column: f"{c} must be > 0, got {_price_text(text_cols, c, r)}")
    vol_bad = [i for i, v in enumerate(vol_t) if v.startswith("-") and Decimal(v) != 0]
    if vol_bad:
        problems.append((vol_bad[0], f"volume must be >= 0, got {vol_t[vol_bad[0]]}"))

    if float_exact:
        high_bad = high_a < np.maximum(open_a, close_a)
        low_bad = low_a > np.minimum(open_a, close_a)
    else:  # too many digits for floats to decide ties: compare exactly
        o, h, lo, c = ([Decimal(x) for x in col] for col in text_cols)
        high_bad = np.array([h[i] < max(o[i], c[i]) for i in range(len(o))], dtype=bool)
        low_bad = np.array([lo[i] > min(o[i], c[i]) for i in range(len(o))], dtype=bool)
    first(high_bad, lambda r: f"high {text_cols[1][r]} is below max(open, close)")
    first(low_bad, lambda r: f"low {text_cols[2][r]} is above min(open, close)")

    ts = np.array(timestamps, dtype=np.int64) if timestamps else np.zeros(0, dtype=np.int64)
    step = np.diff(ts)
    dup = np.flatnonzero(step == 0)
    back = np.flatnonzero(step < 0)
    if dup.size:
        row = int(dup[0]) + 1
        problems.append((row, f"duplicate timestamp {timestamps[row]} (same as line {row + 1})"))
    if back.size:
        row = int(back[0]) + 1
        problems.append((row, f"timestamps not sorted: {timestamps[row]} comes after {timestamps[row - 1]}"))
    if problems:
        row, message = min(problems, key=lambda p: p[0])
        raise CandleFileError(f"{source}: line {row + 2}: {message}")


def _price_text(text_cols: tuple[list[str], ...], column: str, row: int) -> str:
    return text_cols[PRICE_COLUMNS.index(column)][row]
