"""The Korean catalog is Korean (issue 16 section 6): no English word of ENGLISH_WORDS outside what a user
types or sees as code (placeholders, HTML tags, <code> spans, /commands); and every error.invalid.* text
whose rule has a limit names it, in both languages."""

from __future__ import annotations

import re

import pytest

from bot.i18n import CATALOG
from bot.services import validation as v
from bot.services.errors import ValidationError
from handlers.errors import error_text

# the words a half-translated text leaves behind (trading terms and the app's own buttons)
ENGLISH_WORDS = (
    "buy sell arithmetic geometric grid grids long short trigger stop stops profit loss leverage position "
    "positions order orders balance price range mode market limit fee fees maker taker start pause resume "
    "close cancel skip create delete edit trend strategy strategies backtest allocation investment wallet "
    "spot futures upper lower on off yes no done back next keep settings minimum maximum amount"
).split()
_WORD = re.compile(r"\b(" + "|".join(ENGLISH_WORDS) + r")\b", re.IGNORECASE)


def _prose(text: str) -> str:
    """The text a Korean reader reads: without placeholders, <code> spans, tags and /commands."""
    text = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"/[a-z_]+", " ", text)


def test_the_scan_sees_an_english_word_and_ignores_code() -> None:
    assert _WORD.findall(_prose("방향은 buy 또는 sell")) == ["buy", "sell"]
    assert _WORD.findall(_prose("<code>/trade BTCUSDT buy 0.1</code> {side} <b>매수</b> /stopall")) == []


def test_no_english_word_is_left_in_the_korean_texts() -> None:
    left = {
        key: found
        for key, text in CATALOG["ko"].items()
        if not key.startswith("strategies.")  # bot/i18n/strategies.py: its own pass (another branch)
        and (found := _WORD.findall(_prose(text)))
    }
    assert left == {}


# field -> what its text must name, from the rule in bot.services.validation
LIMITS = {
    "grid_count": (str(v.GRID_COUNT_MIN), str(v.GRID_COUNT_MAX)),
    "max_positions": (str(v.POSITIONS_MIN), str(v.POSITIONS_MAX)),
    "leverage": ("1", "{maximum}"),
    "name": (str(v.NAME_MAX),),
    "allocation": ("100",),
    "stop_loss": ("100",),
    "take_profit": (str(v.PERCENT_MAX),),
    "api_key": ("256",),
    "secret": ("256",),
    "passphrase": ("256",),
    "digest_minutes": ("1440",),
    "report_hour": ("23",),
    "quiet_hours": ("23",),
    "guard_drawdown": ("100",),
}


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("field", sorted(LIMITS))
def test_each_error_names_its_limit(field: str, lang: str) -> None:
    text = CATALOG[lang][f"error.invalid.{field}"]
    assert all(limit in text for limit in LIMITS[field]), text


@pytest.mark.parametrize("typed", ["abc", "0", "2.5", "21"])
def test_a_wrong_leverage_is_told_its_range_with_the_cap(typed: str) -> None:
    """Before, "Leverage is a whole number from 1 up to the allowed maximum" (no figure)."""
    with pytest.raises(ValidationError) as caught:
        v.validate_leverage(typed, 20)
    assert error_text(caught.value, "en") == "⚠️ Leverage is a whole number from 1 to 20."
    assert error_text(caught.value, "ko") == "⚠️ 레버리지는 1부터 20까지의 정수입니다."
