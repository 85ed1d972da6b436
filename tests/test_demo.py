"""`qatysu demo`: a simulated community through the real flows, readable in its languages."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

from bot.demo import run_demo


async def test_the_demo_walks_steps_1_to_7_and_writes_transcript_and_charts(tmp_path):
    out = await run_demo(str(tmp_path / "demo-out"), seed=7)
    transcript = (tmp_path / "demo-out" / "transcript.md").read_text(encoding="utf-8")
    for expected in ("Көктерек ауылы", "Добро пожаловать", "Welcome to",      # three languages
                     "Жапсырма (стикер) әдісі", "Басымдықтарды анықтау матрицасы", "Жүппен саралау",
                     "Жиынтық рейтинг", "Қауымдастық #", "Келесі кезеңге қатысатындар", "2-қадам"):
        assert expected in transcript, expected
    assert "Traceback" not in transcript and "Кешіріңіз" not in transcript  # nothing failed on the way
    charts = sorted((tmp_path / "demo-out").glob("chart-*.png"))
    assert len(charts) >= 8
    assert all(c.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and c.stat().st_size < 200_000 for c in charts)
    assert out.endswith("demo-out")

    # step 2: nominations, the election, its result with a chart, the ҚМҰТ confirmed
    with closing(sqlite3.connect(tmp_path / "demo-out" / "demo.db")) as db:
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
    chart = tmp_path / "demo-out" / result.group(1)
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
    assert (tmp_path / "demo-out" / posted.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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
        assert (tmp_path / "demo-out" / posted.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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
    assert re.search(r"→ `\[ko:\d+:\d+:\d+\]`\n> 💬 _#\d+ міндеттің жауаптысы белгіленді\._\n> 🤖 → \S+: Сіз "
                     r"іс-әрекет жоспарының #\d+ «", transcript)
    # the Gantt chart in the group; the plan approved (one member changed their mind), the result with its chart
    posted = re.search(r"\(in group «Көктерек ауылы»\) → `/plan`\n> 🤖 → group «Көктерек ауылы»: Іс-әрекет жоспары: "
                       r"7 міндет\..*?!\[chart\]\((chart-\d+\.png)\)", transcript, re.S)
    assert posted, "no Gantt chart in the group"
    assert (tmp_path / "demo-out" / posted.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plan_ballots == [("closed", 18, 3)]
    assert re.search(r"Мүшелер іс-әрекет жоспарын бекітті: 18 — жақтады, 3 — әзірге жоқ\.\n>   Тексеру коды: \w+\. .*?\n"
                     r">   !\[chart\]\(chart-\d+\.png\)", transcript)
    assert "5-қадам аяқталды.\n>   \n>   Іс-әрекет жоспары: 7 міндет. Мүшелер бекітті: 18 — жақтады, 3 — әзірге жоқ." \
        in transcript and "**6-қадам: " in transcript

    # step 6 is not built: said so in the transcript, then on to step 7
    assert "Step 6 — monitoring" in transcript and "is not built yet" in transcript and "**7-қадам: " in transcript

    # step 7: the evaluation — 10+ members with varied answers, some texts; the totals with the chart in the group
    assert len(answers) >= 10 and all(a[0] and a[1] and a[2] is not None for a in answers)
    assert {a[0] for a in answers} == {"yes", "partly", "no"} and len({a[1] for a in answers}) >= 3
    assert {a[2] for a in answers} == {0, 1} and 3 <= sum(1 for a in answers if a[3] or a[4]) < len(answers)
    result = re.search(r"Біз қалаған мақсатқа жеттік пе\? Иә: \d+, ішінара: \d+, жоқ: \d+\.\n.*?"
                       rf"{len(answers)} мүше жауап берді\..*?!\[chart\]\((chart-\d+\.png)\)", transcript, re.S)
    assert result, "no evaluation result with a chart"
    assert (tmp_path / "demo-out" / result.group(1)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the facilitator gets the written answers, unsigned
    texts = transcript.split("→ Айгерим: 📝 Мүшелер бағалауда не жазды (аты-жөнсіз):")[1].split("\n\n")[0]
    assert all(f"• {a[3]}" in texts for a in answers if a[3]) and all(f"• {a[4]}" in texts for a in answers if a[4])
    assert not any(name in texts for name in ("Ерлан", "Ольга", "John", "Игорь", "Sarah"))
    assert step == 7

    # the next cycle: a second facilitator archives cycle 1 and the unchosen problems come back to step 1
    assert "→ Айгерим: Ерлан енді **Көктерек ауылы** қауымдастығының да фасилитаторы" in transcript
    assert "**Ерлан** → `/cycle new`" in transcript and current == 1 and carried == 6
    assert "1-цикл аяқталып, мұрағатқа салынды. 2-цикл басталады." in transcript
    assert "#1 Ауыл ішіндегі жол жөндеуді қажет етеді: көктемде су басып, балалар мектепке бара алмайды — из прошлого" \
        in transcript and "▶️ 2-цикл:" in transcript
