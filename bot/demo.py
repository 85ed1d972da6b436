"""``qatysu demo``: a simulated community walks the steps through the real flows and storage.

No token, no network. Writes ``transcript.md`` (what every person saw, in their language) and
every chart to the output folder. One member (``demo_steps.WHATSAPP_MEMBER``) is on WhatsApp: the
transcript shows their chat as WhatsApp shows it (🟢).
"""

from __future__ import annotations

import html
import random
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.flows.engine import Engine
from bot.flows.types import Event, Outcome
from bot import demo_steps
from bot.sim import WHATSAPP, Person, Shown, Sim
from bot.storage.db import Database

START = datetime(2026, 11, 16, 5, 0, tzinfo=timezone.utc)  # 10:00 in Asia/Almaty: the plan is for the winter


class SimClock:
    """Time that moves a minute per event (a compressed meeting)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def skip(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def plain(text: str) -> str:
    """Message HTML as Markdown for the transcript."""
    text = re.sub(r"</?b>", "**", text)
    text = re.sub(r"</?i>", "_", text)
    return html.unescape(text)


class Transcript:
    def __init__(self, sim: Sim, out: Path) -> None:
        self.sim = sim
        self.out = out
        self.lines: list[str] = ["# Qatysu demo transcript", ""]
        self.names: dict[str, str] = {}
        self.charts = 0
        self.quiet = False  # while True, events are played but not written (repetitive crowds)
        self._seen = 0

    def section(self, title: str) -> None:
        self.lines += ["", f"## {title}", ""]

    def note(self, text: str) -> None:
        self.lines += [f"_{text}_", ""]

    def __call__(self, person: Person, event: Event, description: str, outcome: Outcome) -> None:
        if self.quiet:
            self._seen = len(self.sim.sender.log)
            return
        where = f" (in {self.names.get(event.chat_id, event.chat_id)})" if event.is_group else \
            " (on WhatsApp)" if event.channel == WHATSAPP else ""
        self.lines.append(f"**{person.name}**{where} → `{description}`")
        if outcome.toast:
            self.lines.append(f"> 💬 _{plain(outcome.toast.text)}_")
        self._shown(skip_edits=bool(event.button and event.is_group))

    def scheduled(self, when: str) -> None:
        """What the scheduler sent at its latest sweep (reminders, the digest), unless quiet."""
        if self.quiet or len(self.sim.sender.log) == self._seen:
            self._seen = len(self.sim.sender.log)
            return
        self.lines.append(f"**⏰ scheduler**, {when}")
        self._shown(skip_edits=False)

    def _shown(self, skip_edits: bool) -> None:
        for chat_id, shown, edited in self.sim.sender.log[self._seen:]:
            if edited and skip_edits:
                continue  # a tap's live count in the group: the toast above says what happened
            to = self.names.get(chat_id, chat_id)
            if shown.parts:
                self._whatsapp(to, shown)
                continue
            body = plain(shown.text).replace("\n", "\n>   ")
            label = "edited" if edited else "→"
            self.lines.append(f"> 🤖 {label} {to}: {body}")
            buttons = [b.text for row in shown.buttons for b in row]
            if buttons and not edited:
                self.lines.append(">   " + " ".join(f"[{b}]" for b in buttons))
            if shown.image is not None and not edited:
                self.lines.append(self._chart(shown.image))
        self._seen = len(self.sim.sender.log)
        self.lines.append("")

    def _chart(self, image: bytes) -> str:
        self.charts += 1
        name = f"chart-{self.charts:02d}.png"
        (self.out / name).write_bytes(image)
        return f">   ![chart]({name})"

    def _whatsapp(self, to: str, shown: Shown) -> None:
        """A message as the WhatsApp member's phone shows it: each Cloud API message it became,
        its options as reply buttons ([…]) or a list (☰ label: […])."""
        for part in shown.parts:
            kind = part.payload["type"]
            content = part.payload[kind]
            if kind == "interactive":
                body = content["body"]["text"]
            elif kind == "text":
                body = content["body"]
            elif kind == "template":
                body = " ".join(p["text"] for c in content["components"] for p in c["parameters"])
            else:
                body = content.get("caption", "") or content.get("filename", "")
            self.lines.append(f"> 🟢 WhatsApp → {to}: " + body.replace("\n", "\n>   "))
            if kind == "interactive" and content["type"] == "button":
                self.lines.append(">   " + " ".join(f"[{b['reply']['title']}]" for b in content["action"]["buttons"]))
            elif kind == "interactive":
                rows = [r["title"] for section in content["action"]["sections"] for r in section["rows"]]
                self.lines.append(f">   ☰ {content['action']['button']}: " + " ".join(f"[{r}]" for r in rows))
            if kind == "image" and part.media is not None:
                self.lines.append(self._chart(part.media[0]))

    def write(self) -> Path:
        path = self.out / "transcript.md"
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return path


async def run_demo(out_dir: str = "demo-out", seed: int = 7) -> str:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("chart-*.png"):
        old.unlink()
    db_path = out / "demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    async with Database(str(db_path)) as db:
        engine = Engine(db, bot_username="qatysu_demo_bot", clock=SimClock(), rng=random.Random(seed))
        sim = Sim(engine)
        transcript = Transcript(sim, out)
        sim.on_event = transcript
        await demo_steps.run_all(sim, transcript, random.Random(seed))
        await write_documents(db, engine.clock(), out, transcript)
        path = transcript.write()
    return str(path.parent)


async def write_documents(db: Database, now: datetime, out: Path, transcript: Transcript) -> None:
    """The community's printed report (in Kazakh) and its data export, as ``/report`` and
    ``/export`` make them, into the output folder."""
    from bot.charts import render
    from bot.charts.report import render_report
    from bot.charts.sheets import csv_name, render_csv, render_xlsx
    from bot.flows.report import export_tables, gather
    from bot.storage import communities, cycles

    async def read(tx):
        community, cycle = await communities.get(tx, 1), None
        finished = [c for c in await cycles.history(tx, 1) if not c.is_current]
        if finished:  # the demo ends by starting the next cycle: print the one it finished
            cycle = finished[-1]
            community = await cycles.archived(tx, 1, cycle.number)
        return await gather(tx, community, "kk", now, cycle), await export_tables(tx, community, "kk", now, cycle)

    report, tables = await db.atomic(read)
    (out / "report.pdf").write_bytes(await render(render_report, report))
    (out / "export.xlsx").write_bytes(await render(render_xlsx, tables))
    export = out / "export-csv"
    export.mkdir(exist_ok=True)
    for old in export.glob("*.csv"):
        old.unlink()
    for number, table in enumerate(tables, start=1):
        (export / csv_name(number, table)).write_bytes(render_csv(table))
    transcript.section("The report and the data export")
    transcript.note("What /report and /export send the facilitator: [report.pdf](report.pdf) (A4, to print), "
                    "[export.xlsx](export.xlsx) and the same tables as CSV files in export-csv/.")
