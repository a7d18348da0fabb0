"""The crash-safety run at a larger scale: 20 paper grid bots on a replay, SIGKILLed many times, must end
exactly where an uninterrupted run ends (tests/test_crash_safety.py is the suite's quick variant).

    .venv/bin/python bench/crash_soak.py [--candles 1000] [--kills 100]

Prints the kills, where they landed and the time taken; exits non-zero if any table differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candles", type=int, default=1000, help="1-minute candles replayed (4 points each)")
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs before the run may finish")
    args = parser.parse_args()
    os.environ["CRASH_CANDLES"] = str(args.candles)
    os.environ["CRASH_KILLS"] = str(args.kills)
    import tests.test_crash_safety as crash  # reads the two settings at import

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            crash.test_sigkill_at_random_moments_changes_nothing(Path(tmp))
        except AssertionError as exc:
            print(f"FAILED after {time.monotonic() - started:.0f} s: {exc}")
            return 1
    print(
        f"20 bots, {args.candles} candles, {args.kills} SIGKILLs: end state equal to the uninterrupted run, "
        f"no client order id repeated ({time.monotonic() - started:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
