"""Texts in Korean and English. Each module of this package holds `TEXTS = {"en": {...}, "ko": {...}}` for one
area (common, bots, wizard, alerts, ...); they are merged here. Keys are dotted ("bots.card.title").
Placeholders use str.format fields ("{name}"); callers pass values already HTML-escaped where needed.
A test checks that both languages have every key with the same placeholders.
"""

from __future__ import annotations

import importlib
import pkgutil
from string import Formatter

LANGUAGES = ("en", "ko")
DEFAULT_LANGUAGE = "en"


def _load() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        texts = getattr(module, "TEXTS", None)
        if not isinstance(texts, dict):
            continue
        for lang, entries in texts.items():
            for key in entries:
                if key in merged[lang]:
                    raise RuntimeError(f"text key {key!r} ({lang}) defined twice")
            merged[lang].update(entries)
    return merged


CATALOG = _load()


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(template) if field}


def t(lang: str, key: str, **params: object) -> str:
    """The text `key` in `lang` (falling back to English), formatted with `params`."""
    table = CATALOG.get(lang) or CATALOG[DEFAULT_LANGUAGE]
    template = table.get(key) or CATALOG[DEFAULT_LANGUAGE].get(key)
    if template is None:
        raise KeyError(f"no text {key!r}")
    return template.format(**params) if params else template
