"""Cleaning what people type: names, titles and free text (no I/O)."""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides and isolates can disguise a name ("evil" shown as "live").
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_SPACES = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """Text as it can be stored and sent: a lone UTF-16 surrogate (valid in JSON, not in UTF-8)
    becomes U+FFFD instead of failing every write it reaches."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def clean_line(text: str) -> str:
    """One line of text: control characters and bidi overrides dropped, whitespace folded."""
    text = unicodedata.normalize("NFC", text).translate(_BIDI_CONTROLS)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return _SPACES.sub(" ", text).strip()


def message_lines(text: str, count: int) -> list[str]:
    """The first ``count`` lines of a message, each cleaned, an empty line kept empty (so a member
    can leave an optional line out); what follows the last one joins it."""
    lines = [clean_line(line) for line in unicodedata.normalize("NFC", text).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    head, rest = lines[:count - 1], lines[count - 1:]
    return head + [" ".join(x for x in rest if x)] + [""] * (count - 1 - len(head))


def clean_text(text: str) -> str:
    """Free text: as ``clean_line`` but keeping single line breaks."""
    lines = [clean_line(line) for line in unicodedata.normalize("NFC", text).splitlines()]
    return "\n".join(line for line in lines if line)


def small_int(text: str, digits: int = 12) -> int | None:
    """A non-negative whole number of at most ``digits`` ASCII digits, else None.

    ``str.isdigit`` alone lets through "²" and 40-digit numbers that overflow SQLite.
    """
    text = text.strip()
    if not text or len(text) > digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: whole when it fits, else cut at a word's end
    (mid-word only for a word longer than half the room) and ended with "…" — never cut silently."""
    if len(text) <= limit:
        return text
    room = max(1, limit - 1)
    cut = text[:room]
    if not text[room].isspace():
        space = cut.rfind(" ")
        if space >= room // 2:
            cut = cut[:space]
    return cut.rstrip(" ,.;:·—-…") + "…"  # a text cut before ("Нет освещения на… · 0") gets one "…", not two
