"""`qatysu demo`: a simulated community through the real flows, readable in its languages."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

from bot.demo import run_demo


async def test_the_demo_walks_steps_1_to_3_and_writes_transcript_and_charts(tmp_path):
    out = await run_demo(str(tmp_path / "demo-out"), seed=7)
    transcript = (tmp_path / "demo-out" / "transcript.md").read_text(encoding="utf-8")
    for expected in ("Көктерек ауылы", "Добро пожаловать", "Welcome to",      # three languages
                     "Жапсырма (стикер) әдісі", "Басымдықтарды анықтау матрицасы", "Жүппен саралау",
                     "Жиынтық рейтинг", "Қауымдастық #", "Келесі кезеңге қатысатындар", "2-қадам"):
        assert expected in transcript, expected
    assert "Traceback" not in transcript and "Кешіріңіз" not in transcript  # nothing failed on the way
    charts = sorted((tmp_path / "demo-out").glob("chart-*.png"))
    assert len(charts) >= 6
    assert all(c.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and c.stat().st_size < 200_000 for c in charts)
    assert out.endswith("demo-out")

    # step 2: nominations, the election, its result with a chart, the ҚМҰТ confirmed
    with closing(sqlite3.connect(tmp_path / "demo-out" / "demo.db")) as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM nominations GROUP BY status"))
        kmut = [name for (name,) in db.execute("SELECT m.name FROM memberships s JOIN members m ON m.id = s.member_id"
                                               " WHERE s.kmut = 1 ORDER BY m.name")]
        confirmed = db.execute("SELECT COUNT(*) FROM kmut_confirmations").fetchone()[0]
        step = db.execute("SELECT step FROM communities").fetchone()[0]
        nodes = db.execute("SELECT t.number, t.kind, t.status, t.text, p.number, m.name FROM tree_nodes t"
                           " LEFT JOIN tree_nodes p ON p.id = t.parent_id"
                           " JOIN members m ON m.id = t.created_by ORDER BY t.number").fetchall()
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
    assert "**4-қадам: " in transcript and step == 4
