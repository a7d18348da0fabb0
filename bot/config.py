"""Settings from the environment and `.env` (every key is listed with a comment in .env.example)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_KEY_FILE = "multibot.key"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_api_base: str | None = None
    database_url: str = "sqlite+aiosqlite:///multibot.db"
    encryption_key: SecretStr | None = None
    encryption_key_file: Path = Path(DEFAULT_KEY_FILE)
    allowed_telegram_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    max_bots_per_user: int = Field(default=10, ge=1, le=100)
    max_leverage: int = Field(default=20, ge=1, le=100)
    paper_start_balance: Decimal = Field(default=Decimal("10000"), gt=0)
    maker_fee_rate: Decimal = Field(default=Decimal("0.0002"), ge=0, lt=1)
    taker_fee_rate: Decimal = Field(default=Decimal("0.0006"), ge=0, lt=1)
    price_feed: Literal["replay", "live"] = "replay"
    exchange_api_url: str | None = None
    # live and demo accounts follow their orders and the price over the exchange's websocket (off: REST only)
    exchange_streams: bool = True
    replay_speed: float = Field(default=1.0, gt=0, le=10_000)
    tick_interval: float = Field(default=1.0, gt=0, le=3600)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("allowed_telegram_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("exchange_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                Fernet(value.get_secret_value().encode())
            except (ValueError, TypeError):
                raise ValueError("must be a Fernet key (32 url-safe base64 bytes)") from None
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            token = value.get_secret_value()
            if not token:
                return None
            head, sep, tail = token.partition(":")
            if not sep or not head.isdigit() or not tail:
                raise ValueError("must look like 123456:ABC-DEF…")
        return value

    def fernet_key(self, *, create: bool = True) -> bytes:
        """The key that encrypts exchange credentials: ENCRYPTION_KEY, else a key file made once (0600).
        Without `create` a missing key file is an error (keys are stored: a new key would lose them)."""
        if self.encryption_key is not None:
            return self.encryption_key.get_secret_value().encode()
        path = self.encryption_key_file
        if not path.exists() and not create:
            raise SettingsError(
                f"ENCRYPTION_KEY is not set and the key file {path} is missing, but the database holds "
                "encrypted exchange keys: restore the key (a new one cannot read them)"
            )
        if path.exists():
            key = path.read_bytes().strip()
            try:
                Fernet(key)
            except ValueError:
                raise SettingsError(f"ENCRYPTION_KEY_FILE {path} does not hold a Fernet key") from None
            return key
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
        return key


def load_settings(**overrides: object) -> Settings:
    """Settings, or SettingsError with one line naming the bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"setting {name} is invalid: {first['msg']}") from None
