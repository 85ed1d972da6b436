"""Translations: the gettext catalogs in ``locales/`` compiled in memory at start.

The ``.po`` sources live in the checkout's top-level ``locales/``; a built wheel carries them
as ``bot/locales/`` (``setup.py`` copies them in), which is read when it is there.

Messages use ``str.format`` placeholders (``{name}``); ``t`` and ``tn`` are the markers that
``pybabel extract -k t -k tn:1,2 -k N_`` finds.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = ("kk", "ru", "en")
DEFAULT = "kk"
_PACKAGED = Path(__file__).resolve().parent / "locales"  # in an installed wheel
LOCALES_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parent.parent / "locales"
LANGUAGE_NAMES = {"kk": "қазақша", "ru": "русский", "en": "English"}


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated later, where the reader is known."""
    return message


def _po(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"


def missing_catalogs() -> list[str]:
    """The locales whose catalog cannot be found (the bot would speak English to their readers)."""
    return [locale for locale in LOCALES if not _po(locale).is_file()]


@lru_cache(maxsize=None)
def catalog(locale: str) -> gettext.NullTranslations:
    path = _po(locale)
    if locale not in LOCALES or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        po = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, po, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick_locale(language_code: str | None, fallback: str = DEFAULT) -> str:
    """The locale for a client language code such as ``ru-RU``; Kazakh when we don't speak it."""
    if language_code:
        code = language_code.split("-")[0].split("_")[0].lower()
        if code in LOCALES:
            return code
    return fallback


class Translator:
    """Translates into one locale; placeholders are filled after translation."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT
        self._catalog = catalog(self.locale)

    def t(self, message: str, **values: object) -> str:
        text = self._catalog.gettext(message)
        return text.format(**values) if values else text

    def tn(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self._catalog.ngettext(singular, plural, n)
        return text.format(n=n, **values)

    @property
    def decimal(self) -> str:
        """The decimal separator of the locale: a comma in Kazakh and Russian (3,7), a point in English."""
        return "." if self.locale == "en" else ","

    def num(self, value: float, places: int = 1) -> str:
        """A number as the locale writes it: ``num(3.72)`` is "3,7" in kk and ru, "3.7" in en."""
        return f"{value:.{places}f}".replace(".", self.decimal)


def translator(locale: str) -> Translator:
    return _translators.get(locale) or _translators.setdefault(locale, Translator(locale))


_translators: dict[str, Translator] = {}
