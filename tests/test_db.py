"""The schema itself: exact money on both databases, and the seed's constraints enforced by the database."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.models import BotInstance, GridBotConfig, Trade, User
from db.session import Database

TINY = Decimal("0.00000001")
HUGE = Decimal("999999999999.99999999")


async def _user(session, telegram_id: int = 1) -> User:  # type: ignore[no-untyped-def]
    user = User(telegram_id=telegram_id, chat_id=telegram_id)
    session.add(user)
    await session.flush()
    return user


async def test_money_is_exact_decimal_at_both_ends_of_numeric_20_8(database: Database) -> None:
    async with database.write() as session:
        user = await _user(session)
        for i, amount in enumerate((TINY, HUGE)):
            session.add(
                Trade(
                    user_id=user.id,
                    symbol="BTCUSDT",
                    side="buy",
                    qty=amount,
                    price=amount,
                    fee=amount,
                    client_order_id=f"t{i}",
                )
            )
    async with database.read() as session:
        trades = (await session.execute(select(Trade).order_by(Trade.id))).scalars().all()
    assert [t.qty for t in trades] == [TINY, HUGE]
    assert [t.price for t in trades] == [TINY, HUGE]
    assert all(type(t.fee) is Decimal for t in trades)
    assert str(trades[1].price) == "999999999999.99999999"


async def test_server_defaults_match_the_seed(database: Database) -> None:
    async with database.write() as session:
        user = await _user(session)
        await session.execute(
            text("INSERT INTO bot_instances (user_id, name) VALUES (:u, 'defaults')"), {"u": user.id}
        )
    async with database.read() as session:
        bot = (await session.execute(select(BotInstance))).scalar_one()
    assert bot.bot_type == "ai_trend"
    assert bot.allocation_percent == Decimal("10.0")
    assert bot.symbol == "BTCUSDT"
    assert (bot.max_leverage, bot.max_positions) == (10, 3)
    assert (bot.stop_loss_percent, bot.take_profit_percent) == (Decimal("5.0"), Decimal("10.0"))
    assert (bot.telegram_notify, bot.is_running, bot.is_active) == (True, False, True)
    assert (bot.total_trades, bot.winning_trades, bot.total_pnl) == (0, 0, Decimal(0))
    assert bot.created_at is not None


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("allocation_percent", "0"),
        ("allocation_percent", "100.01"),
        ("allocation_percent", "-5"),
        ("max_leverage", "0"),
        ("max_leverage", "101"),
        ("max_positions", "0"),
        ("max_positions", "21"),
        ("bot_type", "'martingale'"),
    ],
)
async def test_bot_checks_are_enforced_by_the_database(database: Database, column: str, value: str) -> None:
    async with database.write() as session:
        user = await _user(session)
    with pytest.raises(IntegrityError):
        async with database.write() as session:
            await session.execute(
                text(f"INSERT INTO bot_instances (user_id, name, {column}) VALUES (:u, 'x', {value})"),
                {"u": user.id},
            )


async def test_allocation_check_compares_numbers_not_text(database: Database) -> None:
    # '50' > '100' as text; the CHECK must compare numerically on SQLite too
    async with database.write() as session:
        user = await _user(session)
        session.add(BotInstance(user_id=user.id, name="half", allocation_percent=Decimal("50")))
        session.add(BotInstance(user_id=user.id, name="all", allocation_percent=Decimal("100")))
        session.add(BotInstance(user_id=user.id, name="sliver", allocation_percent=Decimal("0.01")))


async def test_grid_checks_are_enforced_by_the_database(database: Database) -> None:
    async with database.write() as session:
        user = await _user(session)
        bot = BotInstance(user_id=user.id, name="g", bot_type="grid")
        session.add(bot)
        await session.flush()
        bot_id = bot.id
    bad = [
        {"lower_price": Decimal("900"), "upper_price": Decimal("1000"), "grid_count": 1},
        {"lower_price": Decimal("900"), "upper_price": Decimal("1000"), "grid_count": 101},
        {"lower_price": Decimal("1000"), "upper_price": Decimal("1000"), "grid_count": 10},
        # as text '999' > '1000'; the CHECK must still see 999 < 1000
        {"lower_price": Decimal("1000"), "upper_price": Decimal("999"), "grid_count": 10},
    ]
    for values in bad:
        with pytest.raises(IntegrityError):
            async with database.write() as session:
                session.add(GridBotConfig(bot_instance_id=bot_id, total_investment=Decimal(100), **values))
    async with database.write() as session:
        session.add(
            GridBotConfig(
                bot_instance_id=bot_id,
                lower_price=Decimal("999"),
                upper_price=Decimal("1000"),
                grid_count=100,
                total_investment=Decimal(100),
            )
        )


async def test_unique_name_per_user_and_cascade_on_user_delete(database: Database) -> None:
    async with database.write() as session:
        user = await _user(session)
        session.add(BotInstance(user_id=user.id, name="same"))
    with pytest.raises(IntegrityError):
        async with database.write() as session:
            session.add(BotInstance(user_id=user.id, name="same"))
    async with database.write() as session:
        await session.execute(text("DELETE FROM users WHERE id = :u"), {"u": user.id})
    async with database.read() as session:
        assert (await session.execute(select(BotInstance))).first() is None


async def test_float_money_is_refused(database: Database) -> None:
    with pytest.raises(Exception, match="float"):
        async with database.write() as session:
            user = await _user(session)
            session.add(Trade(user_id=user.id, symbol="BTCUSDT", side="buy", qty=0.1, price=Decimal(1)))


async def test_bulk_rows_are_the_rows_core_writes(database: Database, alice) -> None:  # type: ignore[no-untyped-def]
    """db.bulk (raw executemany on SQLite) writes what Core's executemany writes: money exact, the
    columns' defaults on INSERT, updated_at on UPDATE, JSON, and SQLAlchemy's own errors."""
    from datetime import datetime

    from sqlalchemy import insert

    from db.bulk import insert_rows, update_rows_where
    from db.models import AlertOutbox

    trade = {"user_id": alice.id, "symbol": "BTCUSDT", "side": "buy", "qty": Decimal("0.00000001"),
             "price": Decimal("999999999999.99999999"), "executed_at": datetime(2025, 5, 1, 12, 0, 0)}  # fmt: skip
    alert = {"user_id": alice.id, "chat_id": 1, "kind": "grid_fill", "payload": {"price": "1.5", "n": [1]}}

    def write(connection):  # type: ignore[no-untyped-def]
        connection.execute(insert(Trade.__table__), [{**trade, "client_order_id": "core"}])
        assert insert_rows(connection, Trade.__table__, [{**trade, "client_order_id": "bulk"}]) == 1
        connection.execute(insert(AlertOutbox.__table__), [{**alert, "kind": "core"}])
        insert_rows(connection, AlertOutbox.__table__, [{**alert, "kind": "bulk"}])

    await database.run_write(write)
    async with database.read() as session:
        bulk, core = (await session.execute(select(Trade).order_by(Trade.client_order_id))).scalars().all()
        alerts = {a.kind: a for a in (await session.execute(select(AlertOutbox))).scalars()}
    if database.is_sqlite:  # the same text as well (SQLite compares datetimes as text)
        stored = await database.run_write(
            lambda c: c.exec_driver_sql(
                "SELECT executed_at, created_at FROM trades ORDER BY client_order_id"
            ).all()
        )
        assert stored[0][0] == stored[1][0] == "2025-05-01 12:00:00.000000"
        assert [len(row[1]) for row in stored] == [26, 26]  # with microseconds, as Core writes them
    skip = {"id", "client_order_id", "created_at"}
    assert {c: getattr(bulk, c) for c in Trade.__table__.columns.keys() if c not in skip} == {
        c: getattr(core, c) for c in Trade.__table__.columns.keys() if c not in skip
    }
    assert bulk.price == Decimal("999999999999.99999999") and bulk.trade_source == "manual" and bulk.fee == 0
    assert bulk.created_at is not None
    assert alerts["bulk"].payload == alerts["core"].payload == {"price": "1.5", "n": [1]}
    assert alerts["bulk"].attempts == alerts["core"].attempts == 0

    def change(connection):  # type: ignore[no-untyped-def]
        return update_rows_where(
            connection,
            Trade.__table__,
            {"_cid": "client_order_id"},
            [{"_cid": "bulk", "fee": Decimal("0.5")}],
        )

    assert await database.run_write(change) == 1
    async with database.read() as session:
        changed = (await session.execute(select(Trade).where(Trade.client_order_id == "bulk"))).scalar_one()
    assert changed.fee == Decimal("0.5")

    def duplicate(connection):  # type: ignore[no-untyped-def]
        insert_rows(connection, Trade.__table__, [{**trade, "client_order_id": "bulk"}])

    with pytest.raises(IntegrityError):
        await database.run_write(duplicate)
    if not database.is_sqlite:  # (SQLite does not enforce VARCHAR lengths)

        def too_long(connection):  # type: ignore[no-untyped-def]
            rows = [{"_cid": "bulk", "symbol": "X" * 21}]  # VARCHAR(20): cast to VARCHAR, not cut
            return update_rows_where(connection, Trade.__table__, {"_cid": "client_order_id"}, rows)

        with pytest.raises(DBAPIError, match="too long"):
            await database.run_write(too_long)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_cancelled_write_still_ends_before_the_next_writer_starts(database: Database) -> None:
    """run_write hands its transaction to the writer thread; a caller cancelled meanwhile (a stopping
    bot, shutdown) does not abandon it: the transaction commits, and the process's next writer waits
    for it instead of meeting SQLite's lock."""
    import asyncio
    import time

    from sqlalchemy import insert

    from db.models import ReplayCursor

    spans: list[tuple[str, float, float]] = []

    def slow(connection):  # type: ignore[no-untyped-def]
        start = time.monotonic()
        connection.execute(insert(ReplayCursor.__table__).values(name="slow", position=1))
        time.sleep(0.3)
        spans.append(("slow", start, time.monotonic()))

    task = asyncio.create_task(database.run_write(slow))
    await asyncio.sleep(0.05)
    task.cancel()
    next_writer = asyncio.create_task(_timed_write(database, spans))
    with pytest.raises(asyncio.CancelledError):
        await task
    await next_writer
    ends = {name: (start, end) for name, start, end in spans}
    assert (
        ends["next"][0] >= ends["slow"][1]
    )  # no overlap: the next writer waited for the thread's transaction
    async with database.read() as session:
        assert (await session.get(ReplayCursor, "slow")) is not None  # committed, not abandoned


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_write_session_cancelled_mid_statement_frees_sqlites_lock_with_the_writer(
    database: Database,
) -> None:
    """A task cancelled inside `Database.write()` (once or again during its cleanup, as shutdown and
    APScheduler both cancel a tick) gives the writer up only once SQLite's write lock is free too. Cut
    off mid-statement, SQLAlchemy invalidated the connection and left its open transaction to a later
    close: on the old code about one cancel in seven left the lock held after the writer was free, and
    in CI the writes behind it failed with "database is locked" and shutdown hung."""
    import asyncio
    import sqlite3

    from sqlalchemy.engine import make_url

    from db.models import ReplayCursor

    async def writer(n: int) -> None:
        async with database.write() as session:
            session.add(ReplayCursor(name=f"a{n}", position=n))
            await session.flush()
            await asyncio.sleep(0.02)
            session.add(ReplayCursor(name=f"b{n}", position=n))
            await session.flush()

    probe = sqlite3.connect(make_url(database.url).database, timeout=0, isolation_level=None)
    held = []
    try:
        for n in range(120):
            task = asyncio.create_task(writer(n))
            await asyncio.sleep(0.0004 * (n % 60))
            task.cancel()
            for _ in range(n % 3):  # cancelled again while it cleans up
                await asyncio.sleep(0)
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
            except sqlite3.OperationalError:
                held.append(n)
                await asyncio.sleep(0.5)  # let the stray close run before the next round
    finally:
        probe.close()
    assert held == []
    async with database.read() as session:  # what was cut off is rolled back as a whole
        names = set((await session.execute(select(ReplayCursor.name))).scalars())
    assert not any(name.startswith("b") and f"a{name[1:]}" not in names for name in names)


async def _timed_write(database: Database, spans: list[tuple[str, float, float]]) -> None:
    import time

    from db.models import ReplayCursor

    async with database.write() as session:
        start = time.monotonic()
        session.add(ReplayCursor(name="next", position=2))
        await session.flush()
    spans.append(("next", start, time.monotonic()))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_writes_of_ticks_the_scheduler_starts_inline_and_finishes_in_tasks(database: Database) -> None:
    """The scheduler runs a tick up to its first wait inside the slot job and the rest in a task of its
    own (bot/scheduler.py): a write begun in one and ended in the other must leave no trace that makes
    the next writes fail (a context variable set there once did)."""
    import asyncio

    from bot.scheduler import BotScheduler
    from db.models import ReplayCursor

    done: list[int] = []

    async def tick(bot_id: int) -> None:
        async with database.write() as session:
            await asyncio.sleep(0.01)
            session.add(ReplayCursor(name=f"bot{bot_id}", position=bot_id))
        done.append(bot_id)

    scheduler = BotScheduler(tick)
    for bot_id in (1, 2, 3):  # one after another in the same task, as a slot job starts its bots
        scheduler._start(bot_id)
    for _ in range(100):
        if len(done) == 3:
            break
        await asyncio.sleep(0.02)
    for bot_id in (4, 5):
        scheduler._start(bot_id)
    await asyncio.sleep(0.2)
    assert sorted(done) == [1, 2, 3, 4, 5]


async def test_the_wal_is_checkpointed_beside_the_writer_not_inside_its_commits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """In WAL mode only a checkpoint writes to the database file. The writer's own automatic
    checkpoint is a 64 MB backstop, so a few MB written must reach the file through the checkpoint
    thread, and no commit of the writer ran one."""
    import asyncio

    from db.session import WRITER_AUTOCHECKPOINT

    path = tmp_path / "wal.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await database.run_write(lambda c: c.exec_driver_sql("CREATE TABLE ballast (x BLOB)"))
        backstop = await database.run_write(lambda c: c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar())
        assert backstop == WRITER_AUTOCHECKPOINT and backstop * 4096 > 60_000_000
        wal = path.with_name("wal.db-wal")
        for _ in range(10):  # 10 x 100 rows x 4 KB: about 1,000 pages of log
            await database.run_write(
                lambda c: c.exec_driver_sql(
                    "INSERT INTO ballast (x) VALUES " + ", ".join(["(randomblob(4000))"] * 100)
                )
            )
        assert wal.stat().st_size > 3_000_000  # the rows are in the log ...
        checkpointer = database._checkpointer
        assert checkpointer is not None
        for _ in range(50):  # the file grows while a pass copies; the pass is counted when it returns
            if path.stat().st_size > 3_000_000 and checkpointer.passes > 0:
                break
            await asyncio.sleep(0.1)
        assert path.stat().st_size > 3_000_000  # ... and the checkpoint thread copied them to the file
        assert checkpointer.passes > 0
    finally:
        await database.dispose()
    assert not checkpointer._thread.is_alive()  # dispose stops it


async def test_sqlite_statement_journals_stay_in_memory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A multi-row statement inside a transaction keeps its undo in a statement journal; past 64 KB
    SQLite moves it to a temp file unless temp_store is MEMORY (2), which every connection sets (the
    writer thread's multi-row inserts spent a tenth of their time in those files' writes)."""
    from sqlalchemy import text

    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'temp.db'}")
    try:
        writer = await database.run_write(lambda c: c.exec_driver_sql("PRAGMA temp_store").scalar())
        async with database.read() as session:
            reader = (await session.execute(text("PRAGMA temp_store"))).scalar()
        async with database.write() as session:
            other = (await session.execute(text("PRAGMA temp_store"))).scalar()
        assert (writer, reader, other) == (2, 2, 2)
    finally:
        await database.dispose()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_ticks_fills_and_a_stop_of_the_same_user_never_deadlock(database: Database) -> None:
    """A stop locks the user FOR UPDATE and then updates the bot row; a grid tick's write updates the
    bot's stats and inserts its trades (whose foreign key takes KEY SHARE on the user). The tick took
    the bot row first, so the two waited for each other until PostgreSQL's deadlock detector aborted
    one (seen in the chat fuzz: "bot 84: tick failed ... deadlock detected"). Fails on the old code:
    the stop's UPDATE below (or the tick) ends in DeadlockDetectedError."""
    import asyncio
    from datetime import datetime

    from db import queries as q

    async with database.write() as session:
        user = await _user(session, 7)
        bot = BotInstance(user_id=user.id, name="g", bot_type="grid")
        session.add(bot)
        await session.flush()
        user_id, bot_id = user.id, bot.id
    trade = {
        "user_id": user_id,
        "bot_instance_id": bot_id,
        "trade_source": "grid_bot",
        "symbol": "BTCUSDT",
        "side": "buy",
        "order_type": "limit",
        "qty": Decimal("0.001"),
        "price": Decimal("100000"),
        "fee": Decimal("0.1"),
        "fee_currency": "USDT",
        "fee_base": None,
        "realized_pnl": None,
        "exchange_order_id": "1",
        "client_order_id": "mb-deadlock-1",
        "executed_at": datetime(2026, 1, 1),
        "created_at": datetime(2026, 1, 1),
    }
    activity = q.BotActivity(
        bot_id=bot_id,
        user_id=user_id,
        chat_id=7,
        total_trades=1,
        winning_trades=0,
        total_pnl=Decimal(0),
        last_fill_ts=None,
        trades=[trade],
    )
    async with database.engine.connect() as stop:
        await stop.execute(text("SELECT id FROM users WHERE id = :u FOR UPDATE"), {"u": user_id})
        tick = asyncio.create_task(database.run_write(lambda c: q.write_bots_activity(c, [activity])))
        await asyncio.sleep(0.5)  # the tick goes as far as the locks let it
        await stop.execute(text("UPDATE bot_instances SET stopping = true WHERE id = :b"), {"b": bot_id})
        await stop.commit()
    await asyncio.wait_for(tick, 10)
    async with database.read() as session:
        assert (await session.get(BotInstance, bot_id)).stopping  # type: ignore[union-attr]
        assert (await session.execute(select(Trade).where(Trade.bot_instance_id == bot_id))).first()
