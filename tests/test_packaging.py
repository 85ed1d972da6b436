"""A non-editable install (a wheel, or `pip install .`) speaks Kazakh: the catalogs ship in it.

Before, the wheel left out `locales/` and the bot silently answered in English. The test builds a
wheel from a copy of the sources, installs it in a fresh virtual environment (without pip and
without network: the dependencies come from this environment's site-packages, the package
itself only from the wheel) and has a member start the bot there, away from the source tree.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from bot.flows.engine import Engine
from bot.sim import Sim
from bot.storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "babel.cfg", "bot", "locales"]
CATALOGS = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("locales/*/LC_MESSAGES/messages.po"))

START = """
import asyncio, json, sys
import bot
from bot.flows.engine import Engine
from bot.sim import Sim
from bot.storage.db import Database

async def main():
    async with Database("start.db") as db:
        person = Sim(Engine(db, bot_username="qatysu_test_bot")).person("Айгерим", "kk")
        await person.send("/start")
        await person.press("қазақша")
        print(json.dumps({"file": bot.__file__, "texts": [m.text for m in person.inbox()]}))

asyncio.run(main())
"""


async def replies_here(tmp_path: Path, lang: str, label: str) -> list[str]:
    async with Database(str(tmp_path / f"here-{lang}.db")) as db:
        person = Sim(Engine(db, bot_username="qatysu_test_bot")).person("Айгерим", lang)
        await person.send("/start")
        await person.press(label)
        return [m.text for m in person.inbox()]


def copy_sources(target: Path) -> Path:
    target.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target / name)
    return target


def run(*args: str | Path, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


async def test_an_installed_wheel_answers_in_kazakh(tmp_path):
    sources = copy_sources(tmp_path / "src")
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", dist, sources)
    [wheel] = dist.glob("qatysu-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert {f"bot/{c}" for c in CATALOGS} <= set(archive.namelist())

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel)
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    # the dependencies (aiogram, Babel, ...) from here; a path line in a .pth runs no other .pth,
    # so an editable install of the sources in this environment stays out
    here = [*site.getsitepackages(), site.getusersitepackages()]
    (purelib / "dependencies.pth").write_text("\n".join(p for p in here if os.path.isdir(p)) + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    started = json.loads(run(python, "-c", START, cwd=elsewhere, env=env).stdout)
    assert Path(started["file"]).is_relative_to(purelib), started["file"]  # the wheel, not the sources

    kazakh = await replies_here(tmp_path, "kk", "қазақша")
    assert kazakh != await replies_here(tmp_path, "en", "English")
    assert started["texts"] == kazakh
    assert started["texts"][0].startswith("Сәлеметсіз бе!")
    assert (venv / "bin" / "qatysu").exists()


def test_the_source_distribution_carries_the_catalogs(tmp_path):
    """`python -m build` makes the wheel from the sdist: the catalogs must be in it too."""
    sources = copy_sources(tmp_path / "src")
    run(sys.executable, "-c", "from setuptools import build_meta; build_meta.build_sdist('../sdist')",
        cwd=sources)
    [sdist] = (tmp_path / "sdist").glob("qatysu-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert set(CATALOGS) | {"setup.py", "pyproject.toml", "README.md"} <= names
