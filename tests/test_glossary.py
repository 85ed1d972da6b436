"""One word for one thing: the catalogs use the glossary's terms (locales/glossary.toml) and none
of the variants it bans."""

from __future__ import annotations

import re
import tomllib

import pytest
from babel.messages.pofile import read_po

from bot.i18n import LOCALES, LOCALES_DIR

GLOSSARY = tomllib.loads((LOCALES_DIR / "glossary.toml").read_text(encoding="utf-8"))["term"]

# The handbook's terms (METHODOLOGY.md's table and step 3's tree): each must be in the glossary.
HANDBOOK = ["community", "participation", "initiative group", "brainstorming", "priority matrix",
            "pairwise ranking", "sticker voting", "problem tree", "roots", "trunk and branches", "leaves",
            "resource map", "institutional diagram", "action plan", "monitoring", "evaluation"]


def texts(locale: str) -> dict[str, list[str]]:
    """Every translation in the locale's catalog, by its English (singular) message."""
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        po = read_po(handle, locale=locale)
    return {(m.id if isinstance(m.id, str) else m.id[0]): ([m.string] if isinstance(m.string, str) else list(m.string))
            for m in po if m.id}


def uses(text: str, term: str) -> bool:
    """Each word of *term* starts a word of *text*, allowing for endings: «жұп» in «Жұптар»,
    «сообщество» in «сообщества»; a term without letters (such as #) appears as it is."""
    words = re.findall(r"\w+", term.lower())
    if not words:
        return term in text
    return all(re.search(r"(?<!\w)" + re.escape(w if len(w) <= 3 else w[:max(3, len(w) - 3)]), text.lower())
               for w in words)


def banned_uses(term: dict, locale: str, text: str) -> list[str]:
    """The banned variants of *term* that *text* uses, once its allowed phrases are set aside."""
    for allowed in term.get("allowed", {}).get(locale, []):
        text = re.sub(allowed, " ", text, flags=re.IGNORECASE)
    return [p for p in term.get("banned", {}).get(locale, []) if re.search(p, text, re.IGNORECASE)]


def test_every_handbook_term_is_in_the_glossary_in_three_languages():
    for name in HANDBOOK:
        found = [t for t in GLOSSARY if name in t["en"].lower()]
        assert found, f"the glossary lacks the handbook's term {name!r}"
        assert all(t.get(locale, "").strip() for t in found for locale in LOCALES)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_messages_use_the_glossary_terms(locale):
    catalog = texts(locale)
    for term in GLOSSARY:
        for message in term.get("messages", []):
            assert message in catalog, f"glossary: no message {message!r}"
            for text in catalog[message]:
                assert uses(text, term[locale]), f"{locale}: {message!r} → {text!r} does not say {term[locale]!r}"


@pytest.mark.parametrize("locale", LOCALES)
def test_no_catalog_uses_a_banned_variant(locale):
    found = [(message, text, banned)
             for message, strings in texts(locale).items() for text in strings
             for term in GLOSSARY for banned in banned_uses(term, locale, text)]
    assert not found, f"{locale}: banned variants (message, translation, pattern): {found[:5]}"


@pytest.mark.parametrize(("locale", "text", "hit"), [
    ("kk", "Жүптер", True), ("kk", "🗳 <b>Жүппен саралау</b> — 1/6 жұп", False),
    ("kk", "Дауыс беру үшін атын басыңыз, қайтару үшін қайта басыңыз.", True),
    ("kk", "Бизнес, ҰЕҰ немесе БАҚ", True), ("kk", "Бизнес, ҮЕҰ немесе БАҚ", False),
    ("kk", "Салдарлар (бұтақтар)", True), ("kk", "Жапсырма (стикер) әдісі", False),
    ("ru", "Выборы ИГ", True), ("ru", "Выборы инициативной группы", False), ("ru", "НКО", True),
    ("ru", "Стикер поставлен на №3.", True), ("ru", "Согласен(на)", True), ("ru", "Даю согласие", False),
    ("en", "Consequences (the branches)", True), ("en", "Consequences (the leaves)", False),
])
def test_the_check_catches_the_variants_the_catalogs_once_had(locale, text, hit):
    assert any(banned_uses(term, locale, text) for term in GLOSSARY) == hit
