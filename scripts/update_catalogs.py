"""Extract messages from bot/ and merge them into locales/{kk,ru,en}/LC_MESSAGES/messages.po.

Run after adding or changing a user-facing string, then translate every empty msgstr:
    python scripts/update_catalogs.py
English msgstrs are filled with the source text (the source language is English).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
KEYWORDS = ["-k", "t", "-k", "tn:1,2", "-k", "N_"]


_DATES = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date): [^"]*\\n"$', re.M)


def _header_dates(po: Path) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in _DATES.finditer(po.read_text(encoding="utf-8"))}


def _restore_header_dates(po: Path, dates: dict[str, str]) -> None:
    """Keep the header's dates as they were, so that two branches that each add a message merge
    without a conflict in the header."""
    if dates:
        text = _DATES.sub(lambda m: dates.get(m.group(1), m.group(0)), po.read_text(encoding="utf-8"))
        po.write_text(text, encoding="utf-8")


def main() -> int:
    pot = LOCALES / "messages.pot"
    pot_dates = _header_dates(pot) if pot.exists() else {}
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(ROOT / "babel.cfg"),
                    *KEYWORDS, "--no-location", "--sort-output", "--no-wrap", "--project", "qatysu",
                    "-o", str(pot), str(ROOT / "bot")], check=True, cwd=ROOT)
    _restore_header_dates(pot, pot_dates)
    for locale in ("kk", "ru", "en"):
        po = LOCALES / locale / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        dates = _header_dates(po) if po.exists() else {}
        args = ["-i", str(pot), "-d", str(LOCALES), "-D", "messages", "-l", locale, "--no-wrap"]
        if action == "update":
            args += ["--ignore-obsolete", "--no-fuzzy-matching"]
        subprocess.run([sys.executable, "-m", "babel.messages.frontend", action, *args], check=True, cwd=ROOT)
        if locale == "en":
            with po.open("rb") as handle:
                catalog = read_po(handle, locale="en")
            for message in catalog:
                if not message.id:
                    continue
                if isinstance(message.id, tuple):
                    if not any(message.string):
                        message.string = (message.id[0], message.id[1])
                elif not message.string:
                    message.string = message.id
            with po.open("wb") as handle:
                write_po(handle, catalog, width=0, omit_header=False, no_location=True)
        _restore_header_dates(po, dates)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
