"""ccxt's errors as ours (engine.exchange), and the retries of the temporary ones with exponential
backoff and jitter."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import ccxt

from engine.exchange import (
    AuthenticationFailed,
    ExchangeError,
    ExchangeNotSupported,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    TemporaryExchangeError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of temporary errors: `attempts` tries in all, waiting base_delay * 2**n seconds
    (capped at max_delay) plus up to `jitter` of that at random, so 3,000 bots do not retry
    in step."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ValueError(f"invalid retry policy {self}")

    def delay(self, retry_index: int) -> float:
        delay = min(self.base_delay * (2**retry_index), self.max_delay)
        return delay + (random.uniform(0, delay * self.jitter) if self.jitter else 0.0)


class AccountKindMismatch(AuthenticationFailed):
    """Bitget refused the call for the account's kind: 40085, a unified account's key on the classic
    (v2) API, or 40084, a classic account's key on the unified (v3) API. The user upgraded their
    account (or the kind stored with the keys is wrong): the adapter detects the kind again and retries;
    where it cannot, this stays fatal like any authentication failure."""


WRONG_KIND_CODES = ("40084", "40085")


class RateLimited(TemporaryExchangeError):
    """Bitget's "too many requests": HTTP 429 with code 429 on REST, 30006 "request too many" on the
    websocket. Retried with backoff like any temporary error; never taken for a refused key (ccxt maps
    30006 to AuthenticationError, an old code of another API, which would stop the account's bots)."""


_TOO_MANY = re.compile(r'"code"\s*:\s*"?(429\d*|30006)"?|too many requests|request too many', re.IGNORECASE)


def map_ccxt_error(exc: BaseException) -> ExchangeError:
    """ccxt's exception hierarchy to ours (order matters: OrderNotFound is an InvalidOrder)."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ExchangeError):
        return exc
    if isinstance(exc, ccxt.BaseError) and any(f'"{code}"' in str(exc) for code in WRONG_KIND_CODES):
        return AccountKindMismatch(message)
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection) or (
        isinstance(exc, ccxt.BaseError) and _TOO_MANY.search(str(exc))
    ):
        return RateLimited(message)
    if isinstance(exc, ccxt.NetworkError | ccxt.OperationFailed):
        # NetworkError: timeouts, DDoSProtection / RateLimitExceeded, ExchangeNotAvailable /
        # OnMaintenance, InvalidNonce; OperationFailed also covers BadResponse and CancelPending.
        return TemporaryExchangeError(message)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFunds(message)
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFound(message)
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.ArgumentsRequired | ccxt.OperationRejected):
        return InvalidOrder(message)
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthenticationFailed(message)
    if isinstance(exc, ccxt.NotSupported):
        return ExchangeNotSupported(message)
    return ExchangeError(message)


def is_duplicate_client_id(error: BaseException | str) -> bool:
    """Bitget answers 40786 "Duplicate clientOid"; other exchanges map theirs to DuplicateOrderId."""
    text = str(error).lower()
    return isinstance(error, ccxt.DuplicateOrderId) or "40786" in text or "duplicate clientoid" in text


async def call_with_retry(
    policy: RetryPolicy,
    sleep: Sleep,
    fn: Callable[..., Awaitable[T]],
    *args: Any,
    name: str = "",
    **kwargs: Any,
) -> T:
    """Run an idempotent ccxt call; temporary errors are retried, the rest mapped and raised."""
    for attempt in range(policy.attempts):
        try:
            return await fn(*args, **kwargs)
        except ccxt.BaseError as exc:
            error = map_ccxt_error(exc)
            if not isinstance(error, TemporaryExchangeError) or attempt + 1 >= policy.attempts:
                raise error from exc
            delay = policy.delay(attempt)
            log.warning(
                "%s failed (%s), retry %d in %.2fs",
                name or fn.__name__,
                type(exc).__name__,
                attempt + 1,
                delay,
            )
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
