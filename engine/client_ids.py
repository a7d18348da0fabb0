"""Client order ids: what every id the engine sends has in common.

Every id starts with the installation's namespace (five lowercase letters and digits, a letter first,
made by the first migration and stored in the `installation` table), then the bot's id and what the
order is for (engine.grid.intervals, engine.trend.positions). So the orders of another installation on
the same exchange account (a staging copy, a second deployment) never match one of ours, and an open
order that starts with our namespace and a bot's id is that bot's. An id is at most 32 characters of
letters and digits: within Bitget's limits for both account kinds (a unified account takes at most 32
of `[.A-Za-z0-9:/_-]`). An order sent again after its id was used gets a suffix (`next_client_id`).
"""

from __future__ import annotations

import re
import secrets
import string

MAX_LENGTH = 32
NAMESPACE_LENGTH = 5
BACKTEST_NAMESPACE = "bktst"  # ids of simulated orders that never reach a venue (backtests)
_VALID = re.compile(r"[A-Za-z0-9]{1,32}")
_NAMESPACE = re.compile(r"[a-z][a-z0-9]{4}")
_RESENT = re.compile(r"^(.*?)(?:r(\d+))?$")  # an id and how many times its order went out again


def new_namespace() -> str:
    """A fresh installation namespace."""
    alphabet = string.ascii_lowercase + string.digits
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(alphabet) for _ in range(NAMESPACE_LENGTH - 1)
    )


def check_namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"an installation namespace is 5 lowercase letters and digits, not {namespace!r}")
    return namespace


def checked(cid: str) -> str:
    """`cid` when it is a valid id (1..32 letters and digits); ValueError otherwise."""
    if not _VALID.fullmatch(cid):
        raise ValueError(f"client order id {cid!r} is not 1..{MAX_LENGTH} letters and digits")
    return cid


def bot_prefix(namespace: str, bot_id: int) -> str:
    """What every id of bot `bot_id` starts with; the letter that follows says which kind of order
    (so bot 1's prefix is never the start of bot 12's ids)."""
    if isinstance(bot_id, bool) or not isinstance(bot_id, int) or bot_id < 0:
        raise ValueError(f"bot_id must be a non-negative integer, got {bot_id!r}")
    return f"{check_namespace(namespace)}{bot_id}"


def belongs_to(cid: str | None, namespace: str, bot_id: int) -> bool:
    """The id is one bot `bot_id` of this installation made (any kind of order, resent or not)."""
    if not cid:
        return False
    prefix = bot_prefix(namespace, bot_id)
    return cid.startswith(prefix) and len(cid) > len(prefix) and cid[len(prefix)].isalpha()


def bot_of_client_id(cid: str | None) -> int | None:
    """The bot whose id `cid` is (the digits after the namespace), or None for an id no bot made."""
    if not cid or len(cid) <= NAMESPACE_LENGTH:
        return None
    digits = ""
    for char in cid[NAMESPACE_LENGTH:]:
        if not char.isdigit():
            break
        digits += char
    rest = cid[NAMESPACE_LENGTH + len(digits) :]
    return int(digits) if digits and rest[:1].isalpha() else None


def next_client_id(cid: str) -> str:
    """The id to use when `cid` was cancelled and its order must go out again: 'x' -> 'xr1' -> 'xr2'."""
    base, n = _RESENT.match(cid).groups()  # type: ignore[union-attr]
    return checked(f"{base}r{int(n or 0) + 1}")


def base_client_id(cid: str) -> str:
    """`cid` without its resend suffix: 'xr2' -> 'x'."""
    return _RESENT.match(cid).groups()[0]  # type: ignore[union-attr]
