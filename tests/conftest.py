"""Shared fixtures. Every database test runs on SQLite and, when TEST_POSTGRES_URL is set, on PostgreSQL.

Each test gets a fresh database: a copy of a migrated SQLite file, or a PostgreSQL database created from a
migrated template. MULTIBOT_REQUIRE_POSTGRES=1 (CI) turns a missing PostgreSQL into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.services.accounts import Accounts
from bot.services.fleet import Fleet
from db.migrate import upgrade_head
from db.session import Database
from engine.venues.live.credentials import CredentialCipher
from tests.netguard.sitecustomize import child_pythonpath
from tests.netguard.sitecustomize import install as install_net_guard

PG_URL = os.environ.get("TEST_POSTGRES_URL")
REQUIRE_PG = os.environ.get("MULTIBOT_REQUIRE_POSTGRES") == "1"
TEST_FERNET_KEY = b"3JH2nX0d6Hc1m5Qf0lqSOjFYz0yzS4xbD1iYSHkN1xk="

_postgres_passed = 0


def pytest_configure(config: pytest.Config) -> None:
    # loaded candle files are cached on disk: never in the user's ~/.cache during tests (each xdist
    # worker and the controller get a temporary directory of their own; subprocesses inherit it)
    import tempfile

    os.environ["MULTIBOT_CANDLE_CACHE"] = tempfile.mkdtemp(prefix="multibot-candle-cache-")
    # the network guard (tests/netguard/sitecustomize.py): loopback only, in this process and every
    # process a test starts (they inherit PYTHONPATH); the controller's log is the workers' too
    if "MULTIBOT_NET_GUARD_LOG" not in os.environ:
        handle, path = tempfile.mkstemp(prefix="multibot-net-guard-", suffix=".log")
        os.close(handle)
        os.environ["MULTIBOT_NET_GUARD_LOG"] = path
    os.environ["MULTIBOT_NET_GUARD"] = "1"
    os.environ["PYTHONPATH"] = child_pythonpath(*filter(None, [os.environ.get("PYTHONPATH")]))
    install_net_guard()


def _net_guard_finish(session: pytest.Session) -> None:
    """Any attempt to reach a host but loopback, in any test process, fails the run."""
    path = Path(os.environ["MULTIBOT_NET_GUARD_LOG"])
    tried = path.read_text().splitlines() if path.exists() else []
    if tried:
        print(f"\nNETWORK GUARD: {len(tried)} attempts to reach a host other than loopback:")
        for line in tried[:20]:
            print(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# The longest tests (tens of seconds each, measured with --durations), started first: with xdist's load
# scheduling the suite then ends with the short ones spread over both workers, not with one worker still
# running a long test while the other idles.
LONGEST_FIRST = (
    "tests/test_chat_fuzz.py::test_ten_thousand_fuzzed_updates_break_nothing[sqlite]",
    "tests/test_crash_safety.py::test_sigkill_at_random_moments",
    "tests/test_invariant_audit.py",
    "tests/test_chat_fuzz.py",  # the shorter PostgreSQL run, not beside the SQLite one
    "tests/test_alerts.py::test_500_alerts",
    "tests/test_sandbox.py",
    "tests/test_money_safety.py::test_a_second_multibot_run",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)),
            len(LONGEST_FIRST),
        )

    items.sort(key=rank)  # stable: the rest keep their order


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_passed
    if report.when == "call" and report.passed and "[postgres" in report.nodeid:
        _postgres_passed += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller sees every report
        return
    if (
        REQUIRE_PG
        and session.testscollected
        and _postgres_passed == 0
        and not session.config.option.collectonly
    ):
        print("\nMULTIBOT_REQUIRE_POSTGRES=1 but no PostgreSQL test passed")
        session.exitstatus = 1
    _net_guard_finish(session)


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    terminalreporter.write_line(f"PostgreSQL tests passed: {_postgres_passed}")


def _pg_dsn(database: str) -> str:
    url = make_url(PG_URL).set(drivername="postgresql", database=database)
    return url.render_as_string(hide_password=False)


def _asyncpg_url(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(_pg_dsn(make_url(PG_URL).database or "postgres"))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_pg_database(template: str | None = None) -> str:
    name = f"mb_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


async def drop_pg_database(name: str) -> None:
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(upgrade_head(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    name = f"mb_template_{os.getpid()}"

    async def build() -> None:
        await drop_pg_database(name)
        await _pg_admin(f'CREATE DATABASE "{name}"')
        await upgrade_head(_asyncpg_url(name))

    asyncio.run(build())
    yield name
    asyncio.run(drop_pg_database(name))


def _require_pg() -> None:
    if not PG_URL:
        if REQUIRE_PG:
            pytest.fail("MULTIBOT_REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set")
        pytest.skip("TEST_POSTGRES_URL is not set")


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "multibot.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    _require_pg()
    name = await create_pg_database(pg_template)
    try:
        yield _asyncpg_url(name)
    finally:
        await drop_pg_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of each kind with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    _require_pg()
    name = await create_pg_database()
    try:
        yield _asyncpg_url(name)
    finally:
        await drop_pg_database(name)


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def cipher() -> CredentialCipher:
    return CredentialCipher(TEST_FERNET_KEY)


@pytest.fixture
def accounts(database: Database, cipher: CredentialCipher) -> Accounts:
    return Accounts(database, cipher)


@pytest.fixture
def fleet(database: Database) -> Fleet:
    return Fleet(database, max_bots_per_user=10, max_leverage=100)


@pytest.fixture
async def alice(accounts: Accounts):  # type: ignore[no-untyped-def]
    return await accounts.register(telegram_id=5_000_000_001, chat_id=5_000_000_001, username="alice")


@pytest.fixture
async def bob(accounts: Accounts):  # type: ignore[no-untyped-def]
    return await accounts.register(telegram_id=5_000_000_002, chat_id=5_000_000_002, username="bob")
