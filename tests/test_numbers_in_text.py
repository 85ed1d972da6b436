"""Numbers and times read right in every language: the plural rules of the catalogs, the Russian
forms after a number, and no Kazakh suffix glued to a placeholder (which breaks for some numbers:
«2-і», «сағат 18:30-де»)."""

from __future__ import annotations

import re
import string

import pytest
from babel.messages.pofile import read_po

from bot import i18n
from bot.i18n import LOCALES_DIR, Translator

NUMBERS = range(1, 31)
TIMES = [f"{hour:02}:{minute:02}" for hour in (9, 18) for minute in range(0, 60, 5)]
# After a placeholder: a letter, or a hyphen and letters, is a suffix; a hyphen before a noun
# stands for the ordinal ending and reads right for any number («{step}-қадам»: «3-қадам»,
# «{number}-цикл»: «2-цикл»).
SUFFIX = re.compile(r"-?[^\W\d_]")
NOUN_AFTER_ORDINAL = re.compile(r"-(қадам|цикл)")
RU = [1, 2, 5, 21, 22, 25, 111]


def catalog(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def translations(locale: str) -> list[tuple[object, str]]:
    return [(m.id, s) for m in catalog(locale) if m.id
            for s in ([m.string] if isinstance(m.string, str) else m.string)]


def rendered(template: str, value: str) -> tuple[str, list[int]]:
    """*template* with every placeholder filled with *value*, and where each filled value ends."""
    text, ends = "", []
    for literal, field, _, _ in string.Formatter().parse(template):
        text += literal
        if field is not None:
            text += value
            ends.append(len(text))
    return text, ends


def glued(text: str, ends: list[int]) -> list[str]:
    return [text[max(0, end - 12):end + 8] for end in ends
            if SUFFIX.match(text, end) and not NOUN_AFTER_ORDINAL.match(text, end)]


@pytest.mark.parametrize("value", [str(n) for n in NUMBERS] + TIMES)
def test_no_kazakh_message_glues_a_suffix_to_a_number_or_a_time(value):
    found = [(message, piece) for message, template in translations("kk")
             for piece in glued(*rendered(template, value))]
    assert not found, f"kk: a suffix after {value}: {found[:5]}"


def test_the_check_catches_the_suffixes_the_catalog_once_had():
    for template in ("{total} жұптың {position}-і", "{date} күні сағат {time}-де жабылады.", "{name}-ға"):
        assert glued(*rendered(template, "2"))
    for template in ("{position}/{total} жұп", "Жабылу уақыты: {date}, сағат {time}.", "{step}-қадам аяқталды."):
        assert not glued(*rendered(template, "18:30"))


def test_kazakh_has_one_form_after_a_number():
    """A Kazakh noun after a numeral stays singular («5 мүше»): one form, whatever the number."""
    kk = catalog("kk")
    assert kk.num_plurals == 1 and all(i18n.catalog("kk").plural(n) == 0 for n in RU)  # as compiled for tn
    assert all(len(m.string) == 1 for m in kk if m.id and not isinstance(m.id, str))
    raw = (LOCALES_DIR / "kk" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    assert "msgstr[1]" not in raw, "a second Kazakh form: run python scripts/update_catalogs.py"
    assert [Translator("kk").tn("{n} member voted.", "{n} members voted.", n) for n in (1, 5)] == \
        ["1 мүше дауыс берді.", "5 мүше дауыс берді."]


def test_russian_has_the_three_forms_of_its_plural_rule():
    ru = catalog("ru")
    assert ru.num_plurals == 3
    assert [i18n.catalog("ru").plural(n) for n in RU + [11, 12, 14, 0]] == [0, 1, 2, 0, 1, 2, 2, 2, 2, 2, 2]
    assert all(len(m.string) == 3 for m in ru if m.id and not isinstance(m.id, str))


@pytest.mark.parametrize(("singular", "plural", "values", "expected"), [
    ("That is {n} character; please keep it to {max}.", "That is {n} characters; please keep it to {max}.",
     {"max": 300}, ["Здесь 1 символ;", "Здесь 2 символа;", "Здесь 5 символов;", "Здесь 21 символ;",
                    "Здесь 22 символа;", "Здесь 25 символов;", "Здесь 111 символов;"]),
    ("{n} person at the meeting", "{n} people at the meeting", {},
     ["1 человек", "2 человека", "5 человек", "21 человек", "22 человека", "25 человек", "111 человек"]),
    ("{n} sticker each", "{n} stickers each", {},
     ["по 1 стикеру", "по 2 стикера", "по 5 стикеров", "по 21 стикеру", "по 22 стикера", "по 25 стикеров",
      "по 111 стикеров"]),
    ("{n} seat", "{n} seats", {},
     ["1 место", "2 места", "5 мест", "21 место", "22 места", "25 мест", "111 мест"]),
    ("{n} vote each", "{n} votes each", {},
     ["по 1 голосу", "по 2 голоса", "по 5 голосов", "по 21 голосу", "по 22 голоса", "по 25 голосов",
      "по 111 голосов"]),
])
def test_russian_nouns_agree_with_the_number(singular, plural, values, expected):
    ru = Translator("ru")
    for n, words in zip(RU, expected):
        assert words in ru.tn(singular, plural, n, **values)


COUNTED = ("символ", "человек", "стикер", "проблем", "задач", "ресурс", "организаци", "пункт", "кандидат",
           "мест", "голос", "побед", "участник", "пар", "запис", "выдвижени")


def test_no_russian_number_meets_a_noun_outside_plural_forms():
    """A placeholder followed by a noun that changes with the number is a plural message."""
    noun = re.compile(r"\{(?:n|max|min|total|present|stickers|seats|votes|wins|extra|left|yes|no)\}\s+(?:\w+\s+)?"
                      r"(?:%s)" % "|".join(COUNTED), re.IGNORECASE)
    found = [s for message, s in translations("ru") if isinstance(message, str) and noun.search(s)]
    assert not found, found[:5]


async def test_a_russian_facilitator_reads_the_paper_count_with_the_right_forms(sim):
    """«/paper» as a Russian reader sees it: «2 человека», «по 3 стикера», «1 бумажный стикер»."""
    from tests.conftest import build_community
    from tests.test_flows_step1 import TEXTS, button_for, group_ballot, propose_all

    c = await build_community(sim, 1, ("ru",))
    await c.facilitator.send("/lang")
    await c.facilitator.press("русский")
    await propose_all(c, TEXTS[:3])
    await c.facilitator.send("/poll dots", c.group)
    await c.members[0].press_data(button_for(await group_ballot(c), 1), c.group)
    await c.facilitator.send("/paper 2 2:4 3:3")
    assert c.facilitator.last().text == ("2 человека на собрании, у каждого по 3 стикера: всего можно поставить "
                                         "не больше 6.")
    await c.facilitator.send("/paper 2 2:4 3:1")
    assert c.facilitator.last().text.startswith("Записано: 2 человека на собрании, 5 бумажных стикеров.")
    await c.facilitator.send("/paper 21 2:1")
    assert c.facilitator.last().text.startswith("Записано: 21 человек на собрании, 1 бумажный стикер.")
