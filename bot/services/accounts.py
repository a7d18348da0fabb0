"""Users: registration from a Telegram identity, language, exchange keys and trading mode.

A switch of mode never moves a bot: bots are bound to the venue they were started on (DESIGN.md), so a
switch is refused while bots run or stop on the other venue, and a change (or removal) of keys while
bots run on, stop on or hold anything on the account those keys open (BotsOnVenue names them).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.services.dto import UserDTO
from bot.services.errors import BotsOnVenue, NotAllowed, NotFound, ValidationError
from bot.services.validation import DELETED_NAME_SEPARATOR
from db import queries as q
from db.base import utcnow
from db.models import BotInstance, User
from db.session import Database
from engine.venues.live.credentials import CredentialCipher, mask

LANGUAGES = ("ko", "en")
EXCHANGES = ("bitget",)  # ccxt ids we support for live trading
MODES = ("paper", "live")
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
            if mode == "live" and user.api_key_enc is None:
                raise ValidationError("trading_mode", "set your exchange API keys before live trading")
            new_demo = bool(user.demo_trading) if demo is None else demo
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

    async def set_api_keys(
        self,
        user_id: int,
        *,
        exchange_id: str = "bitget",
        api_key: str,
        secret: str,
        passphrase: str | None = None,
    ) -> UserDTO:
        """Store the keys encrypted; the answer shows only a masked key."""
        exchange = exchange_id.strip().lower()
        if exchange not in EXCHANGES:
            raise ValidationError("exchange", f"exchange must be one of: {', '.join(EXCHANGES)}")
        cleaned = {}
        for field, value in (("api_key", api_key), ("secret", secret), ("passphrase", passphrase)):
            text = (value or "").strip()
            if field != "passphrase" or exchange == "bitget":
                if not text or len(text) > SECRET_MAX or any(ch.isspace() for ch in text):
                    raise ValidationError(
                        field, f"{field} must be 1 to {SECRET_MAX} characters without spaces"
                    )
            cleaned[field] = text or None
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
            user.api_key_hint = user.api_account_id = None
            user.trading_mode = "paper"
            user.updated_at = utcnow()
            await session.flush()
            dto = UserDTO.of(user)
        return self._remember(dto)

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
