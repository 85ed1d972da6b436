"""The shared set-up of the two-channel stories (``test_whatsapp_story_*.py``): one community, its
facilitator and a member on Telegram with a linked group, and a member on WhatsApp — the real bot
over HTTP against both fake APIs."""

from __future__ import annotations

from dataclasses import dataclass

from tests.fakes.whatsapp import FakeWhatsApp, Received, WaUser
from tests.test_crash_safety import PROBLEMS, add_members
from tests.test_e2e_telegram import new_community, onboard, say
from tests.test_whatsapp_e2e import wa_onboard, wa_say

__all__ = ["Village", "village", "choose", "member_id", "wa_say", "within_limits"]


@dataclass
class Village:
    tg: object
    wa: FakeWhatsApp
    db: object
    facilitator: object   # Айгерим, Telegram, Kazakh
    group: object         # the community's Telegram group
    m0: object            # a member on Telegram, English
    alma: WaUser          # a member on WhatsApp, English
    code: str


async def village(tg, bot, wa, problems: list[str] = PROBLEMS) -> Village:
    aigerim = tg.user(1, "Айгерим", "kk")
    await onboard(tg, aigerim, "қазақша")
    code = await new_community(tg, aigerim)
    group = tg.group(-100321, "Ауыл", with_bot=True)
    await say(tg, aigerim, f"/link {code}", group)
    for text in problems:
        await say(tg, aigerim, f"/propose {text}")
    (m0,) = await add_members(bot.app.db, tg, 1)
    alma = wa.user("77010000001", "Алма")
    await wa_onboard(wa, alma, "English", first=f"/start {code}")
    await wa.next_message(alma, contains="Welcome to")
    return Village(tg, wa, bot.app.db, aigerim, group, m0, alma, code)


async def choose(v: Village, number: int = 1) -> None:
    """The facilitator chooses problem ``number`` in the group; the WhatsApp member is told too."""
    await say(v.tg, v.facilitator, f"/choose {number}", v.group)
    within_limits(await v.wa.next_message(v.alma, contains=f"will work on #{number}"))


async def member_id(v: Village, channel: str, external_id: str) -> int:
    async with v.db.transaction() as tx:
        return await tx.scalar("SELECT member_id FROM identities WHERE channel = ? AND external_id = ?",
                               (channel, external_id))


def within_limits(message: Received) -> None:
    """What a WhatsApp member sees reads as WhatsApp text: no Telegram markup, no t.me link, no
    "tap the button in the group"; options within the Cloud API's limits (the fake refuses the rest)."""
    for text in [message.text] + [title for _, title in message.options]:
        assert "<b>" not in text and "</" not in text and "t.me/" not in text, text
        assert "in the group" not in text.lower() or "group sees" in text.lower(), text
    if message.kind == "interactive":
        kind = message.payload["interactive"]["type"]
        assert len(message.options) <= (3 if kind == "button" else 10)
        assert all(len(t) <= (20 if kind == "button" else 24) for _, t in message.options)
