"""The short answer to what a person did (``Toast``): one neutral type, each channel's way to show it.
Telegram: a callback toast, an alert when long. WhatsApp (no toasts): a short reply, unless a
message to that person in the same outcome, sent now or queued, says what comes next."""

from __future__ import annotations

from bot.flows.context import short_answer
from bot.flows.types import Button, Event, Message, Outcome, Toast
from bot.links import Link
from bot.whatsapp.channel import for_whatsapp

TAP = Event("whatsapp", "77010000001", "77010000001", button="d:1:2")
TYPED = Event("whatsapp", "77010000001", "77010000001", command="poll", args="dots")


def test_a_pressed_button_is_acknowledged_and_a_long_answer_is_an_alert():
    assert short_answer(TAP, "Saved.") == Toast("Saved.")
    long = "You have offered to do #3 already. To take it back, tap the button again under /plan."
    assert short_answer(TAP, long, Link.private("menu")) == Toast(long, alert=True, link=Link.private("menu"))
    # no button pressed: no toast to show, a message (its link as a button)
    assert short_answer(TYPED, "Refused", Link.private("menu")) == Message(
        "whatsapp", TAP.chat_id, "Refused", ((Button("→", link=Link.private("menu")),),))


def test_on_whatsapp_an_acknowledgement_alone_is_a_short_reply_with_its_link():
    shown = for_whatsapp(Outcome(toast=Toast("Only members can do that.", link=Link.private("K7"))), TAP)
    assert shown.toast is None
    assert shown.messages == [Message("whatsapp", TAP.chat_id, "Only members can do that.",
                                      ((Button("→", link=Link.private("K7")),),))]


def test_on_whatsapp_a_message_to_the_person_says_what_comes_next():
    next_pair = Message("whatsapp", TAP.chat_id, "Pair 2 of 3", tag="pw:1", edit=True)
    shown = for_whatsapp(Outcome(messages=[next_pair], toast=Toast("Saved: #3 is more pressing.")), TAP)
    assert [(m.text, m.edit) for m in shown.messages] == [("Pair 2 of 3", False)]  # sent afresh, no reply
    # queued (a community's post reaching them one by one): it says it all the same
    queued = Outcome(toast=Toast("Confirmed"), queued=True, queued_to={("whatsapp", TAP.chat_id)})
    assert for_whatsapp(queued, TAP).messages == []


def test_on_whatsapp_messages_to_others_do_not_answer_the_person():
    others = [Message("whatsapp", "77010000002", "Your problem was chosen"), Message("telegram", TAP.chat_id, "x")]
    shown = for_whatsapp(Outcome(messages=list(others), toast=Toast("Confirmed"), queued_to={("whatsapp", "77019")}),
                         TAP)
    assert shown.messages == [*others, Message("whatsapp", TAP.chat_id, "Confirmed")]


async def test_on_whatsapp_a_tap_is_answered_once(sim):
    """End to end: the facilitator on WhatsApp chooses the problem (her chat gets the post, no
    "Confirmed" besides), then taps "I will take part": nothing else follows, so the toast
    Telegram would show comes as a short reply."""
    from tests.conftest import onboard

    aigerim = sim.person("Айгерим", "en", channel="whatsapp")
    await onboard(aigerim, "English")
    for answer in ("/new", "Көктерек", "Талғар ауданы"):
        await aigerim.send(answer)
    for text in ("The road floods every spring", "No lights in the street at night"):
        await aigerim.send(f"/propose {text}")
    seen = len(aigerim.inbox())
    await aigerim.send("/choose 1")
    told = [m.text for m in aigerim.inbox()[seen:]]
    assert any("will work on #1" in t for t in told) and "Confirmed" not in told
    seen = len(aigerim.inbox())
    outcome = await aigerim.press("I will take part")
    assert outcome.toast is None  # WhatsApp shows none
    assert [m.text for m in aigerim.inbox()[seen:]] == ["You are on the list. 1 person will take part."]
