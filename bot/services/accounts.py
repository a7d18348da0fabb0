"""Users: registration from a Telegram identity, language, exchange keys and trading mode."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.services.dto import UserDTO
from bot.services.errors import NotAllowed, NotFound, ValidationError
from db.base import utcnow
from db.models import User
from db.session import Database
from engine.venues.live.credentials import CredentialCipher, mask

LANGUAGES = ("ko", "en")
EXCHANGES = ("bitget",)  # ccxt ids we support for live trading
MODES = ("paper", "live")
SECRET_MAX = 256
USER_CACHE_SIZE = 50_000


def language_from(language_code: str | None) -> str:
    """Telegram's language_code ('ko', 'ko-KR', 'en-US', None) to one of ours."""
    return "ko" if (language_code or "").lower().startswith("ko") else "en"


class Accounts:
    def __init__(
        self, db: Database, cipher: CredentialCipher, *, allowed_telegram_ids: frozenset[int] = frozenset()
    ):
        self.db = db
        self._cipher = cipher
        self.allowed_telegram_ids = allowed_telegram_ids
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
        """Create the user on first contact, else refresh chat id and names (the chosen language stays)."""
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
                            chat_id=chat_id,
                            username=(username or None) and username[:64],
                            first_name=(first_name or None) and first_name[:128],
                            language=language_from(language_code),
                        )
                        session.add(user)
                    else:
                        user.chat_id = chat_id
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
            user = await self._user(session, user_id)
            if mode == "live" and user.api_key_enc is None:
                raise ValidationError("trading_mode", "set your exchange API keys before live trading")
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
            user = await self._user(session, user_id)
            user.exchange_id = exchange
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
        return await self._update(
            user_id,
            api_key_enc=None,
            api_secret_enc=None,
            api_passphrase_enc=None,
            api_key_hint=None,
            trading_mode="paper",
        )

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
