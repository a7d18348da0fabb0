"""Live exchange handles for users who trade with their own keys: decrypted here (the exchange layer is
the only place that decrypts), one ccxt client per account, shared by all of the account's bots.

The handle is reused while the user's keys, exchange and demo flag stay the same; new keys replace it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from engine.exchange import AuthenticationFailed
from engine.venues.live.account_kind import ACCOUNT_KINDS
from engine.venues.live.adapter import CcxtExchange
from engine.venues.live.credentials import CredentialCipher, Credentials
from engine.venues.live.registry import CcxtExchangeRegistry


class LiveAccount(Protocol):
    """What a live account needs of the user row (db.models.User has these fields)."""

    id: int
    exchange_id: str
    demo_trading: bool
    api_key_enc: str | None
    api_secret_enc: str | None
    api_passphrase_enc: str | None
    api_account_kind: str | None  # classic or uta (Bitget); None: detected on connection


class LiveAccounts:
    def __init__(self, registry: CcxtExchangeRegistry, cipher: CredentialCipher) -> None:
        self.registry = registry
        self._cipher = cipher
        self._handles: dict[tuple[int, bool], tuple[tuple[object, ...], CcxtExchange]] = {}
        self._lock = asyncio.Lock()

    async def exchange_for(self, user: LiveAccount, demo: bool | None = None) -> CcxtExchange:
        """The user's live exchange (`demo`: Bitget's demo trading; None: the user's own setting);
        AuthenticationFailed when no keys are stored."""
        if user.api_key_enc is None or user.api_secret_enc is None:
            raise AuthenticationFailed("no exchange API keys are set for live trading")
        demo = bool(user.demo_trading) if demo is None else demo
        fingerprint = (
            user.exchange_id,
            user.api_key_enc,
            user.api_secret_enc,
            user.api_passphrase_enc,
            demo,
        )
        async with self._lock:
            cached = self._handles.get((user.id, demo))
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            if cached is not None:
                await cached[1].close()  # the keys changed: release the old client
            credentials = Credentials.from_encrypted(
                self._cipher, user.api_key_enc, user.api_secret_enc, user.api_passphrase_enc
            )
            kind = user.api_account_kind if user.api_account_kind in ACCOUNT_KINDS else None
            handle = await self.registry.connect(
                user.exchange_id,
                user.id,
                credentials,
                demo=demo,
                kind=kind,  # type: ignore[arg-type]
            )
            self._handles[(user.id, demo)] = (fingerprint, handle)
            return handle

    async def close(self) -> None:
        self._handles.clear()
        await self.registry.close()
