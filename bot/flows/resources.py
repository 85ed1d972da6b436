"""Step 4: the resource map (ресурстар картасы) — what the community has, who holds it, where —
and the institutional diagram (институционалдық диаграмма) — the organisations and people that
matter, each member estimating their importance and closeness, drawn around the community."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.domain.models import Community
from bot.domain.text import clean_line, message_lines, small_int, shorten as short
from bot.flows.access import require, waiting_community
from bot.flows.context import Context, esc
from bot.flows.payloads import BadPayload, Payload
from bot.flows.problems import normalize
from bot.flows.registry import button, command, state
from bot.flows.scopes import community_scope
from bot.flows.steps import STEP_RESULTS, menu_item
from bot.flows.types import Button, Chart
from bot.i18n import N_, Translator, translator
from bot.markup import bold
from bot.storage import resources
from bot.storage.resources import Org, Resource

KINDS = {"people": N_("People and skills"), "materials": N_("Materials and equipment"), "money": N_("Money"),
         "premises": N_("Premises and land"), "organisations": N_("Organisations")}
TEXT_MIN, TEXT_MAX, DETAIL_MAX, NAME_MAX = 3, 200, 100, 100
MAX_RESOURCES, MAX_ORGS = 40, 30  # what the charts are sized for (bench/charts.py)
RATE_COUNT, RATE_WINDOW = 10, timedelta(minutes=10)
ORG_NUMBERS = 10 ** 6  # an organisation's number has at most 6 digits
UNRATED_SHOWN = 8  # organisations offered for an estimate at once
MAP_NAMES = 8  # the diagram's organisations the resource map names


class ResourceAdd(Payload, prefix="ra"):
    community: int


class ResourcePicture(Payload, prefix="rp"):
    community: int


class ResourceKind(Payload, prefix="rk"):
    community: int
    kind: str


class OrgAdd(Payload, prefix="oa"):
    community: int


class OrgPicture(Payload, prefix="op"):
    community: int


class OrgChange(Payload, prefix="oe"):
    """Lists the organisations the member estimated, to estimate one again."""

    community: int


class OrgRate(Payload, prefix="or"):
    """Estimate organisation ``number``: first its importance."""

    community: int
    number: int


class OrgImportance(Payload, prefix="oi"):
    community: int
    number: int
    importance: int


class OrgCloseness(Payload, prefix="oc"):
    community: int
    number: int
    importance: int
    closeness: int

menu_item(4, N_("Resource map"), "resources")
menu_item(4, N_("Institutional diagram"), "orgs")


async def rate_limited(ctx: Context) -> None:
    assert ctx.member is not None
    since = (ctx.now - RATE_WINDOW).isoformat(timespec="seconds")
    if await resources.recent_additions(ctx.tx, ctx.member.id, since) >= RATE_COUNT:
        raise ctx.refuse(ctx.tn("You have added {n} resource or organisation in the last minutes. Please wait "
                                "a little before the next one.",
                                "You have added {n} resources and organisations in the last minutes. Please wait "
                                "a little before the next one.", RATE_COUNT))


async def remove_command(ctx: Context, community: Community, words: list[str],
                         remove: Callable[..., Awaitable[bool]]) -> int:
    """``/resources remove 3`` or ``/orgs remove 3``: the ҚМҰТ's (or the facilitator's); the number taken off."""
    await require(ctx, community, "kmut")
    number = small_int(words[1].lstrip("#"), 6) if len(words) == 2 else None
    if number is None:
        raise ctx.refuse(ctx.t("Write the number after remove, like this: /{command} remove 3",
                               command=ctx.event.command or "resources"))
    if not await remove(ctx.tx, community.id, number):
        raise ctx.refuse(ctx.t("There is no #{number} on the list.", number=number))
    return number


# --- the resource map ------------------------------------------------------------------------
def on_diagram(tr: Translator, orgs: list[Org]) -> str:
    """The organisations of the institutional diagram, as the resource map names them: one list
    of organisations for step 4, so the map never says "none" while the diagram shows some."""
    names = ", ".join(short(o.name, 40) for o in orgs[:MAP_NAMES])
    if len(orgs) > MAP_NAMES:
        names += ", …"
    return tr.tn("{n} on the institutional diagram (/orgs): {names}", "{n} on the institutional diagram "
                 "(/orgs): {names}", len(orgs), names=names)


def resource_lines(tr: Translator, found: list[Resource], orgs: list[Org]) -> list[str]:
    lines = [tr.t("🗺 <b>Resource map</b>")]
    for key, label in KINDS.items():
        mine = [r for r in found if r.kind == key]
        lines += ["", bold(tr.t(label))]
        diagram = orgs if key == "organisations" else []
        if not mine and not diagram:
            lines.append(tr.t("— none yet —"))
        for r in mine:
            detail = " · ".join(esc(x) for x in (r.holder, r.place) if x)
            lines.append(f"#{r.number} {esc(r.text)}" + (f" — {detail}" if detail else ""))
        if diagram:
            lines.append("🏛 " + esc(on_diagram(tr, diagram)))
    return lines


def resource_chart(locale: str, found: list[Resource], orgs: list[Org]) -> Chart:
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    rows = [data.ResourceRow(r.number, r.kind, r.text, r.holder, r.place) for r in found]
    labels = {"title": tr.t("Resource map"), "subtitle": tr.tn("{n} resource", "{n} resources", len(found)),
              "holder": tr.t("held by"), "place": tr.t("where"), "none": tr.t("none yet"),
              "empty": tr.t("No resources yet")}
    notes = {"organisations": (len(orgs), on_diagram(tr, orgs))} if orgs else {}
    return Chart(charts.render_resources, (rows, [(k, tr.t(v)) for k, v in KINDS.items()], labels, notes),
                 filename="resources.png")


def resource_caption(tr: Translator, found: list[Resource], orgs: list[Org]) -> str:
    missing = [tr.t(label) for key, label in KINDS.items()
               if not any(r.kind == key for r in found) and not (key == "organisations" and orgs)]
    text = tr.tn("Resource map: {n} resource.", "Resource map: {n} resources.", len(found))
    if orgs:
        text += " " + tr.tn("Organisations on the institutional diagram: {n}.",
                            "Organisations on the institutional diagram: {n}.", len(orgs))
    if missing:
        text += " " + tr.t("None yet: {kinds}.", kinds=", ".join(missing))
    return text


@command("resources", who="member", describe=N_("Resource map"),
         usage=(("/resources remove 3", N_("take #3 off the resource map"), "kmut"),))
async def resources_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None
    words = ctx.event.args.lower().split()
    if words and words[0] == "remove":
        number = await remove_command(ctx, community, words, resources.remove_resource)
        await ctx.audit("resource.removed", community.id, number=number)
        ctx.reply(ctx.t("#{number} is off the resource map.", number=number))
        return
    found = await resources.resources_of(ctx.tx, community.id)
    orgs = await resources.orgs_of(ctx.tx, community.id)
    if ctx.event.is_group:
        ctx.reply(resource_caption(ctx.tr, found, orgs),
                  [[Button(ctx.t("➕ Add a resource"), link=ctx.private_link("resources"))]],
                  chart=resource_chart(ctx.locale, found, orgs))
        return
    lines = resource_lines(ctx.tr, found, orgs)
    if await ctx.role(community.id) in ("kmut", "facilitator"):
        lines += ["", ctx.t("ҚМҰТ: take one off with /resources remove 3.")]
    ctx.reply_pages(lines, [[Button(ctx.t("➕ Add a resource"), data=ResourceAdd(community.id).encode())],
                           [Button(ctx.t("🖼 The map as a picture"), data=ResourcePicture(community.id).encode())]])


@button(ResourcePicture, who="member", scope=community_scope)
async def resource_picture(ctx: Context, tap: ResourcePicture) -> None:
    assert ctx.scoped is not None
    found = await resources.resources_of(ctx.tx, ctx.scoped.id)
    orgs = await resources.orgs_of(ctx.tx, ctx.scoped.id)
    ctx.reply(resource_caption(ctx.tr, found, orgs), chart=resource_chart(ctx.locale, found, orgs))


@button(ResourceAdd, who="member", scope=community_scope)
async def resource_add(ctx: Context, tap: ResourceAdd) -> None:
    assert ctx.scoped is not None
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("resources"))
    ctx.reply(ctx.t("What kind of resource?"),
              [[Button(ctx.t(label), data=ResourceKind(ctx.scoped.id, key).encode())] for key, label in KINDS.items()])


@button(ResourceKind, who="member", scope=community_scope)
async def resource_kind(ctx: Context, tap: ResourceKind) -> None:
    assert ctx.scoped is not None
    kind = tap.kind
    if kind not in KINDS:
        raise BadPayload("unknown kind")
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("resources"))
    ctx.goto("res.text", community=ctx.scoped.id, kind=kind)
    ctx.reply(ctx.t("Describe it in one message: what it is on the first line; if you know them, who holds it "
                    "on the second and where on the third. For example:\nA tractor with a trailer\nSerik, the "
                    "farmer\nThe farm at the end of the village"))


@state("res.text", who="member")
async def resource_text(ctx: Context, raw: str) -> None:
    kind = ctx.data.get("kind")
    community = await waiting_community(ctx, "resources", valid=kind in KINDS)
    if community is None:
        return
    assert ctx.member is not None
    text, holder, place = message_lines(raw, 3)
    holder, place = holder[:DETAIL_MAX], place[:DETAIL_MAX]
    if len(text) < TEXT_MIN:
        raise ctx.refuse(ctx.tn("That is too short: at least {n} character, please.",
                                "That is too short: at least {n} characters, please.", TEXT_MIN))
    if len(text) > TEXT_MAX:
        raise ctx.refuse(ctx.tn("That is {n} character; please keep it to {max}.",
                                "That is {n} characters; please keep it to {max}.", len(text), max=TEXT_MAX))
    await rate_limited(ctx)
    if len(await resources.resources_of(ctx.tx, community.id)) >= MAX_RESOURCES:
        raise ctx.refuse(ctx.tn("The map holds {n} resource already; the ҚМҰТ can take some off to make room.",
                                "The map holds {n} resources already; the ҚМҰТ can take some off to make room.",
                                MAX_RESOURCES))
    resource = await resources.add_resource(ctx.tx, community.id, kind, text, holder, place, ctx.member.id,
                                            ctx.now_iso)
    await ctx.audit("resource.added", community.id, number=resource.number, kind=kind)
    ctx.clear()
    ctx.reply(ctx.t("Added to the resource map as #{number} ({kind}). Thank you!", number=resource.number,
                    kind=ctx.t(KINDS[kind])),
              [[Button(ctx.t("➕ Add a resource"), data=ResourceAdd(community.id).encode())]])


# --- the institutional diagram ---------------------------------------------------------------
def fmt(value: float | None, tr: Translator) -> str:
    return "—" if value is None else tr.num(value)


def org_lines(tr: Translator, found: list[Org], mine: dict[int, tuple[int, int]]) -> list[str]:
    lines = [tr.t("🏛 <b>Institutional diagram</b>"),
             tr.t("Importance and closeness to the community, from 1 to 3: the mean of members' estimates."), ""]
    if not found:
        lines.append(tr.t("No organisations yet."))
    for org in found:
        line = tr.t("#{number} {name} — importance {importance}, closeness {closeness} (estimates: {n})",
                    number=org.number, name=esc(org.name), importance=fmt(org.importance, tr),
                    closeness=fmt(org.closeness, tr), n=org.raters)
        if org.number in mine:
            line += " · " + tr.t("your estimate: importance {importance}, closeness {closeness}",
                                 importance=mine[org.number][0], closeness=mine[org.number][1])
        lines.append(line)
    return lines


def org_chart(locale: str, found: list[Org]) -> Chart:
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    rows = [data.OrgRow(o.number, o.name, o.importance, o.closeness, o.raters) for o in found if o.raters]
    labels = {"title": tr.t("Institutional diagram"),
              "subtitle": tr.tn("{n} organisation", "{n} organisations", len(rows)),
              "community": tr.t("Our community"), "importance": tr.t("circle size: importance"),
              "closeness": tr.t("distance: closeness"), "ring": tr.t("closeness {n}"),
              "empty": tr.t("No organisations yet"),
              "scores": tr.t("importance {importance}, closeness {closeness}"),
              "raters": tr.t("estimates: {n}"), "raters_one": tr.t("estimates: {n}"),
              "decimal": tr.decimal}
    return Chart(charts.render_orgs, (rows, labels), filename="orgs.png")


def org_caption(tr: Translator, found: list[Org]) -> str:
    rated = [o for o in found if o.raters]
    if not rated:
        return tr.t("Institutional diagram: no organisation estimated yet.")
    closest = max(rated, key=lambda o: (o.closeness, o.importance, -o.number))
    weightiest = max(rated, key=lambda o: (o.importance, o.closeness, -o.number))
    return tr.t("Institutional diagram (organisations estimated: {n}): the closest to the community is {closest}, "
                "the most important {important}.", n=len(rated), closest=esc(closest.name),
                important=esc(weightiest.name))


@command("orgs", who="member", describe=N_("Institutional diagram"),
         usage=(("/orgs remove 3", N_("take #3 off the institutional diagram"), "kmut"),))
async def orgs_command(ctx: Context) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    words = ctx.event.args.lower().split()
    if words and words[0] == "remove":
        number = await remove_command(ctx, community, words, resources.remove_org)
        await ctx.audit("org.removed", community.id, number=number)
        ctx.reply(ctx.t("#{number} is off the institutional diagram.", number=number))
        return
    found = await resources.orgs_of(ctx.tx, community.id)
    if ctx.event.is_group:
        ctx.reply(org_caption(ctx.tr, found), [[Button(ctx.t("➕ Add or estimate"), link=ctx.private_link("orgs"))]],
                  chart=org_chart(ctx.locale, found))
        return
    await show_orgs(ctx, community, found)


async def show_orgs(ctx: Context, community: Community, found: list[Org]) -> None:
    assert ctx.member is not None
    mine = await resources.ratings_of(ctx.tx, community.id, ctx.member.id)
    lines = org_lines(ctx.tr, found, mine)
    if await ctx.role(community.id) in ("kmut", "facilitator"):
        lines += ["", ctx.t("ҚМҰТ: take one off with /orgs remove 3.")]
    unrated = [o for o in found if o.number not in mine][:UNRATED_SHOWN]
    rows = [[Button(short(ctx.t("Estimate #{number} {name}", number=o.number, name=o.name), 40),
                    data=OrgRate(community.id, o.number).encode(), number=o.number)] for o in unrated]
    if mine:
        rows.append([Button(ctx.t("✏️ Change my estimates"), data=OrgChange(community.id).encode())])
    rows += [[Button(ctx.t("➕ Add an organisation or person"), data=OrgAdd(community.id).encode())],
             [Button(ctx.t("🖼 The diagram as a picture"), data=OrgPicture(community.id).encode())]]
    ctx.reply_pages(lines, rows)


@button(OrgChange, who="member", scope=community_scope)
async def org_change(ctx: Context, tap: OrgChange) -> None:
    """The organisations this member estimated, to estimate one again."""
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    mine = await resources.ratings_of(ctx.tx, community.id, ctx.member.id)
    rated = [o for o in await resources.orgs_of(ctx.tx, community.id) if o.number in mine]
    if not rated:
        raise ctx.refuse(ctx.t("You have not estimated any organisation yet."))
    ctx.reply(ctx.t("Which estimate do you change?"),
              [[Button(short(ctx.t("Change #{number} {name}", number=o.number, name=o.name), 40),
                       data=OrgRate(community.id, o.number).encode(), number=o.number)] for o in rated])


@button(OrgPicture, who="member", scope=community_scope)
async def org_picture(ctx: Context, tap: OrgPicture) -> None:
    assert ctx.scoped is not None
    found = await resources.orgs_of(ctx.tx, ctx.scoped.id)
    ctx.reply(org_caption(ctx.tr, found), chart=org_chart(ctx.locale, found))


@button(OrgAdd, who="member", scope=community_scope)
async def org_add(ctx: Context, tap: OrgAdd) -> None:
    assert ctx.scoped is not None
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("orgs"))
    ctx.goto("org.name", community=ctx.scoped.id)
    ctx.reply(ctx.t("Which organisation, body, group or person matters for the community and this problem? "
                    "Send its name (for example: the akimat, the school, the imam, the youth council)."))


@state("org.name", who="member")
async def org_name(ctx: Context, raw: str) -> None:
    community = await waiting_community(ctx, "orgs")
    if community is None:
        return
    assert ctx.member is not None
    name = clean_line(raw)
    if len(name) < 2 or len(name) > NAME_MAX:
        raise ctx.refuse(ctx.tn("A name of 2 to {n} character, please.", "A name of 2 to {n} characters, please.",
                                NAME_MAX))
    existing = await resources.org_by_norm(ctx.tx, community.id, normalize(name))
    if existing is not None:
        raise ctx.refuse(ctx.t("It is on the diagram already as #{number}.", number=existing))
    await rate_limited(ctx)
    if len(await resources.orgs_of(ctx.tx, community.id)) >= MAX_ORGS:
        raise ctx.refuse(ctx.tn("The diagram holds {n} organisation already; the ҚМҰТ can take some off to "
                                "make room.",
                                "The diagram holds {n} organisations already; the ҚМҰТ can take some off to "
                                "make room.", MAX_ORGS))
    number = await resources.add_org(ctx.tx, community.id, name, normalize(name), ctx.member.id, ctx.now_iso)
    await ctx.audit("org.added", community.id, number=number)
    ctx.clear()
    ctx.reply(ctx.t("Added to the diagram as #{number}. Now your estimate:", number=number))
    ask_importance(ctx, community.id, number, name)


def ask_importance(ctx: Context, community_id: int, number: int, name: str,
                   mine: tuple[int, int] | None = None) -> None:
    text = ctx.t("How <b>important</b> is #{number} {name} for solving the problem? 1 — a little, 2 — fairly, "
                 "3 — very.", number=number, name=esc(name))
    if mine is not None:
        text += "\n" + ctx.t("Your estimate now: importance {importance}, closeness {closeness}. Answer both "
                             "questions to change it.", importance=mine[0], closeness=mine[1])
    ctx.reply(text,
              [[Button(str(v), data=OrgImportance(community_id, number, v).encode(), number=v) for v in (1, 2, 3)]])


async def org_of(ctx: Context, number: int) -> tuple[int, int]:
    assert ctx.scoped is not None
    org = await resources.org_id(ctx.tx, ctx.scoped.id, number) if number < ORG_NUMBERS else None
    if org is None:
        raise ctx.refuse(ctx.t("That organisation is no longer on the diagram."))
    return org, number


def score(value: int) -> int:
    if value not in (1, 2, 3):
        raise BadPayload("a score is 1, 2 or 3")
    return value


@button(OrgRate, who="member", scope=community_scope)
async def org_rate(ctx: Context, tap: OrgRate) -> None:
    assert ctx.scoped is not None
    await org_of(ctx, tap.number)
    assert ctx.member is not None
    name = next(o.name for o in await resources.orgs_of(ctx.tx, ctx.scoped.id) if o.number == tap.number)
    mine = await resources.ratings_of(ctx.tx, ctx.scoped.id, ctx.member.id)
    ask_importance(ctx, ctx.scoped.id, tap.number, name, mine.get(tap.number))


@button(OrgImportance, who="member", scope=community_scope)
async def org_importance(ctx: Context, tap: OrgImportance) -> None:
    assert ctx.scoped is not None
    await org_of(ctx, tap.number)
    score(tap.importance)
    ctx.reply(ctx.t("How <b>close</b> is it to the community — how much does it work with us? 1 — far, 2 — "
                    "somewhat, 3 — close."),
              [[Button(str(v), data=OrgCloseness(ctx.scoped.id, tap.number, tap.importance, v).encode(), number=v)
                for v in (1, 2, 3)]])


@button(OrgCloseness, who="member", scope=community_scope)
async def org_closeness(ctx: Context, tap: OrgCloseness) -> None:
    community = ctx.scoped
    assert community is not None and ctx.member is not None
    org, value = await org_of(ctx, tap.number)
    await resources.rate(ctx.tx, org, ctx.member.id, score(tap.importance), score(tap.closeness))
    ctx.toast(ctx.t("Your estimate of #{number} is saved.", number=value))
    await show_orgs(ctx, community, await resources.orgs_of(ctx.tx, community.id))


async def step_result(ctx: Context, community: Community, tr: Translator) -> str | None:
    found = await resources.resources_of(ctx.tx, community.id)
    orgs = await resources.orgs_of(ctx.tx, community.id)
    if not found and not orgs:
        return None
    return resource_caption(tr, found, orgs) + "\n" + org_caption(tr, orgs)


STEP_RESULTS[4] = step_result
