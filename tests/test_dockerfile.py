"""The Dockerfile, parsed (no Docker engine runs here): a pinned base, the README's install, a
health check that is a real command, and everything the package build reads copied in."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

from bot import cli
from bot.config import Config

ROOT = Path(__file__).resolve().parent.parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    result, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, rest = (pending + line).strip().partition(" ")
        result.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def only(name: str) -> str:
    found = [args for keyword, args in instructions() if keyword == name]
    assert len(found) == 1, f"expected one {name}, found {found}"
    return found[0]


def exec_form(args: str) -> list[str]:
    form = json.loads(args)
    assert isinstance(form, list) and all(isinstance(a, str) for a in form)
    return form


def test_the_base_image_is_pinned_by_version_and_digest_and_meets_requires_python():
    image = only("FROM")
    found = re.fullmatch(r"python:3\.(\d+)\.(\d+)-slim-[a-z]+@sha256:[0-9a-f]{64}", image)
    assert found, f"pin the base image as python:3.X.Y-slim-DEBIAN@sha256:DIGEST, not {image}"
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert int(found.group(1)) >= int(re.fullmatch(r">=3\.(\d+)", required).group(1))


def test_it_installs_as_the_readme_tells_a_server_to():
    runs = " && ".join(args for keyword, args in instructions() if keyword == "RUN")
    installs = [shlex.split(part) for part in runs.split("&&") if "pip install" in part]
    assert len(installs) == 1
    assert installs[0][-1] == "." and "-e" not in installs[0]  # the checkout, not editable
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    server = readme.split("### Keeping it running", 1)[1].split("\n### ", 1)[0]
    assert "pip install ." in server and "docker build" in server


def test_every_file_the_build_reads_is_copied_in():
    copied = set()
    for keyword, args in instructions():
        if keyword == "COPY":
            *sources, _ = args.split()
            copied |= {s.rstrip("/") for s in sources}
    assert all((ROOT / name).exists() for name in copied)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", "setup.py", "MANIFEST.in", project["project"]["readme"]}
    needed |= {pattern.split("*")[0].rstrip("/") for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    for line in (ROOT / "MANIFEST.in").read_text().splitlines():
        words = line.split()
        if words and words[0] in ("include", "recursive-include", "graft"):
            needed.add(words[1])
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"


def test_the_health_check_and_the_command_are_qatysu_commands():
    healthcheck = only("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD")
    assert "--start-period=" in options and "--interval=" in options
    check = exec_form(command.strip())
    subcommands = next(a for a in cli.parser()._actions if a.dest == "cmd").choices
    assert check[0] == "qatysu" and check[1] in subcommands and check[1] == "health"
    assert exec_form(only("CMD")) == ["qatysu", "run"]


def test_the_database_lives_in_the_volume_and_the_port_is_the_default():
    env = dict(re.findall(r"(\w+)=(\S+)", only("ENV")))
    volume = exec_form(only("VOLUME"))
    assert any(env["QATYSU_DB"].startswith(v.rstrip("/") + "/") for v in volume)
    assert only("EXPOSE") == str(Config().http_port)
    assert only("USER") not in ("root", "0")


def test_docker_stop_gets_the_clean_stop_before_its_kill():
    """`docker stop` sends STOPSIGNAL and kills 10 s later (its default): `qatysu run` must stop
    cleanly on that signal within that time."""
    from bot.serve import STOP_WITHIN

    assert only("STOPSIGNAL") == "SIGTERM"
    assert STOP_WITHIN + 1.0 < 10  # the last-resort exit too


def test_the_http_server_listens_beyond_the_container():
    env = dict(re.findall(r"(\w+)=(\S+)", only("ENV")))
    assert env["QATYSU_HTTP_HOST"] == "0.0.0.0" and Config().http_host == "127.0.0.1"
