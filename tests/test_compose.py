"""compose.yaml, read (no Docker engine runs here): `docker compose up` starts PostgreSQL, migrates
it once, then two workers behind one proxy, and it says what the README says — the same command,
every variable the code reads, the image built from the Dockerfile, health checks, the proxy's
upstreams the workers, and the order: PostgreSQL healthy, then the migration done, then workers."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml

from bot import cli
from bot import config as configuration

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "compose.yaml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
WORKERS = sorted(name for name, service in SERVICES.items() if service.get("command", [])[:2] == ["qatysu", "run"])
SECTION = "## Several workers on PostgreSQL"


def readme_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in readme, f"the README has no section {SECTION!r}"
    return readme.split(SECTION, 1)[1].split("\n## ", 1)[0]


def readme_commands() -> list[list[str]]:
    """Each command line of the section's sh blocks, split as the shell would (comments dropped)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", readme_section(), re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(words)
    return commands


def nginx_config() -> str:
    """The proxy's configuration as nginx reads it: compose has replaced each $$ by $."""
    (config,) = SERVICES["proxy"]["configs"]
    return COMPOSE["configs"][config["source"]]["content"].replace("$$", "$")


class Recording(dict):
    """An environment that notes every variable read from it (``configuration.load``'s reads)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()
        self.prefixes: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def items(self) -> Iterator:  # a scan for a family of variables (WHATSAPP_TEMPLATE_*)
        self.prefixes.add("*")
        return super().items()


def variables_the_code_reads() -> tuple[set[str], bool]:
    env = Recording({"TELEGRAM_BOT_TOKEN": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ", "WHATSAPP_TOKEN": "t",
                     "WHATSAPP_PHONE_NUMBER_ID": "1", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v",
                     "TELEGRAM_WEBHOOK_URL": "https://bot.example.kz", "TELEGRAM_WEBHOOK_SECRET": "s"})
    configuration.load(env, need_telegram=True)
    configuration.db_path(env)
    return env.read, bool(env.prefixes)


def test_postgresql_is_an_official_image_pinned_at_15_or_newer_with_a_named_volume_and_a_health_check():
    db = SERVICES["db"]
    found = re.fullmatch(r"postgres:(\d+)\.(\d+)(-[a-z]+)?", db["image"])
    assert found and int(found.group(1)) >= 15, f"pin PostgreSQL by version (postgres:MAJOR.MINOR), not {db['image']}"
    (volume,) = db["volumes"]
    name, target = volume.split(":")
    assert name in COMPOSE["volumes"] and target == "/var/lib/postgresql/data"
    assert db["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert "${POSTGRES_PASSWORD:?" in db["environment"]["POSTGRES_PASSWORD"]  # from .env, required


def test_the_migration_runs_once_when_postgresql_is_healthy_and_the_workers_start_when_it_is_done():
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["qatysu", "migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert len(WORKERS) == 2
    for name in WORKERS:
        assert SERVICES[name]["depends_on"] == {"db": {"condition": "service_healthy"},
                                                "migrate": {"condition": "service_completed_successfully"}}
    assert set(SERVICES["proxy"]["depends_on"]) == set(WORKERS)


def test_the_workers_run_the_readme_command_in_the_image_built_from_the_dockerfile():
    commands = readme_commands()
    assert ["docker", "compose", "up", "-d", "--build"] in commands
    section = readme_section()
    for name in ["migrate", *WORKERS]:
        service = SERVICES[name]
        assert service["build"] == "." and (ROOT / "Dockerfile").exists()
        assert service["image"] == SERVICES["migrate"]["image"] and service["pull_policy"] == "build"
    for name in WORKERS:
        command = SERVICES[name]["command"]
        assert command == SERVICES[WORKERS[0]]["command"] and f"`{shlex.join(command)}`" in section
        run = next(a for a in cli.parser()._actions if a.dest == "cmd").choices["run"]
        if not any("--webhook" in a.option_strings for a in run._actions):
            pytest.skip("this checkout's `qatysu run` has no --webhook yet (the workers' branch adds it)")
        run.parse_args(command[2:])  # options `qatysu run` takes (argparse exits on any other)


def test_every_variable_the_code_reads_reaches_the_workers_from_the_environment():
    read, scans_a_family = variables_the_code_reads()
    assert {"QATYSU_DB", "TELEGRAM_BOT_TOKEN", "WHATSAPP_APP_SECRET"} <= read and scans_a_family
    example = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
               if re.match(r"[A-Z_]+=", line)}
    for name in WORKERS:
        environment = SERVICES[name]["environment"]
        assert not read - set(environment), f"compose.yaml does not pass {sorted(read - set(environment))} to {name}"
        assert "WHATSAPP_TEMPLATE_NOTICE" in environment  # the family's one template (README, Configuration)
        assert not set(environment) - read - {"WHATSAPP_TEMPLATE_NOTICE"}, "a variable no code reads"
        for variable, value in environment.items():
            if variable in ("QATYSU_DB", "QATYSU_HTTP_HOST", "QATYSU_HTTP_PORT"):
                continue  # compose's own wiring, below
            assert value == f"${{{variable}:-}}", f"{variable} must come from .env or the environment, not {value!r}"
            assert variable in example, f".env.example does not name {variable}"
        url = environment["QATYSU_DB"]
        assert configuration.is_postgresql(url) and "@db:5432/" in url and "${POSTGRES_PASSWORD:?" in url
        assert configuration.db_path({"QATYSU_DB": url.replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}",
                                                               "secret")}) != ""
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", COMPOSE_TEXT))
    assert interpolated <= example, f".env.example does not name {sorted(interpolated - example)}"
    filled = [line for line in (ROOT / ".env.example").read_text().splitlines() if re.fullmatch(r"[A-Z_]+=.+", line)]
    assert filled == [], "the example holds no value: a secret never goes into the repository"


def test_every_dollar_is_an_interpolation_or_an_escaped_dollar():
    """compose reads $NAME and ${NAME} in every value (nginx's configuration too): nginx's own $ is $$."""
    for number, line in enumerate(COMPOSE_TEXT.splitlines(), start=1):
        rest = re.sub(r"\$\$|\$\{[A-Z_]+(:?[-?][^}]*)?\}", "", line)
        assert "$" not in rest, f"compose.yaml line {number}: a $ compose would interpolate: {line.strip()}"


def test_the_long_running_services_have_health_checks_and_the_workers_that_of_the_image():
    for name in ["db", "proxy", *WORKERS]:
        check = SERVICES[name]["healthcheck"]
        assert check["test"][0] == "CMD" and {"interval", "timeout", "retries"} <= set(check)
        assert SERVICES[name]["restart"] == "unless-stopped"
    for name in WORKERS:
        assert SERVICES[name]["healthcheck"]["test"] == ["CMD", "qatysu", "health"]
        assert "TELEGRAM_WEBHOOK_URL" in SERVICES[name]["environment"]  # `qatysu health` asks the HTTP server then


def test_the_workers_stop_cleanly_before_compose_kills_them():
    from bot.serve import STOP_WITHIN

    for name in WORKERS:
        grace = SERVICES[name]["stop_grace_period"]
        assert grace.endswith("s") and STOP_WITHIN + 1.0 < int(grace[:-1])


def test_the_proxy_round_robins_over_both_workers_on_one_published_port():
    config = nginx_config()
    port = int(SERVICES[WORKERS[0]]["environment"]["QATYSU_HTTP_PORT"])
    assert port == configuration.Config().http_port
    for name in WORKERS:
        assert SERVICES[name]["environment"]["QATYSU_HTTP_HOST"] == "0.0.0.0"
        assert "ports" not in SERVICES[name]  # reached through the proxy only
    (upstream,) = re.findall(r"upstream (\w+) \{(.*?)\}", config, re.S)
    servers = re.findall(r"^\s*server ([\w.-]+):(\d+)\b", upstream[1], re.M)
    assert sorted(servers) == [(name, str(port)) for name in WORKERS]
    assert not re.search(r"\b(least_conn|ip_hash|hash|random)\b", upstream[1]), "round robin is nginx's default"
    passes = re.findall(r"location (~|=)?\s*(\S+) \{[^}]*proxy_pass http://(\w+);", config)
    assert {target for _, _, target in passes} == {upstream[0]}
    routed = [(kind, where) for kind, where, _ in passes]
    for path in ("/telegram/webhook", "/whatsapp/webhook", "/health"):
        assert any(re.search(where, path) if kind == "~" else where == path for kind, where in routed), path
    assert not any(re.search(where, "/telegram/webhookx") for kind, where in routed if kind == "~")
    listen = re.search(r"listen (\d+);", config).group(1)
    published = [service.get("ports") for service in SERVICES.values() if service.get("ports")]
    assert published == [[f"127.0.0.1:${{QATYSU_PORT:-{port}}}:{listen}"]]


def test_the_readme_names_only_services_compose_has():
    mentioned = set()
    for words in readme_commands():
        if words[:2] == ["docker", "compose"]:
            action = words[2]
            names = [w for w in words[3:] if re.fullmatch(r"[a-z][a-z0-9-]*", w)]  # not options, paths, URLs
            if action in ("exec", "run") and names:
                mentioned.add(names[0])  # the service; what follows is the command run in it
            elif action in ("up", "stop", "start", "restart", "rm", "kill", "logs", "ps"):
                mentioned |= set(names)
    assert mentioned and mentioned <= set(SERVICES), f"the README names {sorted(mentioned - set(SERVICES))}"
    assert set(WORKERS) <= mentioned  # the rolling deploy replaces each worker by name
