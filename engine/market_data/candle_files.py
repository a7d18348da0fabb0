"""Loading candle files at the speed of the disk: pyarrow's multithreaded CSV reader over line-aligned
pieces of the file (gzip decompressed as a stream), vectorised checks with numpy, and the disk cache
(engine.market_data.candle_cache). Parquet and Feather files (``.parquet``, ``.feather``, ``.arrow``)
are read with pyarrow too.

What makes a piece of CSV "proved" without looking at its rows in Python:

* only the bytes ``0-9 . , - CR LF`` occur, a CR only before an LF, and no field starts or ends with
  ``.`` (pyarrow would read ``.5`` and ``5.``, the format does not allow them) and none but the
  timestamp starts with ``-`` (a negative price or volume is an error anyway);
* pyarrow parses it as 6 columns: the timestamp as int64 (no empty field), prices as text and the
  volume as float64; the price texts are read as floats (correctly rounded);
* every price text is canonical (no leading zero but in ``0.``, no trailing zero after a point) with
  at most 15 significant digits, which the lengths and the first and last bytes of the texts show,
  so :func:`engine.market_data.candles.decimal_of` gives back each text exactly from its float;
* the values pass the checks of the format (prices > 0, high/low around open and close, timestamps
  strictly increasing, also across pieces), compared as floats (exact for <= 15 digits).

A piece that fails any of these is read again by engine.market_data.candle_text, which names the first
bad line exactly as before, or, when nothing is wrong with it (a price written ``105597.10``), the
whole file is read there and keeps its texts (and is not cached).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from engine.market_data import candle_text
from engine.market_data.candle_cache import CachedCandles, CandleCache, EntryWriter, default_cache
from engine.market_data.candle_columns import (
    COLUMNS,
    FLOAT_EXACT_DIGITS,
    PRICE_COLUMNS,
    CandleFileError,
    Candles,
    from_columns,
)

PIECE_BYTES = 4 << 20  # CSV text per pyarrow call: ~68,000 1-minute candles, ~10 MB of memory (16 MiB
# pieces took the first run on 5 M candles to 260 MiB peak RSS, 4 MiB to 175 MiB, for the same CPU)
_READ_BYTES = 4 << 20
SMALL_TEXT = 1 << 16  # shorter texts are parsed in Python (no pyarrow import for a few rows)
_ALLOWED = b"0123456789.,-\r\n"
_POW10 = 10.0 ** np.arange(0, 18)
_COLUMNAR_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather"}


class _NotProved(Exception):
    """The fast checks cannot vouch for a piece; the exact reading decides."""


# --------------------------------------------------------------------------- entry points


def load_file(path: str | Path, *, cache: bool | None = None) -> Candles:
    """Every candle of a file in memory (see engine.market_data.candles.load_candles)."""
    found = open_file(path, cache=cache, in_memory=True)
    return found.load() if isinstance(found, CachedCandles) else found  # type: ignore[return-value]


def open_file(
    path: str | Path, *, cache: bool | None = None, in_memory: bool = False
) -> Candles | CachedCandles:
    """The candles of a file for a walk in order: from the cache when the file was loaded before (read
    chunk by chunk, so memory does not grow with the file), else parsed, validated and stored there.
    Without a cache (``cache=False``, or none configured) every candle is loaded in memory."""
    path = Path(path)
    name = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CandleFileError(f"{name}: no such file") from None
    except OSError as exc:
        raise CandleFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    store = default_cache() if cache is None or cache else None
    if store is not None:
        digest = store.known_digest(path, st)
        found = store.open(digest, name) if digest else None
        if found is not None:
            return found
    kind = _COLUMNAR_SUFFIXES.get(path.suffix.lower())
    if kind is not None:
        return _columnar(path, kind, name)
    return _csv_file(path, name, st, store, in_memory)


def parse_text(text: str, source: str = "<text>") -> Candles:
    """Parse and validate CSV text (small texts in Python, larger ones with pyarrow; the same result)."""
    if len(text) < SMALL_TEXT:
        return candle_text.parse_exact(text, source)
    data = text.encode("utf-8")
    header_end = data.find(b"\n")
    header = data if header_end < 0 else data[:header_end]
    body = b"" if header_end < 0 else data[header_end + 1 :]
    reading = _Reading(source, lambda: text)
    reading.header(header)
    pieces = (body[i : i + PIECE_BYTES] for i in range(0, len(body), PIECE_BYTES))
    candles, _ = reading.pieces(_line_aligned(pieces), None, in_memory=True)
    assert candles is not None
    return candles


# --------------------------------------------------------------------------- CSV


def _raw_chunks(path: Path, name: str, digest: hashlib._Hash) -> Iterator[bytes]:
    """The file's bytes in pieces, gunzipped when it is gzip (by name or magic); hashes the raw bytes."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise CandleFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    with handle:
        first = handle.read(_READ_BYTES)
        digest.update(first)
        if not (name.endswith(".gz") or first[:2] == b"\x1f\x8b"):
            piece = first
            while piece:
                yield piece
                piece = handle.read(_READ_BYTES)
                digest.update(piece)
            return
        inflate = zlib.decompressobj(wbits=47)
        try:
            piece = first
            while piece:
                while piece:
                    yield inflate.decompress(piece, _READ_BYTES)
                    piece = inflate.unconsumed_tail
                    if inflate.eof and inflate.unused_data:  # another gzip member follows
                        piece = inflate.unused_data
                        inflate = zlib.decompressobj(wbits=47)
                piece = handle.read(_READ_BYTES // 4)
                digest.update(piece)
            yield inflate.flush()
            if first and not inflate.eof:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
        except (zlib.error, EOFError) as exc:
            raise CandleFileError(f"{name}: not a valid gzip file ({exc})") from None


def _line_aligned(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Pieces of at least PIECE_BYTES (unless the text is shorter) that end at a line end (the last
    one may not)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        if not chunk:
            continue
        parts.append(chunk)
        size += len(chunk)
        if size < PIECE_BYTES:
            continue
        buffer = b"".join(parts)
        cut = buffer.rfind(b"\n") + 1
        if cut == 0:
            parts, size = [buffer], len(buffer)
            continue
        yield buffer[:cut]
        rest = buffer[cut:]
        parts, size = ([rest], len(rest)) if rest else ([], 0)
    if parts:
        yield b"".join(parts)


def _split_header(chunks: Iterator[bytes]) -> tuple[bytes, Iterator[bytes]]:
    """The first line (without its LF) and the rest of the stream."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        end = buffer.find(b"\n")
        if end >= 0:
            head, after = buffer[:end], buffer[end + 1 :]

            def rest(first: bytes = after) -> Iterator[bytes]:
                yield first
                yield from chunks

            return head, rest()
        if len(buffer) > 1 << 20:  # no line end in the first MiB: not our header anyway
            break
    return buffer, iter(())


def _csv_file(
    path: Path, name: str, st: os.stat_result, store: CandleCache | None, in_memory: bool
) -> Candles | CachedCandles:
    digest = hashlib.sha256()
    reading = _Reading(name, lambda: _decoded_file(path, name))
    head, body = _split_header(_raw_chunks(path, name, digest))
    reading.header(head)
    writer = store.writer() if store is not None else None
    try:
        candles, complete = reading.pieces(_line_aligned(body), writer, in_memory)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is None or not complete:
        if writer is not None:
            writer.abort()
        assert candles is not None
        return candles
    assert store is not None
    key = digest.hexdigest()
    writer.commit(key, reading.point)
    store.remember(path, st, key)
    if candles is not None:
        return candles
    cached = store.open(key, name)
    assert cached is not None, "a committed cache entry is readable"
    return cached


def _decoded_file(path: Path, name: str) -> str:
    """The whole file as text, for the exact reading (errors as load_candles reports them)."""
    import gzip

    raw = path.read_bytes()
    if name.endswith(".gz") or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise CandleFileError(f"{name}: not a valid gzip file ({exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CandleFileError(f"{name}: not UTF-8 text (byte {exc.start})") from None


class _Reading:
    """One CSV text read piece by piece (see the module docstring)."""

    def __init__(self, source: str, whole_text: Callable[[], str]) -> None:
        self.source = source
        self.whole_text = whole_text  # the whole file decoded, or the error the old reading gave
        self.point = False

    def _decode(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.whole_text()  # raises "not UTF-8 text (byte N)" for the file
            raise AssertionError("undecodable piece of a decodable file") from None  # pragma: no cover

    def header(self, head: bytes) -> None:
        first = self._decode(head).rstrip("\r") if head else None
        candle_text.check_header(first, self.source)

    def _exact_rows(self, piece: bytes, first_line: int) -> candle_text.TextColumns:
        lines = candle_text.split_lines(self._decode(piece))
        return candle_text.parse_rows(lines, self.source, first_line)

    def pieces(
        self, pieces: Iterator[bytes], writer: EntryWriter | None, in_memory: bool
    ) -> tuple[Candles | None, bool]:
        """Validate the body; returns (the candles when kept in memory, whether the cache writer got every
        row). A malformed line anywhere is reported before a bad value, as the exact reading does."""
        kept: list[Candles] = []
        point: bool | None = None  # how the file writes integral prices, once a piece showed it
        line = 2  # the first body line
        previous_ts: int | None = None
        refused: tuple[candle_text.TextColumns, int, int | None] | None = None
        rows = 0
        for piece in pieces:
            if refused is None:
                try:
                    part, point = _fast_piece(piece, self.source, previous_ts, point)
                except _NotProved:
                    refused = (self._exact_rows(piece, line), line, previous_ts)
                    writer = None
                    count = _lines(piece)
                else:
                    count = len(part)  # a proved piece has one row per line
                    rows += len(part)
                    previous_ts = int(part.ts_a[-1])
                    if writer is not None:
                        writer.append(part)
                    if in_memory or writer is None:
                        kept.append(part)
            else:
                if not _syntax_proved(piece):
                    self._exact_rows(piece, line)
                count = _lines(piece)
            line += count
        if refused is None and rows == 0:
            raise CandleFileError(f"{self.source}: no candles after the header")
        if refused is not None:
            columns, first_line, before = refused
            candle_text.check_values(columns, self.source, first_line, before)  # raises for a bad value
            # nothing is wrong, the prices are only not canonical or have too many digits for floats:
            # the exact reading of the whole text keeps the texts
            return candle_text.parse_exact(self.whole_text(), self.source), False
        self.point = bool(point)
        if writer is not None and not in_memory:
            return None, True
        whole = kept[0] if len(kept) == 1 else _concat(kept)
        return _renamed(whole, self.source, self.point), writer is not None


def _lines(piece: bytes) -> int:
    return piece.count(b"\n") + (0 if piece.endswith(b"\n") else 1)


def _concat(parts: list[Candles]) -> Candles:
    return from_columns(
        parts[0].source,
        *(
            np.concatenate([getattr(p, name) for p in parts])
            for name in ("ts_a", "open_a", "high_a", "low_a", "close_a", "volume_a")
        ),
    )


def _renamed(candles: Candles, source: str, point: bool) -> Candles:
    return from_columns(
        source,
        candles.ts_a,
        candles.open_a,
        candles.high_a,
        candles.low_a,
        candles.close_a,
        candles.volume_a,
        point=point,
    )


def _shapes_proved(piece: bytes) -> bool:
    """Only the bytes 0-9 . , - CR LF; every point between two digits; a minus only at a line's start
    (the timestamp); a CR only before an LF. One numpy pass over the bytes instead of a text search per
    pattern (``.5``, ``5.``, ``,-``)."""
    if piece.translate(None, _ALLOWED):
        return False
    data = np.frombuffer(piece, np.uint8)
    if data.size == 0:
        return True
    points = np.flatnonzero(data == ord("."))
    if points.size:
        if points[0] == 0 or points[-1] == data.size - 1:
            return False
        before, after = data[points - 1], data[points + 1]
        if np.any((before < ord("0")) | (before > ord("9")) | (after < ord("0")) | (after > ord("9"))):
            return False
    minus = np.flatnonzero(data == ord("-"))
    if minus.size:
        if minus[0] > 0 and data[minus[0] - 1] != ord("\n"):
            return False
        starts = data[minus[minus > 0] - 1]
        if np.any(starts != ord("\n")):
            return False
    if b"\r" in piece and piece.count(b"\r") != piece.count(b"\r\n"):
        return False
    return True


def _syntax_proved(piece: bytes) -> bool:
    if not _shapes_proved(piece):
        return False
    try:
        _parse_arrow(piece)
    except _NotProved:
        return False
    return True


def _parse_arrow(piece: bytes):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(
            pa.BufferReader(piece),
            read_options=pacsv.ReadOptions(column_names=list(COLUMNS), block_size=1 << 22),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    "timestamp": pa.int64(),
                    **{c: pa.string() for c in PRICE_COLUMNS},
                    "volume": pa.float64(),
                },
                null_values=[],
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise _NotProved from exc


def _fast_piece(
    piece: bytes, source: str, previous_ts: int | None, point: bool | None = None
) -> tuple[Candles, bool | None]:
    """One piece proved valid and canonical by the checks of the module docstring, or _NotProved."""
    if not _shapes_proved(piece):
        raise _NotProved
    table = _parse_arrow(piece)
    if table.num_rows == 0:
        raise _NotProved
    import pyarrow.compute as pc

    prices = []
    styles = set()
    for column in PRICE_COLUMNS:
        texts = table.column(column).combine_chunks()
        values = pc.cast(texts, "float64").to_numpy(zero_copy_only=False)
        styles.add(_check_canonical(texts, values))
        prices.append(values)
    styles.discard(None)
    style = styles.pop() if len(styles) == 1 else None
    if styles or (style is not None and point is not None and style != point):
        raise _NotProved  # integral prices written both ways (100 and 100.0): keep the texts
    ts = table.column("timestamp").to_numpy()
    volume = table.column("volume").to_numpy()
    if not values_valid(ts, *prices, volume, previous_ts):
        raise _NotProved
    shown = point if style is None else style
    return from_columns(source, ts, *prices, volume, point=bool(shown)), shown


def values_valid(
    ts: np.ndarray,
    open_a: np.ndarray,
    high_a: np.ndarray,
    low_a: np.ndarray,
    close_a: np.ndarray,
    volume: np.ndarray,
    previous_ts: int | None = None,
) -> bool:
    """The value checks of the format on float-exact columns (True: nothing wrong)."""
    return bool(
        np.all(open_a > 0)
        and np.all(high_a > 0)
        and np.all(low_a > 0)
        and np.all(close_a > 0)
        and np.all(volume >= 0)
        and not np.any(high_a < np.maximum(open_a, close_a))
        and not np.any(low_a > np.minimum(open_a, close_a))
        and not np.any(np.diff(ts) <= 0)
        and (previous_ts is None or ts[0] > previous_ts)
    )


def _check_canonical(texts, values: np.ndarray) -> bool | None:
    """How the texts write integral prices (True ``100.0``, False ``100``, None: no integral price), or
    _NotProved unless every text is canonical with <= 15 significant digits (module docstring)."""
    _, offsets_buf, data_buf = texts.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32, count=len(texts) + 1, offset=texts.offset * 4)
    if data_buf is None:
        raise _NotProved
    data = np.frombuffer(data_buf, np.uint8)
    lengths = np.diff(offsets)
    if lengths.min() < 1:
        raise _NotProved
    starts, ends = offsets[:-1], offsets[1:]
    first, last = data[starts], data[ends - 1]
    if np.any(first == ord("-")):
        raise _NotProved
    integral = values == np.floor(values)
    int_digits = np.maximum(np.searchsorted(_POW10, values, side="right"), 1)  # digits before the point
    plain = integral & (lengths == int_digits)
    pointed = integral & (lengths == int_digits + 2) & (last == ord("0"))
    if pointed.any() and np.any(data[ends[pointed] - 2] != ord(".")):
        raise _NotProved
    if np.any(integral & ~plain & ~pointed):
        raise _NotProved  # an integer written with more zeros (100.00) or leading zeros
    fraction = ~integral
    digits = np.where(fraction, lengths - 1, int_digits)
    if digits.max() > FLOAT_EXACT_DIGITS:
        raise _NotProved  # too many digits for floats (or for this check): the exact reading decides
    leading = (first == ord("0")) & (lengths > 1)
    if leading.any() and np.any(data[starts[leading] + 1] != ord(".")):
        raise _NotProved
    if np.any(fraction & (last == ord("0"))):
        raise _NotProved  # a trailing zero after the point
    if plain.any() and pointed.any():
        raise _NotProved  # both ways in one piece: keep the texts
    return True if pointed.any() else False if plain.any() else None


# --------------------------------------------------------------------------- Parquet / Feather


def _columnar(path: Path, kind: str, name: str) -> Candles:
    """A Parquet or Feather file with the CSV's columns (``date`` is taken for ``timestamp``). Prices
    stored as floats stand for their shortest decimal representation. Errors name the row (1 = the
    first); a file whose floats have more than 15 significant digits is checked row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.feather as feather

            table = feather.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise CandleFileError(f"{name}: cannot read as {kind}: {exc}") from None
    names = set(table.column_names)
    ts_name = "timestamp" if "timestamp" in names else "date" if "date" in names else None
    missing = [c for c in COLUMNS[1:] if c not in names]
    if ts_name is None or missing:
        need = ", ".join(["timestamp", *missing] if ts_name is None else missing)
        raise CandleFileError(f"{name}: missing column(s) {need}")
    if table.num_rows == 0:
        raise CandleFileError(f"{name}: no candles")
    ts_col = table.column(ts_name)
    try:
        if pa.types.is_timestamp(ts_col.type):
            ts_col = ts_col.cast(pa.timestamp("ms", tz=ts_col.type.tz))
        ts = ts_col.cast(pa.int64()).to_numpy()
        floats = [table.column(c).cast(pa.float64()).to_numpy() for c in COLUMNS[1:]]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise CandleFileError(f"{name}: columns must be numbers: {exc}") from None
    if not all(np.isfinite(col).all() for col in floats):
        raise CandleFileError(f"{name}: missing, NaN or infinite values")
    try:  # the shortest representations, as text, have <= 15 digits and no exponent
        for col in floats[:4]:
            texts = pc.cast(pa.array(col), pa.string())
            if texts.buffers()[2] is None or bytes(texts.buffers()[2]).translate(None, b"0123456789.-"):
                raise _NotProved
            if _check_canonical(texts, col) is True:
                raise _NotProved  # pyarrow writes integral floats without a point
        if values_valid(ts, *floats):
            return from_columns(name, ts, *floats)
    except _NotProved:
        pass
    from engine.market_data.candle_columns import canonical_text

    columns = ([str(int(x)) for x in ts], *([canonical_text(x) for x in col.tolist()] for col in floats))
    return candle_text.parse_exact_columns(columns, name, unit="row")  # type: ignore[arg-type]
