"""Crash safety (invariant 3): 20 paper grid bots on a replay, their users stopping (keeping or
selling), deleting (handing back or selling) and starting bots along it, the process SIGKILLed at
random moments at least 20 times (a third of them just as a user's action began) and restarted each
time, end in exactly the state of an uninterrupted run: the same grid rows, counters, cycles, profit,
trades, orders, balances, bot states and handed-back coin, one stop alert per stop; no client order
id used twice and no fill without its trades row. The worker is tests/crash_worker.py (SQLite file).
A longer soak: bench/crash_soak.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from db.migrate import upgrade_head
from tests.crash_worker import ACTIONS

ROOT = Path(__file__).resolve().parent.parent
CANDLES = int(os.environ.get("CRASH_CANDLES", "120"))
KILLS = int(os.environ.get("CRASH_KILLS", "20"))


def worker(db: Path) -> subprocess.Popen[bytes]:
    """The worker process; its stderr goes to a file next to the database (a pipe nobody reads would
    fill and block it)."""
    with stderr_of(db).open("ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.crash_worker", str(db), "--bots", "20", "--candles", str(CANDLES)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )


def stderr_of(db: Path) -> Path:
    return db.with_suffix(".stderr")


def errors_of(db: Path) -> str:
    """The end of what the worker of `db` wrote to stderr (for a failure's message)."""
    return stderr_of(db).read_text(errors="replace")[-3000:]


def read_lines(proc: subprocess.Popen[bytes], wanted: bytes, count: int = 1, timeout: float = 120.0) -> bool:
    """Block until the worker printed `count` lines starting with `wanted`; False when it ended first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            return False
        if line.startswith(wanted):
            seen += 1
            if seen >= count:
                return True
    raise AssertionError(f"worker printed no {wanted!r} in time")


def wait_ready(proc: subprocess.Popen[bytes], db: Path) -> None:
    """Block until the worker printed READY (its start-up is done; what follows is the replay)."""
    if not read_lines(proc, b"READY"):
        raise AssertionError(f"worker ended before READY: {errors_of(db)}")


def run_to_end(db: Path) -> float:
    """Run the worker to the end; returns the seconds from READY to the end (the replay's length)."""
    proc = worker(db)
    wait_ready(proc, db)
    started = time.monotonic()
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0 and b"DONE" in out, errors_of(db)
    return time.monotonic() - started


def cursor(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            row = conn.execute("SELECT position FROM replay_cursors").fetchone()
        except sqlite3.OperationalError:  # killed before the migration made the table
            return 0
    return row[0] if row else 0


def snapshot(db: Path) -> dict[str, list[tuple]]:
    queries = {
        "grid_orders": "SELECT b.name, g.grid_index, g.status, g.cycle, g.qty, g.buy_order_id, g.sell_order_id,"
        " g.buy_filled_price, g.buy_fee, g.sell_filled_price, g.profit FROM grid_orders g"
        " JOIN grid_bot_configs c ON c.id = g.grid_config_id JOIN bot_instances b ON b.id = c.bot_instance_id",
        "configs": "SELECT b.name, c.active_buy_orders, c.active_sell_orders, c.filled_buy_count,"
        " c.filled_sell_count, c.realized_profit FROM grid_bot_configs c JOIN bot_instances b ON b.id = c.bot_instance_id",
        "bots": "SELECT name, is_running, stopping, is_active, delete_requested, total_trades, winning_trades,"
        " total_pnl, last_trade_at FROM bot_instances",
        "handbacks": "SELECT b.name, h.asset, h.qty FROM bot_handbacks h JOIN bot_instances b ON b.id = h.bot_instance_id",
        "stops": "SELECT b.name, COUNT(*) FROM alert_outbox a JOIN bot_instances b ON b.id = a.bot_instance_id"
        " WHERE a.kind = 'bot_stopped' GROUP BY b.name",
        "trades": "SELECT client_order_id, side, order_type, qty, price, fee, realized_pnl, executed_at FROM trades",
        "orders": "SELECT client_order_id, side, type, price, qty, filled_qty, avg_price, fee, status, filled_ts"
        " FROM paper_orders",
        "balances": "SELECT user_id, asset, free, locked FROM paper_balances",
        "fill_alerts": "SELECT kind, payload FROM alert_outbox WHERE kind IN ('grid_fill', 'grid_cycle', 'grid_stop')",
    }
    with sqlite3.connect(db) as conn:
        return {
            name: sorted(map(tuple, conn.execute(sql).fetchall()), key=repr) for name, sql in queries.items()
        }


def migrated_copies(tmp_path: Path, *names: str) -> list[Path]:
    """Copies of one migrated database: the runs share one installation id, so their client order ids
    (which carry it) can be compared."""
    template = tmp_path / "template.db"
    asyncio.run(upgrade_head(f"sqlite+aiosqlite:///{template}"))
    copies = [tmp_path / name for name in names]
    for copy in copies:
        shutil.copyfile(template, copy)
    return copies


def test_sigkill_at_random_moments_changes_nothing(tmp_path: Path) -> None:
    reference, crashed = migrated_copies(tmp_path, "reference.db", "crashed.db")
    run_to_end(reference)

    # each life replays a random number of price points (up to 1/4 of a fair share, so the run cannot end
    # before the last kill), then dies at a random moment of the next one: in a tick, a commit, an order;
    # the first lives of a run also die while reconciling, which is a moment worth testing too
    # every third life dies just after a user's action began (a stop, a delete, a start again): while
    # the stop cancels, sells or hands back
    rng = random.Random(20250520)
    per_life = max(2, CANDLES * 4 // (2 * KILLS))
    last_action = int(CANDLES * 4 * max(fraction for fraction, *_ in ACTIONS))
    kills = in_actions = 0
    positions: list[int] = []
    while kills < KILLS:
        proc = worker(crashed)
        wait_ready(proc, crashed)
        at_action = kills >= 2 and kills % 3 == 0 and cursor(crashed) < last_action
        if kills < 2:
            alive = True
        elif at_action:
            alive = read_lines(proc, b"ACTION")
        else:
            alive = read_lines(proc, b"POINT", rng.randint(1, per_life))
        if alive and proc.poll() is None:
            time.sleep(rng.uniform(0.0, 0.02 if at_action else 0.05))
            in_actions += at_action
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            positions.append(cursor(crashed))
            continue
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and b"DONE" in out, errors_of(crashed)
        break  # finished before we could kill it: the kills so far must be enough
    assert kills >= KILLS, f"the run finished after {kills} kills; make it longer"
    assert in_actions >= 4, f"only {in_actions} kills landed in a user's action"
    final_position = CANDLES * 4
    # a kill may land while a life reconciles (the cursor does not move then): also a moment to test
    mid_run = [p for p in positions if 0 < p < final_position]
    assert len(mid_run) >= KILLS // 2, f"too few kills landed mid-replay: {positions}"
    assert len(set(mid_run)) >= 3, f"the kills should land at several points of the replay: {positions}"
    run_to_end(crashed)

    expected, got = snapshot(reference), snapshot(crashed)
    assert expected["trades"], "the replay should trade"
    for table in expected:
        assert got[table] == expected[table], table
    cids = [row[0] for row in got["orders"]]
    assert len(cids) == len(set(cids)), "a client order id was used twice"
    closed = {row[0] for row in got["orders"] if row[8] == "closed"}
    assert closed == {row[0] for row in got["trades"]}, "a fill has no trades row (or the reverse)"
