"""One-time confirmations of the two-step actions (trade, close, stop, stop all, delete, a mode switch, the
keys' removal, a strategy's deletion): the first tap stores the pending action here under a random token,
the confirm button carries only that token, and the second tap consumes it.

A token is bound to the user it was shown to and to its action, expires after `ttl` seconds and is
consumed exactly once: `consume` takes it out of the store with no await between the look-up and the
removal, so of two presses that race (two updates handled at once) one acts and the other is told the
confirmation was already used. Forged, stolen (another user's), mistyped and expired tokens act on nothing
and say why. A confirmation is the user's next step or none: a cancel revokes its token, and so does
anything else the user does first (`forget`, called for every other update of theirs), so a confirm
button that left the screen (cancelled, or replaced by another screen) never acts later. A user has at
most `per_user` pending confirmations.

Held in this process's memory, not in the database: a pending confirmation lives for minutes, belongs to
the process that showed it (one polls Telegram at a time) and is worth nothing after a restart (its button
then says "expired", which is the truth). The store is bounded: `per_user` pending and as many spent
tokens per user (kept until they would have expired, to tell a replay from a forgery), and users whose
tokens all expired are swept.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from bot.services.errors import DomainError

TTL = 300.0  # seconds a confirmation stays valid after it was shown
PER_USER = 5  # pending confirmations per user; a sixth revokes the oldest
TOKEN_BYTES = 9  # 72 random bits, 12 characters of callback data
SWEEP_EVERY = 1_000  # issues between sweeps of every user's expired tokens


class ConfirmationRefused(DomainError):
    """The confirm button acted on nothing; `code` says why."""

    code = "confirmation_unknown"


class ConfirmationUsed(ConfirmationRefused):
    code = "confirmation_used"

    def __init__(self) -> None:
        super().__init__("this confirmation was already used")


class ConfirmationExpired(ConfirmationRefused):
    code = "confirmation_expired"

    def __init__(self) -> None:
        super().__init__("this confirmation has expired")


class ConfirmationOutdated(ConfirmationRefused):
    """Cancelled, or the user did something else after it was shown."""

    code = "confirmation_outdated"

    def __init__(self) -> None:
        super().__init__("this confirmation is no longer current")


class ConfirmationUnknown(ConfirmationRefused):
    """Forged, another user's, or meant for another action."""

    code = "confirmation_unknown"

    def __init__(self) -> None:
        super().__init__("this confirmation is not valid")


@dataclass(frozen=True, slots=True)
class Pending:
    action: str
    params: Mapping[str, Any]
    expires_at: float


@dataclass(slots=True)
class _UserTokens:
    pending: OrderedDict[str, Pending]  # oldest first
    gone: OrderedDict[str, tuple[type[ConfirmationRefused], float]]  # used or expired -> forget at


class Confirmations:
    def __init__(
        self,
        ttl: float = TTL,
        per_user: int = PER_USER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.per_user = per_user
        self.clock = clock
        self._users: dict[int, _UserTokens] = {}
        self._issued = 0

    @property
    def size(self) -> int:
        """Tokens held (pending, used and expired), over all users."""
        return sum(len(u.pending) + len(u.gone) for u in self._users.values())

    def issue(self, user_id: int, action: str, **params: Any) -> str:
        """A new token for `action` with `params` (ids, a symbol, a quantity as text), for `user_id` only."""
        now = self.clock()
        self._issued += 1
        if self._issued % SWEEP_EVERY == 0:
            self.sweep()
        tokens = self._users.setdefault(user_id, _UserTokens(OrderedDict(), OrderedDict()))
        self._age(tokens, now)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        tokens.pending[token] = Pending(action, MappingProxyType(dict(params)), now + self.ttl)
        while len(tokens.pending) > self.per_user:  # the oldest screen's button no longer acts
            tokens.pending.popitem(last=False)
        return token

    def consume(self, user_id: int, token: str, action: str) -> Mapping[str, Any]:
        """The params of the pending `action` under `token`, taken out of the store: only once, only by its
        user, only before it expires. Raises a ConfirmationRefused otherwise (and nothing is consumed)."""
        tokens = self._users.get(user_id)
        if tokens is None:
            raise ConfirmationUnknown()
        self._age(tokens, self.clock())  # no await from here to the end: two presses cannot both pass
        pending = tokens.pending.get(token)
        if pending is None or pending.action != action:
            refusal = tokens.gone.get(token)
            raise refusal[0]() if refusal is not None else ConfirmationUnknown()
        del tokens.pending[token]
        self._remember(tokens, token, ConfirmationUsed, pending.expires_at + self.ttl)
        return pending.params

    def revoke(self, user_id: int, token: str, action: str) -> Pending | None:
        """Cancel: the token acts no more. The pending `action` it held, if it was still pending."""
        tokens = self._users.get(user_id)
        pending = tokens.pending.get(token) if tokens is not None else None
        if tokens is None or pending is None or pending.action != action:
            return None
        del tokens.pending[token]
        self._remember(tokens, token, ConfirmationOutdated, pending.expires_at + self.ttl)
        return pending

    def forget(self, user_id: int) -> None:
        """The user did something else: none of their pending confirmations acts any more."""
        tokens = self._users.get(user_id)
        if tokens is None:
            return
        now = self.clock()
        self._age(tokens, now)
        while tokens.pending:
            token, pending = tokens.pending.popitem(last=False)
            self._remember(tokens, token, ConfirmationOutdated, pending.expires_at + self.ttl)
        self._forget_if_empty(user_id, tokens, now)

    def sweep(self) -> None:
        """Forget every token past its time, and the users left with none."""
        now = self.clock()
        for user_id, tokens in list(self._users.items()):
            self._forget_if_empty(user_id, tokens, now)

    def _forget_if_empty(self, user_id: int, tokens: _UserTokens, now: float) -> None:
        self._age(tokens, now)
        if not tokens.pending and not tokens.gone:
            self._users.pop(user_id, None)

    def _age(self, tokens: _UserTokens, now: float) -> None:
        """Expired pending tokens are remembered as expired for one more `ttl`, used ones as used: a late or
        second tap is told what happened, a forged one that it is not valid."""
        for token in [t for t, p in tokens.pending.items() if p.expires_at <= now]:
            expired = tokens.pending.pop(token)
            self._remember(tokens, token, ConfirmationExpired, expired.expires_at + self.ttl)
        for token in [t for t, (_, until) in tokens.gone.items() if until <= now]:
            del tokens.gone[token]

    def _remember(
        self, tokens: _UserTokens, token: str, refusal: type[ConfirmationRefused], until: float
    ) -> None:
        tokens.gone[token] = (refusal, until)
        while len(tokens.gone) > 2 * self.per_user:
            tokens.gone.popitem(last=False)
