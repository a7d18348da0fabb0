"""Users from Telegram identities, and invariant 6: exchange secrets encrypted at rest, never shown."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select, text

from bot.services.accounts import Accounts, language_from
from bot.services.errors import NotAllowed, ValidationError
from db.models import User
from db.session import Database
from engine.venues.live.credentials import CredentialCipher, CredentialError, Credentials

API_KEY = "bg_4f1c2d3e5a6b7c8d9e0f"
SECRET = "s3cr3t-0123456789abcdef0123456789abcdef"
PASSPHRASE = "my passphrase-9"


@pytest.mark.parametrize(
    ("code", "lang"), [("ko", "ko"), ("ko-KR", "ko"), ("en-US", "en"), ("de", "en"), (None, "en")]
)
def test_language_from_telegram(code: str | None, lang: str) -> None:
    assert language_from(code) == lang


async def test_register_then_refresh_keeps_the_chosen_language(accounts: Accounts) -> None:
    user = await accounts.register(telegram_id=2**40, chat_id=2**40, username="kim", language_code="ko")
    assert (user.telegram_id, user.language, user.trading_mode, user.exchange_id) == (
        2**40,
        "ko",
        "paper",
        "bitget",
    )
    await accounts.set_language(user.id, "en")
    # first contact from a group (chat 77): alerts still go to the private chat, whose id is the user's
    again = await accounts.register(telegram_id=2**40, chat_id=77, username="kim2", language_code="ko")
    assert (again.id, again.chat_id, again.username, again.language) == (user.id, 2**40, "kim2", "en")


async def test_concurrent_first_contacts_make_one_user(accounts: Accounts, database: Database) -> None:
    users = await asyncio.gather(*(accounts.register(telegram_id=42, chat_id=42) for _ in range(20)))
    assert len({u.id for u in users}) == 1
    async with database.read() as session:
        assert len((await session.execute(select(User))).scalars().all()) == 1


async def test_allowlist_refuses_others(database: Database, cipher: CredentialCipher) -> None:
    accounts = Accounts(database, cipher, allowed_telegram_ids=frozenset({1}))
    assert (await accounts.register(telegram_id=1, chat_id=1)).telegram_id == 1
    with pytest.raises(NotAllowed):
        await accounts.register(telegram_id=2, chat_id=2)


async def test_api_keys_are_encrypted_at_rest_and_masked(
    accounts: Accounts, database: Database, cipher: CredentialCipher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = await accounts.register(telegram_id=7, chat_id=7)
    dto = await accounts.set_api_keys(
        user.id, api_key=API_KEY, secret=SECRET, passphrase=PASSPHRASE.replace(" ", "_")
    )
    assert dto.has_api_keys and dto.masked_api_key == "bg…0f"
    assert API_KEY not in repr(dto) and SECRET not in repr(dto)
    async with database.read() as session:
        raw = (await session.execute(text("SELECT * FROM users"))).mappings().one()
        orm = (await session.execute(select(User))).scalar_one()
    dumped = " ".join(str(v) for v in raw.values())
    for secret in (API_KEY, SECRET, PASSPHRASE.replace(" ", "_")):
        assert secret not in dumped
        assert secret not in caplog.text
    assert API_KEY not in repr(orm)
    # only the exchange layer decrypts, and only with the right key
    assert cipher.decrypt(raw["api_key_enc"]) == API_KEY
    assert cipher.decrypt(raw["api_secret_enc"]) == SECRET
    with pytest.raises(CredentialError):
        CredentialCipher(b"ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2U=").decrypt(raw["api_key_enc"])
    credentials = Credentials(API_KEY, SECRET, PASSPHRASE)
    assert SECRET not in repr(credentials) and API_KEY not in str(credentials)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"api_key": "", "secret": SECRET, "passphrase": "p"}, "api_key"),
        ({"api_key": "a b", "secret": SECRET, "passphrase": "p"}, "api_key"),
        ({"api_key": API_KEY, "secret": "x" * 257, "passphrase": "p"}, "secret"),
        ({"api_key": API_KEY, "secret": SECRET, "passphrase": ""}, "passphrase"),
        ({"api_key": API_KEY, "secret": SECRET, "passphrase": "p", "exchange_id": "mtgox"}, "exchange"),
    ],
)
async def test_bad_keys_change_nothing(accounts: Accounts, values: dict[str, str], field: str) -> None:
    user = await accounts.register(telegram_id=8, chat_id=8)
    with pytest.raises(ValidationError) as err:
        await accounts.set_api_keys(user.id, **values)
    assert err.value.field == field
    assert not (await accounts.get(8)).has_api_keys


async def test_live_mode_needs_keys(accounts: Accounts) -> None:
    user = await accounts.register(telegram_id=9, chat_id=9)
    with pytest.raises(ValidationError):
        await accounts.set_trading_mode(user.id, "live")
    await accounts.set_api_keys(user.id, api_key=API_KEY, secret=SECRET, passphrase="pp")
    assert (await accounts.set_trading_mode(user.id, "live", demo=True)).trading_mode == "live"
    cleared = await accounts.clear_api_keys(user.id)
    assert (cleared.has_api_keys, cleared.trading_mode, cleared.masked_api_key) == (False, "paper", None)


async def test_the_user_cache_follows_every_write(accounts: Accounts, database: Database) -> None:
    user = await accounts.register(telegram_id=11, chat_id=11, language_code="en")
    assert (await accounts.get(11)).language == "en"
    await accounts.set_language(user.id, "ko")
    assert (await accounts.get(11)).language == "ko"  # not a stale cached answer
    await accounts.set_api_keys(user.id, api_key=API_KEY, secret=SECRET, passphrase="pp")
    assert (await accounts.get(11)).has_api_keys
    fresh = Accounts(database, accounts._cipher)  # another instance reads the database
    assert (await fresh.get(11)).language == "ko"
