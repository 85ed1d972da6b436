"""Every message in the code is translated into kk, ru and en, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LOCALES, LOCALES_DIR, Translator

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"t": None, "tn": (1, 2), "N_": None}


def code_messages() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT / "bot"), method_map=[("**.py", "python")],
                                                keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def tags(text: str) -> list[str]:
    return sorted(re.findall(r"</?[a-z]+>", text))


def test_the_code_has_messages():
    assert len(code_messages()) > 50


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated(locale):
    po = catalog(locale)
    translated = {}
    for message in po:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        assert all(s.strip() for s in strings), f"{locale}: untranslated {key!r}"
        assert "fuzzy" not in message.flags, f"{locale}: fuzzy {key!r}"
        translated[key] = (message.id, strings)
    missing = code_messages() - translated.keys()
    assert not missing, f"{locale}: messages in the code but not in the catalog: {sorted(missing)[:5]}"


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_and_markup_match(locale):
    for message in catalog(locale):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        expected = set().union(*(fields(i) for i in ids))
        for s in strings:
            assert fields(s) <= expected | {"n"}, f"{locale}: {message.id!r} → {s!r} has unknown placeholders"
            assert fields(s) >= fields(ids[0]) - {"n"}, f"{locale}: {message.id!r} → {s!r} lost placeholders"
            assert tags(s) == tags(ids[0]), f"{locale}: {message.id!r} → {s!r} markup differs"


def test_kazakh_uses_the_methodology_terms():
    kk = Translator("kk")
    assert "ҚМҰТ" in kk.t("Initiative group (ҚМҰТ)")
    assert "қауымдастық" in kk.t("Create a community").lower()


def test_every_locale_formats_every_message():
    for locale in LOCALES:
        tr = Translator(locale)
        for message in catalog(locale):
            if not message.id or not isinstance(message.id, str):
                continue
            values = {name: "X" for name in fields(message.id)}
            tr.t(message.id, **values)  # raises on a broken placeholder
