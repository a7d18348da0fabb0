"""Soak of invariant 7: many random sequences of user actions, price moves, partial fills and exchange
failures (tests/invariant_audit.py), audited after every step, on the paper venue and on the local fake
Bitget through real ccxt. Prints what ran and the violations found (the suite runs a few hundred).

    .venv/bin/python bench/invariant_soak.py [--paper 1000] [--bitget 200] [--steps 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.migrate import upgrade_head
from tests.invariant_audit import Stats, run_bitget, run_paper


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        template = work / "template.db"
        await upgrade_head(f"sqlite+aiosqlite:///{template}")
        total = Stats()
        for name, runner, count in (("paper", run_paper, args.paper), ("bitget", run_bitget, args.bitget)):
            started = time.perf_counter()
            stats = await runner(template, work, range(args.seed, args.seed + count), args.steps)
            total.add(stats)
            print(
                f"{name}: {stats.sequences} sequences, {stats.steps} steps, {stats.fills} fills, "
                f"{stats.partial_fills} partial fills, {stats.failures_injected} failures injected, "
                f"{len(stats.violations)} violations ({time.perf_counter() - started:.0f} s)"
            )
        print("actions:", ", ".join(f"{k} {v}" for k, v in total.actions.most_common()))
        for violation in total.violations[:20]:
            print("VIOLATION", violation)
        return 1 if total.violations else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--paper", type=int, default=1000)
    parser.add_argument("--bitget", type=int, default=200)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--seed", type=int, default=10_000)
    sys.exit(asyncio.run(main(parser.parse_args())))
