"""10,000 seeded updates of every kind from 50 people, their groups and a channel, against the bot as it runs
in production (a `python -m bot run` child long-polling the Bot API emulator): nothing unhandled, every
private message and button answered, the database's invariants kept, no second tap acting unless its owner
pressed it on the confirmation just shown, memory flat (issue 14).
The driver and its checks are tests/chat_fuzz.py; bench/chat_fuzz.py runs 100,000."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chat_fuzz import GROUP_KINDS, USER_KINDS, FuzzConfig, run_fuzz

UPDATES = {"sqlite": 10_000, "postgres": 2_000}  # PostgreSQL shares the 2 cores: a shorter run
FLAT = 1.10  # RSS after 10,000 updates within 10 % of the RSS after 5,000 (the caches are warm by then)


async def test_ten_thousand_fuzzed_updates_break_nothing(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    kind = "postgres" if db_url.startswith("postgresql") else "sqlite"
    updates = UPDATES[kind]
    config = FuzzConfig(
        db_url=db_url, workdir=tmp_path, updates=updates, users=50, seed=14, rss_at=(updates // 2, updates)
    )

    report = await run_fuzz(config)

    print(report.summary())  # shown with -s, and in the failure report
    assert report.failures == [], report.summary()
    assert report.updates == updates
    assert set(report.kinds) == set(USER_KINDS) | set(GROUP_KINDS)
    # no second tap acted unless its owner pressed it on the confirmation just shown (issue 14, item 5):
    # on the old code forged "b:stopok:<id>", "tr:ok:BTCUSDT:buy:0.001", "ks:ok" ... stopped, deleted, traded
    assert report.still_acting() == [], report.summary()
    acted_live = {action for (action, how, acted) in report.confirmations if acted and how == "live"}
    assert {"stop", "delete", "stop all"} <= acted_live, report.summary()
    if kind == "sqlite":
        half, full = report.rss_kb[updates // 2], report.rss_kb[updates]
        assert full <= half * FLAT, (
            f"RSS {half // 1024} MB after {updates // 2:,}, {full // 1024} MB after {updates:,}"
        )
