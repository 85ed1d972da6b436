"""Communities: create, join, link a group, switch, the menu, status and moving between steps."""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.models import Community
from bot.domain.text import clean_line, small_int
from bot.flows import onboarding, results
from bot.flows.context import Context, esc
from bot.flows.registry import COMMANDS, button, command, start_payload, state
from bot.flows.steps import STEP_GOALS, STEP_TITLES
from bot.flows.types import Button
from bot.i18n import N_, Translator
from bot.storage import communities, members

CODE_ALPHABET = "".join(ch for ch in string.ascii_uppercase + string.digits if ch not in "0O1IL")
CODE_LENGTH = 8
NAME_MAX = 64
PLACE_MAX = 100
TIMEZONES = ("Asia/Almaty", "Asia/Qostanay", "Asia/Aqtobe", "Asia/Aqtau", "Asia/Atyrau", "Asia/Oral",
             "Asia/Qyzylorda")


@dataclass(frozen=True)
class MenuItem:
    step: int | None       # shown while the community is at this step (None: always)
    label: str             # message id
    command: str
    facilitator: bool = False


MENU: list[MenuItem] = []
# Per step: a function that states the step's result for the group when the step closes.
STEP_RESULTS: dict[int, Callable[[Context, Community, Translator], Awaitable[str | None]]] = {}


def menu_item(step: int | None, label: str, command_name: str, facilitator: bool = False) -> None:
    MENU.append(MenuItem(step, label, command_name, facilitator))


def join_link(ctx: Context, community: Community) -> str:
    return ctx.deep_link(community.join_code)


# --- menu ----------------------------------------------------------------------------------
async def show_menu(ctx: Context, hint: bool = False) -> None:
    if not ctx.onboarded:
        await onboarding.begin(ctx)
        return
    community = None if ctx.event.is_group else await ctx.community()
    lines = []
    if hint:
        lines.append(ctx.t("I did not understand that. Choose from the menu:"))
    rows: list[list[Button]] = []
    if community is None:
        lines.append(ctx.t("You are not in a community yet. Open a join link from your facilitator, "
                           "or create a community."))
        rows.append([Button(ctx.t("Create a community"), data="m:new")])
    else:
        role = await ctx.role(community.id)
        lines.append(ctx.t("<b>{name}</b> — step {step} of 7: {title}.", name=esc(community.name),
                           step=community.step, title=ctx.t(STEP_TITLES[community.step])))
        for item in MENU:
            if item.step not in (None, community.step) or (item.facilitator and role != "facilitator"):
                continue
            rows.append([Button(ctx.t(item.label), data=f"m:{item.command}")])
        rows.append([Button(ctx.t("Status"), data="m:status"), Button(ctx.t("Help"), data="m:help")])
    rows.append([Button(ctx.t("My communities"), data="m:communities"),
                 Button(ctx.t("Language"), data="m:lang")])
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
    from bot.flows.engine import lookup

    return await lookup(ctx, communities.get, rest.partition("_")[0], "community")


@start_payload("g", who="member", scope=linked_scope)
async def opened_from_group(ctx: Context, rest: str) -> None:
    """``?start=g_<community>_<command>`` (``Context.private_link``): that community becomes the
    member's active one, and the command runs there."""
    from bot.flows.engine import BadPayload

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


@button("m", who="anyone")
async def menu_pressed(ctx: Context, name: str) -> None:
    route = COMMANDS.get(name)
    if route is None:
        from bot.flows.engine import BadPayload

        raise BadPayload(f"no command {name!r}")
    await ctx.engine._run(ctx, route, [])


@command("help", who="anyone", describe=N_("What I can do"))
async def help_command(ctx: Context) -> None:
    if ctx.event.is_group:
        text = ctx.t("<b>Commands in the group</b>\n/status — the seven steps and where we are\n"
                     "/link CODE — tie this group to a community (facilitator)\n"
                     "/next — close this step and open the next (facilitator)\n"
                     "/poll dots|matrix|pairwise — start a vote (facilitator)\n"
                     "/close — close the open vote and post the result (facilitator)\n"
                     "/results — post the latest result again\n/propose TEXT — propose a problem")
        text += "\n" + ctx.t("/poll election [seats] — elect the ҚМҰТ (facilitator)")
    else:
        text = ctx.t("<b>What I can do</b>\n/start — the menu\n/new — create a community\n"
                     "/propose — propose a problem\n/problems — the proposed problems\n"
                     "/vote — ballots waiting for you\n/status — the seven steps and where we are\n"
                     "/lang — language\n/mydata — what is stored about you\n/forget — erase your data\n\n"
                     "Everything is also on the buttons under /start.")
        later = [ctx.t("/nominate — nominate someone to the ҚМҰТ"), ctx.t("/tree — the problem tree"),
                 ctx.t("/resources — the resource map"), ctx.t("/orgs — the institutional diagram")]
        text = text.replace("\n\n", "\n" + "\n".join(later) + "\n\n", 1)
    ctx.reply(text)


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
        raise ctx.refuse(ctx.t("That is too long: at most {max} characters, please.", max=limit))
    return text


@state("new.name", who="onboarded", expires=None)
async def new_name(ctx: Context, text: str) -> None:
    ctx.goto("new.place", name=_limited(ctx, text, NAME_MAX))
    ctx.reply(ctx.t("Where is it? Village, district, region."))


@state("new.place", who="onboarded", expires=None)
async def new_place(ctx: Context, text: str) -> None:
    ctx.goto("new.tz", name=ctx.data["name"], place=_limited(ctx, text, PLACE_MAX))
    buttons = [[Button(zone, data=f"tz:{zone}")] for zone in TIMEZONES]
    ctx.reply(ctx.t("Which time zone? Most of Kazakhstan is Asia/Almaty. Tap one or write its name."), buttons)


@state("new.tz", who="onboarded", expires=None)
async def new_tz_typed(ctx: Context, text: str) -> None:
    await create_community(ctx, text.strip())


@button("tz", where="private")
async def new_tz_pressed(ctx: Context, *zone_parts: str) -> None:
    if ctx.state != "new.tz":
        from bot.flows.engine import BadPayload

        raise BadPayload("no community being created")
    await create_community(ctx, ":".join(zone_parts))


async def create_community(ctx: Context, zone: str) -> None:
    if not valid_zone(zone):
        raise ctx.refuse(ctx.t("I do not know the time zone «{zone}». Tap one of the buttons.",
                               zone=esc(zone[:40])))
    assert ctx.member is not None
    code = await new_join_code(ctx)
    community = await communities.create(
        ctx.tx, name=ctx.data["name"], place=ctx.data["place"], tz=zone, locale=ctx.locale,
        join_code=code, created_by=ctx.member.id, now=ctx.now_iso)
    await members.join(ctx.tx, community.id, ctx.member.id, "facilitator", ctx.now_iso)
    await members.set_active(ctx.tx, ctx.member.id, community.id)
    await ctx.audit("community.created", community.id, tz=zone)
    ctx.clear()
    ctx.toast(ctx.t("Created"))
    ctx.reply(
        ctx.t("Community <b>{name}</b> is created, and you are its facilitator.\n\n"
              "Invite members with this link:\n{link}\n\nor the join code <b>{code}</b> "
              "(they send /start {code} to me).\n\nTo link your group chat, add me to it with this "
              "link:\n{group_link}\nor add me and send /link {code} in the group.",
              name=esc(community.name), link=join_link(ctx, community), code=code,
              group_link=f"https://t.me/{ctx.engine.bot_username}?startgroup={code}"),
        [[Button(ctx.t("Open the menu"), data="m:menu")]])


async def new_join_code(ctx: Context) -> str:
    while True:
        code = "".join(ctx.rng.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not await communities.code_taken(ctx.tx, code):
            return code


# --- joining -------------------------------------------------------------------------------
def valid_zone(zone: str) -> bool:
    """An IANA time zone name ("Asia" is a folder of tzdata, not a zone; odd names raise OSError)."""
    if not zone or len(zone) > 64:
        return False
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def normalize_code(raw: str) -> str:
    return clean_line(raw).upper().replace(" ", "")[:32]


async def join_by_code(ctx: Context, raw_code: str) -> None:
    code = normalize_code(raw_code)
    community = await communities.by_code(ctx.tx, code) if code else None
    if community is None:
        ctx.reply(ctx.t("No community has the code «{code}». Check the link or ask your facilitator.",
                        code=esc(code or raw_code[:32])))
        if not ctx.onboarded:
            await onboarding.begin(ctx)
        return
    if not ctx.onboarded:
        await onboarding.begin(ctx, join_code=code)
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


@command("join", who="anyone", where="private")
async def join_command(ctx: Context) -> None:
    if not ctx.event.args.strip():
        raise ctx.refuse(ctx.t("Send the join code after the command, like this: /join K7M2QX9P"))
    await join_by_code(ctx, ctx.event.args)


@command("communities", where="private")
async def communities_command(ctx: Context) -> None:
    assert ctx.member is not None
    mine = await members.communities_of(ctx.tx, ctx.member.id)
    rows = [[Button(("✓ " if c.id == ctx.member.active_community else "") + c.name, data=f"c:{c.id}")]
            for c, _ in mine]
    rows.append([Button(ctx.t("Create a community"), data="m:new")])
    text = ctx.t("Your communities. Tap one to make it active:") if mine else \
        ctx.t("You are not in a community yet. Open a join link from your facilitator, or create a community.")
    ctx.reply(text, rows)


@button("c", where="private")
async def switch(ctx: Context, community_id: str) -> None:
    from bot.flows.engine import BadPayload

    if small_int(community_id) is None:
        raise BadPayload("community id")
    assert ctx.member is not None
    if await members.membership(ctx.tx, int(community_id), ctx.member.id) is None:
        raise BadPayload("not a member of that community")
    await members.set_active(ctx.tx, ctx.member.id, int(community_id))
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
    ctx.reply(ctx.t("Hello! I am Qatysu. The facilitator links this group to the community by "
                    "sending /link CODE here."))


async def group_moved(ctx: Context, new_chat_id: str) -> None:
    """Telegram made the group a supergroup, with a new id: the link follows, and the open
    ballots are posted again there (the bot's old messages keep other ids, which it cannot edit;
    a ballot post still on its way to the old id is dropped by the delivery, not redirected)."""
    from bot.flows import ballots as ballot_flows
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


@command("link", who="onboarded", where="group")
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
              [[Button(tr.t("Join the community"), url=join_link(ctx, community))]])


# --- steps ---------------------------------------------------------------------------------
def steps_text(tr: Translator, community: Community) -> str:
    lines = [tr.t("<b>{name}</b>: the seven steps", name=esc(community.name))]
    for step in range(1, 8):
        mark = "✅" if step < community.step else ("▶️" if step == community.step else "▫️")
        lines.append(f"{mark} {step}. {tr.t(STEP_TITLES[step])}")
    lines.append("")
    lines.append(tr.t("Now: {goal}", goal=tr.t(STEP_GOALS[community.step])))
    return "\n".join(lines)


@command("status", who="anyone", describe=N_("Where we are"))
async def status(ctx: Context) -> None:
    community = await ctx.community()
    if community is None:
        from bot.flows.engine import require

        await require(ctx, None, "member")
        return
    from bot.flows.monitoring import version_note

    changed = await version_note(ctx, ctx.tr, community)
    ctx.reply(steps_text(ctx.tr, community) + ("\n\n" + changed if changed else ""))


@command("next", who="facilitator")
async def next_step(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    if community.step >= 7:
        raise ctx.refuse(ctx.t("This is the last step. Evaluate the results together."))
    summarize = STEP_RESULTS.get(community.step)
    tr = Translator(community.locale)
    result = await summarize(ctx, community, tr) if summarize else None
    await communities.set_step(ctx.tx, community.id, community.step + 1)
    head = await ctx.audit("step.next", community.id, step=community.step + 1)
    moved = await communities.get(ctx.tx, community.id)
    assert moved is not None

    def announcement(tr: Translator) -> tuple[str, list]:
        parts = [tr.t("Step {step} is over.", step=community.step)]
        if result:
            parts.append(result)
        parts.append(tr.t("<b>Step {step}: {title}</b>\n{goal}", step=moved.step,
                          title=tr.t(STEP_TITLES[moved.step]), goal=tr.t(STEP_GOALS[moved.step])))
        return "\n\n".join(parts) + "\n" + results.audit_line(tr, head), []

    await ctx.post_groups(moved, announcement)
    if not ctx.event.is_group or (ctx.event.channel, ctx.event.chat_id) not in await communities.groups(
            ctx.tx, community.id):
        ctx.reply(announcement(ctx.tr)[0])

