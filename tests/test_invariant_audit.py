"""Invariant 7 under random sequences of user actions, price moves, partial fills and exchange
failures (tests/invariant_audit.py), audited after every step: on the paper venue and on the fake
Bitget through real ccxt; every other sequence with the engine ticking and retrying stops on its own
besides. A longer soak: bench/invariant_soak.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from db.migrate import upgrade_head
from tests.invariant_audit import run_bitget, run_paper

PAPER_SEQUENCES = int(os.environ.get("AUDIT_PAPER_SEQUENCES", "36"))
BITGET_SEQUENCES = int(os.environ.get("AUDIT_BITGET_SEQUENCES", "8"))
STEPS = 20
PARTS = 4  # run side by side by pytest-xdist


@pytest.fixture
async def template(tmp_path: Path) -> Path:
    path = tmp_path / "template.db"
    await upgrade_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.mark.parametrize("part", range(3))
async def test_random_sequences_on_the_paper_venue_keep_invariant_7(
    template: Path, tmp_path: Path, part: int
) -> None:
    per = PAPER_SEQUENCES // 3
    stats = await run_paper(template, tmp_path, range(part * per, (part + 1) * per), STEPS)
    assert stats.violations == [], stats.violations[:5]
    assert stats.fills > 0 and stats.partial_fills > 0 and stats.failures_injected > 0
    assert stats.actions["stop"] and stats.actions["delete"] and stats.actions["restart"]


@pytest.mark.parametrize("part", range(2))
async def test_random_sequences_on_the_fake_bitget_keep_invariant_7(
    template: Path, tmp_path: Path, part: int
) -> None:
    per = BITGET_SEQUENCES // 2
    stats = await run_bitget(template, tmp_path, range(1000 + part * per, 1000 + (part + 1) * per), STEPS)
    assert stats.violations == [], stats.violations[:5]
    assert stats.fills > 0 and stats.partial_fills > 0 and stats.failures_injected > 0
