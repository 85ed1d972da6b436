"""Step 4, one story on two channels: the WhatsApp member adds a resource and an organisation and
estimates it, the Telegram member estimates the same organisation; one map, one average."""

from __future__ import annotations

from bot.storage import resources
from tests.test_e2e_step2 import data_of
from tests.test_e2e_telegram import say
from tests.wa_village import choose, village, wa_say, within_limits


async def test_a_resource_and_an_organisation_added_and_estimated_on_both_channels(tg, bot, wa, both):
    v = await village(tg, bot, wa)
    alma, m0 = v.alma, v.m0
    await choose(v)

    listing = await wa_say(wa, alma, "/resources", contains="resource")
    within_limits(listing)
    await wa.press(alma, listing, next(t for i, t in listing.options if i.startswith("ra:")))
    kinds = await wa.next_message(alma)
    within_limits(kinds)
    await wa.press(alma, kinds, next(t for i, t in kinds.options if i.endswith(":premises")))
    within_limits(await wa.next_message(alma))
    added = await wa_say(wa, alma, "The school hall\n\nNext to the mosque", contains="Added to the resource map")
    assert added.text.startswith("Added to the resource map as #1 (Premises and land).")
    within_limits(added)

    orgs = await wa_say(wa, alma, "/orgs")
    within_limits(orgs)
    await wa.press(alma, orgs, next(t for i, t in orgs.options if i.startswith("oa:")))
    within_limits(await wa.next_message(alma))
    importance = await wa_say(wa, alma, "The akimat", contains="important")
    within_limits(importance)
    await wa.press(alma, importance, next(t for i, t in importance.options if i.endswith(":3")))
    closeness = await wa.next_message(alma, contains="close")
    within_limits(closeness)
    await wa.press(alma, closeness, next(t for i, t in closeness.options if i.endswith(":1")))
    # Telegram's toast ("Your estimate of #1 is saved.") is said by the diagram that follows
    saved = await wa.next_message(alma, contains="your estimate: importance 3, closeness 1")
    within_limits(saved)

    await say(tg, m0, "/start")
    orgs = await say(tg, m0, "/orgs")
    tg.press(m0, orgs, next(d for d in data_of(orgs, "or:") if d.endswith(":1")))
    importance = await tg.next_message(m0.id, contains="important")
    tg.press(m0, importance, next(d for d in data_of(importance, "oi:") if d.endswith(":1")))
    closeness = await tg.next_message(m0.id, contains="close")
    await tg.answer_to(tg.press(m0, closeness, next(d for d in data_of(closeness, "oc:") if d.endswith(":3"))))

    async with v.db.transaction() as tx:
        assert [(r.text, r.place) for r in await resources.resources_of(tx, 1)] == [
            ("The school hall", "Next to the mosque")]
        assert [(o.name, o.importance, o.closeness, o.raters) for o in await resources.orgs_of(tx, 1)] == [
            ("The akimat", 2.0, 2.0, 2)]
    assert not wa.refused
