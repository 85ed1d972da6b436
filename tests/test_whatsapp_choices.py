"""Choices on WhatsApp: a flow gives each option its stable id and, where it numbers them for
members, its number (``Button.number``); a typed answer maps back to an option by that number
(else its position) or by the option's own text, without reading titles. A number no option has
gets a short answer in the member's language; anything else is free text for the flow."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings, strategies as st

from bot.flows.types import Button, Message
from bot.i18n import translator
from bot.storage import whatsapp as store
from bot.whatsapp.render import Links, NoSuchOption, Option, as_options, render, typed_answer, typed_number
from tests.test_whatsapp_e2e import wa_say

EN = translator("en")
# the zero of a few scripts' decimal digits (Latin, fullwidth, Arabic-Indic, Persian, Devanagari,
# Bengali, Thai, Myanmar, mathematical bold): a member's keyboard may type any of them
ZEROS = (0x30, 0xFF10, 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0x1040, 0x1D7CE)
SPACES = st.text(st.sampled_from(" \t\n\u00a0\u3000"), max_size=3)
LATIN = st.text(st.characters(min_codepoint=ord("a"), max_codepoint=ord("z")), min_size=1, max_size=12)


def offered(options: list[tuple[str, str, int | None]]) -> list[Option]:
    """The options as the channel keeps them after rendering a flow's buttons."""
    rows = tuple((Button(title, data=option_id, number=number),) for option_id, title, number in options)
    return render(Message("whatsapp", "1", "Pick", rows), None, EN, Links(None))[0].options


@st.composite
def menus(draw) -> list[tuple[str, str, int | None]]:
    """1 to 30 options with letters for titles: numbered by the flow (distinct numbers, in any
    order, not necessarily from 1) or not numbered at all."""
    count = draw(st.integers(1, 30))
    titles = draw(st.lists(LATIN, min_size=count, max_size=count, unique=True))
    numbers = draw(st.none() | st.lists(st.integers(1, 999), min_size=count, max_size=count, unique=True))
    return [(f"x:{i}", f"Option {title}", None if numbers is None else numbers[i]) for i, title in enumerate(titles)]


def numbers_of(menu) -> dict[int, str]:
    """What a member reads as each option's number: the flow's, else its position."""
    if menu[0][2] is None:
        return {i + 1: option_id for i, (option_id, _, _) in enumerate(menu)}
    return {number: option_id for option_id, _, number in menu}


@st.composite
def typed_forms(draw, number: int) -> str:
    """``number`` as a member may type it: in any script's digits, with leading zeros, a "#" or
    "№" before it or a "." after it, spaces around it."""
    digits = str(number).zfill(draw(st.integers(len(str(number)), 3)))
    text = "".join(chr(draw(st.sampled_from(ZEROS)) + int(d)) for d in digits)
    return draw(SPACES) + draw(st.sampled_from(["", "#", "№"])) + text + draw(st.sampled_from(["", "."])) + draw(SPACES)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), menu=menus())
def test_any_typed_form_of_an_offered_number_chooses_that_option(data, menu):
    options = offered(menu)
    by_number = numbers_of(menu)
    number = data.draw(st.sampled_from(sorted(by_number)))
    typed = data.draw(typed_forms(number))
    assert typed_answer(options, typed) == by_number[number]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), menu=menus())
def test_a_number_no_option_has_is_answered_and_never_chooses(data, menu):
    options = offered(menu)
    by_number = numbers_of(menu)
    number = data.draw(st.integers(0, 999).filter(lambda n: n not in by_number))
    answer = typed_answer(options, data.draw(typed_forms(number)))
    flows_numbers = None if menu[0][2] is None else sorted(by_number)
    assert answer == NoSuchOption(number, len(menu), flows_numbers)


GARBAGE = ["", " ", "²", "½", "Ⅲ", "1.5", "2-3", "12a", "a1", "-1", "+2", "1 2", "1,", "#", "№", "2..", "##2",
           "1234", "0002", "٢٣٤٥", "2️⃣", "two", "/2", "2/"]


@settings(max_examples=300, deadline=None)
@given(menu=menus(), typed=st.sampled_from(GARBAGE) | st.text(max_size=12))
def test_anything_else_is_free_text_for_the_flow(menu, typed):
    """Not a number (nor one of the forms above) and not an option's text: the flow reads it."""
    assume(typed_number(typed) is None)  # (the cases above are checked not to be numbers below)
    assume(not typed.strip().casefold().startswith("option"))  # an option's text could be drawn
    assert typed_answer(offered(menu), typed) is None


def test_the_forms_that_are_not_numbers():
    assert [g for g in GARBAGE if typed_number(g) is not None] == []
    assert [typed_number(t) for t in ("2", " 2 ", "２", "#2", "№2", "2.", "02", "٢", "\u00a02\u3000")] \
        == [2] * 9


CYRILLIC = st.text(st.sampled_from("абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі "), min_size=1, max_size=16)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), titles=st.lists(CYRILLIC.filter(str.strip), min_size=1, max_size=12,
                                       unique_by=lambda t: " ".join(t.split())))
def test_an_options_text_typed_in_any_case_chooses_it(data, titles):
    options = offered([(f"t:{i}", ("✓ " if i == 0 else "") + title, None) for i, title in enumerate(titles)])
    which = data.draw(st.integers(0, len(titles) - 1))
    typed = "".join(c.upper() if data.draw(st.booleans()) else c for c in titles[which])
    assert typed_answer(options, f"  {typed} ") == f"t:{which}"


def test_kazakh_and_russian_texts_in_another_case():
    languages = offered([("lang:kk", "✓ қазақша", None), ("lang:ru", "русский", None), ("lang:en", "English", None)])
    assert typed_answer(languages, "ҚАЗАҚША") == "lang:kk" and typed_answer(languages, "Русский") == "lang:ru"
    answers = offered([("a:1", "Иә", None), ("a:0", "Жоқ", None)])
    assert typed_answer(answers, "иә") == "a:1" and typed_answer(answers, "ЖОҚ!") == "a:0"
    assert typed_answer(answers, "иә жоқ") is None
    # the checked-in percent "50%" typed as "50": its text, though no option is numbered 50
    percents = offered([(f"p:{p}", f"{p}%", None) for p in (0, 25, 50, 75, 100)])
    assert typed_answer(percents, "50") == "p:50" and typed_answer(percents, "2") == "p:25"


def test_the_flows_numbers_are_kept_with_the_options_and_a_row_from_before_reads_by_position():
    stored = store._load(store._dump([Option("d:1:3", "3 · Жол", 3), Option("ka:1", "➕ Propose a task")]))
    assert as_options(stored) == [Option("d:1:3", "3 · Жол", 3), Option("ka:1", "➕ Propose a task")]
    assert json.loads(store._dump([Option("a", "x")])) == [["a", "x"]]  # as rows were written before
    before = as_options(store._load('[["d:1:3", "3 · Жол"], ["d:1:1", "1 · Алаң"]]'))
    assert typed_answer(before, "2") == "d:1:1"  # no number was kept: by position


def test_a_numbered_button_is_stored_with_its_number_and_others_as_before():
    message = Message("whatsapp", "1", "Pick",
                      ((Button("3 · Жол", data="d:1:3", number=3),), (Button("Back", data="b"),)))
    stored = json.loads(message.to_json())["buttons"]
    assert stored[0][0]["number"] == 3 and "number" not in stored[1][0]
    assert Message.from_json(message.to_json()).buttons == message.buttons


# --- over the webhook ---------------------------------------------------------------------------
async def test_typed_numbers_in_other_digits_and_texts_in_another_case_answer_over_the_webhook(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    choose = await wa_say(wa, alma, "сәлем")
    assert [t for _, t in choose.options] == ["✓ қазақша", "русский", "English"]
    consent = await wa_say(wa, alma, " ２ ")  # fullwidth, spaces around: the second option
    assert consent.options[0] == ("consent:yes", "Даю согласие")
    ask = await wa_say(wa, alma, "ДАЮ СОГЛАСИЕ")
    assert ask.options == [("onbname", "Алма")]
    assert "Алма" in (await wa_say(wa, alma, "алма")).text  # the profile's name, typed in lower case
    async with wabot.db.transaction() as tx:
        assert await tx.scalar("SELECT locale FROM members") == "ru"


@pytest.mark.parametrize("language, agree, answer", [
    ("1", "Келісемін", "Мұндай нұсқа жоқ: 11. Нұсқаның нөмірін жазыңыз (1 – 10) немесе нұсқаны таңдаңыз."),
    ("2", "Даю согласие", "Варианта 11 нет. Напишите число от 1 до 10 или выберите вариант."),
    ("3", "I agree", "There is no option 11. Type a number from 1 to 10, or tap an option.")])
async def test_eleven_of_ten_is_answered_in_the_members_language(wa, wabot, language, agree, answer):
    alma = wa.user("77010000001", "Алма")
    await wa_say(wa, alma, "/start")
    await wa_say(wa, alma, language)  # қазақша, русский, English
    ask = await wa_say(wa, alma, agree)
    assert await wa.press(alma, ask, "Алма") == 200
    await wa.next_message(alma)  # the greeting
    assert (await wa.next_message(alma)).options  # and the menu
    ten = tuple((Button(f"Option {i}", data=f"zz:{i}"),) for i in range(1, 11))
    await wabot.delivery.deliver([Message("whatsapp", alma.wa_id, "Pick one", ten)])
    assert len((await wa.next_message(alma)).options) == 10
    assert (await wa_say(wa, alma, "11")).text == answer
    assert (await wa_say(wa, alma, "１１")).text == answer
    await wabot.channel.drain()
    await wa.assert_silent(alma)
