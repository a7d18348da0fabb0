"""Users: registration from a Telegram identity, language, exchange keys and trading mode.

A switch of mode never moves a bot: bots are bound to the venue they were started on (DESIGN.md), so a
switch is refused while bots run or stop on the other venue, and a change (or removal) of keys while
bots run on, stop on or hold anything on the account those keys open (BotsOnVenue names them).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.services.dto import UserDTO
from bot.services.errors import BotsOnVenue, KeysNeeded, KeysRefused, NotAllowed, NotFound, ValidationError
from bot.services.exchange_errors import exchange_code
from bot.services.validation import DELETED_NAME_SEPARATOR
from db import queries as q
from db.base import utcnow
from db.models import BotInstance, User
from db.session import Database
from engine.exchange import AuthenticationFailed, ExchangeError
from engine.venues.live.account_kind import ACCOUNT_KINDS
from engine.venues.live.adapter import AccountKey
from engine.venues.live.credentials import CredentialCipher, Credentials, mask
from engine.venues.live.registry import KeyCheck

log = logging.getLogger(__name__)

# authenticates a key with the exchange before it is stored (CcxtExchangeRegistry.check_key)
KeyChecker = Callable[..., Awaitable[KeyCheck]]


@dataclass(frozen=True, slots=True)
class KeysEntered:
    """Keys checked with the exchange and stored: what the chat shows of them."""

    user: UserDTO
    kind: str  # classic or uta
    account_hint: str  # the exchange account id, masked
    can_withdraw: bool
    spot_usdt: Decimal
    futures_usdt: Decimal


LANGUAGES = ("ko", "en")
EXCHANGES = ("bitget",)  # ccxt ids we support for live trading
MODES = ("paper", "live")
ENVIRONMENT_CODES = ("40099",)  # Bitget: a demo key outside demo trading, or a live key in it
SECRET_MAX = 256
USER_CACHE_SIZE = 50_000


def account_fingerprint(exchange_id: str, api_key: str) -> str:
    """Which exchange account a key opens, as far as the key tells: a bot bound to another key's account
    is never moved to this one."""
    return f"{exchange_id}:{hashlib.sha256(api_key.encode()).hexdigest()[:16]}"


def _name(bot: BotInstance) -> str:
    return bot.name.split(DELETED_NAME_SEPARATOR, 1)[0]


def language_from(language_code: str | None) -> str:
    """Telegram's language_code ('ko', 'ko-KR', 'en-US', None) to one of ours."""
    return "ko" if (language_code or "").lower().startswith("ko") else "en"


class Accounts:
    def __init__(
        self,
        db: Database,
        cipher: CredentialCipher,
        *,
        allowed_telegram_ids: frozenset[int] = frozenset(),
        paper_start_balance: Decimal = Decimal("10000"),
    ):
        self.db = db
        self._cipher = cipher
        self.allowed_telegram_ids = allowed_telegram_ids
        self.paper_start_balance = paper_start_balance  # a new user's paper account (PAPER_START_BALANCE)
        self._cache: OrderedDict[int, UserDTO] = OrderedDict()
        self.key_checker: KeyChecker | None = None  # set where an exchange is reachable (bot/app.py)
        # told every user this service answers with (the engine keeps their trading modes from it)
        self.watchers: list[Callable[[UserDTO], None]] = []

    def _remember(self, user: UserDTO) -> UserDTO:
        """Every answer passes here: the cache of users by Telegram id (this service is their only writer)."""
        for watcher in self.watchers:
            watcher(user)
        self._cache[user.telegram_id] = user
        self._cache.move_to_end(user.telegram_id)
        if len(self._cache) > USER_CACHE_SIZE:
            self._cache.popitem(last=False)
        return user

    def is_allowed(self, telegram_id: int) -> bool:
        return not self.allowed_telegram_ids or telegram_id in self.allowed_telegram_ids

    async def register(
        self,
        *,
        telegram_id: int,
        chat_id: int,
        username: str | None = None,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> UserDTO:
        """Create the user on first contact, else refresh the names (the chosen language stays). Alerts
        go to the user's private chat with the bot (its id is the Telegram id), wherever they write from;
        `chat_id` is kept for callers and ignored."""
        if not self.is_allowed(telegram_id):
            raise NotAllowed()
        for _ in range(2):  # a concurrent first contact may insert the same telegram_id first
            try:
                async with self.db.write() as session:
                    user = (
                        await session.execute(select(User).where(User.telegram_id == telegram_id))
                    ).scalar_one_or_none()
                    if user is None:
                        user = User(
                            telegram_id=telegram_id,
                            chat_id=telegram_id,
                            paper_balance=self.paper_start_balance,
                            username=(username or None) and username[:64],
                            first_name=(first_name or None) and first_name[:128],
                            language=language_from(language_code),
                        )
                        session.add(user)
                    else:
                        user.chat_id = telegram_id
                        user.username = (username or None) and username[:64]
                        user.first_name = (first_name or None) and first_name[:128]
                        user.updated_at = utcnow()
                    await session.flush()
                    dto = UserDTO.of(user)
            except IntegrityError:
                continue
            return self._remember(dto)
        raise NotFound("user")

    async def get(self, telegram_id: int) -> UserDTO:
        cached = self._cache.get(telegram_id)
        if cached is not None:
            return cached
        async with self.db.read() as session:
            user = (
                await session.execute(select(User).where(User.telegram_id == telegram_id))
            ).scalar_one_or_none()
            if user is None:
                raise NotFound("user")
            dto = UserDTO.of(user)
        return self._remember(dto)

    async def set_language(self, user_id: int, language: str) -> UserDTO:
        if language not in LANGUAGES:
            raise ValidationError("language", "language must be ko or en")
        return await self._update(user_id, language=language)

    async def set_trading_mode(self, user_id: int, mode: str, *, demo: bool | None = None) -> UserDTO:
        if mode not in MODES:
            raise ValidationError("trading_mode", "mode must be paper or live")
        async with self.db.write() as session:
            user = await q.lock_user(session, user_id)
            if user is None:
                raise NotFound("user")
            new_demo = bool(user.demo_trading) if demo is None else demo
            if mode == "live" and user.api_key_enc is None:
                raise KeysNeeded(new_demo)
            if mode == "live" and user.api_account_kind is not None and bool(user.api_keys_demo) != new_demo:
                # checked keys are for one environment (keys stored unchecked, before, are trusted for both)
                raise KeysNeeded(new_demo)
            venue = ("demo" if new_demo else "live") if mode == "live" else "paper"
            busy = [
                b
                for b in await q.active_bots(session, user_id)
                if (b.is_running or b.stopping) and b.venue != venue
            ]
            if busy:
                raise BotsOnVenue([_name(b) for b in busy])
            user.trading_mode = mode
            if demo is not None:
                user.demo_trading = demo
            user.updated_at = utcnow()
            await session.flush()
            dto = UserDTO.of(user)
        return self._remember(dto)

    async def enter_api_keys(
        self,
        user_id: int,
        *,
        exchange_id: str = "bitget",
        api_key: str,
        secret: str,
        passphrase: str | None = None,
        demo: bool | None = None,
    ) -> KeysEntered:
        """Keys the user entered, checked with the exchange before they are trusted: authenticated, their
        permissions and account read. KeysRefused (nothing stored) for keys the exchange refuses
        (reason auth, with its code), a key without trade permission (no_trade), or a check that could
        not be made (exchange). A key that can withdraw is stored, and `can_withdraw` says so."""
        exchange, cleaned = _cleaned_keys(exchange_id, api_key, secret, passphrase)
        async with self.db.read() as session:
            user = await self._user(session, user_id)
            demo = bool(user.demo_trading) if demo is None else demo  # demo keys work only in demo trading
            await self._refuse_bound_bots(session, user_id)
        if self.key_checker is None:
            raise KeysRefused("exchange", detail="no exchange to check keys with in this process")
        credentials = Credentials(cleaned["api_key"], cleaned["secret"], cleaned["passphrase"])
        try:
            check = await self.key_checker(exchange, credentials, demo=demo)
        except AuthenticationFailed as exc:
            raise KeysRefused("auth", exchange_code(exc)) from exc
        except ExchangeError as exc:
            code = exchange_code(exc)
            raise KeysRefused("auth" if code in ENVIRONMENT_CODES else "exchange", code) from exc
        if not check.info.can_trade:
            raise KeysRefused("no_trade")
        hint = _mask_account(check.info.account_id)
        dto = await self.set_api_keys(
            user_id,
            exchange_id=exchange,
            api_key=cleaned["api_key"],
            secret=cleaned["secret"],
            passphrase=cleaned["passphrase"],
            kind=check.info.kind,
            account_hint=hint,
            demo=demo,
        )
        if check.info.can_withdraw:
            log.warning("user %d stored a key that can withdraw", user_id)
        return KeysEntered(
            dto, check.info.kind, hint, check.info.can_withdraw, check.spot_usdt, check.futures_usdt
        )

    async def set_api_keys(
        self,
        user_id: int,
        *,
        exchange_id: str = "bitget",
        api_key: str,
        secret: str,
        passphrase: str | None = None,
        kind: str | None = None,
        account_hint: str | None = None,
        demo: bool = False,
    ) -> UserDTO:
        """Store the keys encrypted; the answer shows only a masked key. `kind`: the account kind the
        keys open (classic or uta), None when not known (found on the keys' first use)."""
        exchange, cleaned = _cleaned_keys(exchange_id, api_key, secret, passphrase)
        if kind is not None and kind not in ACCOUNT_KINDS:
            raise ValidationError("account_kind", f"account kind must be one of {ACCOUNT_KINDS}")
        async with self.db.write() as session:
            user = await q.lock_user(session, user_id)
            if user is None:
                raise NotFound("user")
            await self._refuse_bound_bots(session, user_id)
            user.exchange_id = exchange
            user.api_account_id = account_fingerprint(exchange, cleaned["api_key"])
            user.api_key_enc = self._cipher.encrypt(cleaned["api_key"])
            user.api_secret_enc = self._cipher.encrypt(cleaned["secret"])
            user.api_passphrase_enc = (
                self._cipher.encrypt(cleaned["passphrase"]) if cleaned["passphrase"] else None
            )
            user.api_key_hint = mask(cleaned["api_key"])
            user.api_account_kind = kind
            user.api_account_hint = account_hint
            user.api_keys_demo = demo
            user.updated_at = utcnow()
            await session.flush()
            dto = UserDTO.of(user)
        return self._remember(dto)

    async def clear_api_keys(self, user_id: int) -> UserDTO:
        async with self.db.write() as session:
            user = await q.lock_user(session, user_id)
            if user is None:
                raise NotFound("user")
            await self._refuse_bound_bots(session, user_id)
            user.api_key_enc = user.api_secret_enc = user.api_passphrase_enc = None
            user.api_key_hint = user.api_account_id = user.api_account_kind = user.api_account_hint = None
            user.trading_mode = "paper"
            user.updated_at = utcnow()
            await session.flush()
            dto = UserDTO.of(user)
        return self._remember(dto)

    async def account_kind_found(self, key: AccountKey, kind: str) -> None:
        """The exchange layer found the kind of the account a user's keys open (keys stored before kinds
        were, or an account the user upgraded: Bitget refused a call for its old kind). Stored with the
        keys; a change is told to the user."""
        try:
            user_id = int(key.account_id)
        except ValueError:
            return
        async with self.db.write() as session:
            user = await session.get(User, user_id)
            if user is None or user.api_key_enc is None or user.api_account_kind == kind:
                return
            before, user.api_account_kind = user.api_account_kind, kind
            user.updated_at = utcnow()
            if before is not None:
                await q.enqueue_alert(
                    session,
                    user_id=user.id,
                    chat_id=q.private_chat(user),
                    kind="account_kind_changed",
                    payload={"account_kind": kind, "before": before},
                )

    async def bots_on_other_venues(self, user_id: int, mode: str, *, demo: bool | None = None) -> list[int]:
        """The ids of the user's bots that a switch to `mode` is waiting for (running or stopping on
        another venue): the chat offers to stop them."""
        async with self.db.read() as session:
            user = await self._user(session, user_id)
            new_demo = bool(user.demo_trading) if demo is None else demo
            venue = ("demo" if new_demo else "live") if mode == "live" else "paper"
            return [
                b.id
                for b in await q.active_bots(session, user_id)
                if (b.is_running or b.stopping) and b.venue != venue
            ]

    async def bot_names(self, user_id: int, bot_ids: list[int]) -> list[str]:
        """The names of these bots of the user (others' are left out)."""
        async with self.db.read() as session:
            return [_name(b) for b in await q.active_bots(session, user_id) if b.id in set(bot_ids)]

    async def bots_on_keys(self, user_id: int) -> list[int]:
        """The ids of the bots a change of keys is waiting for (see `_refuse_bound_bots`)."""
        async with self.db.read() as session:
            return [b.id for b in await self._bound_bots(session, user_id)]

    async def _bound_bots(self, session, user_id: int) -> list[BotInstance]:  # type: ignore[no-untyped-def]
        """Bots on the account the keys open (live or demo) that run, stop or still hold anything."""
        return [
            b
            for b in await q.active_bots(session, user_id)
            if b.venue in ("live", "demo") and (b.is_running or b.stopping or await q.bot_holds(session, b))
        ]

    async def _refuse_bound_bots(self, session, user_id: int) -> None:  # type: ignore[no-untyped-def]
        bound = await self._bound_bots(session, user_id)
        if bound:
            raise BotsOnVenue([_name(b) for b in bound])

    async def _update(self, user_id: int, **values: object) -> UserDTO:
        async with self.db.write() as session:
            user = await self._user(session, user_id)
            for name, value in values.items():
                setattr(user, name, value)
            user.updated_at = utcnow()
            await session.flush()
            dto = UserDTO.of(user)
        return self._remember(dto)

    @staticmethod
    async def _user(session, user_id: int) -> User:  # type: ignore[no-untyped-def]
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound("user")
        return user


def _cleaned_keys(
    exchange_id: str, api_key: str, secret: str, passphrase: str | None
) -> tuple[str, dict[str, str | None]]:
    exchange = exchange_id.strip().lower()
    if exchange not in EXCHANGES:
        raise ValidationError("exchange", f"exchange must be one of: {', '.join(EXCHANGES)}")
    cleaned: dict[str, str | None] = {}
    for field, value in (("api_key", api_key), ("secret", secret), ("passphrase", passphrase)):
        text = (value or "").strip()
        if field != "passphrase" or exchange == "bitget":
            if not text or len(text) > SECRET_MAX or any(ch.isspace() for ch in text):
                raise ValidationError(field, f"{field} must be 1 to {SECRET_MAX} characters without spaces")
        cleaned[field] = text or None
    return exchange, cleaned


def _mask_account(account_id: str) -> str:
    """An exchange account id as the chat shows it: its last four digits."""
    return f"…{account_id[-4:]}" if len(account_id) >= 6 else "…"
