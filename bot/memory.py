"""The process's memory after bursts of work: garbage in reference cycles, and what glibc's allocator keeps.

Measured with the chat fuzzer (bench/chat_fuzz.py), two things kept the RSS growing with traffic:
- Cyclic garbage. `bot.app.tune_gc` makes full collections rare (they stalled a busy chat), so objects in
  reference cycles that survive two young collections stay until one: every chart's matplotlib Figure
  (its Agg canvas holds a pixel buffer of megabytes), the models of a backtest's run. `reclaim` collects
  every generation (the start-up objects are frozen out of it, so it takes milliseconds) every
  `RECLAIM_EVERY` seconds beside the bot.
- glibc keeps freed memory in its arenas, one per thread that ever allocated (the database's connection
  threads, the workers of backtests and charts), and each arena's free space is fragmented and rarely
  returned. At start-up `tune_malloc` lets all threads share a few arenas (as MALLOC_ARENA_MAX does) and
  keeps big blocks out of them (as MALLOC_MMAP_THRESHOLD_ does), and `reclaim` then returns the free
  pages of every arena to the system (`malloc_trim`). No maintained library offers these; each is one
  ctypes call, and a no-op where the C library is not glibc.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameters, from glibc's malloc.h
M_ARENA_MAX = -8
MALLOC_ARENAS = 2
MMAP_THRESHOLD = 256 * 1024  # bytes; blocks this big get their own mapping, unmapped when freed
RECLAIM_EVERY = 30.0  # seconds


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows)
        return None
    return libc


_LIBC = _glibc()


def tune_malloc(arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """At start-up, before the threads: every thread allocates from one of `arenas` arenas, and blocks of
    `mmap_threshold` bytes or more (candle arrays, chart buffers) are mapped on their own and unmapped when
    freed. Setting it stops glibc from raising the threshold after each such free (up to 32 MB), which put
    those blocks in the arenas, where their holes stay."""
    if _LIBC is None:
        return False
    return _LIBC.mallopt(M_ARENA_MAX, arenas) == 1 and _LIBC.mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1


def trim_malloc() -> bool:
    """Return the allocator's free memory to the system; True when some was."""
    return _LIBC is not None and _LIBC.malloc_trim(0) == 1


def reclaim() -> int:
    """Collect the cyclic garbage of every generation, then give the allocator's free memory back; the
    number of unreachable objects found."""
    found = gc.collect()
    trim_malloc()
    return found


async def reclaim_forever(every: float = RECLAIM_EVERY) -> None:
    """`reclaim` every `every` seconds, until cancelled."""
    while True:
        await asyncio.sleep(every)
        reclaim()
