"""Client order ids: what every id the engine sends has in common (an order sent again gets a suffix)."""

from __future__ import annotations

import re

_RESENT = re.compile(r"^(.*?)(?:r(\d+))?$")  # an id and how many times its order went out again


def next_client_id(cid: str) -> str:
    """The id to use when `cid` was cancelled and its order must go out again: 'x' -> 'xr1' -> 'xr2'."""
    base, n = _RESENT.match(cid).groups()  # type: ignore[union-attr]
    return f"{base}r{int(n or 0) + 1}"


def base_client_id(cid: str) -> str:
    """`cid` without its resend suffix: 'xr2' -> 'x'."""
    return _RESENT.match(cid).groups()[0]  # type: ignore[union-attr]
