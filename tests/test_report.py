"""The printed report (/report, `qatysu report`) and the data export (/export, `qatysu export`):
what a facilitator prints for the akimat and what a district office opens in Excel."""

from __future__ import annotations

import asyncio
import io
import re
import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from bot import cli
from bot.charts.report import render_report
from bot.demo import run_demo
from bot.flows import results
from bot.storage import ballots, communities
from bot.storage.db import Database
from tests.conftest import build_community

MAX_BYTES = 3 * 1024 * 1024
SECTIONS = {  # the headings, in the order they must come
    "kk": ["Мәселелер және басымдықтар", "ҚМҰТ", "Мәселені талдау", "Ресурстар", "Іс-әрекет жоспары",
           "Іске асыру және мониторинг", "Бағалау"],
    "ru": ["Шаг 1.", "Шаг 2.", "Шаг 3.", "Шаг 4.", "Шаг 5.", "Шаг 6.", "Шаг 7."],
    "en": ["Step 1. Problems and priorities", "Step 2.", "Step 3. Problem analysis", "Step 4. Resources",
           "Step 5. Action plan", "Step 6. Implementation and monitoring", "Step 7. Evaluation"],
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-out"
    asyncio.run(run_demo(str(out), seed=7))
    return out


def text_of(pdf: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def images_in(reader: PdfReader) -> int:
    return sum(len(page.images) for page in reader.pages)


def community_name(demo: Path) -> str:
    with closing(sqlite3.connect(demo / "demo.db")) as db:
        return db.execute("SELECT name FROM communities WHERE id = 1").fetchone()[0]


def in_order(text: str, headings: list[str]) -> bool:
    at = 0
    for heading in headings:
        found = text.find(heading, at)
        if found < 0:
            return False
        at = found + len(heading)
    return True


def test_the_demo_ends_with_a_printable_kazakh_report(demo):
    pdf = (demo / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) < MAX_BYTES
    reader, text = text_of(pdf)
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4
    assert reader.pages[0].mediabox.height == pytest.approx(841.89, abs=1)
    flat = " ".join(text.split())
    assert community_name(demo) in flat
    assert "Тексеру коды" in flat and "Жапсырма" in flat  # Kazakh letters, extractable as text
    assert in_order(flat, SECTIONS["kk"])
    # every step's chart: stickers, matrix, pairwise, combined, election, tree, resources, orgs, plan,
    # progress, evaluation
    assert images_in(reader) >= 11
    assert "Кешіккен және тоқтап тұрған міндеттер" in flat  # step 6's late and blocked episodes
    code = re.search(r"audit verify --head ([0-9a-f]{8})", flat).group(1)
    with closing(sqlite3.connect(demo / "demo.db")) as db:
        head = db.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert head.startswith(code)  # the check code is the audit head when it was printed


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_operator_prints_the_report_in_russian_and_english(demo, tmp_path, monkeypatch, capsys, lang):
    monkeypatch.setenv("QATYSU_DB", str(demo / "demo.db"))
    out = tmp_path / f"report-{lang}.pdf"
    assert cli.main(["report", "1", "--cycle", "1", "--out", str(out), "--lang", lang]) == 0
    pdf = out.read_bytes()
    assert len(pdf) < MAX_BYTES
    reader, text = text_of(pdf)
    flat = " ".join(text.split())
    assert community_name(demo) in flat  # a Kazakh name, whatever the report's language
    assert in_order(flat, SECTIONS[lang])
    assert images_in(reader) >= 10
    assert ("Код проверки" if lang == "ru" else "Check code") in flat


def test_the_operator_is_refused_in_one_line(demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QATYSU_DB", str(demo / "demo.db"))
    assert cli.main(["report", "NOSUCHCODE", "--out", str(tmp_path / "r.pdf")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert not (tmp_path / "r.pdf").exists()
    monkeypatch.setenv("QATYSU_DB", str(tmp_path / "missing.db"))
    assert cli.main(["export", "1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qatysu: ") and "QATYSU_DB" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "missing.db").exists()


async def tallies_of(path: Path) -> tuple[dict[tuple[int, int], tuple], dict[int, int]]:
    """(ballot, problem number) → what the ballot's result counts, as the bot computes it; and
    problem number → its combined rank (of the latest result of each method)."""
    expected, combined = {}, {}
    async with Database(str(path)) as db:
        async def read(tx):
            latest = {}
            finished = await tx.scalar("SELECT archive_id FROM cycles WHERE community_id = 1 AND number = 1")
            for ballot in sorted(await ballots.of_community(tx, finished), key=lambda b: b.id):
                if ballot.kind not in results.METHOD_NAMES:
                    continue
                result = latest[ballot.kind] = await results.build(tx, ballot)
                for row in result.rows:
                    if ballot.kind == "dots":
                        expected[ballot.id, result.by_id[row.option].number] = (row.online, row.paper, row.total)
                    elif ballot.kind == "matrix":
                        expected[ballot.id, result.by_id[row.option].number] = (round(row.mean_a, 2),
                                                                                round(row.mean_b, 2))
                    else:
                        outcome = result.extra["outcome"]
                        expected[ballot.id, result.by_id[row[0]].number] = (outcome.win_counts.get(row[0], 0),)
            rows, _ = results.combined("kk", list(latest.values()))
            combined.update({result.by_id[row.option].number: row.rank for row in rows})
        await db.atomic(read)
    return expected, combined


def test_the_spreadsheet_tallies_equal_the_ballots_results(demo):
    book = load_workbook(demo / "export.xlsx")
    assert {"Мәселелер", "Дауыс қорытындылары", "Дауыс берулер", "ҚМҰТ", "Мәселе ағашы", "Ресурстар картасы",
            "Институционалдық диаграмма", "Іс-әрекет жоспары", "Бағалау"} <= set(book.sheetnames)
    rows = list(book["Дауыс қорытындылары"].iter_rows(min_row=2, values_only=True))
    expected, combined = asyncio.run(tallies_of(demo / "demo.db"))
    found = {}
    for ballot, _method, number, _problem, _rank, online, paper, total, importance, urgency, wins, _compared in rows:
        found[ballot, number] = tuple(v for v in (online, paper, total, importance, urgency, wins) if v is not None)
    assert found == expected and len(expected) > 10
    assert {r[1] for r in rows} == {"Жапсырма (стикер) әдісі", "Басымдықтарды анықтау матрицасы",
                                    "Жүппен саралау"}
    problems_sheet = book["Мәселелер"]
    column = [c.value for c in problems_sheet[1]].index("Жиынтық рейтинг")
    assert {r[0]: r[column] for r in problems_sheet.iter_rows(min_row=2, values_only=True)} == combined
    turnout = {r[0]: r[5] for r in book["Дауыс берулер"].iter_rows(min_row=2, values_only=True)}
    with closing(sqlite3.connect(demo / "demo.db")) as db:
        dots = db.execute("SELECT ballot_id, COUNT(DISTINCT member_id) FROM dot_votes GROUP BY ballot_id").fetchall()
    assert dots and all(turnout[ballot] == voters for ballot, voters in dots)


def test_the_export_names_no_voter_and_holds_no_phone_number(demo):
    with closing(sqlite3.connect(demo / "demo.db")) as db:
        names = {r[0] for r in db.execute("SELECT name FROM members WHERE name IS NOT NULL")}
        public = {r[0] for r in db.execute(  # the roles the community gave: facilitator, ҚМҰТ, responsible
            "SELECT m.name FROM memberships s JOIN members m ON m.id = s.member_id WHERE s.role = 'facilitator'"
            " OR s.kmut = 1 UNION SELECT m.name FROM tasks t JOIN members m ON m.id = t.owner_id")}
        phones = {r[0] for r in db.execute("SELECT phone FROM members WHERE phone IS NOT NULL")}
    assert names - public  # the demo has members who only voted
    book = load_workbook(demo / "export.xlsx")
    csvs = sorted((demo / "export-csv").glob("*.csv"))
    assert len(csvs) == len(book.sheetnames)
    for csv_file in csvs:
        assert csv_file.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel reads Cyrillic
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                text = str(value or "")
                assert not re.search(r"\+?\d[\d ()-]{9,}\d", text), (sheet.title, text)
                assert not any(phone and phone in text for phone in phones)
                assert text not in names - public, (sheet.title, text)  # a voter's name is nowhere
    with closing(sqlite3.connect(demo / "demo.db")) as db:
        checkins = db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0]
        notes = {r[0] for r in db.execute("SELECT note FROM checkins WHERE note <> ''")}
    reported = list(book["Міндеттер бойынша есептер"].iter_rows(min_row=2, values_only=True))
    assert checkins and len(reported) == checkins
    assert notes and not any(cell in notes for sheet in book.worksheets  # free text, which may name people
                             for row in sheet.iter_rows(values_only=True) for cell in row)
    kmut = list(book["ҚМҰТ"].iter_rows(min_row=2, values_only=True))
    assert kmut and {r[0] for r in kmut} <= public


async def test_the_facilitator_gets_the_report_and_the_export_as_documents(sim):
    c = await build_community(sim)
    await c.facilitator.send("/report")
    preparing, sent = sim.sender.chats[c.facilitator.id][-2:]
    assert "дайындалып жатыр" in preparing.text
    name, pdf = sent.document
    assert name.endswith(".pdf") and pdf.startswith(b"%PDF")
    assert c.code.lower() not in name.lower()  # a file is passed on: its name must not let anyone join
    assert "Көктерек" in " ".join(text_of(pdf)[1].split())
    await c.facilitator.send("/export")
    xlsx, csv_zip = [m.document for m in sim.sender.chats[c.facilitator.id][-2:]]
    assert xlsx[0].endswith(".xlsx") and load_workbook(io.BytesIO(xlsx[1])).sheetnames
    assert all(n.endswith(".csv") for n in zipfile.ZipFile(io.BytesIO(csv_zip[1])).namelist())


async def test_a_plain_member_can_neither_print_nor_export(sim):
    c = await build_community(sim)
    member = c.members[0]  # kk
    for command in ("/report", "/export"):
        await member.send(command)
        assert member.last().document is None
        assert "фасилитатор" in member.last().text
    await with_no_audit(sim)


async def with_no_audit(sim) -> None:
    count = await sim.engine.db.scalar("SELECT COUNT(*) FROM audit_log WHERE action IN "
                                       "('community.report_printed', 'community.exported')")
    assert count == 0


def test_names_with_right_to_left_marks_or_300_letters_print(tmp_path):
    long_name = "Ә" * 300
    marked = "\u200fМарат\u200e \u202bАсқар\u202c"
    report = {"title": "«" + long_name + "»", "cover": [["Facilitators", f"{marked}, {long_name}"]],
              "footer": "page {page}",
              "sections": [{"heading": "Step 2", "blocks": [
                  ["table", {"headers": ["Name", "Votes"], "rows": [[long_name, 3], [marked, 2]], "widths": [6, 1]}],
                  ["p", marked + " " + long_name]]}]}
    pdf = render_report(report)
    flat = "".join(text_of(pdf)[1].split())
    assert "Марат" in flat and "Асқар" in flat
    assert flat.count("Ә") >= 3 * 300  # nothing of the long name is cut
    assert "\u200f" not in flat


def test_a_document_to_render_is_stored_as_its_renderer_and_data():
    """A report queued in the outbox (or kept for a retry) is read back and made the same."""
    from bot.charts import render_xlsx
    from bot.messages import Chart, Message

    table = {"name": "Мәселелер", "file": "problems", "headers": ["#", "Мәселе"], "rows": [[1, "=жол"]]}
    message = Message("telegram", "1", "x", document=Chart(render_xlsx, ([table],), filename="data.xlsx"))
    back = Message.from_json(message.to_json())
    assert back.document.render is render_xlsx and back.document.filename == "data.xlsx"
    sheet = load_workbook(io.BytesIO(back.document.render(*back.document.args))).active
    assert sheet["B2"].value == "=жол" and sheet["B2"].data_type == "s"  # text, never a formula in Excel


async def test_a_whatsapp_facilitator_gets_the_pdf_the_spreadsheet_and_each_csv(wa, wabot):
    """WhatsApp takes PDF and xlsx documents but no zip: there each CSV file comes on its own."""
    from tests.test_whatsapp_e2e import wa_onboard, wa_say

    aina = wa.user("77010000002", "Айна")
    await wa_onboard(wa, aina, "English")
    await wa_say(wa, aina, "/new")
    await wa_say(wa, aina, "Көктерек")
    await wa.send_text(aina, "Талғар ауданы")
    await wa.next_message(aina, contains="Көктерек")
    await wa.send_text(aina, "/report")
    report = await wa.next_message(aina, contains="check code is on the first page", timeout=30)
    assert report.kind == "document" and report.payload["document"]["filename"].endswith("-report.pdf")
    assert "Көктерек" in " ".join(text_of(report.media)[1].split())
    await wa.send_text(aina, "/export")
    sheet = await wa.next_message(aina, contains="for Excel", timeout=30)
    assert sheet.kind == "document" and load_workbook(io.BytesIO(sheet.media)).sheetnames
    csv_files = []
    for _ in load_workbook(io.BytesIO(sheet.media)).sheetnames:
        received = await wa.next_message(aina, timeout=30)
        assert received.kind == "document" and received.media.startswith(b"\xef\xbb\xbf")
        csv_files.append(received.payload["document"]["filename"])
    assert all(name.endswith(".csv") for name in csv_files)
    assert {mime for _, mime in wa.uploads.values()} >= {
        "application/pdf", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    assert not wa.refused


async def test_a_report_that_waits_in_the_outbox_is_made_the_same_when_read_back(sim):
    """A report held back by a rate limit is written to the outbox as JSON and sent later."""
    from datetime import datetime, timezone

    from bot.charts import render_report
    from bot.flows.report import gather
    from bot.messages import Chart, Message

    await build_community(sim)

    async def read(tx):
        return await gather(tx, await communities.get(tx, 1), "kk", datetime(2026, 3, 2, tzinfo=timezone.utc))

    report = await sim.engine.db.atomic(read)
    message = Message("telegram", "1", "x", document=Chart(render_report, (report,), filename="r.pdf"))
    back = Message.from_json(message.to_json()).document
    assert back.args == (report,)
    assert text_of(back.render(*back.args))[1] == text_of(render_report(report))[1]


async def test_the_report_and_the_spreadsheet_reach_telegram_as_documents(tg, bot):
    from tests.test_e2e_telegram import new_community, onboard as tg_onboard, say

    aigerim = tg.user(1, "Айгерим", "kk")
    await tg_onboard(tg, aigerim, "қазақша")
    await new_community(tg, aigerim)
    await say(tg, aigerim, "/report", contains="дайындалып жатыр")
    sent = await tg.next_message(aigerim.id, contains="Тексеру коды бірінші бетте", timeout=30)
    assert sent["kind"] == "document" and sent["filename"].endswith("-report.pdf")
    assert "Көктерек ауылы" in " ".join(text_of(sent["document"])[1].split())
    await say(tg, aigerim, "/export", contains="Деректер дайындалып жатыр")
    sheet = await tg.next_message(aigerim.id, contains="Excel", timeout=30)
    assert sheet["filename"].endswith(".xlsx") and "Мәселелер" in load_workbook(io.BytesIO(sheet["document"])).sheetnames
    archive = await tg.next_message(aigerim.id, contains="zip", timeout=30)
    assert archive["filename"].endswith(".zip")


def test_a_tall_chart_stays_on_the_page_of_its_heading():
    """A 40-node problem tree after its step's heading and a line of text: the tree is scaled a
    little to fit under them, not pushed to the next page (which left a page holding one heading)."""
    from bot.charts.data import TreeNode

    nodes = [TreeNode(n, f"себеп {n}: жол жөндеусіз қалды", "cause" if n % 2 else "effect",
                      None if n <= 6 else n - 6) for n in range(1, 41)]
    report = {"title": "Ауыл", "cover": [], "footer": "{page}", "sections": [{"heading": "Мәселені талдау", "blocks": [
        ["p", "Мәселе ағашы: 40 түйін."],
        ["chart", {"renderer": "tree", "args": ["Жол жоқ", nodes]}]]}]}
    reader = PdfReader(io.BytesIO(render_report(report)))
    assert [len(page.images) for page in reader.pages] == [0, 1]
    assert "Мәселені талдау" in reader.pages[1].extract_text()
