"""The flows' neutral text markup and links (bot/markup.py, bot/links.py), as each channel shows them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import markup
from bot.flows.types import Button, Message, Toast
from bot.handlers.telegram import text as telegram_text, tme
from bot.links import Link
from bot.messages import Outcome
from bot.whatsapp.render import Links

WA = Links("77001234567")


def test_a_link_is_named_by_what_it_opens_and_read_back_from_its_address():
    for link in (Link.private("b_12"), Link.add_to_group("K7M2QX9P"), Link.web("https://example.kz/plan?a=1&b=2")):
        assert Link.parse(link.address) == link
    assert Link.private("g_3_tree").address == "private:g_3_tree"
    with pytest.raises(ValueError):
        Link.private("b 12")  # no start payload Telegram would take
    with pytest.raises(ValueError):
        Link.web("javascript:alert(1)")


def test_each_channel_writes_the_address():
    assert tme(Link.private("b_1"), "qatysu_bot") == "https://t.me/qatysu_bot?start=b_1"
    assert tme(Link.add_to_group("K7"), "qatysu_bot") == "https://t.me/qatysu_bot?startgroup=K7"
    assert WA.url(Link.private("b_1")) == "https://wa.me/77001234567?text=/start%20b_1"
    assert WA.url(Link.add_to_group("K7")) is None  # no group chat the bot joins on WhatsApp
    assert Links(None).in_text(Link.private("K7")) == "/start K7"  # no number known: what to type
    assert WA.url(Link.web("https://example.kz")) == tme(Link.web("https://example.kz"), "x") == "https://example.kz"


@given(st.text())
def test_a_text_without_links_goes_to_telegram_as_it_is(typed):
    text = f"<b>{markup.esc(typed)}</b> — {markup.italic(markup.esc(typed))}"
    assert markup.telegram(text, lambda link: "unused") == text


def test_links_in_a_text():
    text = (f"Join: {markup.link(Link.private('K7'))}\nAdd me: {markup.link(Link.add_to_group('K7'))}\n"
            f"{markup.link(Link.web('https://example.kz/?a=1&b=2'), markup.bold('the site'))}")
    assert telegram_text(Message("telegram", "1", text), "qatysu_bot") == (
        "Join: https://t.me/qatysu_bot?start=K7\nAdd me: https://t.me/qatysu_bot?startgroup=K7\n"
        '<a href="https://example.kz/?a=1&amp;b=2"><b>the site</b></a>')
    assert markup.whatsapp(text, WA.in_text) == (
        "Join: https://wa.me/77001234567?text=/start%20K7\nAdd me: \n*the site* (https://example.kz/?a=1&b=2)")
    assert markup.plain(text) == "Join: \nAdd me: \nthe site"
    assert markup.whatsapp("<b>#3</b> <i>Жол</i> &lt;b&gt; &amp; co", WA.in_text) == "*#3* _Жол_ <b> & co"


def test_a_typed_text_that_looks_like_a_link_stays_text():
    typed = markup.esc('<a href="private:b_1"></a> https://t.me/other_bot?start=x')
    assert markup.telegram(typed, lambda link: "https://t.me/qatysu_bot") == typed
    assert "wa.me" not in markup.whatsapp(typed, WA.in_text)
    # written by this version: a t.me address in a text is no link of ours, however it looks
    message = Message("whatsapp", "1", typed)
    assert Message.from_json(message.to_json()).text == typed


def test_links_are_stored_as_addresses():
    post = Message("telegram", "-1", "x", ((Button("Open", link=Link.private("b_1")), Button("Vote", data="d:1:1")),))
    stored = json.loads(post.to_json())
    assert stored["buttons"][0][0]["link"] == "private:b_1" and stored["buttons"][0][1]["link"] is None
    assert Message.from_json(post.to_json()) == post
    kept = Outcome(toast=Toast("Join first", link=Link.private("K7")))
    assert json.loads(kept.to_json())["toast"]["link"] == "private:K7"
    assert Outcome.from_json(kept.to_json()).toast == kept.toast


def test_a_kept_answer_of_schema_1_reads_its_toasts_telegram_url_as_a_link():
    kept = {"v": 1, "messages": [], "refresh": [],
            "toast": {"text": "Only members", "alert": False, "url": "https://t.me/qatysu_bot?start=K7M2QX9P"}}
    assert Outcome.from_json(json.dumps(kept)).toast == Toast("Only members", link=Link.private("K7M2QX9P"))
