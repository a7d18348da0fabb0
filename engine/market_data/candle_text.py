"""The exact reading of candle CSV text, row by row in Python: the reference for what a valid file is
and for the error messages (the first bad line of the file, named with its number).

engine.market_data.candle_files reads files with pyarrow and vectorised checks; whenever those cannot
prove a piece of a file valid and canonical, this module reads that piece (to name the error) or the
whole file (to keep its price texts). The rules:

* line 1 is exactly ``timestamp,open,high,low,close,volume`` (a UTF-8 BOM and CRLF line ends allowed);
* every other line is ``integer,decimal,decimal,decimal,decimal,decimal`` with plain decimals
  (``-?digits[.digits]``); a malformed line is reported before any bad value, wherever it is;
* prices > 0, volume >= 0, high >= max(open, close), low <= min(open, close), timestamps strictly
  increasing; of several problems the lowest line wins.
"""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np

from engine.market_data.candle_columns import (
    COLUMNS,
    FLOAT_EXACT_DIGITS,
    HEADER,
    PRICE_COLUMNS,
    CandleFileError,
    Candles,
    canonical_text,
    from_columns,
)

_NUMBER = r"-?\d+(?:\.\d+)?"
_ROW = re.compile(rf"(-?\d+),({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER}),({_NUMBER})")
_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(_NUMBER)

TextColumns = tuple[list[str], list[str], list[str], list[str], list[str], list[str]]


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` (CRLF or LF), without the empty string after a final newline."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def check_header(first: str | None, source: str) -> None:
    if first is None or first.lstrip("\ufeff") != HEADER:
        got = (first or "")[:80]
        raise CandleFileError(f"{source}: line 1: header must be exactly {HEADER!r}, got {got!r}")


def parse_rows(lines: list[str], source: str, first_line: int) -> TextColumns:
    """The six text columns of ``lines`` (line ``first_line`` is ``lines[0]``); raises for the first
    malformed line."""
    matches = list(map(_ROW.fullmatch, lines))
    if None in matches:
        row = matches.index(None)
        raise CandleFileError(f"{source}: line {first_line + row}: {_why_malformed(lines[row])}")
    if not matches:
        return [], [], [], [], [], []
    rows = [m.groups() for m in matches]  # type: ignore[union-attr]
    return tuple(list(col) for col in zip(*rows, strict=True))  # type: ignore[return-value]


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


def prices_float_exact(price_texts: tuple[list[str], ...]) -> bool:
    """True when every price has at most 15 significant digits."""
    return all(
        max(map(len, col), default=0) <= FLOAT_EXACT_DIGITS
        or max(map(_significant_digits, col)) <= FLOAT_EXACT_DIGITS
        for col in price_texts
    )


def check_values(
    columns: TextColumns,
    source: str,
    first_line: int,
    previous_ts: int | None = None,
    unit: str = "line",
) -> tuple[np.ndarray, list[np.ndarray], bool]:
    """Raise CandleFileError for the lowest bad line (line ``first_line`` is row 0); ``previous_ts`` is
    the timestamp of the line before (None: none). Returns the timestamps, the five float columns and
    whether the prices are float-exact."""
    ts_t, *value_t = columns
    price_t, vol_t = tuple(value_t[:4]), value_t[4]
    float_exact = prices_float_exact(price_t)
    timestamps = [int(x) for x in ts_t]
    floats = [np.array([float(x) for x in col], dtype=np.float64) for col in value_t]
    open_a, high_a, low_a, close_a, _ = floats
    problems: list[tuple[int, str]] = []

    def first(mask: np.ndarray, describe) -> None:
        hits = np.flatnonzero(mask)
        if hits.size:
            row = int(hits[0])
            problems.append((row, describe(row)))

    for column, col, texts in zip(PRICE_COLUMNS, floats, price_t, strict=False):
        first(col <= 0, lambda r, c=column, t=texts: f"{c} must be > 0, got {t[r]}")
    vol_bad = [i for i, v in enumerate(vol_t) if v.startswith("-") and Decimal(v) != 0]
    if vol_bad:
        problems.append((vol_bad[0], f"volume must be >= 0, got {vol_t[vol_bad[0]]}"))

    if float_exact:
        high_bad = high_a < np.maximum(open_a, close_a)
        low_bad = low_a > np.minimum(open_a, close_a)
    else:  # too many digits for floats to decide ties: compare exactly
        o, h, lo, c = ([Decimal(x) for x in col] for col in price_t)
        high_bad = np.array([h[i] < max(o[i], c[i]) for i in range(len(o))], dtype=bool)
        low_bad = np.array([lo[i] > min(o[i], c[i]) for i in range(len(o))], dtype=bool)
    first(high_bad, lambda r: f"high {price_t[1][r]} is below max(open, close)")
    first(low_bad, lambda r: f"low {price_t[2][r]} is above min(open, close)")

    ts = np.array(timestamps, dtype=np.int64) if timestamps else np.zeros(0, dtype=np.int64)
    before = [] if previous_ts is None else [previous_ts]
    step = np.diff(np.array([*before, *timestamps], dtype=np.int64))
    shift = 1 - len(before)  # row of step[k] is k + shift
    dup = np.flatnonzero(step == 0)
    back = np.flatnonzero(step < 0)

    def previous(row: int) -> int:
        return timestamps[row - 1] if row > 0 else previous_ts  # type: ignore[return-value]

    if dup.size:
        row = int(dup[0]) + shift
        problems.append(
            (row, f"duplicate timestamp {timestamps[row]} (same as {unit} {first_line + row - 1})")
        )
    if back.size:
        row = int(back[0]) + shift
        problems.append((row, f"timestamps not sorted: {timestamps[row]} comes after {previous(row)}"))
    if problems:
        row, message = min(problems, key=lambda p: p[0])
        raise CandleFileError(f"{source}: {unit} {first_line + row}: {message}")
    return ts, floats, float_exact


def canonical(price_texts: tuple[list[str], ...], floats: list[np.ndarray]) -> bool | None:
    """How the file writes integral prices (True: ``100.0``, False: ``100``) when every price text is
    what :func:`engine.market_data.candles.decimal_of` gives back; None when some are not."""
    for point in (False, True):
        if all(
            canonical_text(f, point) == t
            for texts, col in zip(price_texts, floats, strict=False)
            for f, t in zip(col.tolist(), texts, strict=True)
        ):
            return point
    return None


def parse_exact(text: str, source: str) -> Candles:
    """Parse and validate the whole ``text`` in Python (see the module docstring)."""
    lines = split_lines(text)
    check_header(lines[0] if lines else None, source)
    body = lines[1:]
    if not body:
        raise CandleFileError(f"{source}: no candles after the header")
    return parse_exact_columns(parse_rows(body, source, 2), source)


def parse_exact_columns(columns: TextColumns, source: str, unit: str = "line") -> Candles:
    """Candles from text columns, validated (line 2 is row 0, or row 1 with ``unit="row"``)."""
    ts, floats, float_exact = check_values(columns, source, 2 if unit == "line" else 1, unit=unit)
    price_texts = tuple(columns[1:5])
    point = canonical(price_texts, floats) if float_exact else None
    keep = None if point is not None else price_texts
    return from_columns(
        source,
        ts,
        *floats,
        float_exact=float_exact,
        texts=keep,
        point=bool(point),  # type: ignore[arg-type]
    )
