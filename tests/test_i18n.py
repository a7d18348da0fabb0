"""The text catalog: every key in Korean and English with the same placeholders, valid Telegram HTML, and
every key the handlers use (and every domain error the services raise) has a text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bot.services.fleet  # noqa: F401  (defines DomainError subclasses of its own)
from bot.i18n import CATALOG, LANGUAGES, placeholders, t
from bot.sandbox.formatting import render_text
from bot.services.errors import DomainError

REPO = Path(__file__).resolve().parent.parent
ALL_KEYS = sorted(set().union(*(CATALOG[lang] for lang in LANGUAGES)))
NAMESPACES = {key.split(".", 1)[0] for key in ALL_KEYS}
T_CALL = re.compile(r"""\bt\(\s*[\w.]+\s*,\s*["']([^"'{}]+)["']""")
KEY_LITERAL = re.compile(r"""["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
RESERVED = {"lang", "key"}  # t()'s own parameters cannot be placeholders


def test_both_languages_have_every_key() -> None:
    for lang in LANGUAGES:
        missing = [key for key in ALL_KEYS if key not in CATALOG[lang]]
        assert not missing, f"{lang} lacks {missing}"


@pytest.mark.parametrize("key", ALL_KEYS)
def test_placeholders_match_and_the_html_parses(key: str) -> None:
    fields = {lang: placeholders(CATALOG[lang][key]) for lang in LANGUAGES}
    assert fields["en"] == fields["ko"], f"{key}: {fields}"
    assert not fields["en"] & RESERVED, f"{key} uses a reserved placeholder name"
    for lang in LANGUAGES:
        text = t(lang, key, **dict.fromkeys(fields[lang], "1"))
        render_text(text, "HTML")  # raises like Telegram on a broken tag


def _handler_sources() -> list[tuple[Path, str]]:
    return [(path, path.read_text(encoding="utf-8")) for path in sorted((REPO / "handlers").glob("*.py"))]


def test_every_key_used_in_the_handlers_exists() -> None:
    used = set()
    for path, source in _handler_sources():
        used |= {(path.name, key) for key in T_CALL.findall(source)}
        # keys handed to keyboard helpers: any dotted literal in one of the catalog's namespaces
        used |= {
            (path.name, key) for key in KEY_LITERAL.findall(source) if key.split(".", 1)[0] in NAMESPACES
        }
    missing = sorted((name, key) for name, key in used if key not in CATALOG["en"])
    assert not missing, missing
    assert len(used) > 50  # the scan does find the keys


def _subclasses(cls: type) -> set[type]:
    direct = set(cls.__subclasses__())
    return direct.union(*(_subclasses(sub) for sub in direct))


def test_every_domain_error_has_a_text() -> None:
    codes = {error.code for error in _subclasses(DomainError)} - {"invalid"}
    missing = sorted(code for code in codes if f"error.{code}" not in CATALOG["en"])
    assert not missing, missing


def test_every_validated_field_has_a_text() -> None:
    sources = "\n".join(
        (REPO / "bot" / "services" / name).read_text(encoding="utf-8")
        for name in ("validation.py", "accounts.py")
    )
    fields = set(re.findall(r"""ValidationError\(\s*["']([a-z_]+)["']""", sources))
    fields |= set(re.findall(r"""validate_price\([^,()]+,\s*["']([a-z_]+)["']""", sources))
    fields |= set(re.findall(r"""parse_(?:decimal|int)\([^,()]+,\s*["']([a-z_]+)["']""", sources))
    fields |= {"api_key", "secret", "passphrase"}  # Accounts.set_api_keys names them in a loop
    assert {"allocation", "leverage", "lower_price", "trading_mode"} <= fields
    missing = sorted(field for field in fields if f"error.invalid.{field}" not in CATALOG["en"])
    assert not missing, missing
