"""The disk cache of loaded candle files: columns of a validated file, keyed by the file's content hash,
so the next run on the same file reads arrays instead of parsing text.

An entry is a directory ``<cache>/v1/<sha256 of the file's bytes>/`` holding one raw little-endian
array per column (``timestamp.i8``: int64 ms; ``open.f8`` .. ``volume.f8``: float64) and ``meta.json``
(rows, source name). Entries are written to a temporary directory and renamed into place, so a reader
never sees half an entry and two writers do not collide. Only files whose prices the floats give back
exactly (engine.market_data.candles.decimal_of) are cached. A small index ``index/<hash of the path>``
remembers the content hash of a path with its size, mtime, ctime and inode, so a cached run does not
read the file at all; any change to the file (even one keeping its mtime: the ctime changes) makes it
hash the file again.

Where: ``$MULTIBOT_CANDLE_CACHE`` when set (``off`` turns the cache off), else
``$XDG_CACHE_HOME/multibot/candles``, else ``~/.cache/multibot/candles``. A cache that cannot be
written is skipped silently (the file is then parsed every time).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.market_data.candle_columns import CandleChunks, Candles, from_columns

log = logging.getLogger(__name__)

ENV = "MULTIBOT_CANDLE_CACHE"
FORMAT = "v1"
FILES = (
    ("timestamp", "timestamp.i8", np.dtype("<i8")),
    ("open", "open.f8", np.dtype("<f8")),
    ("high", "high.f8", np.dtype("<f8")),
    ("low", "low.f8", np.dtype("<f8")),
    ("close", "close.f8", np.dtype("<f8")),
    ("volume", "volume.f8", np.dtype("<f8")),
)


def default_dir() -> Path | None:
    """The cache directory of this process (None: the cache is off)."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no", "false") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "multibot" / "candles"


def stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


class CandleCache:
    """One cache directory (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / FORMAT

    def entry(self, digest: str) -> Path:
        return self.root / digest

    def _index(self, path: Path) -> Path:
        where = hashlib.sha256(str(path.resolve()).encode()).hexdigest()
        return self.root / "index" / f"{where}.json"

    def known_digest(self, path: Path, st: os.stat_result) -> str | None:
        """The content hash remembered for ``path`` when the file has not changed since, and its
        entry exists."""
        try:
            record = json.loads(self._index(path).read_text())
        except (OSError, ValueError):
            return None
        digest = record.get("sha256")
        if record.get("stat") != stat_key(st) or not isinstance(digest, str):
            return None
        return digest if (self.entry(digest) / "meta.json").exists() else None

    def remember(self, path: Path, st: os.stat_result, digest: str) -> None:
        index = self._index(path)
        with contextlib.suppress(OSError):
            index.parent.mkdir(parents=True, exist_ok=True)
            tmp = index.with_name(f"{index.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"path": str(path), "stat": stat_key(st), "sha256": digest}))
            os.replace(tmp, index)

    def open(self, digest: str, source: str) -> CachedCandles | None:
        folder = self.entry(digest)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT:
            return None
        return CachedCandles(folder, int(meta["rows"]), source, bool(meta.get("point")))

    def writer(self) -> EntryWriter | None:
        """A writer of a new entry (None when the cache directory cannot be written)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return EntryWriter(self, Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root)))
        except OSError as exc:
            log.debug("candle cache %s not writable: %s", self.root, exc)
            return None


def default_cache() -> CandleCache | None:
    root = default_dir()
    return None if root is None else CandleCache(root)


class EntryWriter:
    """Appends validated columns piece by piece; :meth:`commit` renames the entry into place."""

    def __init__(self, cache: CandleCache, folder: Path) -> None:
        self.cache = cache
        self.folder = folder
        self.rows = 0
        self.files = [open(folder / name, "wb") for _, name, _ in FILES]

    def append(self, candles: Candles) -> None:
        arrays = (
            candles.ts_a,
            candles.open_a,
            candles.high_a,
            candles.low_a,
            candles.close_a,
            candles.volume_a,
        )
        for handle, array, (_, _, dtype) in zip(self.files, arrays, FILES, strict=True):
            handle.write(np.ascontiguousarray(array, dtype=dtype).data)
        self.rows += len(candles)

    def commit(self, digest: str, point: bool) -> None:
        for handle in self.files:
            handle.close()
        meta = {"format": FORMAT, "rows": self.rows, "point": point}
        (self.folder / "meta.json").write_text(json.dumps(meta))
        target = self.cache.entry(digest)
        try:
            os.rename(self.folder, target)
        except OSError:  # another process stored the same file first
            self.abort()

    def abort(self) -> None:
        for handle in self.files:
            with contextlib.suppress(OSError):
                handle.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class CachedCandles(CandleChunks):
    """A cached file read chunk by chunk from disk (each chunk is a fresh :class:`Candles`)."""

    float_exact = True

    def __init__(self, folder: Path, rows: int, source: str, point: bool) -> None:
        self.folder = folder
        self.rows = rows
        self.source = source
        self.point = point

    def __len__(self) -> int:
        return self.rows

    def _read(self, start: int, stop: int) -> Candles:
        count = max(0, min(stop, self.rows) - start)
        arrays = [
            np.fromfile(self.folder / name, dtype=dtype, count=count, offset=start * dtype.itemsize)
            for _, name, dtype in FILES
        ]
        return from_columns(f"{self.source}[{start}:{start + count}]", *arrays, point=self.point)

    def chunks(self, size: int) -> Iterator[tuple[int, Candles]]:
        for start in range(0, self.rows, size):
            yield start, self._read(start, start + size)

    def load(self) -> Candles:
        """Every candle in memory (48 bytes per candle)."""
        whole = self._read(0, self.rows)
        return from_columns(
            self.source,
            whole.ts_a,
            whole.open_a,
            whole.high_a,
            whole.low_a,
            whole.close_a,
            whole.volume_a,
            point=self.point,
        )
