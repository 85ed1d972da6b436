"""Communities: create, join, link a group, switch, the menu, status and moving between steps."""

from __future__ import annotations

import string
from dataclasses import replace
from zoneinfo import ZoneInfo

from bot import markup
from bot.domain.models import Community
from bot.domain.text import clean_line
from bot.flows import ballots as ballot_flows, linking, registry, results, welcome
from bot.flows.access import join_link, require
from bot.flows.context import Context, esc
from bot.flows.cycles import history_text
from bot.flows.monitoring import version_note
from bot.flows.payloads import BadPayload, MenuPress, Payload
from bot.flows.registry import COMMANDS, button, command, start_payload, state
from bot.flows.scopes import community_scope, lookup
from bot.flows.steps import MENU, STEP_GOALS, STEP_RESULTS, STEP_TITLES
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.links import Link
from bot.storage import communities, cycles, members

CODE_ALPHABET = "".join(ch for ch in string.ascii_uppercase + string.digits if ch not in "0O1IL")
CODE_LENGTH = 8
NAME_MAX = 64
PLACE_MAX = 100
# A community is in the configured zone (QATYSU_TZ) unless its facilitator says otherwise. All of
# Kazakhstan keeps one time, UTC+5, since March 2024; the places a community may live elsewhere are
# offered by names people know, each standing for its IANA zone (only those whose clock differs).
PLACES = {
    "kazakhstan": (N_("Kazakhstan (Almaty, Astana, Aktobe and all the country)"), "Asia/Almaty"),
    "moscow": (N_("Moscow"), "Europe/Moscow"),
    "istanbul": (N_("Istanbul"), "Europe/Istanbul"),
    "samara": (N_("Samara, Astrakhan"), "Europe/Samara"),
    "tashkent": (N_("Tashkent"), "Asia/Tashkent"),
    "bishkek": (N_("Bishkek"), "Asia/Bishkek"),
    "omsk": (N_("Omsk"), "Asia/Omsk"),
    "urumqi": (N_("Ürümqi"), "Asia/Urumqi"),
    "barnaul": (N_("Barnaul, Novosibirsk"), "Asia/Barnaul"),
    "olgii": (N_("Bayan-Ölgii (Mongolia)"), "Asia/Hovd"),
}


class TimeZone(Payload, prefix="tz"):
    """``tz:<community>`` asks where the community lives; ``tz:<community>:<place>`` sets it."""

    community: int
    place: str | None = None


class SwitchCommunity(Payload, prefix="c"):
    """Makes one of the member's communities the active one."""

    community: int


# --- menu ----------------------------------------------------------------------------------
async def show_menu(ctx: Context, hint: bool = False) -> None:
    if not ctx.onboarded:
        await welcome.begin(ctx)
        return
    community = None if ctx.event.is_group else await ctx.community()
    lines = []
    if hint:
        lines.append(ctx.t("I did not understand that. Choose from the menu:"))
    rows: list[list[Button]] = []
    if community is None:
        lines.append(ctx.t("You are not in a community yet. Open a join link from your facilitator, "
                           "or create a community."))
        rows.append([Button(ctx.t("Create a community"), data=MenuPress("new").encode())])
    else:
        role = await ctx.role(community.id)
        lines.append(ctx.t("<b>{name}</b> — step {step} of 7: {title}.", name=esc(community.name),
                           step=community.step, title=ctx.t(STEP_TITLES[community.step])))
        for item in MENU:
            if item.step not in (None, community.step) or (item.facilitator and role != "facilitator"):
                continue
            rows.append([Button(ctx.t(item.label), data=MenuPress(item.command).encode())])
        rows.append([Button(ctx.t("Status"), data=MenuPress("status").encode()),
                     Button(ctx.t("Help"), data=MenuPress("help").encode())])
    rows.append([Button(ctx.t("My communities"), data=MenuPress("communities").encode()),
                 Button(ctx.t("Language"), data=MenuPress("lang").encode())])
    if await linking.may_offer(ctx):
        rows.append([Button(ctx.t("📱 Link WhatsApp"), data=MenuPress("phone").encode())])
    ctx.reply("\n".join(lines), rows)


@command("start", who="anyone", describe=N_("Menu"))
async def start(ctx: Context) -> None:
    if ctx.event.is_group:
        if ctx.event.args.strip():
            await link(ctx)
        else:
            await status(ctx)
        return
    await show_menu(ctx)


@command("menu", who="anyone")
async def menu_command(ctx: Context) -> None:
    if ctx.event.is_group:
        await status(ctx)
    else:
        await show_menu(ctx)


async def linked_scope(ctx: Context, rest: str) -> Community | None:
    return await lookup(ctx, communities.get, rest.partition("_")[0], "community")


@start_payload("g", who="member", scope=linked_scope)
async def opened_from_group(ctx: Context, rest: str) -> None:
    """``?start=g_<community>_<command>`` (``Context.private_link``): that community becomes the
    member's active one, and the command runs there."""
    name = rest.partition("_")[2]
    route = COMMANDS.get(name)
    if route is None or route.where == "group" or not name.islower():
        raise BadPayload(f"no command {name!r} to open")
    assert ctx.member is not None and ctx.scoped is not None
    if ctx.member.active_community != ctx.scoped.id:
        await members.set_active(ctx.tx, ctx.member.id, ctx.scoped.id)
    ctx._community_cache["c"] = ctx.scoped
    ctx.event = replace(ctx.event, command=name, args="")
    await ctx.engine._run(ctx, route, [])


@button(MenuPress, who="anyone")
async def menu_pressed(ctx: Context, tap: MenuPress) -> None:
    name = tap.command
    route = COMMANDS.get(name)
    if route is None:
        raise BadPayload(f"no command {name[:20]!r}")
    await ctx.engine._run(ctx, route, [])


@command("help", who="anyone", describe=N_("What I can do"))
async def help_command(ctx: Context) -> None:
    """What the person can do here: their role's commands and those of the roles below it
    (member, ҚМҰТ, facilitator), in the community this chat concerns."""
    community = await ctx.community()
    role = await ctx.role(community.id) if community is not None else "stranger"
    lines = registry.help_lines("onboarded" if role == "stranger" else role,
                                "group" if ctx.event.is_group else "private")
    text = [ctx.t("<b>Commands in the group</b>") if ctx.event.is_group else ctx.t("<b>What I can do</b>")]
    for who, heading in ((None, None), ("kmut", N_("<b>For the ҚМҰТ</b>")),
                         ("facilitator", N_("<b>For the facilitator</b>"))):
        part = [line for line in lines if (line.who if line.who in ("kmut", "facilitator") else None) == who]
        if part and heading:
            text += ["", ctx.t(heading)]
        text += [f"{line.usage} — {ctx.t(line.text)}" for line in part]
    if not ctx.event.is_group:
        text += ["", ctx.t("Everything is also on the buttons under /start.")]
    ctx.reply_pages(text)


# --- creating a community ------------------------------------------------------------------
@command("new", where="private", describe=N_("Create a community"))
async def new(ctx: Context) -> None:
    ctx.goto("new.name")
    ctx.reply(ctx.t("What is the community called? For example: «Көктерек ауылы» or «Абай көшесі, 12 үй»."))


def _limited(ctx: Context, raw: str, limit: int) -> str:
    text = clean_line(raw)
    if len(text) < 2:
        raise ctx.refuse(ctx.t("Please write at least 2 characters."))
    if len(text) > limit:
        raise ctx.refuse(ctx.tn("That is too long: at most {n} character, please.",
                                "That is too long: at most {n} characters, please.", limit))
    return text


@state("new.name", who="onboarded", expires=None)
async def new_name(ctx: Context, text: str) -> None:
    ctx.goto("new.place", name=_limited(ctx, text, NAME_MAX))
    ctx.reply(ctx.t("Where is it? Village, district, region."))


@state("new.place", who="onboarded", expires=None)
async def new_place(ctx: Context, text: str) -> None:
    place = _limited(ctx, text, PLACE_MAX)
    assert ctx.member is not None
    code = await new_join_code(ctx)
    zone = ctx.engine.default_tz
    community = await communities.create(
        ctx.tx, name=ctx.data["name"], place=place, tz=zone, locale=ctx.locale,
        join_code=code, created_by=ctx.member.id, now=ctx.now_iso)
    await members.join(ctx.tx, community.id, ctx.member.id, "facilitator", ctx.now_iso)
    await members.set_active(ctx.tx, ctx.member.id, community.id)
    await ctx.audit("community.created", community.id, tz=zone)
    ctx.clear()
    if ctx.has_groups:
        created = ctx.t("Community <b>{name}</b> is created, and you are its facilitator.\n\n"
                        "Invite members with this link:\n{link}\n\nor the join code <b>{code}</b> "
                        "(they send /start {code} to me).\n\nTo link your group chat, add me to it with this "
                        "link:\n{group_link}\nor add me and send /link {code} in the group.",
                        name=esc(community.name), link=markup.link(join_link(ctx, community)), code=code,
                        group_link=markup.link(Link.add_to_group(code)))
    else:  # a channel without group chats (WhatsApp): members get every announcement one by one
        created = ctx.t("Community <b>{name}</b> is created, and you are its facilitator.\n\n"
                        "Invite members with this link:\n{link}\n\nor the join code <b>{code}</b> "
                        "(they send /start {code} to me). I will send every announcement to each member.",
                        name=esc(community.name), link=markup.link(join_link(ctx, community)), code=code)
    ctx.reply(
        created + "\n\n" + ctx.t("Reminders and closing times follow the time of {zone}, UTC{offset}.",
                          zone=zone_name(ctx.tr, zone), offset=utc_offset(zone, ctx)),
        [[Button(ctx.t("Open the menu"), data=MenuPress("menu").encode())],
         [Button(ctx.t("🕒 We live in another time zone"), data=TimeZone(community.id).encode())]])


def utc_offset(zone: str, ctx: Context) -> str:
    """"+5", "+5:45" or "−3": the zone's offset from UTC now."""
    minutes = int(ctx.now.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    hours, rest = divmod(abs(minutes), 60)
    return ("+" if minutes >= 0 else "−") + str(hours) + (f":{rest:02d}" if rest else "")


def zone_name(tr: Translator, zone: str) -> str:
    """The places a zone stands for, in words people use (else its IANA name)."""
    return next((tr.t(label) for label, iana in PLACES.values() if iana == zone), zone)


@button(TimeZone, who="facilitator", where="private", scope=community_scope)
async def time_zone(ctx: Context, tap: TimeZone) -> None:
    """Asks where the community lives, by the places whose clock differs from its own; or, given
    the place, sets that place's zone."""
    place = tap.place
    community = ctx.scoped
    assert community is not None
    if not place:
        offset = utc_offset(community.tz, ctx)
        choices = [[Button(f"{ctx.t(label)} · UTC{utc_offset(zone, ctx)}", data=TimeZone(community.id, key).encode())]
                   for key, (label, zone) in PLACES.items() if utc_offset(zone, ctx) != offset]
        ctx.reply(ctx.t("<b>{name}</b> keeps the time of {zone}, UTC{offset}. Where does the community live?",
                        name=esc(community.name), zone=zone_name(ctx.tr, community.tz), offset=offset), choices)
        return
    if place not in PLACES:
        raise BadPayload(f"no place {place!r}")
    zone = PLACES[place][1]
    await communities.set_tz(ctx.tx, community.id, zone)
    await ctx.audit("community.tz", community.id, tz=zone)
    ctx.toast(ctx.t("Saved."))
    ctx.reply(ctx.t("<b>{name}</b> now keeps the time of {zone}, UTC{offset}.", name=esc(community.name),
                    zone=ctx.t(PLACES[place][0]), offset=utc_offset(zone, ctx)))


async def new_join_code(ctx: Context) -> str:
    while True:
        code = "".join(ctx.rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not await communities.code_taken(ctx.tx, code):
            return code


# --- joining -------------------------------------------------------------------------------
def normalize_code(raw: str) -> str:
    return clean_line(raw).upper().replace(" ", "")[:32]


async def join_by_code(ctx: Context, raw_code: str) -> None:
    code = normalize_code(raw_code)
    community = await communities.by_code(ctx.tx, code) if code else None
    if community is None:
        ctx.reply(ctx.t("No community has the code «{code}». Check the link or ask your facilitator.",
                        code=esc(code or raw_code[:32])))
        if not ctx.onboarded:
            await welcome.begin(ctx)
        return
    if not ctx.onboarded:
        await welcome.begin(ctx, join_code=code)
        return
    assert ctx.member is not None
    joined = await members.join(ctx.tx, community.id, ctx.member.id, "member", ctx.now_iso)
    await members.set_active(ctx.tx, ctx.member.id, community.id)
    ctx.member = await members.get(ctx.tx, ctx.member.id)
    ctx._community_cache.clear()
    if joined:
        await ctx.audit("member.joined", community.id)
        ctx.reply(ctx.t("Welcome to <b>{name}</b> ({place})!", name=esc(community.name),
                        place=esc(community.place)))
    else:
        ctx.reply(ctx.t("You are already a member of <b>{name}</b>.", name=esc(community.name)))
    await show_menu(ctx)


@command("join", who="anyone", where="private",
         usage=(("/join K7M2QX9P", N_("join a community with the code the facilitator gave you")),))
async def join_command(ctx: Context) -> None:
    if not ctx.event.args.strip():
        raise ctx.refuse(ctx.t("Send the join code after the command, like this: /join K7M2QX9P"))
    await join_by_code(ctx, ctx.event.args)


@command("communities", where="private", describe=N_("My communities"))
async def communities_command(ctx: Context) -> None:
    assert ctx.member is not None
    mine = await members.communities_of(ctx.tx, ctx.member.id)
    rows = [[Button(("✓ " if c.id == ctx.member.active_community else "") + c.name,
                    data=SwitchCommunity(c.id).encode())] for c, _ in mine]
    rows.append([Button(ctx.t("Create a community"), data=MenuPress("new").encode())])
    text = ctx.t("Your communities. Tap one to make it active:") if mine else \
        ctx.t("You are not in a community yet. Open a join link from your facilitator, or create a community.")
    ctx.reply(text, rows)


@button(SwitchCommunity, where="private")
async def switch(ctx: Context, tap: SwitchCommunity) -> None:
    assert ctx.member is not None
    if await members.membership(ctx.tx, tap.community, ctx.member.id) is None:
        raise BadPayload("not a member of that community")
    await members.set_active(ctx.tx, ctx.member.id, tap.community)
    ctx.member = await members.get(ctx.tx, ctx.member.id)
    ctx._community_cache.clear()
    await show_menu(ctx)


# --- groups --------------------------------------------------------------------------------
async def bot_added(ctx: Context) -> None:
    linked = await ctx.community()
    if linked is not None:
        ctx.reply(ctx.t("This group is linked to <b>{name}</b>. Send /status to see where we are.",
                        name=esc(linked.name)))
        return
    facilitates = ctx.member is not None and any(
        role == "facilitator" for _, role in await members.communities_of(ctx.tx, ctx.member.id))
    if facilitates:  # likely through the group link, whose /start CODE comes right after: no "/link" to send
        ctx.reply(ctx.t("Hello! I am Qatysu. Ballots and results will appear here once this group is linked to "
                        "your community."))
        return
    ctx.reply(ctx.t("Hello! I am Qatysu. The facilitator links this group to the community by "
                    "sending /link CODE here."))


async def group_moved(ctx: Context, new_chat_id: str) -> None:
    """Telegram made the group a supergroup, with a new id: the link follows, and the open
    ballots are posted again there (the bot's old messages keep other ids, which it cannot edit;
    a ballot post still on its way to the old id is dropped by the delivery, not redirected)."""
    from bot.storage import ballots

    channel, old_chat_id = ctx.event.channel, ctx.event.chat_id
    community_id = await communities.move_group(ctx.tx, channel, old_chat_id, new_chat_id)
    if community_id is None:
        return  # not linked: nothing follows
    await ctx.audit("group.moved", community_id, chat=old_chat_id, to=new_chat_id)
    community = await communities.get(ctx.tx, community_id)
    assert community is not None
    for ballot in await ballots.of_community(ctx.tx, community_id, "open"):
        await ballot_flows.announce(ctx, community, ballot, only=(channel, new_chat_id))


@command("link", who="onboarded", where="group",
         usage=(("/link K7M2QX9P", N_("tie this group to a community (the facilitator, with its join code)")),))
async def link(ctx: Context) -> None:
    code = normalize_code(ctx.event.args)
    if not code:
        raise ctx.refuse(ctx.t("Send the community's join code after the command: /link CODE"))
    community = await communities.by_code(ctx.tx, code)
    if community is None:
        raise ctx.refuse(ctx.t("No community has the code «{code}». Check the link or ask your facilitator.",
                               code=esc(code)))
    if await ctx.role(community.id) != "facilitator":
        raise ctx.refuse(ctx.t("Only the community's facilitator can do that."))
    current = await communities.by_group(ctx.tx, ctx.event.channel, ctx.event.chat_id)
    if current is not None and current.id != community.id and await ctx.role(current.id) != "facilitator":
        raise ctx.refuse(ctx.t("This group is already linked to <b>{name}</b>; only its facilitator can link "
                               "it to another community.", name=esc(current.name)))
    assert ctx.member is not None
    await communities.link_group(ctx.tx, ctx.event.channel, ctx.event.chat_id, community.id,
                                 clean_line(ctx.event.chat_title)[:128], ctx.member.id, ctx.now_iso)
    await ctx.audit("group.linked", community.id, chat=ctx.event.chat_id)
    ctx._community_cache.clear()
    tr = Translator(community.locale)
    ctx.reply(tr.t("This group is now linked to <b>{name}</b>. Members join with the button below; "
                   "ballots and results will appear here.", name=esc(community.name)),
              [[Button(tr.t("Join the community"), link=join_link(ctx, community))]])


# --- steps ---------------------------------------------------------------------------------
def steps_text(tr: Translator, community: Community, skipped: set[int] = frozenset()) -> str:
    """The seven steps: done ✅, skipped ⏭ (moved past with nothing done), now ▶️, to come ▫️."""
    lines = [tr.t("<b>{name}</b>: the seven steps", name=esc(community.name))]
    for step in range(1, 8):
        title = tr.t(STEP_TITLES[step])
        if step in skipped and step < community.step:
            lines.append("⏭ " + tr.t("{step}. {title} — skipped", step=step, title=title))
            continue
        mark = "✅" if step < community.step else ("▶️" if step == community.step else "▫️")
        lines.append(f"{mark} {step}. {title}")
    lines.append("")
    lines.append(tr.t("Now: {goal}", goal=tr.t(STEP_GOALS[community.step])))
    return "\n".join(lines)


@command("status", who="anyone", describe=N_("Where we are"))
async def status(ctx: Context) -> None:
    community = await ctx.community()
    if community is None:
        await require(ctx, None, "member")
        return
    text = steps_text(ctx.tr, community, await communities.skipped_steps(ctx.tx, community.id))
    if changed := await version_note(ctx, ctx.tr, community):
        text += "\n\n" + changed
    if len(await cycles.history(ctx.tx, community.id)) > 1:  # the cycles, once there is more than one
        text += "\n\n" + await history_text(ctx, ctx.tr, community)
    ctx.reply(text)


@command("next", who="facilitator", describe=N_("Close this step and open the next"))
async def next_step(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    if community.step >= 7:
        raise ctx.refuse(ctx.t("This is the last step. Evaluate the results together."))
    summarize = STEP_RESULTS.get(community.step)
    tr = Translator(community.locale)
    result = await summarize(ctx, community, tr) if summarize else None
    if not result:
        await communities.mark_skipped(ctx.tx, community.id, community.step, ctx.now_iso)
    await communities.set_step(ctx.tx, community.id, community.step + 1)
    head = await ctx.audit("step.next", community.id, step=community.step + 1)
    moved = await communities.get(ctx.tx, community.id)
    assert moved is not None

    def announcement(tr: Translator) -> tuple[str, list]:
        parts = [tr.t("Step {step} is over.", step=community.step) if result else
                 tr.t("Step {step} was skipped: nothing was done in it.", step=community.step)]
        if result:
            parts.append(result)
        parts.append(tr.t("<b>Step {step}: {title}</b>\n{goal}", step=moved.step,
                          title=tr.t(STEP_TITLES[moved.step]), goal=tr.t(STEP_GOALS[moved.step])))
        return "\n\n".join(parts) + "\n" + results.audit_line(tr, head), []

    await ctx.post_groups(moved, announcement)
    if not ctx.event.is_group or (ctx.event.channel, ctx.event.chat_id) not in await communities.groups(
            ctx.tx, community.id):
        ctx.reply(announcement(ctx.tr)[0])

