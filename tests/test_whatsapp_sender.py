"""Sending on WhatsApp: a flow's message rendered within WhatsApp's limits, paged lists, media
uploaded once, the 24-hour window and its template, and the Cloud API's errors for the outbox."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import replace

import pytest

from bot import markup
from bot.flows.types import Button, Chart, Message
from bot.i18n import translator
from bot.links import Link
from bot.outbox import OutboxWorker
from bot.whatsapp.render import Links, Option, formatted, render, shorten, typed_option
from tests.fakes.telegram import tiny_png
from tests.test_whatsapp_e2e import start_whatsapp, wa_say

EN = translator("en")


def options(n: int, title: str = "Option") -> tuple:
    return tuple((Button(f"{title} {i}", data=f"zz:{i}"),) for i in range(1, n + 1))


def test_html_becomes_whatsapp_formatting():
    assert formatted("<b>#3</b> <i>Жол</i> &lt;b&gt; &amp; co", Links(None)) == "*#3* _Жол_ <b> & co"


def test_titles_are_cut_at_a_word_with_an_ellipsis():
    assert shorten("Мектеп автобусы кешігеді", 20) == "Мектеп автобусы…"
    assert shorten("Балалар алаңы жоқ", 20) == "Балалар алаңы жоқ"
    assert len(shorten("Жолжөндеукереккөктемдесубасыпқалады", 20)) == 20
    # a title the flow cut already is cut again with one ellipsis, not two (the demo showed "на……")
    assert shorten("3 · Нет освещения на… · 0", 24) == "3 · Нет освещения на…"


def test_three_options_are_buttons_ten_a_list_more_a_paged_list():
    links = Links(None)
    [three] = render(Message("whatsapp", "1", "Pick", options(3)), None, EN, links)
    assert three.payload["interactive"]["type"] == "button"
    [ten] = render(Message("whatsapp", "1", "Pick", options(10)), None, EN, links)
    assert ten.payload["interactive"]["type"] == "list"
    assert len(ten.payload["interactive"]["action"]["sections"][0]["rows"]) == 10
    [many] = render(Message("whatsapp", "1", "Pick", options(25)), None, EN, links)
    rows = many.payload["interactive"]["action"]["sections"][0]["rows"]
    assert [r["title"] for r in rows][-2:] == ["Option 9", "More…"] and len(rows) == 10
    assert len(many.options) == 25


def test_long_titles_are_listed_in_full_in_the_body():
    long = ((Button("🅰 #1 Жол жөндеу керек, көктемде су басып қалады", data="a", number=1),),
            (Button("🅱 #2 Балалар алаңы жоқ", data="b", number=2),))
    [part] = render(Message("whatsapp", "1", "Which is <b>more pressing</b>?", long), None, EN, Links(None))
    body = part.payload["interactive"]["body"]["text"]
    assert body.startswith("Which is *more pressing*?")
    # each option shows its own number (#1, #2), the one to type: no position before it to confuse it with
    assert "\n🅰 #1 Жол жөндеу керек, көктемде су басып қалады\n🅱 #2 Балалар алаңы жоқ" in body
    titles = [b["reply"]["title"] for b in part.payload["interactive"]["action"]["buttons"]]
    assert titles[0] == "🅰 #1 Жол жөндеу…" and all(len(t) <= 20 for t in titles)


def test_options_without_numbers_of_their_own_are_listed_by_position_and_typed_so():
    options = [("a", "Жол жөндеу керек, көктемде су басып қалады"), ("b", "Балалар алаңы жоқ")]
    rows = tuple((Button(title, data=option_id),) for option_id, title in options)
    [part] = render(Message("whatsapp", "1", "Which?", rows), None, EN, Links(None))
    assert "1. Жол жөндеу керек, көктемде су басып қалады\n2. Балалар алаңы жоқ" in (
        part.payload["interactive"]["body"]["text"])
    assert typed_option(part.options, 2) == "b" and typed_option(part.options, 3) is None


def offered(*options: tuple) -> list[Option]:
    """The options of a message whose buttons are (id, title[, the number the flow gave it])."""
    rows = tuple((Button(o[1], data=o[0], number=o[2] if len(o) > 2 else None),) for o in options)
    return render(Message("whatsapp", "1", "Pick", rows), None, EN, Links(None))[0].options


def test_a_typed_number_is_the_number_the_flow_gave_the_option():
    dots = [("d:1:3", "✅ 3 · Мектеп автобусы · 1", 3), ("d:1:1", "1 · Жол · 0", 1), ("d:1:2", "2 · Алаң · 0", 2)]
    shown = offered(*dots)
    assert typed_option(shown, 1) == "d:1:1" and typed_option(shown, 3) == "d:1:3" and typed_option(shown, 4) is None
    confirm = offered(("ch:2", "✅ Confirm #2", 2), ("ch:1", "✅ Confirm #1", 1))
    assert typed_option(confirm, 1) == "ch:1"
    assert typed_option(offered(("x", "#1 A", 1), ("y", "#1 B", 1)), 2) == "y"  # the same number twice: by position
    assert typed_option(offered(("r", "2", 2), ("s", "✅ 3", 3)), 3) == "s"
    # numbered options beside others (the plan's offers, then "Propose a task"): a number is the flow's
    plan = offered(("kv:1:2", "🙋 I can do #2", 2), ("kv:1:5", "🙋 I can do #5", 5), ("ka:1", "➕ Propose a task"))
    assert typed_option(plan, 2) == "kv:1:2" and typed_option(plan, 5) == "kv:1:5" and typed_option(plan, 3) is None
    # a title that shows a number the flow did not give (a name someone typed) is not read: by position
    names = offered(("n:1", "#3 Алма"), ("n:2", "2 · Бек"))
    assert typed_option(names, 3) is None and typed_option(names, 2) == "n:2" and typed_option(names, 1) == "n:1"
    # the problems listed above the options already: not listed again
    rows = tuple((Button(title, data=option_id, number=number),) for option_id, title, number in dots)
    [part] = render(Message("whatsapp", "1", "3. Мектеп автобусы\n1. Жол\n2. Алаң", rows), None, EN, Links(None))
    assert part.payload["interactive"]["body"]["text"] == "3. Мектеп автобусы\n1. Жол\n2. Алаң"
    cut = [("d:1:1", "1 · Ауыл ішіндегі жол жөндеуді… · 0", 1), ("d:1:2", "2 · Ауыз су күніне бірнеше… · 0", 2)]
    rows = tuple((Button(title, data=option_id, number=number),) for option_id, title, number in cut)
    text = "1. Ауыл ішіндегі жол жөндеуді қажет етеді\n2. Ауыз су күніне бірнеше сағат қана беріледі"
    [part] = render(Message("whatsapp", "1", text, rows), None, EN, Links(None))
    assert part.payload["interactive"]["body"]["text"] == text  # cut by the flow already: its start is above


def neutral_and_stored_before() -> list[Message]:
    """One message with links, as the flows write it now and as an outbox row of schema 1 held it
    (Telegram's URLs): both are shown alike."""
    neutral = Message("whatsapp", "1", f"Join: {markup.link(Link.private('AB12CD34'))} or add "
                      f"{markup.link(Link.add_to_group('AB12CD34'))}",
                      ((Button("Vote", link=Link.private("b_12")),), (Button("Site", link=Link.web("https://example.kz/plan")),)))
    row = {"v": 1, "channel": "whatsapp", "chat_id": "1",
           "text": "Join: https://t.me/qatysu_bot?start=AB12CD34 or add https://t.me/qatysu_bot?startgroup=AB12CD34",
           "buttons": [[{"text": "Vote", "data": None, "url": "https://t.me/qatysu_bot?start=b_12", "contact": False}],
                       [{"text": "Site", "data": None, "url": "https://example.kz/plan", "contact": False}]],
           "chart": None, "document": None, "tag": None, "edit": False, "durable": False, "drawn_at": 1780000000.0}
    stored = Message.from_json(json.dumps(row))
    assert stored == replace(neutral, drawn_at=stored.drawn_at)
    return [neutral, stored]


@pytest.mark.parametrize("which", [0, 1], ids=["neutral", "stored-before"])
def test_telegram_links_never_reach_whatsapp(which):
    message = neutral_and_stored_before()[which]
    [linked] = render(message, None, EN, Links("77001234567"))
    text = linked.payload["interactive"]["body"]["text"]
    assert "t.me" not in text
    assert "https://wa.me/77001234567?text=/start%20AB12CD34" in text
    # a button into the bot's own chat is an option doing what the link does: she is in that chat already
    assert "Site: https://example.kz/plan" in text and "b_12" not in text
    assert linked.options == [Option("wa:start:b_12", "Vote")]
    [unlinked] = render(message, None, EN, Links(None))
    text = unlinked.payload["interactive"]["body"]["text"]
    assert "t.me" not in text and "wa.me" not in text and unlinked.options == [Option("wa:start:b_12", "Vote")]
    assert "/start AB12CD34" in text  # what to type instead
    assert text.startswith("Join: /start AB12CD34 or add\nSite:")  # the group link means nothing here: left out


def test_long_bodies_go_first_as_text_then_the_options():
    parts = render(Message("whatsapp", "1", "x" * 3000, options(2)), None, EN, Links(None))
    assert [p.payload["type"] for p in parts] == ["text", "interactive"]
    assert parts[1].payload["interactive"]["body"]["text"] == "Choose an option:"
    chunks = render(Message("whatsapp", "1", ("y" * 100 + "\n") * 90), None, EN, Links(None))
    assert len(chunks) == 3 and all(len(p.payload["text"]["body"]) <= 4096 for p in chunks)


async def test_a_paged_list_shows_its_next_page_and_a_typed_number_picks_from_all(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    await wa_say(wa, alma, "/start")
    await wabot.delivery.deliver([Message("whatsapp", alma.wa_id, "Pick one", options(25))])
    first = await wa.next_message(alma)
    assert [t for _, t in first.options] == [f"Option {i}" for i in range(1, 10)] + ["Тағы…"]
    await wa.press(alma, first, "Тағы…")
    second = await wa.next_message(alma)
    assert [t for _, t in second.options] == [f"Option {i}" for i in range(10, 19)] + ["Тағы…"]
    await wa.press(alma, second, "Тағы…")
    third = await wa.next_message(alma)
    assert [t for _, t in third.options] == [f"Option {i}" for i in range(19, 26)]
    assert not wa.refused


async def test_a_chart_is_uploaded_once_for_every_recipient_and_edits_are_not_sent(wa, wabot):
    people = [wa.user(f"7701000000{i}", f"M{i}") for i in range(3)]
    for person in people:
        await wa_say(wa, person, "/start")
    chart = Chart(render=tiny_png, filename="result.png")
    await wabot.delivery.deliver([Message("whatsapp", p.wa_id, "<b>Result</b>", chart=chart) for p in people])
    got = [await wa.next_message(p) for p in people]
    assert len(wa.uploads) == 1
    assert {m.payload["image"]["id"] for m in got} == set(wa.uploads)
    assert got[0].text == "*Result*" and got[0].media == tiny_png()
    await wabot.delivery.deliver([Message("whatsapp", people[0].wa_id, "counts: 5", tag="b:1", edit=True),
                                  Message("whatsapp", people[0].wa_id, "counts: 5", tag="b:1")])
    await wabot.delivery.deliver([Message("whatsapp", people[0].wa_id, "counts: 6", tag="b:1", edit=True)])
    assert (await wa.next_message(people[0])).text == "counts: 5"
    await wa.assert_silent(people[0])  # the redraw of counts: not sent


async def test_outside_the_window_the_notice_template_goes_in_the_members_language(wa, tmp_path, caplog):
    app = await start_whatsapp(wa, str(tmp_path / "w.db"))
    try:
        alma = wa.user("77010000001", "Алма")
        await wa_say(wa, alma, "/start")
        await wa.press(alma, wa.last(alma), "русский")
        await wa.next_message(alma)
        day = 25 * 3600
        app.sender.clock = lambda: time.time() + day
        wa.advance(hours=25)
        await app.delivery.deliver([Message("whatsapp", alma.wa_id, "🗳 <b>Голосование открыто</b>\nДетали…",
                                            options(2))])
        notice = await wa.next_message(alma)
        assert notice.kind == "template"
        assert notice.payload["template"]["language"]["code"] == "ru"
        assert notice.text == "🗳 Голосование открыто"
        # Meta's clock says the window closed while ours did not: 131047, then the template
        app.sender.clock = time.time
        await app.delivery.deliver([Message("whatsapp", alma.wa_id, "Итоги готовы")])
        assert (await wa.next_message(alma)).kind == "template"
        assert [code for _, code in wa.refused] == [131047]
    finally:
        await app.stop()
    # without a template configured: not sent at all (logged), never free-form
    app = await start_whatsapp(wa, str(tmp_path / "w.db"), templates={})
    try:
        with caplog.at_level(logging.INFO):
            await app.delivery.deliver([Message("whatsapp", alma.wa_id, "Итоги готовы")])
        await wa.assert_silent(alma)
        assert "WHATSAPP_TEMPLATE_NOTICE" in caplog.text
        assert [code for _, code in wa.refused] == [131047, 131047]
    finally:
        await app.stop()


@pytest.mark.parametrize("code", [130429, 131056])
async def test_rate_limits_are_backed_off_and_sent_from_the_outbox(wa, wabot, code, monkeypatch):
    from bot.whatsapp import sender

    monkeypatch.setattr(sender, "PAIR_PAUSE", 2.0)  # 6 s in service; any pause over 1 s shows the same here
    alma = wa.user("77010000001", "Алма")
    await wa_say(wa, alma, "/start")
    wa.fail_next(code)
    outbox: OutboxWorker = wabot._outbox
    retried = outbox.retried
    await wabot.delivery.deliver([Message("whatsapp", alma.wa_id, "Дауыс беру ашылды", durable=True)])
    assert [c for _, c in wa.refused] == [code]
    async with wabot.db.transaction() as tx:  # waiting its turn, not before the pause
        assert await tx.scalar("SELECT not_before FROM outbox") > time.time() + 1
    outbox.wake()
    message = await wa.next_message(alma, timeout=12)
    assert message.text == "Дауыс беру ашылды"
    assert outbox.retried == retried  # the pause was kept: no send before it was over
    await asyncio.sleep(0.2)
    assert [m.text for m in wa.messages(alma)].count("Дауыс беру ашылды") == 1


async def test_an_unknown_recipient_is_undeliverable_and_dropped(wa, wabot, caplog):
    with caplog.at_level(logging.INFO):
        await wabot.delivery.deliver([Message("whatsapp", "77019999999", "hello", durable=True)])
    async with wabot.db.transaction() as tx:
        assert await tx.scalar("SELECT COUNT(*) FROM outbox") == 0
    assert [c for _, c in wa.refused] == [131026]  # never heard from: a template, refused for the number


async def test_a_typed_number_answers_the_last_interactive_message_even_after_an_announcement(wa, wabot):
    alma = wa.user("77010000001", "Алма")
    choose = await wa_say(wa, alma, "/start")
    assert [t for _, t in choose.options] == ["✓ қазақша", "русский", "English"]
    await wabot.delivery.deliver([Message("whatsapp", alma.wa_id, "Дауыс беру ашылды")])  # no options
    await wa.next_message(alma)
    await wa.send_text(alma, "2")
    consent = await wa.next_message(alma)
    assert consent.options[0] == ("consent:yes", "Даю согласие")  # "2" was русский
