"""`qatysu demo`: a simulated community through the real flows, readable in its languages."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from bot.demo import run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, Path]:
    """One run of the demo (seed 7) that both tests read: what it returned, and its folder."""
    folder = tmp_path_factory.mktemp("demo") / "demo-out"
    return asyncio.run(run_demo(str(folder), seed=7)), folder


def test_the_demo_walks_steps_1_to_7_and_writes_transcript_and_charts(demo):
    out, folder = demo
    transcript = (folder / "transcript.md").read_text(encoding="utf-8")
    for expected in ("Көктерек ауылы", "Добро пожаловать", "Welcome to",      # three languages
                     "Жапсырма (стикер) әдісі", "Басымдықтарды анықтау матрицасы", "Жүппен саралау",
                     "Жиынтық рейтинг", "Қауымдастық #", "Келесі кезеңге қатысатындар", "2-қадам"):
        assert expected in transcript, expected
    assert "Traceback" not in transcript and "Кешіріңіз" not in transcript  # nothing failed on the way
    charts = sorted((folder).glob("chart-*.png"))
    assert len(charts) >= 8
    assert all(c.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and c.stat().st_size < 200_000 for c in charts)
    assert out.endswith("demo-out")

    # step 2: nominations, the election, its result with a chart, the ҚМҰТ confirmed
    with closing(sqlite3.connect(folder / "demo.db")) as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM nominations GROUP BY status"))
        kmut = [name for (name,) in db.execute("SELECT m.name FROM memberships s JOIN members m ON m.id = s.member_id"
                                               " WHERE s.kmut = 1 ORDER BY m.name")]
        confirmed = db.execute("SELECT COUNT(*) FROM kmut_confirmations").fetchone()[0]
        step = db.execute("SELECT step FROM communities WHERE archive_of = 1").fetchone()[0]  # cycle 1, archived
        current = db.execute("SELECT step FROM communities WHERE id = 1").fetchone()[0]
        carried = db.execute("SELECT COUNT(*) FROM problems WHERE community_id = 1 AND carried_from IS NOT NULL"
                             ).fetchone()[0]
        nodes = db.execute("SELECT t.number, t.kind, t.status, t.text, p.number, m.name FROM tree_nodes t"
                           " LEFT JOIN tree_nodes p ON p.id = t.parent_id"
                           " JOIN members m ON m.id = t.created_by ORDER BY t.number").fetchall()
        mapped = db.execute("SELECT r.number, r.kind, r.status, r.text, r.holder, r.place, m.name FROM resources r"
                            " JOIN members m ON m.id = r.created_by ORDER BY r.number").fetchall()
        orgs = db.execute("SELECT o.number, o.name, o.status, COUNT(*), AVG(g.importance), AVG(g.closeness),"
                          " COUNT(DISTINCT g.importance) + COUNT(DISTINCT g.closeness) FROM orgs o"
                          " JOIN org_ratings g ON g.org_id = o.id GROUP BY o.id ORDER BY o.number").fetchall()
        raters = db.execute("SELECT COUNT(DISTINCT member_id) FROM org_ratings").fetchone()[0]
        tasks = db.execute("SELECT t.number, t.status, t.title, t.start_on, t.due_on, t.resources, o.name, a.name,"
                           " (SELECT COUNT(*) FROM task_volunteers v WHERE v.task_id = t.id) FROM tasks t"
                           " LEFT JOIN members o ON o.id = t.owner_id JOIN members a ON a.id = t.created_by"
                           " ORDER BY t.number").fetchall()
        plan_ballots = db.execute("SELECT b.status, SUM(v.approve), SUM(1 - v.approve) FROM ballots b"
                                  " JOIN plan_votes v ON v.ballot_id = b.id WHERE b.kind = 'plan'"
                                  " GROUP BY b.id").fetchall()
        answers = db.execute("SELECT e.goal, e.rating, e.again, e.worked, e.change FROM evaluation_answers e"
                             " JOIN ballots b ON b.id = e.ballot_id WHERE b.kind = 'evaluation'"
                             " AND b.status = 'closed'").fetchall()
    assert statuses == {"accepted": 9, "declined": 1}  # the candidates; the shop owner declined
    assert confirmed == 1 and len(kmut) == 7 and "Гүлнар" in kmut
    # the election's result is posted to the group with its chart, the missing category named
    result = re.search(r"ҚМҰТ сайлауы: 7 мүше сайланды: .*?!\[chart\]\((chart-\d+\.png)\)", transcript, re.S)
    assert result, "no election result with a chart"
    assert "Үміткері жоқ санаттар: Бизнес." in result.group(0)
    chart = folder / result.group(1)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # confirmed explicitly without the business category, then step 2's result is posted on /next
    assert "[Сонда да бекіту]" in transcript and "ҚМҰТ құрамы бекітілді" in transcript
    assert "ҚМҰТ (7 мүше): " + ", ".join(sorted(kmut)) in transcript
    assert "3-қадам" in transcript

    # step 3: the tree of the chosen problem, with a cause of a cause and a consequence of a consequence
    open_nodes = [n for n in nodes if n[2] == "open"]
    assert len(open_nodes) == 10 and {n[1] for n in open_nodes} == {"cause", "effect"}
    assert {kind for _, kind, _, _, parent, _ in open_nodes if parent is not None} == {"cause", "effect"}
    assert 6 <= len({n[5] for n in nodes}) <= 8 and any(n[5] == "John" for n in open_nodes)
    # a near-duplicate merged and an off-topic entry removed by the ҚМҰТ; a non-member of it refused
    merged, removed = ([n for n in nodes if n[2] == status] for status in ("merged", "removed"))
    assert len(merged) == 1 and merged[0][5] == "Бауыржан" and merged[0][5] not in kmut
    assert len(removed) == 1 and "той" in removed[0][3]
    refused = re.search(rf"\*\*Бауыржан\*\* → `/tree merge {merged[0][0]} \d+`\n> 🤖 → Бауыржан: (.*)", transcript)
    assert refused and refused.group(1) == "Мұны тек ҚМҰТ мүшелері не фасилитатор жасай алады."
    assert f"#{merged[0][0]} жазбасы #" in transcript and f"#{removed[0][0]} ағаштан алынды" in transcript
    # the group gets the chart, written with the others
    posted = re.search(r"\(in group «Көктерек ауылы»\) → `/tree`\n> 🤖 → group «Көктерек ауылы»: "
                       r"Мәселе ағашы: 5 себеп, 5 салдар\..*?!\[chart\]\((chart-\d+\.png)\)", transcript, re.S)
    assert posted, "no tree chart in the group"
    assert (folder / posted.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the facilitator's /next posts step 3's result and opens step 4
    assert "3-қадам аяқталды.\n>   \n>   Мәселе ағашы: 5 себеп, 5 салдар." in transcript
    assert "**4-қадам: " in transcript

    # step 4: the resource map, by kind, with holders and places; one kind left empty and named as the gap
    open_resources = [r for r in mapped if r[2] == "open"]
    kinds = {r[1] for r in open_resources}
    assert kinds == {"people", "materials", "money", "premises"}
    assert 5 <= len({r[6] for r in mapped}) <= 7 and len(open_resources) >= 6
    assert sum(1 for r in open_resources if r[4] and r[5]) >= 3  # who holds it and where, where natural
    assert any(re.search("[әғқңөұүһі]", r[3]) for r in open_resources)  # Kazakh…
    assert any(re.search("[ыэ]", r[3]) and not re.search("[әғқңөұүһі]", r[3]) for r in open_resources)  # …Russian
    # the ҚМҰТ takes the advertisement off the map
    [off] = [r for r in mapped if r[2] == "removed"]
    assert "Сатылады" in off[3]
    removal = re.search(rf"\*\*(\S+)\*\* → `/resources remove {off[0]}`\n> 🤖 → \1: #{off[0]} ресурстар "
                        "картасынан алынды.", transcript)
    assert removal and removal.group(1) in kmut
    # the institutional diagram: every organisation estimated by several members, the means drawn
    assert len(orgs) == 7 and all(o[2] == "open" and o[3] >= 3 for o in orgs) and 6 <= raters <= 8
    assert all(o[6] > 2 for o in orgs if o[3] >= 4)  # the members do not all agree
    akimat = next(o for o in orgs if "әкімдігі" in o[1])
    assert akimat[3] == 6 and round(akimat[4], 1) == 2.8 and round(akimat[5], 1) == 1.7
    assert max(o[4] for o in orgs) - min(o[4] for o in orgs) >= 1  # varied importance…
    assert max(o[5] for o in orgs) - min(o[5] for o in orgs) >= 1.5  # …and closeness
    # both charts go to the group, written with the others
    group = r"\(in group «Көктерек ауылы»\) → `/{}`\n> 🤖 → group «Көктерек ауылы»: {}.*?!\[chart\]\((chart-\d+\.png)\)"
    # the map counts the diagram's organisations: it never says "none yet" beside a diagram of seven
    caption = f"Ресурстар картасы: {len(open_resources)} ресурс. Институционалдық диаграммадағы ұйымдар: 7."
    diagram = ("Институционалдық диаграмма (бағаланған ұйымдар: 7): қауымдастыққа ең жақыны — Ауыл мектебі, "
               f"ең маңыздысы — {akimat[1]}.")
    for command, text in (("resources", caption), ("orgs", diagram)):
        posted = re.search(group.format(command, re.escape(text)), transcript, re.S)
        assert posted, f"no {command} chart in the group"
        assert (folder / posted.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the facilitator's /next posts step 4's result and opens step 5
    assert f"4-қадам аяқталды.\n>   \n>   {caption}\n>   {diagram}" in transcript
    assert "**5-қадам: " in transcript

    # step 5: tasks proposed by 6-8 members, in Kazakh and Russian, with dates over the winter and needs
    open_tasks = [t for t in tasks if t[1] == "open"]
    assert len(open_tasks) == 7 and 6 <= len({t[7] for t in tasks}) <= 8
    assert any(re.search("[әғқңөұүһі]", t[2]) for t in open_tasks)
    assert any(not re.search("[әғқңөұүһі]", t[2]) for t in open_tasks)
    # every open task has its responsible member, one who offered, and dates (some set by the ҚМҰТ)
    assert all(t[6] and t[8] >= 1 and t[3] and t[4] and t[3] <= t[4] for t in open_tasks)
    assert min(t[3] for t in open_tasks)[:7] == "2026-12" and max(t[4] for t in open_tasks)[:7] == "2027-02"
    assert sum(1 for t in open_tasks if t[5]) >= 5 and any(not t[5] for t in open_tasks)
    assert re.search(r"→ `/plan dates \d+ \d\d\.\d\d \d\d\.\d\d`\n> 🤖 → \S+: #\d+ міндет: ", transcript)
    # the duplicate taken off by the ҚМҰТ
    [dup] = [t for t in tasks if t[1] == "removed"]
    assert dup[7] == "Бауыржан" and f"#{dup[0]} міндет жоспардан алынды." in transcript
    assert re.search(r"→ `\[ko:\d+:\d+:\d+\]`\n> 💬 _#\d+ міндеттің жауаптысы белгіленді\._\n> (?:🤖|🟢 WhatsApp) → \S+: Сіз "
                     r"іс-әрекет жоспарының #\d+ «", transcript)
    # the Gantt chart in the group; the plan approved (one member changed their mind), the result with its chart
    posted = re.search(r"\(in group «Көктерек ауылы»\) → `/plan`\n> 🤖 → group «Көктерек ауылы»: Іс-әрекет жоспары: "
                       r"7 міндет\..*?!\[chart\]\((chart-\d+\.png)\)", transcript, re.S)
    assert posted, "no Gantt chart in the group"
    assert (folder / posted.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plan_ballots == [("closed", 18, 3)]
    assert re.search(r"Мүшелер іс-әрекет жоспарын бекітті: 18 — жақтады, 3 — әзірге жоқ\.\n>   Тексеру коды: \w+\. .*?\n"
                     r">   !\[chart\]\(chart-\d+\.png\)", transcript)
    assert "5-қадам аяқталды.\n>   \n>   Іс-әрекет жоспары: 7 міндет. Мүшелер бекітті: 18 — жақтады, 3 — әзірге жоқ." \
        in transcript and "**6-қадам: " in transcript

    # step 6: weekly prompts from the scheduler, a late and a blocked report alert the ҚМҰТ, the
    # progress chart in the group, two digests on Mondays at 10:00, then on to step 7
    assert "**⏰ scheduler**, 24.11.2026 09:00\n> 🟢 WhatsApp → Ерлан: 🔔 #1 «" in transcript  # Ерлан is on WhatsApp
    assert "Хабарлаған: Гүлнар.\n>   Түсініктеме: Әкім демалыста" in transcript
    assert "Сообщает: Игорь.\n>   Комментарий: Фермеры не хотят" in transcript
    digests = re.findall(r"\*\*⏰ scheduler\*\*, (\d\d\.\d\d\.2026 10:00)\n> 🤖 → group «Көктерек ауылы»: 📊 "
                         r"\*\*Іс-әрекет жоспарындағы апта\*\*.*?!\[chart\]", transcript, re.S)
    assert digests == ["23.11.2026 10:00", "14.12.2026 10:00"]
    assert "1 міндет орындалды, 0 кесте бойынша, 2 кешігуде, 1 тоқтап тұр" in transcript
    assert re.search(r"`/progress`\n> 🤖 → group «Көктерек ауылы»: Жоспардың орындалуы, 7 міндет: .*?\n.*?\n>   "
                     r"!\[chart\]", transcript)
    assert "**7-қадам: " in transcript

    # step 7: the evaluation — 10+ members with varied answers, some texts; the totals with the chart in the group
    assert len(answers) >= 10 and all(a[0] and a[1] and a[2] is not None for a in answers)
    assert {a[0] for a in answers} == {"yes", "partly", "no"} and len({a[1] for a in answers}) >= 3
    assert {a[2] for a in answers} == {0, 1} and 3 <= sum(1 for a in answers if a[3] or a[4]) < len(answers)
    result = re.search(r"Біз қалаған мақсатқа жеттік пе\? Иә: \d+, ішінара: \d+, жоқ: \d+\.\n.*?"
                       rf"{len(answers)} мүше жауап берді\..*?!\[chart\]\((chart-\d+\.png)\)", transcript, re.S)
    assert result, "no evaluation result with a chart"
    assert (folder / result.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the facilitator gets the written answers, unsigned
    texts = transcript.split("→ Айгерим: 📝 Мүшелер бағалауда не жазды (аты-жөнсіз):")[1].split("\n\n")[0]
    texts = re.split(r"\n> (?:🤖|🟢)", texts)[0]  # that message alone, not the ones after it
    assert all(f"• {a[3]}" in texts for a in answers if a[3]) and all(f"• {a[4]}" in texts for a in answers if a[4])
    assert not any(name in texts for name in ("Ерлан", "Ольга", "John", "Игорь", "Sarah"))
    assert step == 7
    # the next cycle: a second facilitator archives cycle 1 and the unchosen problems come back to step 1
    assert "→ Айгерим: Ерлан енді **Көктерек ауылы** қауымдастығының да фасилитаторы" in transcript
    assert "**Ерлан** (on WhatsApp) → `/cycle new`" in transcript and current == 1 and carried == 6
    assert "1-цикл аяқталып, мұрағатқа салынды. 2-цикл басталады." in transcript
    assert "#1 Ауыл ішіндегі жол жөндеуді қажет етеді: көктемде су басып, балалар мектепке бара алмайды — из прошлого" \
        in transcript and "▶️ 2-цикл:" in transcript


def whatsapp_messages(transcript: str) -> list[list[str]]:
    """Each message of the transcript's WhatsApp chat, as its lines (the first without the prefix)."""
    blocks: list[list[str]] = []
    for line in transcript.splitlines():
        if line.startswith("> 🟢 WhatsApp → "):
            blocks.append([line.removeprefix("> 🟢 WhatsApp → ")])
        elif blocks and blocks[-1] is not None and line.startswith(">   "):
            blocks[-1].append(line.removeprefix(">   "))
        elif blocks and blocks[-1] is not None:
            blocks.append(None)  # type: ignore[arg-type]  # the end of a message
    return [b for b in blocks if b is not None]


def test_the_demo_plays_a_member_on_whatsapp_and_the_transcript_shows_that_chat(demo):
    from bot.demo_steps import WHATSAPP_MEMBER

    _, folder = demo
    transcript = (folder / "transcript.md").read_text(encoding="utf-8")
    messages = whatsapp_messages(transcript)
    assert len(messages) >= 60 and all(m[0].startswith(f"{WHATSAPP_MEMBER}: ") for m in messages)
    assert f"**{WHATSAPP_MEMBER}** (on WhatsApp) → `/start " in transcript  # he joins, and acts, there
    text = "\n".join(line for m in messages for line in m)
    assert "<b>" not in text and "**" not in text and "t.me/" not in text  # WhatsApp's *bold*, wa.me links
    assert "*Жапсырма (стикер) әдісі*" in text and "[Бюллетеньді ашу]" in text  # a tap opens a private ballot
    buttons = [m[-1] for m in messages if m[-1].startswith("[")]
    lists = [m[-1] for m in messages if m[-1].startswith("☰ ")]
    assert buttons and lists
    for line in buttons:  # reply buttons: at most 3, titles of at most 20 characters
        titles = line[1:-1].split("] [")
        assert len(titles) <= 3 and all(len(t) <= 20 for t in titles), line
    for line in lists:  # a list: at most 10 rows, titles of at most 24 characters
        label, rows = line.removeprefix("☰ ").split(": [", 1)
        titles = rows[:-1].split("] [")
        assert len(label) <= 20 and len(titles) <= 10 and all(len(t) <= 24 for t in titles), line
    # results and charts arrive as images with their captions
    charts = [m for m in messages if m[-1].startswith("![chart](")]
    assert len(charts) >= 5 and all(len(m) > 1 and m[0] for m in charts)
    assert any("Жапсырма (стикер) әдісі: ең өзектісі" in m[0] for m in charts)
    for m in charts:
        name = m[-1].removeprefix("![chart](").removesuffix(")")
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # his votes count in the one tally, beside the Telegram members'
    with closing(sqlite3.connect(folder / "demo.db")) as db:
        [(member,)] = db.execute("SELECT member_id FROM identities WHERE channel = 'whatsapp'").fetchall()
        assert db.execute("SELECT name FROM members WHERE id = ?", (member,)).fetchone()[0] == WHATSAPP_MEMBER
        assert db.execute("SELECT COUNT(*) FROM identities WHERE channel = 'demo'").fetchone()[0] >= 20
        counts = {table: db.execute(f"SELECT COUNT(*) FROM {table} WHERE member_id = ?", (member,)).fetchone()[0]
                  for table in ("matrix_votes", "pairwise_votes", "election_votes", "plan_votes",
                                "evaluation_answers")}
        stickers = db.execute("SELECT SUM(count) FROM dot_votes WHERE member_id = ?", (member,)).fetchone()[0]
    assert 1 <= stickers <= 3 and counts["matrix_votes"] == 6 and counts["pairwise_votes"] == 6
    assert counts["election_votes"] >= 1 and counts["plan_votes"] == 1 and counts["evaluation_answers"] == 1
