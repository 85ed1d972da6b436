"""Step 3, the problem tree (мәселе ағашы): members add causes (the roots) and consequences (the
leaves) of the chosen problem (the trunk and branches), each on the problem itself or under
another of its kind; the ҚМҰТ merges duplicates and removes what does not belong; the bot draws
the tree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.domain.models import Community
from bot.domain.text import clean_line, small_int, shorten as short
from bot.flows.access import require, waiting_community
from bot.flows.context import Context, esc
from bot.flows.payloads import BadPayload, Payload
from bot.flows.problems import normalize
from bot.flows.registry import button, command, state
from bot.flows.scopes import community_scope
from bot.flows.steps import STEP_RESULTS, menu_item
from bot.flows.types import Button, Chart
from bot.i18n import N_, Translator, translator
from bot.storage import problems, tree
from bot.storage.problems import Problem
from bot.storage.tree import Node

TEXT_MIN, TEXT_MAX = 3, 200
MAX_NODES = 80                                # open nodes a tree may hold (the chart stays readable)
RATE_COUNT, RATE_WINDOW = 10, timedelta(minutes=10)
KINDS = {"cause": N_("cause"), "effect": N_("consequence")}


class TreePicture(Payload, prefix="tc"):
    community: int


class TreeAdd(Payload, prefix="tn"):
    """``tn:<community>:<kind>`` asks for a cause or consequence; while one already written waits
    for its place, the place is asked again rather than the text dropped (``anew`` "new" drops it)."""

    community: int
    kind: str
    anew: str | None = None


class TreePlace(Payload, prefix="tp"):
    """The written node hangs under node ``number`` (0: on the problem itself)."""

    community: int
    number: int

menu_item(3, N_("Problem tree"), "tree")


async def chosen_problem(ctx: Context, community: Community, step: int = 3) -> Problem:
    """The problem the community chose in step 1; before it, a refusal that names the step asked
    for (3, the problem tree, or 5, the action plan)."""
    problem = await problems.chosen(ctx.tx, community.id)
    if problem is None:
        raise ctx.refuse(ctx.t("The action plan starts once the community has chosen its problem (step 1).")
                         if step == 5 else
                         ctx.t("The problem tree starts once the community has chosen its problem (step 1)."))
    return problem


def outline(tr: Translator, nodes: list[Node], kind: str) -> list[str]:
    """The nodes of one kind, each under its parent, indented by depth."""
    children: dict[int | None, list[Node]] = {}
    for node in nodes:
        if node.kind == kind:
            children.setdefault(node.parent_id, []).append(node)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for node in children.get(parent, []):
            lines.append(f"{'    ' * depth}{'└ ' if depth else ''}#{node.number} {esc(node.text)}")
            walk(node.id, depth + 1)

    walk(None, 0)
    return lines or [tr.t("— none yet —")]


def tree_text(tr: Translator, problem: Problem, nodes: list[Node]) -> list[str]:
    return ([tr.t("🌳 <b>Problem tree</b>"), "", tr.t("<b>Consequences</b> (the leaves):")]
            + outline(tr, nodes, "effect")
            + ["", tr.t("<b>The problem</b> (the trunk and branches): {text}", text=esc(problem.text)), "",
               tr.t("<b>Causes</b> (the roots):")]
            + outline(tr, nodes, "cause"))


def add_buttons(tr: Translator, community_id: int) -> list[list[Button]]:
    return [[Button(tr.t("➕ A cause"), data=TreeAdd(community_id, "cause").encode()),
             Button(tr.t("➕ A consequence"), data=TreeAdd(community_id, "effect").encode())],
            [Button(tr.t("🖼 The tree as a picture"), data=TreePicture(community_id).encode())]]


def chart(locale: str, problem: Problem, nodes: list[Node]) -> Chart:
    from bot import charts
    from bot.charts import data

    tr = translator(locale)
    by_id = {n.id: n for n in nodes}
    rows = [data.TreeNode(n.number, n.text, n.kind, by_id[n.parent_id].number if n.parent_id else None)
            for n in nodes]
    causes = sum(n.kind == "cause" for n in nodes)
    labels = {"title": tr.t("Problem tree"),
              "subtitle": tr.tn("{n} cause", "{n} causes", causes) + " · "
              + tr.tn("{n} consequence", "{n} consequences", len(nodes) - causes),
              "causes": tr.t("Causes (the roots)"), "effects": tr.t("Consequences (the leaves)"),
              "problem": tr.t("The problem"), "empty": tr.t("No causes or consequences yet"),
              "no_effects": tr.t("No consequences yet"), "no_causes": tr.t("No causes yet")}
    return Chart(charts.render_tree, (problem.text, rows, labels), filename="tree.png")


def caption(tr: Translator, nodes: list[Node]) -> str:
    causes = sum(n.kind == "cause" for n in nodes)
    return tr.t("Problem tree: {causes}, {effects}.", causes=tr.tn("{n} cause", "{n} causes", causes),
                effects=tr.tn("{n} consequence", "{n} consequences", len(nodes) - causes))


# --- seeing the tree -------------------------------------------------------------------------
@command("tree", who="member", describe=N_("Problem tree"), usage=(
    ("/tree merge 5 2", N_("merge #5 of the tree into #2"), "kmut"),
    ("/tree remove 5", N_("remove #5 from the tree"), "kmut")))
async def tree_command(ctx: Context) -> None:
    """``/tree`` shows the tree; the ҚМҰТ curates with ``/tree merge 5 2`` and ``/tree remove 5``."""
    community = ctx.scoped
    assert community is not None
    words = ctx.event.args.lower().split()
    if words and words[0] in ("merge", "remove"):
        await curate(ctx, community, words)
        return
    if words:
        raise ctx.refuse(ctx.t("Write /tree to see the tree; the ҚМҰТ merges with /tree merge 5 2 and removes "
                               "with /tree remove 5."))
    problem = await chosen_problem(ctx, community)
    nodes = await tree.of_problem(ctx.tx, problem.id)
    if ctx.event.is_group:
        ctx.reply(caption(ctx.tr, nodes), [[Button(ctx.t("➕ Add a cause or a consequence"),
                                                  link=ctx.private_link("tree"))]], chart=chart(ctx.locale, problem, nodes))
        return
    lines = tree_text(ctx.tr, problem, nodes)
    if await ctx.role(community.id) in ("kmut", "facilitator"):
        lines += ["", ctx.t("ҚМҰТ: merge a duplicate with /tree merge 5 2 (#5 into #2), remove one with "
                            "/tree remove 5.")]
    ctx.reply_pages(lines, add_buttons(ctx.tr, community.id))


@button(TreePicture, who="member", scope=community_scope)
async def picture(ctx: Context, tap: TreePicture) -> None:
    community = ctx.scoped
    assert community is not None
    problem = await chosen_problem(ctx, community)
    nodes = await tree.of_problem(ctx.tx, problem.id)
    ctx.reply(caption(ctx.tr, nodes), chart=chart(ctx.locale, problem, nodes))


# --- adding ----------------------------------------------------------------------------------
@button(TreeAdd, who="member", scope=community_scope)
async def add_pressed(ctx: Context, tap: TreeAdd) -> None:
    community = ctx.scoped
    assert community is not None
    kind, anew = tap.kind, tap.anew
    if kind not in KINDS or anew not in (None, "new"):
        raise BadPayload("unknown kind")
    if ctx.event.is_group:
        raise ctx.refuse(ctx.t("This works in the private chat with me."), ctx.private_link("tree"))
    problem = await chosen_problem(ctx, community)
    waiting = ctx.data.get("text") if ctx.state == "tree.where" and ctx.data.get("community") == community.id else None
    if isinstance(waiting, str) and ctx.data.get("kind") in KINDS and not anew:
        await ask_place(ctx, community, problem, ctx.data["kind"], waiting, again=kind)
        return
    ctx.goto("tree.text", community=community.id, kind=kind)
    if kind == "cause":
        ctx.reply(ctx.t("Write one cause of the problem «{problem}»: why does it happen? (3–200 characters)",
                        problem=esc(problem.text)))
    else:
        ctx.reply(ctx.t("Write one consequence of the problem «{problem}»: what does it lead to? (3–200 characters)",
                        problem=esc(problem.text)))


@state("tree.text", who="member")
async def text_sent(ctx: Context, raw: str) -> None:
    kind = ctx.data.get("kind")
    community = await waiting_community(ctx, "tree", valid=kind in KINDS)
    if community is None:
        return
    problem = await chosen_problem(ctx, community)
    text = clean_line(raw)  # one line: the outline shows one node a line
    if len(text) < TEXT_MIN:
        raise ctx.refuse(ctx.tn("That is too short: at least {n} character, please.",
                                "That is too short: at least {n} characters, please.", TEXT_MIN))
    if len(text) > TEXT_MAX:
        raise ctx.refuse(ctx.tn("That is {n} character; please keep it to {max}.",
                                "That is {n} characters; please keep it to {max}.", len(text), max=TEXT_MAX))
    await may_add(ctx, problem, kind, text)
    same_kind = [n for n in await tree.of_problem(ctx.tx, problem.id) if n.kind == kind]
    if not same_kind:
        await add(ctx, community, problem, kind, None, text)
        return
    await ask_place(ctx, community, problem, kind, text)


async def ask_place(ctx: Context, community: Community, problem: Problem, kind: str, text: str,
                    again: str | None = None) -> None:
    """Where the written node hangs; ``again``: asked anew because the member pressed "add" (of
    that kind) meanwhile, with a button to drop the text and write another."""
    same_kind = [n for n in await tree.of_problem(ctx.tx, problem.id) if n.kind == kind]
    ctx.goto("tree.where", community=community.id, kind=kind, text=text)
    rows = [[Button(ctx.t("Directly on the problem"), data=TreePlace(community.id, 0).encode())]]
    rows += [[Button(short(f"#{n.number} {n.text}", 40), data=TreePlace(community.id, n.number).encode(),
                     number=n.number)]
             for n in same_kind]
    question = ctx.t("Does it hang on the problem itself, or under one of these? (a cause of a cause, a "
                     "consequence of a consequence)")
    if again is not None:
        question = ctx.t("You wrote «{text}»; it is not on the tree yet.", text=esc(text)) + "\n" + question
        rows.append([Button(ctx.t("Drop it and write another"), data=TreeAdd(community.id, again, "new").encode())])
    ctx.reply(question, rows)


async def may_add(ctx: Context, problem: Problem, kind: str, text: str) -> None:
    """Refuse a node the tree already had (merged or removed ones too), one past the member's
    rate or past the tree's size; checked when the text comes and again when it is stored."""
    assert ctx.member is not None
    existing = await tree.same_text(ctx.tx, problem.id, kind, normalize(text))
    if existing is not None and existing.status == "open":
        raise ctx.refuse(ctx.t("This is already on the tree as #{number}.", number=existing.number))
    if existing is not None:
        raise ctx.refuse(ctx.t("#{number} said this, and the ҚМҰТ merged or removed it.", number=existing.number))
    since = (ctx.now - RATE_WINDOW).isoformat(timespec="seconds")
    if await tree.count_recent(ctx.tx, ctx.member.id, since) >= RATE_COUNT:
        raise ctx.refuse(ctx.tn("You have added {n} cause or consequence in the last minutes. Please wait a "
                                "little before the next one.",
                                "You have added {n} causes and consequences in the last minutes. Please wait a "
                                "little before the next one.", RATE_COUNT))
    if len(await tree.of_problem(ctx.tx, problem.id)) >= MAX_NODES:
        raise ctx.refuse(ctx.tn("The tree has {n} cause or consequence already; the ҚМҰТ can merge "
                                "duplicates to make room.",
                                "The tree has {n} causes and consequences already; the ҚМҰТ can merge "
                                "duplicates to make room.", MAX_NODES))


@state("tree.where", who="member")
async def text_instead_of_place(ctx: Context, raw: str) -> None:
    raise ctx.refuse(ctx.t("Choose its place with the buttons above, or start again with /tree."))


@button(TreePlace, who="member", scope=community_scope)
async def where_pressed(ctx: Context, tap: TreePlace) -> None:
    community = ctx.scoped
    assert community is not None
    parent_number = tap.number
    if ctx.state != "tree.where" or ctx.data.get("community") != community.id:
        raise BadPayload("no node waiting for its place")
    kind, text = ctx.data.get("kind"), ctx.data.get("text")
    if kind not in KINDS or not isinstance(text, str):
        raise BadPayload("no node waiting for its place")
    problem = await chosen_problem(ctx, community)
    parent = None
    if parent_number:
        parent = await tree.by_number(ctx.tx, problem.id, parent_number)
        if parent is None or parent.kind != kind:
            raise BadPayload("not a node of this kind on this tree")
        if parent.status != "open":
            raise ctx.refuse(ctx.t("#{number} was merged or removed meanwhile; choose another place.",
                                   number=parent.number))
    await may_add(ctx, problem, kind, text)
    await add(ctx, community, problem, kind, parent, text)


async def add(ctx: Context, community: Community, problem: Problem, kind: str, parent: Node | None,
              text: str) -> None:
    assert ctx.member is not None
    node = await tree.add(ctx.tx, community.id, problem.id, kind, parent.id if parent else None, text,
                          normalize(text), ctx.member.id, ctx.now_iso)
    await ctx.audit("tree.node_added", community.id, node=node.id, kind=kind, parent=parent.id if parent else None)
    ctx.clear()
    where = ctx.t("under #{number}", number=parent.number) if parent else ctx.t("on the problem itself")
    ctx.reply(ctx.t("Added to the tree as #{number} ({kind}, {where}). Thank you! Add another, or see the whole "
                    "tree with /tree.", number=node.number, kind=ctx.t(KINDS[kind]), where=where),
              add_buttons(ctx.tr, community.id))


# --- curating (the ҚМҰТ) ---------------------------------------------------------------------
async def curate(ctx: Context, community: Community, words: list[str]) -> None:
    await require(ctx, community, "kmut")
    problem = await chosen_problem(ctx, community)
    numbers = [small_int(w.lstrip("#"), 6) for w in words[1:]]
    usage = ctx.t("Write /tree merge 5 2 to merge #5 into #2, or /tree remove 5.")
    if words[0] == "remove":
        if len(numbers) != 1 or numbers[0] is None:
            raise ctx.refuse(usage)
        node = await open_node(ctx, problem, numbers[0])
        moved = any(n.parent_id == node.id for n in await tree.of_problem(ctx.tx, problem.id))
        await tree.remove(ctx.tx, node)
        await ctx.audit("tree.node_removed", community.id, node=node.id)
        ctx.reply(ctx.t("#{number} is off the tree.", number=node.number)
                  + (" " + ctx.t("What hung under it moved one level up.") if moved else ""))
        await tell_author(ctx, node, lambda tr: tr.t("Your #{number} «{text}» was taken off the problem tree by the "
                                                     "ҚМҰТ.", number=node.number, text=esc(node.text)))
        return
    if len(numbers) != 2 or None in numbers or numbers[0] == numbers[1]:
        raise ctx.refuse(usage)
    source = await open_node(ctx, problem, numbers[0])
    target = await open_node(ctx, problem, numbers[1])
    if source.kind != target.kind:
        raise ctx.refuse(ctx.t("A cause merges only with a cause, a consequence with a consequence."))
    if await hangs_under(ctx, problem, target, source):
        raise ctx.refuse(ctx.t("#{target} hangs under #{source}; merge the other way: /tree merge {target} {source}",
                               target=target.number, source=source.number))
    await tree.merge(ctx.tx, source, target)
    await ctx.audit("tree.node_merged", community.id, node=source.id, into=target.id)
    ctx.reply(ctx.t("On the tree, #{source} is merged into #{target}.", source=source.number, target=target.number))
    await tell_author(ctx, source, lambda tr: tr.t("Your #{number} on the problem tree was merged into #{target}, "
                                                   "which says the same.", number=source.number, target=target.number))


async def tell_author(ctx: Context, node: Node, build: Callable[[Translator], str]) -> None:
    """The author of a node hears what the ҚМҰТ did with it (unless they did it themselves)."""
    if node.created_by is not None and (ctx.member is None or node.created_by != ctx.member.id):
        await ctx.notify(node.created_by, lambda tr: (build(tr), []))


async def open_node(ctx: Context, problem: Problem, number: int) -> Node:
    node = await tree.by_number(ctx.tx, problem.id, number)
    if node is None or node.status != "open":
        raise ctx.refuse(ctx.t("There is no #{number} on the tree.", number=number))
    return node


async def hangs_under(ctx: Context, problem: Problem, node: Node, ancestor: Node) -> bool:
    by_id = {n.id: n for n in await tree.of_problem(ctx.tx, problem.id)}
    seen, current = set(), node.parent_id
    while current is not None and current not in seen:
        if current == ancestor.id:
            return True
        seen.add(current)
        current = by_id[current].parent_id if current in by_id else None
    return False


async def step_result(ctx: Context, community: Community, tr: Translator) -> str | None:
    problem = await problems.chosen(ctx.tx, community.id)
    nodes = await tree.of_problem(ctx.tx, problem.id) if problem else []
    return caption(tr, nodes) if nodes else None


STEP_RESULTS[3] = step_result
