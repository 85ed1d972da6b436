"""/report and /export: the community's cycle as a printable PDF, and its data as a spreadsheet.

``gather`` and ``export_tables`` read the community in one transaction and word everything in
the reader's language; ``bot.charts.report`` and ``bot.charts.sheets`` lay it out, after the
commit and off the event loop (the message's document is a ``Chart`` its renderer makes). They take a community, so the
operator's command line (``qatysu report``/``qatysu export``) and the demo use them too.

Nothing identifies a voter: results are counts, the only names are the public roles the
community gave (facilitators, the ҚМҰТ, a task's responsible member), and no free-text answer
of the evaluation is printed or exported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.models import Community
from bot.domain.text import small_int
from bot.flows import election, evaluation as evaluation_flow, plan as plan_flow, resources as resources_flow
from bot.flows import monitoring, results, tree as tree_flow
from bot.flows.context import Context, esc
from bot.flows.nominations import CATEGORY_NAMES
from bot.flows.registry import command
from bot.flows.steps import STEP_TITLES
from bot.flows.types import Chart
from bot.i18n import N_, Translator, translator
from bot.markup import plain
from bot.storage import (audit, ballots, checkins, communities, cycles, evaluation, members, nominations, plan,
                         problems, resources, tree)
from bot.storage.ballots import Ballot
from bot.storage.checkins import Checkin
from bot.storage.cycles import Cycle
from bot.storage.db import Tx

RANKED = ("dots", "matrix", "pairwise")
KIND_NAMES = {"cause": N_("cause"), "effect": N_("consequence")}
ZIPLESS = ("whatsapp",)  # channels that cannot send a zip file (WhatsApp): each CSV file goes on its own


def _chart(chart: Chart) -> list:
    from bot.charts import registry

    return ["chart", {"renderer": registry.name_of(chart.render), "args": list(chart.args),
                      "kwargs": dict(chart.kwargs)}]


def _day(iso: str | None) -> str:
    return f"{datetime.fromisoformat(iso):%d.%m.%Y}" if iso else ""


def _name(tr: Translator, name: str) -> str:
    return name or tr.t("a former member")


def _section(tr: Translator, step: int, blocks: list) -> dict:
    return {"heading": tr.t("Step {n}. {title}", n=step, title=tr.t(STEP_TITLES[step])), "blocks": blocks}


async def _ranked(tx: Tx, community_id: int) -> list[results.Result]:
    """The results of every step 1 ballot, in the order they were opened."""
    found = [b for b in await ballots.of_community(tx, community_id) if b.kind in RANKED]
    return [await results.build(tx, b) for b in sorted(found, key=lambda b: b.id)]


def _status(tr: Translator, ballot: Ballot) -> str:
    return (tr.t("open since {day}", day=_day(ballot.opened_at)) if ballot.is_open
            else tr.t("{opened} – {closed}", opened=_day(ballot.opened_at), closed=_day(ballot.closed_at)))


def method_ranks(tr: Translator, ranked: list[results.Result], missing: object):
    """The columns of a problem's ranks: one per method whose ballot closed (its latest), ranked
    among the problems it included as on the combined chart, then the combined rank when more
    than one method was run. Returns the headers, ``ranks_of(problem id)`` (``missing`` where a
    method did not rank it) and the combined chart (None with a single method)."""
    latest = {r.ballot.kind: r for r in ranked if not r.ballot.is_open}
    methods = [k for k in RANKED if k in latest]
    per_method = [results.included_ranks(latest[k]) for k in methods]
    headers = [tr.t(results.SHORT_NAMES[k]) for k in methods]
    rows, chart = results.combined(tr.locale, [latest[k] for k in methods]) if len(methods) > 1 else ([], None)
    combined = {row.option: row.rank for row in rows}
    if chart is not None:
        headers.append(tr.t("Combined ranking"))

    def ranks_of(problem_id: int) -> list:
        found = [ranks.get(problem_id, missing) for ranks in per_method]
        return found + [combined.get(problem_id, missing)] if chart is not None else found

    return headers, ranks_of, chart


async def _problems_section(tx: Tx, tr: Translator, community: Community, head: str) -> dict:
    ranked = await _ranked(tx, community.id)
    chosen = await problems.chosen(tx, community.id)
    listed = await problems.listed(tx, community.id)
    blocks: list = [["p", tr.tn("The members proposed {n} problem.", "The members proposed {n} problems.",
                                len(listed))]]
    headers, ranks_of, combined = method_ranks(tr, ranked, "—")
    rows = [[p.number, p.text + (" ✓" if chosen and chosen.id == p.id else ""), *ranks_of(p.id)] for p in listed]
    headers = ["#", tr.t("Problem"), *headers]
    blocks.append(["table", {"headers": headers, "rows": rows, "widths": [1, 9] + [2] * (len(headers) - 2)}])
    if chosen is not None:
        blocks.append(["p", tr.t("The community chose: #{number} {problem} (✓).", number=chosen.number,
                                 problem=chosen.text)])
    if not ranked:
        blocks.append(["p", tr.t("No ballot was held in this step.")])
    for result in ranked:
        ballot = result.ballot
        blocks.append(["p", tr.t("{method}, {dates}", method=tr.t(results.METHOD_NAMES[ballot.kind]),
                                 dates=_status(tr, ballot))])
        blocks.append(["p", plain(results.caption(tr, result, ballot.check_code or head))])
        if ballot.kind == "dots" and result.rows:
            by_id = result.by_id
            blocks.append(["table", {
                "headers": ["#", tr.t("Problem"), tr.t("online"), tr.t("in person (paper)"), tr.t("total")],
                "rows": [[by_id[r.option].number, by_id[r.option].text, r.online, r.paper, r.total]
                         for r in result.rows],
                "widths": [1, 8, 2, 3, 2]}])
            if ballot.paper_meetings:
                blocks.append(["note", tr.t("Paper stickers were counted at meetings and entered by the "
                                            "facilitator; they are marked as in person.")])
        blocks.append(_chart(results.chart(tr.locale, result)))
    if combined:
        blocks.append(["p", tr.t("Combined ranking")])
        blocks.append(_chart(combined))
    return _section(tr, 1, blocks)


async def _kmut_section(tx: Tx, tr: Translator, community: Community, head: str, people: int) -> dict:
    group = await nominations.group(tx, people)
    blocks: list = []
    held = sorted((b for b in await ballots.of_community(tx, community.id) if b.kind == "election"),
                  key=lambda b: b.id)
    votes: dict[int, int] = {}
    for ballot in held:
        result, by_id = await election.tally(tx, ballot)
        blocks.append(["p", tr.t("{method}, {dates}", method=tr.t("ҚМҰТ election"), dates=_status(tr, ballot))])
        blocks.append(["p", plain(election.caption(tr, ballot, result, by_id, ballot.check_code or head))])
        blocks.append(_chart(election.chart(tr.locale, ballot, result, by_id)))
        votes.update({by_id[c].member_id: result.votes[c] for c in result.order})
    if not held:
        blocks.append(["p", tr.t("No ballot was held in this step.")])
    rows = []
    for member_id, name in group:
        nomination = await nominations.of_member(tx, community.id, member_id)
        rows.append([_name(tr, name), tr.t(CATEGORY_NAMES[nomination.category]) if nomination else "—",
                     votes.get(member_id, "—")])
    blocks.insert(0, ["p", tr.tn("The ҚМҰТ has {n} member.", "The ҚМҰТ has {n} members.", len(group))
                      if group else tr.t("The ҚМҰТ is not confirmed yet.")])
    if rows:
        blocks.insert(1, ["table", {"headers": [tr.t("Name"), tr.t("Category"), tr.t("Votes")], "rows": rows,
                                    "widths": [6, 5, 2]}])
    return _section(tr, 2, blocks)


async def _tree_section(tx: Tx, tr: Translator, community: Community) -> dict:
    problem = await problems.chosen(tx, community.id)
    if problem is None:
        return _section(tr, 3, [["p", tr.t("The community has not chosen its problem yet.")]])
    nodes = await tree.of_problem(tx, problem.id)
    blocks: list = [["p", plain(tree_flow.caption(tr, nodes))], _chart(tree_flow.chart(tr.locale, problem, nodes))]
    blocks += [["p", plain(line)] for line in tree_flow.tree_text(tr, problem, nodes)[1:] if line]  # the chart has the title
    return _section(tr, 3, blocks)


async def _resources_section(tx: Tx, tr: Translator, community: Community) -> dict:
    found = await resources.resources_of(tx, community.id)
    orgs = await resources.orgs_of(tx, community.id)
    blocks: list = [["p", plain(resources_flow.resource_caption(tr, found, orgs))],
                    _chart(resources_flow.resource_chart(tr.locale, found, orgs))]
    if found:
        blocks.append(["table", {"headers": ["#", tr.t("Kind"), tr.t("Resource"), tr.t("held by"), tr.t("where")],
                                 "rows": [[r.number, tr.t(resources_flow.KINDS[r.kind]), r.text, r.holder, r.place]
                                          for r in found], "widths": [1, 4, 7, 4, 4]}])
    blocks += [["p", plain(resources_flow.org_caption(tr, orgs))], _chart(resources_flow.org_chart(tr.locale, orgs))]
    if orgs:
        blocks.append(["table", {"headers": ["#", tr.t("Organisation"), tr.t("Importance"), tr.t("Closeness"),
                                             tr.t("Estimates")],
                                 "rows": [[o.number, o.name, resources_flow.fmt(o.importance, tr),
                                           resources_flow.fmt(o.closeness, tr), o.raters] for o in orgs],
                                 "widths": [1, 9, 3, 3, 3]}])
    return _section(tr, 4, blocks)


def task_status(tr: Translator, task: plan.Task, latest: Checkin | None, today) -> str:
    """A task's status as /progress tells it (from its latest check-in and its due day)."""
    if not task.owner:
        return tr.t("no one responsible yet")
    status = monitoring.status_of(task, latest, today)
    text = tr.t("no report yet") if status == "none" else tr.t(monitoring.STATUS_NAMES[status])
    return f"{text}, {latest.percent}%" if latest is not None and status != "done" else text


def episodes(history: list[Checkin]) -> list[tuple[str, str, str | None]]:
    """A task's late and blocked episodes: (status, from, until), ``until`` the check-in that
    changed it (None: still so)."""
    found: list[tuple[str, str, str | None]] = []
    current: tuple[str, str] | None = None
    for checkin in history:
        if current is not None and checkin.status != current[0]:
            found.append((current[0], current[1], checkin.at))
            current = None
        if current is None and checkin.status in ("late", "blocked"):
            current = (checkin.status, checkin.at)
    if current is not None:
        found.append((current[0], current[1], None))
    return found


async def _tasks(tx: Tx, community: Community) -> tuple[list[plan.Task], dict[int, list[Checkin]]]:
    """The plan's tasks and each one's check-ins, oldest first."""
    problem = await problems.chosen(tx, community.id)
    tasks = await plan.of_problem(tx, problem.id) if problem else []
    return tasks, {t.id: await checkins.history(tx, t.id) for t in tasks}


async def _plan_section(tx: Tx, tr: Translator, community: Community, today, head: str) -> dict:
    tasks, history = await _tasks(tx, community)
    blocks: list = [["p", plain(plan_flow.caption(tr, tasks))]]
    for ballot in sorted((b for b in await ballots.of_community(tx, community.id, "closed") if b.kind == "plan"),
                         key=lambda b: b.id):
        blocks.append(["p", plain(plan_flow.result_text(tr, ballot, await plan.tally(tx, ballot.id),
                                                        ballot.check_code or head))])
    if tasks:
        blocks.append(["table", {"headers": ["#", tr.t("Task"), tr.t("Responsible"), tr.t("Dates"), tr.t("Status")],
                                 "rows": [[t.number, t.title, t.owner or "—", plan_flow.span_text(t) or "—",
                                           task_status(tr, t, (history[t.id] or [None])[-1], today)]
                                          for t in tasks],
                                 "widths": [1, 8, 4, 3, 4]}])
    blocks.append(_chart(plan_flow.chart(tr.locale, tasks, today)))
    return _section(tr, 5, blocks)


async def _monitoring_section(tx: Tx, tr: Translator, community: Community, today) -> dict:
    tasks, history = await _tasks(tx, community)
    latest = {t.id: history[t.id][-1] for t in tasks if history[t.id]}
    blocks: list = [["p", plain(monitoring.summary(tr, tasks, latest, today))]]
    if not latest:
        blocks.append(["p", tr.t("Nobody has reported on a task yet.")])
        return _section(tr, 6, blocks)
    blocks.append(_chart(monitoring.chart(tr.locale, tasks, latest, today)))
    lapses = [[t.number, t.title, tr.t(monitoring.STATUS_NAMES[status]), _day(since),
               _day(until) if until else tr.t("still so")]
              for t in tasks for status, since, until in episodes(history[t.id])]
    if lapses:
        blocks.append(["p", tr.t("Late and blocked tasks")])
        blocks.append(["table", {"headers": ["#", tr.t("Task"), tr.t("Status"), tr.t("From"), tr.t("Until")],
                                 "rows": lapses, "widths": [1, 8, 3, 3, 3]}])
    blocks.append(["p", tr.t("Check-ins")])
    blocks.append(["table", {"headers": ["#", tr.t("Date"), tr.t("Status"), "%", tr.t("Note")],
                             "rows": [[t.number, _day(c.at), tr.t(monitoring.STATUS_NAMES[c.status]), c.percent, c.note]
                                      for t in tasks for c in history[t.id]],
                             "widths": [1, 3, 3, 1, 10]}])
    return _section(tr, 6, blocks)


async def _evaluation_section(tx: Tx, tr: Translator, community: Community, head: str) -> dict:
    held = sorted((b for b in await ballots.of_community(tx, community.id) if b.kind == "evaluation"),
                  key=lambda b: b.id)
    blocks: list = [] if held else [["p", tr.t("The evaluation has not been held yet.")]]
    for ballot in held:
        summary = await evaluation.summary(tx, ballot.id)
        complete = await evaluation.complete(tx, ballot.id)
        blocks.append(["p", plain(evaluation_flow.caption(tr, summary, complete, ballot.check_code or head))])
        blocks.append(_chart(evaluation_flow.chart(tr.locale, summary)))
    return _section(tr, 7, blocks)


async def gather(tx: Tx, community: Community, locale: str, now: datetime,
                 cycle: Cycle | None = None) -> dict[str, Any]:
    """Everything the printed report says, worded in ``locale`` (see ``bot.charts.report``).
    ``community`` is whose data is printed: the community's, or an archived cycle's (then ``cycle``
    is that cycle, and the people are the living community's)."""
    tr = translator(locale)
    head = await audit.head(tx)
    today = now.astimezone(ZoneInfo(community.tz)).date()
    cycle = cycle or await cycles.current(tx, community.id)
    people = cycle.community_id  # facilitators, ҚМҰТ and members belong to the community, not to an archive
    facilitators = await communities.facilitator_names(tx, people)
    group = await nominations.group(tx, people)
    closed = _day(cycle.ended_at) if cycle.ended_at else f"{today:%d.%m.%Y}"
    cover = [
        [tr.t("Community"), community.name],
        [tr.t("Place"), community.place or "—"],
        [tr.t("Cycle"), str(cycle.number)],
        [tr.t("Dates of the cycle"), tr.t("{opened} – {closed}", opened=_day(cycle.started_at), closed=closed)],
        [tr.t("Facilitators"), ", ".join(_name(tr, n) for n in facilitators) or "—"],
        [tr.t("The ҚМҰТ"), ", ".join(_name(tr, n) for _, n in group) or tr.t("The ҚМҰТ is not confirmed yet.")],
        [tr.t("Members"), str(await members.count_members(tx, people))],
        [tr.t("Now at step"), tr.t("Step {n}. {title}", n=community.step, title=tr.t(STEP_TITLES[community.step]))],
        [tr.t("Check code"), tr.t("{code} (the whole hash: {head}). Anyone can check that nothing in this report "
                                  "was changed since it was printed: the operator runs qatysu audit verify "
                                  "--head {code}.", code=head[:8], head=head)],
    ]
    sections = [await _problems_section(tx, tr, community, head), await _kmut_section(tx, tr, community, head, people),
                await _tree_section(tx, tr, community), await _resources_section(tx, tr, community),
                await _plan_section(tx, tr, community, today, head),
                await _monitoring_section(tx, tr, community, today)]
    sections.append(await _evaluation_section(tx, tr, community, head))
    return {"title": tr.t("«{community}»: the community's report", community=community.name), "cover": cover,
            "sections": sections,
            "footer": tr.t("{community} · printed {day} · check code {code} · page {page}",
                           community=community.name, day=f"{today:%d.%m.%Y}", code=head[:8], page="{page}")}


# --- the export --------------------------------------------------------------------------------
def _table(name: str, file: str, headers: list[str], rows: list[list]) -> dict[str, Any]:
    return {"name": name, "file": file, "headers": headers, "rows": rows}


async def export_tables(tx: Tx, community: Community, locale: str, now: datetime,
                        cycle: Cycle | None = None) -> list[dict[str, Any]]:
    """The community's data as tables (see ``bot.charts.sheets``): counts and public roles only;
    ``community`` and ``cycle`` as for ``gather``."""
    tr = translator(locale)
    people = cycle.community_id if cycle else community.id
    today = now.astimezone(ZoneInfo(community.tz)).date()
    listed = await problems.listed(tx, community.id)
    chosen = await problems.chosen(tx, community.id)
    ranked = await _ranked(tx, community.id)
    yes, no = tr.t("Yes"), tr.t("No")
    headers, ranks_of, _ = method_ranks(tr, ranked, None)
    tables = [_table(tr.t("Problems"), "problems", ["#", tr.t("Problem"), tr.t("Chosen"), *headers],
                     [[p.number, p.text, yes if chosen and chosen.id == p.id else "", *ranks_of(p.id)]
                      for p in listed])]
    tallies = []
    for result in ranked:
        ballot, by_id = result.ballot, result.by_id
        for row in result.rows:
            option = row.option if ballot.kind != "pairwise" else row[0]
            problem = by_id[option]
            line = [ballot.id, tr.t(results.METHOD_NAMES[ballot.kind]), problem.number, problem.text,
                    result.ranks.get(option) if option in result.included else None]
            if ballot.kind == "dots":
                line += [row.online, row.paper, row.total, None, None, None, None]
            elif ballot.kind == "matrix":
                line += [None, None, None, round(row.mean_a, 2) if row.n else None,
                         round(row.mean_b, 2) if row.n else None, None, None]
            else:
                outcome = result.extra["outcome"]
                line += [None, None, None, None, None, outcome.win_counts.get(option, 0),
                         results.comparisons(outcome, option)]
            tallies.append(line)
    tables.append(_table(tr.t("Tallies"), "tallies", [
        tr.t("Ballot"), tr.t("Method"), "#", tr.t("Problem"), tr.t("Rank"), tr.t("Stickers online"),
        tr.t("Stickers in person (paper)"), tr.t("Stickers in total"), tr.t("Importance"), tr.t("Urgency"),
        tr.t("Chosen in pairs"), tr.t("Comparisons")], tallies))
    every = sorted(await ballots.of_community(tx, community.id), key=lambda b: b.id)
    names = {**{k: tr.t(v) for k, v in results.METHOD_NAMES.items()}, "election": tr.t("ҚМҰТ election"),
             "plan": tr.t("Action plan"), "evaluation": tr.t("Evaluation")}
    ballot_rows = []
    for ballot in every:
        voters = await ballots.voters(tx, ballot)
        ballot_rows.append([ballot.id, names.get(ballot.kind, ballot.kind), tr.t("open") if ballot.is_open else
                            tr.t("closed"), _day(ballot.opened_at), _day(ballot.closed_at), voters,
                            ballot.paper_meetings, ballot.paper_present, ballot.check_code or ""])
    tables.append(_table(tr.t("Ballots"), "ballots", [
        tr.t("Ballot"), tr.t("Method"), tr.t("Status"), tr.t("Opened"), tr.t("Closed"), tr.t("Members who voted"),
        tr.t("Meetings in person"), tr.t("People in person"), tr.t("Check code")], ballot_rows))
    votes: dict[int, int] = {}
    for ballot in (b for b in every if b.kind == "election"):
        result, by_id = await election.tally(tx, ballot)
        votes.update({by_id[c].member_id: result.votes[c] for c in result.order})
    kmut_rows = []
    for member_id, name in await nominations.group(tx, people):
        nomination = await nominations.of_member(tx, community.id, member_id)
        kmut_rows.append([_name(tr, name), tr.t(CATEGORY_NAMES[nomination.category]) if nomination else "",
                          votes.get(member_id)])
    tables.append(_table(tr.t("The ҚМҰТ"), "kmut", [tr.t("Name"), tr.t("Category"), tr.t("Votes")], kmut_rows))
    nodes = await tree.of_problem(tx, chosen.id) if chosen else []
    numbers = {n.id: n.number for n in nodes}
    tables.append(_table(tr.t("Problem tree"), "tree", ["#", tr.t("Kind"), tr.t("Under"), tr.t("Text")],
                         [[n.number, tr.t(KIND_NAMES[n.kind]), numbers.get(n.parent_id), n.text] for n in nodes]))
    tables.append(_table(tr.t("Resource map"), "resources",
                         ["#", tr.t("Kind"), tr.t("Resource"), tr.t("held by"), tr.t("where")],
                         [[r.number, tr.t(resources_flow.KINDS[r.kind]), r.text, r.holder, r.place]
                          for r in await resources.resources_of(tx, community.id)]))
    tables.append(_table(tr.t("Institutional diagram"), "organisations",
                         ["#", tr.t("Organisation"), tr.t("Importance"), tr.t("Closeness"), tr.t("Estimates")],
                         [[o.number, o.name, None if o.importance is None else round(o.importance, 2),
                           None if o.closeness is None else round(o.closeness, 2), o.raters]
                          for o in await resources.orgs_of(tx, community.id)]))
    tasks, history = await _tasks(tx, community)
    tables.append(_table(tr.t("Action plan"), "tasks", [
        "#", tr.t("Task"), tr.t("Responsible"), tr.t("Start"), tr.t("Due"), tr.t("Resources needed"),
        tr.t("Offers to do it"), tr.t("Status"), tr.t("Check-ins")],
        [[t.number, t.title, t.owner, t.start.isoformat() if t.start else None, t.due.isoformat() if t.due else None,
          t.resources, t.volunteers, task_status(tr, t, (history[t.id] or [None])[-1], today), len(history[t.id])]
         for t in tasks]))
    # the notes are left out: free text, which may name people
    tables.append(_table(tr.t("Check-ins"), "checkins", ["#", tr.t("Task"), tr.t("Date"), tr.t("Status"), "%"],
                         [[t.number, t.title, _day(c.at), tr.t(monitoring.STATUS_NAMES[c.status]), c.percent]
                          for t in tasks for c in history[t.id]]))
    totals = []
    for ballot in (b for b in every if b.kind == "evaluation"):
        (g_yes, g_partly, g_no), ratings, (again_yes, again_no), respondents = await evaluation.summary(tx, ballot.id)
        goal = tr.t("Did we reach the goal we wanted?")
        again = tr.t("Will take part again")
        totals += [[ballot.id, goal, yes, g_yes], [ballot.id, goal, tr.t("Partly"), g_partly],
                   [ballot.id, goal, no, g_no]]
        totals += [[ballot.id, tr.t("Rating, 1 to 5"), str(n), count] for n, count in enumerate(ratings, start=1)]
        totals += [[ballot.id, again, yes, again_yes], [ballot.id, again, no, again_no],
                   [ballot.id, tr.t("Members who answered"), "", respondents]]
    tables.append(_table(tr.t("Evaluation"), "evaluation",
                         [tr.t("Ballot"), tr.t("Question"), tr.t("Answer"), tr.t("Members")], totals))
    return tables


def file_stem(community: Community) -> str:
    """The files' names: by the community's id, not its join code (a file is passed on; the code
    lets anyone join)."""
    return f"qatysu-community-{community.id}"


# --- the commands -----------------------------------------------------------------------------
async def cycle_data(tx: Tx, community: Community, number: int | None) -> tuple[Community, Cycle] | None:
    """Whose data a report of cycle ``number`` (None: the current one) prints, and that cycle:
    the community itself, or the archive of a finished cycle; None if it has no such cycle."""
    known = await cycles.history(tx, community.id)
    wanted = known[-1] if number is None else next((c for c in known if c.number == number), None)
    if wanted is None:
        return None
    printed = community if wanted.is_current else await cycles.archived(tx, community.id, wanted.number)
    return (printed, wanted) if printed is not None else None


@command("report", who="kmut", where="private", describe=N_("The cycle's report, as a PDF to print"), usage=(
    ("/report 1", N_("the report of an earlier cycle, here the first")),))
async def report_command(ctx: Context) -> None:
    from bot.charts.report import render_report

    community = ctx.scoped
    assert community is not None
    raw = ctx.event.args.strip()
    found = await cycle_data(ctx.tx, community, small_int(raw) if raw else None)
    if found is None:
        known = await cycles.history(ctx.tx, community.id)
        raise ctx.refuse(ctx.tn("There is no cycle «{number}»: <b>{name}</b> has {n} cycle so far, numbered from 1.",
                                "There is no cycle «{number}»: <b>{name}</b> has {n} cycles so far, numbered from 1.",
                                len(known), number=esc(raw[:12]), name=esc(community.name)))
    printed, wanted = found
    await ctx.audit("community.report_printed", community.id, locale=ctx.locale, cycle=wanted.number)
    report = await gather(ctx.tx, printed, ctx.locale, ctx.now, wanted)
    ctx.reply(ctx.t("Preparing the report… It comes as a PDF file in a moment."))
    ctx.reply(ctx.t("The report of «{community}». Its check code is on the first page.",
                    community=esc(community.name)),
              document=Chart(render_report, (report,), filename=f"{file_stem(community)}-report.pdf"))
    ctx.outcome.replayable = False  # no second copy kept for a retry: they can ask again


@command("export", who="facilitator", where="private", describe=N_("The community's data, as a spreadsheet"))
async def export_command(ctx: Context) -> None:
    from bot.charts.sheets import csv_name, render_csv, render_csv_zip, render_xlsx

    community = ctx.scoped
    assert community is not None
    await ctx.audit("community.exported", community.id)
    tables = await export_tables(ctx.tx, community, ctx.locale, ctx.now)
    stem = file_stem(community)
    ctx.reply(ctx.t("Preparing the data… The spreadsheet and the same tables as CSV files come in a moment. "
                    "They hold counts, not who voted how."))
    ctx.reply(ctx.t("The data of «{community}» for Excel.", community=esc(community.name)),
              document=Chart(render_xlsx, (tables,), filename=f"{stem}.xlsx"))
    if ctx.event.channel in ZIPLESS:
        for number, table in enumerate(tables, start=1):
            ctx.reply(table["name"], document=Chart(render_csv, (table,), filename=f"{stem}-{csv_name(number, table)}"))
    else:
        ctx.reply(ctx.t("The same tables as CSV files (UTF-8), in a zip."),
                  document=Chart(render_csv_zip, (tables,), filename=f"{stem}-csv.zip"))
    ctx.outcome.replayable = False
