"""Keys are checked with the exchange before they are trusted (Accounts.enter_api_keys over real ccxt to the
local fake Bitget, both account kinds): authenticated, their permissions and account read; wrong keys and a
key without trade permission are refused with nothing stored; a key that can withdraw is stored with a
strong warning; the account's kind is stored with the keys, found for keys stored before kinds were, and
an upgrade (Bitget refusing the old kind's API) is stored and told to the user. Through the chat too: the
production Dispatcher over HTTP to the Bot API emulator, with EXCHANGE_API_URL at the fake.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from bot.alerts import render_alert
from bot.sandbox import TelegramEmulator
from bot.services.accounts import Accounts
from bot.services.errors import KeysNeeded, KeysRefused
from db.models import AlertOutbox, User
from db.session import Database
from engine.venues.live.adapter import AccountKey
from engine.venues.live.credentials import CredentialCipher
from tests.fake_bitget import FakeBitget
from tests.live_harness import Live
from tests.test_handlers_e2e import start_app, stop_app

SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
KINDS = pytest.mark.parametrize("kind", ["classic", "uta"])


@pytest.fixture
async def fake() -> AsyncIterator[FakeBitget]:
    server = FakeBitget(timeout_delay=0.3)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def live(database, fleet, accounts, cipher, fake) -> AsyncIterator[Live]:  # type: ignore[no-untyped-def]
    harness = Live(database, fleet, accounts, cipher, fake.url)
    yield harness
    await harness.close()


async def stored(db: Database, user_id: int) -> User:
    async with db.read() as session:
        user = await session.get(User, user_id)
        assert user is not None
        return user


@SQLITE
@KINDS
async def test_good_keys_are_stored_with_their_kind_account_and_balances(
    live: Live, accounts: Accounts, fake: FakeBitget, cipher: CredentialCipher, kind: str
) -> None:
    fake.add_account("bg_good_key_0001", "s3cret", "pass", spot={"USDT": "10000"}, futures_usdt="700",
                     kind=kind, uid="9876543210")  # fmt: skip
    user = await accounts.register(telegram_id=31, chat_id=31)
    entered = await accounts.enter_api_keys(
        user.id, api_key="bg_good_key_0001", secret="s3cret", passphrase="pass"
    )
    assert (entered.kind, entered.can_withdraw) == (kind, False)
    assert entered.account_hint != "9876543210" and entered.account_hint.endswith("3210")  # masked
    # a unified account's one wallet holds both: 10,000 + 700
    assert (entered.spot_usdt, entered.futures_usdt) == (
        (D(10000), D(700)) if kind == "classic" else (D(10700), D(10700))
    )
    row = await stored(live.db, user.id)
    assert (row.api_account_kind, row.api_account_hint) == (kind, entered.account_hint)
    assert cipher.decrypt(row.api_key_enc or "") == "bg_good_key_0001" and entered.user.masked_api_key
    await accounts.set_trading_mode(user.id, "live")
    bot_id = await live.grid(user.id)
    assert (await live.fleet.get_bot(user.id, bot_id)).last_error is None
    prefix = "/api/v2/" if kind == "classic" else "/api/v3/"
    traded = [r.path for r in fake.requests if "ACCESS-KEY" in r.headers and "/trade/" in r.path]
    assert traded and all(p.startswith(prefix) for p in traded)  # never refused for the kind: it was known


@SQLITE
@pytest.mark.parametrize(
    ("secret", "passphrase", "code"),
    [("wrong", "pass", "40009"), ("s3cret", "wrong", "40012")],
)
async def test_wrong_keys_are_refused_with_the_exchanges_code_and_nothing_is_stored(
    live: Live, accounts: Accounts, fake: FakeBitget, secret: str, passphrase: str, code: str
) -> None:
    fake.add_account("bg_good_key_0001", "s3cret", "pass", kind="uta")
    user = await accounts.register(telegram_id=32, chat_id=32)
    with pytest.raises(KeysRefused) as refused:
        await accounts.enter_api_keys(
            user.id, api_key="bg_good_key_0001", secret=secret, passphrase=passphrase
        )
    assert (refused.value.reason, refused.value.exchange_code) == ("auth", code)
    with pytest.raises(KeysRefused) as unknown:
        await accounts.enter_api_keys(user.id, api_key="bg_no_such_key", secret="s", passphrase="p")
    assert unknown.value.exchange_code == "40006"
    row = await stored(live.db, user.id)
    assert (row.api_key_enc, row.api_secret_enc, row.api_account_kind) == (None, None, None)


@SQLITE
@KINDS
async def test_a_key_that_cannot_trade_is_refused_and_one_that_can_withdraw_is_flagged(
    live: Live, accounts: Accounts, fake: FakeBitget, kind: str
) -> None:
    fake.add_account("bg_read_only_001", "s", "p", kind=kind, can_trade=False)
    fake.add_account("bg_withdraws_001", "s", "p", kind=kind, can_withdraw=True)
    user = await accounts.register(telegram_id=33, chat_id=33)
    with pytest.raises(KeysRefused) as refused:
        await accounts.enter_api_keys(user.id, api_key="bg_read_only_001", secret="s", passphrase="p")
    assert refused.value.reason == "no_trade"
    assert (await stored(live.db, user.id)).api_key_enc is None
    entered = await accounts.enter_api_keys(user.id, api_key="bg_withdraws_001", secret="s", passphrase="p")
    assert entered.can_withdraw and (await stored(live.db, user.id)).api_key_enc is not None


@SQLITE
async def test_an_older_keys_kind_is_found_on_first_use_and_an_upgrade_is_stored_and_told(
    live: Live, accounts: Accounts, fake: FakeBitget
) -> None:
    account = fake.add_account("bg_old_keys_0001", "s", "p", spot={"USDT": "10000"}, kind="uta")
    user_id = await live.user("bg_old_keys_0001", "s", "p")  # stored as before kinds: none
    assert (await stored(live.db, user_id)).api_account_kind is None
    bot_id = await live.grid(user_id)  # classic first: refused with 40085, detected, retried
    assert (await live.fleet.get_bot(user_id, bot_id)).last_error is None
    assert (await stored(live.db, user_id)).api_account_kind == "uta"
    changed = select(AlertOutbox).where(AlertOutbox.kind == "account_kind_changed")
    async with live.db.read() as session:
        assert (await session.execute(changed)).scalars().all() == []  # found, not changed

    account.kind = "classic"  # as if the account had moved (the other way round an upgrade goes)
    await live.registry.redetect(AccountKey("bitget", str(user_id), False))
    assert (await stored(live.db, user_id)).api_account_kind == "classic"
    async with live.db.read() as session:
        [alert] = (await session.execute(changed)).scalars().all()
    assert "classic account" in render_alert(alert.kind, alert.payload, "en")
    assert "클래식 계정" in render_alert(alert.kind, alert.payload, "ko")


def test_an_exchange_error_reaches_the_user_as_a_sentence_with_its_code_never_raw_json() -> None:
    raw = (
        'AuthenticationFailed: AuthenticationError: bitget {"code":"40009","msg":"sign signature error",'
        '"requestTime":1,"data":null}'
    )
    payload = {"bot_id": 1, "name": "g", "error": raw, "failures": 1}
    en = render_alert("bot_stopped_error", payload, "en")
    ko = render_alert("bot_stopped_error", payload, "ko")
    assert "the API secret does not match the key (code 40009)" in en and "{" not in en
    assert "API 시크릿이 키와 맞지 않습니다 (코드 40009)" in ko and "requestTime" not in ko


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_keys_wizard_checks_the_keys_in_the_users_language(db_url: str, fake: FakeBitget) -> None:
    """Before, a wrong secret left the chat silent (an unhandled authentication error); now one message
    says why, with Bitget's code, nothing is stored, and the wizard asks for the key again."""
    fake.add_account("bg_chat_key_0001", "s3cret", "pass", spot={"USDT": "150"}, futures_usdt="0",
                     kind="uta", can_withdraw=True, uid="1122334455")  # fmt: skip
    async with TelegramEmulator() as emu:
        app = await start_app(emu, db_url, exchange_api_url=fake.url)
        try:
            user_id = 7201
            menu = await app.send(user_id, "/keys", language_code="ko")
            await app.press(user_id, menu, next(b["text"] for b in menu.buttons if "Bitget" in b["text"]))
            await app.send(user_id, "bg_chat_key_0001", language_code="ko")
            await app.send(user_id, "not-the-secret", language_code="ko")
            refused = await app.send(user_id, "pass", language_code="ko")
            assert "Bitget이 이 키를 받아들이지 않았습니다" in refused.text and "40009" in refused.text
            assert "{" not in refused.text
            dto = await app.user(user_id)
            assert not dto.has_api_keys
            # the wizard goes on: the next message is the API key again
            await app.send(user_id, "bg_chat_key_0001", language_code="ko")
            await app.send(user_id, "s3cret", language_code="ko")
            saved = await app.send(user_id, "pass", language_code="ko")
            assert "통합 거래 계정" in saved.text and "150.00" in saved.text
            assert "출금할 수 있습니다" in saved.text  # the strong warning
            assert "1122334455" not in saved.text and "4455" in saved.text  # the account id, masked
            assert (await app.user(user_id)).has_api_keys
            await asyncio.sleep(0)
        finally:
            await stop_app(app)


@SQLITE
async def test_revoked_keys_stop_the_bot_with_an_alert_naming_the_orders_still_open(
    live: Live, fake: FakeBitget
) -> None:
    """Before, the owner heard of the stuck stop only after 3 minutes, with no order named ("-")."""
    account = fake.add_account("bg_revoked_0001", "s", "p", spot={"USDT": "10000"}, kind="uta")
    user_id = await live.user("bg_revoked_0001", "s", "p")
    bot_id = await live.grid(user_id)
    open_ids = {o.client_oid for o in account.orders.values() if o.live}
    assert len(open_ids) == 10
    del fake.accounts["bg_revoked_0001"]  # the user deleted the key on Bitget: 40006 from now on
    await live.engine.run_tick(bot_id)
    bot = await live.fleet.get_bot(user_id, bot_id)
    assert not bot.is_running or bot.stopping
    stuck = select(AlertOutbox).where(AlertOutbox.kind == "bot_stop_stuck")
    for _ in range(100):
        async with live.db.read() as session:
            alerts = (await session.execute(stuck)).scalars().all()
        if alerts:
            break
        await asyncio.sleep(0.02)
    [alert] = alerts
    assert alert.payload["count"] == 10 and set(alert.payload["orders"].split(", ")) == open_ids
    text = render_alert(alert.kind, alert.payload, "en")
    assert "10 order(s) are still open on the exchange" in text
    assert "the API key is not known to the exchange" in text and "40006" in text and "{" not in text


@SQLITE
async def test_demo_trading_takes_demo_keys_and_trades_with_bitgets_paptrading_header(
    live: Live, accounts: Accounts, fake: FakeBitget
) -> None:
    fake.add_account("bg_demo_key_0001", "s", "p", spot={"USDT": "10000"}, kind="uta", demo=True)
    fake.add_account("bg_live_key_0001", "s", "p", spot={"USDT": "10000"}, kind="uta")
    user = await accounts.register(telegram_id=35, chat_id=35)
    with pytest.raises(KeysNeeded) as needed:
        await accounts.set_trading_mode(user.id, "live", demo=True)
    assert needed.value.demo is True
    with pytest.raises(KeysRefused) as refused:  # live keys are refused in demo trading
        await accounts.enter_api_keys(
            user.id, api_key="bg_live_key_0001", secret="s", passphrase="p", demo=True
        )
    assert (refused.value.reason, refused.value.exchange_code) == ("auth", "40099")
    await accounts.enter_api_keys(user.id, api_key="bg_demo_key_0001", secret="s", passphrase="p", demo=True)
    updated = await accounts.set_trading_mode(user.id, "live", demo=True)
    assert (updated.trading_mode, updated.demo_trading) == ("live", True)
    bot_id = await live.grid(user.id)
    bot = await live.fleet.get_bot(user.id, bot_id)
    assert bot.last_error is None and bot.venue == "demo"
    private = [r for r in fake.requests if r.headers.get("ACCESS-KEY") == "bg_demo_key_0001"]
    assert private and all(r.headers.get("PAPTRADING") == "1" for r in private)
    assert len([o for o in fake.accounts["bg_demo_key_0001"].orders.values() if o.live]) == 10
    await live.fleet.stop(user.id, bot_id)
    with pytest.raises(KeysNeeded) as needed:  # demo keys do not trade live
        await accounts.set_trading_mode(user.id, "live", demo=False)
    assert needed.value.demo is False


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_keys_offers_paper_demo_and_live_and_demo_asks_for_demo_keys(
    db_url: str, fake: FakeBitget
) -> None:
    fake.add_account("bg_chat_demo_001", "s3cret", "pass", spot={"USDT": "5000"}, kind="classic", demo=True)
    async with TelegramEmulator() as emu:
        app = await start_app(emu, db_url, exchange_api_url=fake.url)
        try:
            user_id = 7202
            menu = await app.send(user_id, "/keys")
            labels = [b["text"] for b in menu.buttons]
            assert "🧪 Switch to demo" in labels and "💰 Switch to live" in labels
            await app.press(user_id, menu, "🧪 Switch to demo")
            await app.press(user_id, menu, "🧪 Yes, trade on demo")  # the switch waits for a second tap
            asked = await emu.wait_for_bot_message(user_id, after_message_id=0)
            assert "demo" in asked.text.lower()
            await app.send(user_id, "bg_chat_demo_001")
            await app.send(user_id, "s3cret")
            saved = await app.send(user_id, "pass")
            assert "Keys saved and trading mode switched" in saved.text and "🧪 demo" in saved.text
            dto = await app.user(user_id)
            assert (dto.trading_mode, dto.demo_trading, dto.has_api_keys) == ("live", True, True)
            assert all(r.headers.get("PAPTRADING") == "1" for r in fake.requests if "ACCESS-KEY" in r.headers)
        finally:
            await stop_app(app)
