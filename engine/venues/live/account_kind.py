"""Which kind of Bitget account a key opens: a classic account (API v2) or a unified trading account
(UTA, API v3; every account created since May 2026 is one). Each kind refuses the other's API: a
unified account's key gets 40085 on v2, a classic account's key 40084 on v3. The probe is v3's
account information (it needs no permission): answered means unified, 40084 means classic.

`KeyInfo` is what the probe (and v2's account information for a classic key) tells of the key: the
account id and whether it may read, trade and withdraw (Bitget's permission names: v3 `permType`
read-only / read-and-write and `permissions` uta_mgt, uta_trade, withdraw; v2 `authorities`, where
stow / coow / cpow are spot, futures order and futures position writes and wwow withdrawals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import ccxt

from engine.venues.live.errors import map_ccxt_error

AccountKind = Literal["classic", "uta"]
ACCOUNT_KINDS: tuple[AccountKind, ...] = ("classic", "uta")
CLASSIC_ON_V3 = "40084"

# v2 authorities (Bitget "Get Account Information"): read and write of spot, futures orders and positions
_V2_TRADE = frozenset({"stow", "coow", "cpow", "trade"})
_V2_READ = frozenset({"stor", "coor", "cpor"}) | _V2_TRADE | {"readonly", "trade"}
_V2_WITHDRAW = frozenset({"wwow"})


@dataclass(frozen=True, slots=True)
class KeyInfo:
    kind: AccountKind
    account_id: str
    can_read: bool
    can_trade: bool
    can_withdraw: bool


async def probe_kind(client: Any) -> tuple[AccountKind, dict[str, Any] | None]:
    """The kind of the account the ccxt client's key opens, and v3's account information when it is
    unified. Other refusals (a wrong key, secret or passphrase) come out as our errors."""
    try:
        answer = await client.privateUtaGetV3AccountInfo()
    except ccxt.BaseError as exc:
        if f'"{CLASSIC_ON_V3}"' in str(exc):
            return "classic", None
        raise map_ccxt_error(exc) from exc
    return "uta", (answer or {}).get("data") or {}


async def key_info(client: Any) -> KeyInfo:
    """What the key may do, on the account of either kind (sets the client's `uta` option to match)."""
    kind, data = await probe_kind(client)
    client.options["uta"] = kind == "uta"
    if kind == "uta":
        assert data is not None
        permissions = {str(p).lower() for p in data.get("permissions") or []}
        writable = str(data.get("permType", "")).lower() == "read-and-write"
        return KeyInfo(
            kind="uta",
            account_id=str(data.get("uid") or ""),
            can_read=True,
            can_trade=writable and "uta_trade" in permissions,
            can_withdraw=writable and "withdraw" in permissions,
        )
    try:
        answer = await client.privateSpotGetV2SpotAccountInfo()
    except ccxt.BaseError as exc:
        raise map_ccxt_error(exc) from exc
    data = (answer or {}).get("data") or {}
    authorities = {str(a).lower() for a in data.get("authorities") or []}
    return KeyInfo(
        kind="classic",
        account_id=str(data.get("userId") or ""),
        can_read=bool(authorities & _V2_READ),
        can_trade=bool(authorities & _V2_TRADE),
        can_withdraw=bool(authorities & _V2_WITHDRAW),
    )
