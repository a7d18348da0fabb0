"""Candle files: the pyarrow reading equals the exact reading in Python, errors name the right line across
pieces, the disk cache (keyed by content), chunked walks equal whole ones, Parquet and Feather."""

from __future__ import annotations

import gzip
import os
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest

from engine.grid.backtest import run_grid_backtest
from engine.market_data import candle_files, candle_text
from engine.market_data.candle_cache import CachedCandles, CandleCache
from engine.market_data.candles import CandleFileError, Candles, load_candles, open_candles, parse_candles

DATA = Path(__file__).resolve().parents[1] / "engine" / "market_data" / "data"
SHIPPED = sorted(DATA.glob("*.csv.gz"))
HEADER = "timestamp,open,high,low,close,volume"
COLUMNS = ("ts_a", "open_a", "high_a", "low_a", "close_a", "volume_a")


def same_columns(a: Candles, b: Candles) -> bool:
    return all(np.array_equal(getattr(a, c), getattr(b, c)) for c in COLUMNS)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MULTIBOT_CANDLE_CACHE", str(folder))
    return folder


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_the_fast_reading_equals_the_exact_reading(path):
    fast = load_candles(path, cache=False)
    exact = candle_text.parse_exact(gzip.decompress(path.read_bytes()).decode(), str(path))
    assert same_columns(fast, exact)
    assert fast.texts is None and exact.texts is None  # canonical: the floats give the texts back
    assert fast.point is exact.point is True  # these files write integral prices as 105664.0
    # every exact price is the file's text
    text = gzip.decompress(path.read_bytes()).decode().splitlines()
    for i in (0, 1, len(fast) // 2, len(fast) - 1):
        row = text[i + 1].split(",")
        assert fast.candle(i) == (int(row[0]), *(D(x) for x in row[1:5]))
        assert [str(x) for x in fast.candle(i)[1:]] == row[1:5]  # same exponent too (105664.0 stays 105664.0)


def test_texts_are_kept_when_the_floats_cannot_give_them_back(tmp_path):
    rows = [f"{60_000 * k},105597.10,105600,105590.5,105599.9,1" for k in range(3)]
    path = tmp_path / "zeros.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    candles = load_candles(path)
    assert candles.texts is not None and candles.price("open", 0) == D("105597.10")
    assert str(candles.price("open", 0)) == "105597.10" and str(candles.price("high", 1)) == "105600"
    # 17 significant digits: not float-exact (compared as Decimals), and exact
    path.write_text(f"{HEADER}\n1,1.0000000000000002,1.0000000000000003,1,1,1\n")
    long = load_candles(path)
    assert not long.float_exact and long.price("high", 0) == D("1.0000000000000003")
    # integral prices written both ways in one file: texts kept
    path.write_text(f"{HEADER}\n1,100,101.0,99.5,100.5,1\n")
    mixed = load_candles(path)
    assert (
        mixed.texts is not None
        and str(mixed.price("open", 0)) == "100"
        and str(mixed.price("high", 0)) == "101.0"
    )


def test_large_texts_go_through_pyarrow_with_the_same_result():
    text = gzip.decompress((DATA / "btcusdt_1m_sample.csv.gz").read_bytes()).decode()
    assert len(text) > candle_files.SMALL_TEXT
    assert same_columns(parse_candles(text), candle_text.parse_exact(text, "x"))


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(candle_files, "PIECE_BYTES", 64)
    monkeypatch.setattr(candle_files, "_READ_BYTES", 50)


def _rows(count: int, start: int = 0) -> list[str]:
    return [f"{60_000 * (start + k)},100.5,101,99.5,100.25,{k}.5" for k in range(count)]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda rows: rows.__setitem__(20, rows[19]),
            "line 22: duplicate timestamp 1140000 (same as line 21)",
        ),
        (lambda rows: rows.__setitem__(30, "1800000,100.5,99,99.5,100.25,1"), "line 32: high 99 is below"),
        (lambda rows: rows.__setitem__(25, "x"), "line 27: expected 6 columns, got 1"),
        (lambda rows: rows.__setitem__(12, "720000,100.5,101,99.5,.25,1"), "line 14: close is not a plain"),
        (
            lambda rows: rows.__setitem__(12, "720000,100.5,101,99.5,100.25,1e3"),
            "line 14: volume is not a plain",
        ),
        (
            lambda rows: rows.__setitem__(12, "720000,100.5,101,99.5,100.25,-1"),
            "line 14: volume must be >= 0",
        ),
        (
            lambda rows: rows.__setitem__(12, "720000,100.5,101,99.5,100.25,5."),
            "line 14: volume is not a plain",
        ),
        (
            lambda rows: rows.__setitem__(12, "720000,100.5,101,99.5,100\r25,1"),
            "line 14: close is not a plain",
        ),
    ],
)
def test_errors_name_the_line_across_pieces(tmp_path, small_pieces, change, message):
    rows = _rows(40)
    change(rows)
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(CandleFileError) as info:
        load_candles(path)
    assert message in str(info.value) and str(path) in str(info.value)
    with pytest.raises(CandleFileError) as exact:  # the reference reading says the same
        candle_text.parse_exact(path.read_bytes().decode(), str(path))
    assert str(exact.value) == str(info.value)


def test_a_malformed_line_anywhere_is_reported_before_a_bad_value(tmp_path, small_pieces):
    rows = _rows(40)
    rows[3] = "180000,100.5,99,99.5,100.25,1"  # high below max(open, close), early
    rows[35] = "2100000,oops,101,99.5,100.25,1"  # malformed, in a later piece
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(CandleFileError, match="line 37: open is not a plain decimal"):
        load_candles(path)


def test_pieces_and_gzip_members_read_the_same(tmp_path, small_pieces):
    rows = _rows(50)
    whole = HEADER + "\n" + "\n".join(rows) + "\n"
    one = tmp_path / "one.csv"
    one.write_text(whole)
    two = tmp_path / "two.csv.gz"  # two gzip members (gzip -c a b > ab)
    first, second = whole[: len(whole) // 2], whole[len(whole) // 2 :]
    two.write_bytes(gzip.compress(first.encode()) + gzip.compress(second.encode()))
    a, b = load_candles(one, cache=False), load_candles(two, cache=False)
    assert same_columns(a, b) and len(a) == 50
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(whole.encode())[:-12])
    with pytest.raises(CandleFileError, match="gzip"):
        load_candles(truncated, cache=False)


def test_the_cache_is_keyed_by_content(tmp_path, cache_dir):
    source = DATA / "btcusdt_1m_2024-08-04_crash.csv.gz"
    path = tmp_path / "crash.csv.gz"
    path.write_bytes(source.read_bytes())
    first = load_candles(path)
    entries = [p for p in (cache_dir / "v1").iterdir() if p.name != "index"]
    assert len(entries) == 1 and (entries[0] / "meta.json").exists()
    # the second load reads the arrays back: no text is parsed (the parser would fail now)
    original = candle_files._fast_piece
    candle_files._fast_piece = None  # type: ignore[assignment]
    try:
        again = load_candles(path)
        chunked = open_candles(path)
    finally:
        candle_files._fast_piece = original
    assert same_columns(first, again) and again.point is first.point and again.source == str(path)
    assert isinstance(chunked, CachedCandles) and chunked.rows == len(first)
    # a copy elsewhere has the same content: the same entry
    copy = tmp_path / "copy.csv.gz"
    copy.write_bytes(path.read_bytes())
    load_candles(copy)
    assert len([p for p in (cache_dir / "v1").iterdir() if p.name != "index"]) == 1
    # a changed file (same size and mtime: only its ctime and content change) is parsed again
    stat = path.stat()
    text = gzip.decompress(path.read_bytes()).decode().replace("54000.0", "54000.5", 1)
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = load_candles(path)
    assert not same_columns(changed, first) or len(text) != len(gzip.decompress(source.read_bytes()))


def test_the_cache_can_be_off_or_unwritable(tmp_path, monkeypatch):
    path = DATA / "btcusdt_1m_sample.csv.gz"
    monkeypatch.setenv("MULTIBOT_CANDLE_CACHE", "off")
    assert isinstance(open_candles(path), Candles)
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("MULTIBOT_CANDLE_CACHE", str(blocked))
    assert len(load_candles(path)) == 4320  # parsed, not cached, no error


GRIDS = [
    dict(lower=D(104000), upper=D(112000), grids=100, mode="arithmetic", investment=D(10000)),
    dict(lower=D(105500), upper=D(106500), grids=60, mode="geometric", investment=D(5000), trigger=D(106100)),
    dict(
        lower=D(105000),
        upper=D(107000),
        grids=50,
        mode="arithmetic",
        investment=D(5000),
        stop_lower=D(105200),
    ),
    dict(
        lower=D(104000), upper=D(112000), grids=30, mode="geometric", investment=D(3000), buy_fee_in_base=True
    ),
]


@pytest.mark.parametrize("params", GRIDS)
def test_a_walk_in_chunks_equals_the_whole_walk(tmp_path, cache_dir, monkeypatch, params):
    from engine.grid import backtest

    path = tmp_path / "btc.csv.gz"
    path.write_bytes((DATA / "btcusdt_1m_sample.csv.gz").read_bytes())
    whole = run_grid_backtest(load_candles(path, cache=False), **params)
    load_candles(path)  # into the cache
    cached = open_candles(path)
    assert isinstance(cached, CachedCandles)
    for rows in (7, 1000, 1 << 16):  # chunk edges everywhere, including inside the trigger's search
        monkeypatch.setattr(backtest, "CHUNK_ROWS", rows)
        part = run_grid_backtest(cached, **params)
        assert part.fills == whole.fills
        for name in ("cycles", "realized_profit", "fees", "final_equity", "max_drawdown", "time_in_market"):
            assert getattr(part, name) == getattr(whole, name), name
        assert (part.buy_and_hold, part.buy_and_hold_drawdown) == (
            whole.buy_and_hold,
            whole.buy_and_hold_drawdown,
        )
        assert part.equity_curve == whole.equity_curve
        assert (part.started_ts, part.stopped_ts, part.stop_reason) == (
            whole.started_ts,
            whole.stopped_ts,
            whole.stop_reason,
        )


@pytest.mark.parametrize("kind", ["parquet", "feather"])
def test_parquet_and_feather_files(tmp_path, kind):
    import pyarrow as pa

    csv = load_candles(DATA / "ethusdt_1m_sample.csv.gz", cache=False)
    table = pa.table(
        {
            "date": pa.array(csv.ts_a, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
            **{c: pa.array(getattr(csv, f"{c}_a")) for c in ("open", "high", "low", "close", "volume")},
        }
    )
    path = tmp_path / f"eth.{kind}"
    if kind == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        import pyarrow.feather as feather

        feather.write_feather(table, path)
    loaded = load_candles(path)
    assert same_columns(loaded, csv) and loaded.float_exact
    assert loaded.price("close", 10) == D(repr(float(csv.close_a[10])))
    broken = table.set_column(2, "high", pa.array(csv.low_a - 1))
    path.unlink()
    if kind == "parquet":
        pq.write_table(broken, path)
    else:
        feather.write_feather(broken, path)
    with pytest.raises(CandleFileError, match=r"row 1: high .* is below max\(open, close\)"):
        load_candles(path)


def test_a_cache_entry_is_complete_or_absent(tmp_path):
    cache = CandleCache(tmp_path)
    writer = cache.writer()
    assert writer is not None
    writer.append(load_candles(DATA / "btcusdt_1m_sample.csv.gz", cache=False))
    writer.abort()
    assert [p.name for p in (tmp_path / "v1").iterdir()] == []
