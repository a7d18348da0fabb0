"""An exchange's refusal as the chat tells it: the exchange's own code (Bitget answers
`{"code": "40009", "msg": ...}`, which ccxt's error text carries) and which sentence of the catalog
(bot/i18n/exchange.py, `exchange.error.<topic>`) says what it means, never the raw answer."""

from __future__ import annotations

import re

_CODE = re.compile(r'"code"\s*:\s*"?(\d{2,6})"?')

# Bitget's codes (its error-code table, as ccxt's bitget.describe()['exceptions'] lists them) by topic
TOPICS: dict[str, str] = {
    "40006": "key",  # Invalid ACCESS_KEY
    "40037": "key",  # Apikey does not exist
    "40001": "key",
    "40009": "secret",  # sign signature error
    "40012": "passphrase",  # apikey/password is incorrect
    "40011": "passphrase",
    "40008": "clock",  # Request timestamp expired
    "40014": "permission",  # Incorrect permissions
    "40018": "ip",  # Invalid IP
    "40084": "account_kind",  # a classic account's key on the unified API
    "40085": "account_kind",  # a unified account's key on the classic API
    "43012": "funds",  # Insufficient balance
    "40762": "funds",  # The order amount exceeds the balance
    "45110": "minimum",  # less than the minimum amount
    "429": "rate",  # Too Many Requests
    "40200": "maintenance",  # Server upgrade
    "40099": "environment",  # exchange environment is incorrect: demo keys live, or live keys in demo
}


def exchange_code(error: BaseException | str) -> str:
    """The exchange's code in an error's text ("" when it gave none)."""
    match = _CODE.search(str(error))
    return match.group(1) if match else ""


def topic(error: BaseException | str) -> str:
    """Which sentence tells the user what the refusal means ("other" for a code we do not know)."""
    return topic_of_code(exchange_code(error))


def topic_of_code(code: str) -> str:
    return TOPICS.get(code, "other")
