"""What the emulator answers instead of running a call: the failures a test injects (error answers,
429s with retry_after, slow answers) and Telegram's flood control, with the record of every
retry_after given and of the call that followed it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from bot.sandbox.api_error import ApiError
from bot.sandbox.records import ApiCall, FailureRule, RateLimits, RetryAfterRecord

_STATUS_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class _Bucket:
    tokens: float
    updated_at: float

    def refill(self, now: float, rate: float, burst: int) -> None:
        self.tokens = min(float(burst), self.tokens + (now - self.updated_at) * rate)
        self.updated_at = now


class Faults:
    """Injected failures, slow methods and flood limits of one emulator (the outage is the emulator's).

    `failure_rules`: the injected rules, oldest first; the first active one matching a call answers it.
    `retry_after_log`: every 429 given, with the next call for the same chat (or method) after it.
    """

    def __init__(self) -> None:
        self.failure_rules: list[FailureRule] = []
        self.retry_after_log: list[RetryAfterRecord] = []
        self._slow: dict[str | None, float] = {}
        self._rate_limits: RateLimits | None = None
        self._chat_buckets: dict[int, _Bucket] = {}
        self._global_bucket: _Bucket | None = None
        self._penalty_until: dict[int, float] = {}

    def inject(
        self,
        method: str | None = None,
        *,
        status: int = 429,
        retry_after: int | None = None,
        count: int | None = 1,
        duration: float | None = None,
        chat_id: int | None = None,
        description: str | None = None,
    ) -> FailureRule:
        """Add a failure rule (see TelegramEmulator.inject_failures)."""
        if count is None and duration is None:
            raise ValueError("give a count, a duration, or both")
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        else:
            description = description or _STATUS_DESCRIPTIONS.get(status, "Error")
        rule = FailureRule(
            method=method.lower() if method else None,
            status=status,
            description=description,
            retry_after=retry_after,
            chat_id=chat_id,
            remaining=count,
            until=time.monotonic() + duration if duration is not None else None,
        )
        self.failure_rules.append(rule)
        return rule

    def clear(self) -> None:
        """Drop injected failures, slow methods and rate-limit penalties."""
        self.failure_rules.clear()
        self._slow.clear()
        self._penalty_until.clear()

    def slow(self, method: str | None, seconds: float | None) -> None:
        """Answer calls of `method` (None: every method) `seconds` late; 0 or None clears."""
        key = method.lower() if method else None
        if seconds:
            self._slow[key] = seconds
        else:
            self._slow.pop(key, None)

    def enforce_rate_limits(self, enabled: bool = True, *, limits: RateLimits | None = None) -> None:
        """Turn flood control on with `limits` (default: RateLimits()) or off; forgets past calls."""
        self._rate_limits = (limits or RateLimits()) if enabled else None
        self._chat_buckets.clear()
        self._global_bucket = None
        self._penalty_until.clear()

    def answer_delay(self, method: str) -> float:
        """Seconds to hold back the answer to a call of `method` (0: none)."""
        return self._slow.get(method.lower(), self._slow.get(None, 0.0))

    def failure_for(self, method: str, call: ApiCall) -> ApiError | None:
        """The error to answer `call` with instead of running it (None: run it); `method` in lower case.

        The call is first noted as the follow-up of earlier 429s, so early retries show.
        """
        self._note_followup(method, call)
        return self._injected_failure(method, call) or self._flood_control(method, call)

    def _retry_key_matches(self, record: RetryAfterRecord, method: str, chat_id: int | None) -> bool:
        if record.chat_id is not None:
            return chat_id == record.chat_id
        return method == record.method.lower()

    def _note_followup(self, method: str, call: ApiCall) -> None:
        if method in ("getupdates", "sendchataction"):
            return
        for record in self.retry_after_log:
            if record.next_call_at is None and self._retry_key_matches(record, method, call.chat_id):
                record.next_call_at = call.started_at
                record.next_call_method = call.method

    def _issue_429(
        self, call: ApiCall, retry_after: int, source: Literal["injected", "rate_limit"]
    ) -> ApiError:
        self.retry_after_log.append(
            RetryAfterRecord(
                method=call.method,
                chat_id=call.chat_id,
                retry_after=retry_after,
                issued_at=call.started_at,
                source=source,
            )
        )
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    def _injected_failure(self, method: str, call: ApiCall) -> ApiError | None:
        now = call.started_at
        for rule in self.failure_rules:
            if not rule.active(now) or not rule.matches(method, call.chat_id):
                continue
            rule.hits += 1
            if rule.remaining is not None:
                rule.remaining -= 1
            if rule.status == 429:
                retry_after = rule.retry_after or 1
                error = self._issue_429(call, retry_after, "injected")
                error.description = rule.description
                return error
            return ApiError(rule.status, rule.description)
        return None

    def _flood_control(self, method: str, call: ApiCall) -> ApiError | None:
        limits = self._rate_limits
        chat_id = call.chat_id
        if limits is None or method not in limits.methods or chat_id is None:
            return None
        now = call.started_at
        penalty = self._penalty_until.get(chat_id)
        if penalty is not None and now < penalty:
            return self._issue_429(call, max(1, math.ceil(penalty - now)), "rate_limit")
        bucket = self._chat_buckets.setdefault(chat_id, _Bucket(float(limits.per_chat_burst), now))
        bucket.refill(now, limits.per_chat_per_second, limits.per_chat_burst)
        if self._global_bucket is None:
            self._global_bucket = _Bucket(float(limits.global_burst), now)
        overall = self._global_bucket
        overall.refill(now, limits.global_per_second, limits.global_burst)
        wait = 0.0
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / limits.per_chat_per_second
        elif overall.tokens < 1:
            wait = (1 - overall.tokens) / limits.global_per_second
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self._penalty_until[chat_id] = now + retry_after
            return self._issue_429(call, retry_after, "rate_limit")
        bucket.tokens -= 1
        overall.tokens -= 1
        return None
