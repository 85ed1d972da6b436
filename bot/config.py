"""Configuration, read from the environment in one place and validated at start."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALES = ("kk", "ru", "en")
DEFAULT_DB = "./qatysu.db"
_TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,}$")


class CannotRun(Exception):
    """The bot cannot run: what failed, in one line for the operator (``qatysu run`` prints it
    and exits non-zero, so Docker or systemd restart it and the reason is in their log)."""


class ConfigError(Exception):
    """A missing or malformed variable; the message names it in one line."""


@dataclass(frozen=True)
class Config:
    db_path: str = DEFAULT_DB
    locale: str = "kk"
    tz: str = "Asia/Almaty"
    telegram_token: str | None = None
    telegram_api_base: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    http_port: int = 8080
    http_host: str = "127.0.0.1"  # the one HTTP server (both webhooks, /health): a proxy in front reaches it
    http_access_log: bool = False  # a log line per HTTP request (QATYSU_HTTP_ACCESS_LOG=1); off: a burst costs less
    operator_name: str = "Qatysu"
    operator_bin: str = ""
    whatsapp: "WhatsAppConfig | None" = None
    sweep_interval: float = 10.0  # QATYSU_SWEEP_SECONDS: seconds between the scheduler's sweeps


@dataclass(frozen=True)
class WhatsAppConfig:
    """The WhatsApp Cloud API channel (``WHATSAPP_*``); present when ``WHATSAPP_TOKEN`` is set."""

    token: str
    phone_number_id: str
    app_secret: str
    verify_token: str
    api_base: str = "https://graph.facebook.com"
    api_version: str = "v21.0"
    templates: Mapping[str, str] = field(default_factory=dict)  # "notice" → an approved template's name
    display_number: str | None = None  # digits, for wa.me links


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def db_path(env: Mapping[str, str] | None = None) -> str:
    """``QATYSU_DB``: the SQLite database file (all that ``qatysu backup`` and ``audit verify``
    read), or a PostgreSQL server's ``postgresql://user:password@host[:port]/database``."""
    env = os.environ if env is None else env
    return database_target(env.get("QATYSU_DB", "").strip() or DEFAULT_DB, "QATYSU_DB")


def database_target(value: str, name: str) -> str:
    """``value``, where ``name`` (QATYSU_DB, or ``qatysu copy``'s SRC and DST) names a database:
    a SQLite file, or a ``postgresql://`` URL naming a server and a database; ``ConfigError``
    naming ``name`` otherwise. The one check of such a target."""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", value)
    if scheme:
        if not is_postgresql(value):
            raise ConfigError(f"{name}: a {scheme.group(1)}:// URL is neither a SQLite file nor a postgresql:// URL")
        parsed = urlparse(value)
        try:
            parsed.port
        except ValueError:
            raise ConfigError(f"{name} has a malformed port in its postgresql:// URL") from None
        if not parsed.hostname or not parsed.path.strip("/"):
            raise ConfigError(f"{name} names no host or no database: it must name the server and the database, "
                              "postgresql://user:password@host[:port]/database")
    return value


def is_postgresql(target: str) -> bool:
    """Does ``target`` name a PostgreSQL server (its scheme in any case, as URLs allow)?"""
    return target[:13].lower().startswith(("postgresql://", "postgres://"))


def load(env: Mapping[str, str] | None = None, *, need_telegram: bool = False) -> Config:
    """Build the configuration from ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    locale = env.get("QATYSU_LOCALE", "kk").strip() or "kk"
    if locale not in LOCALES:
        raise ConfigError(f"QATYSU_LOCALE must be one of {', '.join(LOCALES)}, got {locale!r}")
    tz = env.get("QATYSU_TZ", "Asia/Almaty").strip() or "Asia/Almaty"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"QATYSU_TZ is not a known time zone: {tz!r}") from None
    port_text = env.get("QATYSU_HTTP_PORT", "8080").strip() or "8080"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"QATYSU_HTTP_PORT must be a port number, got {port_text!r}")
    access_log = env.get("QATYSU_HTTP_ACCESS_LOG", "").strip().lower()
    if access_log not in ("", "0", "1", "no", "yes", "off", "on", "false", "true"):
        raise ConfigError(f"QATYSU_HTTP_ACCESS_LOG must be 1 or 0, got {access_log!r}")
    sweep_text = env.get("QATYSU_SWEEP_SECONDS", "").strip() or "10"
    try:
        sweep = float(sweep_text)
    except ValueError:
        sweep = 0.0
    if not 0.1 <= sweep <= 3600:
        raise ConfigError(f"QATYSU_SWEEP_SECONDS must be a number of seconds from 0.1 to 3600, got {sweep_text!r}")
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip() or None
    whatsapp = _whatsapp(env)
    if need_telegram and token is None and whatsapp is None:  # a channel is needed: either will do
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set (get one from @BotFather)")
    if token is not None and not _TOKEN_RE.match(token):
        raise ConfigError("TELEGRAM_BOT_TOKEN is malformed (expected digits:letters from @BotFather)")
    webhook = _url(env, "TELEGRAM_WEBHOOK_URL")
    secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and - (1-256 characters)")
    if webhook and secret is None:
        raise ConfigError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_WEBHOOK_URL is set")
    return Config(
        db_path=db_path(env),
        locale=locale,
        tz=tz,
        telegram_token=token,
        telegram_api_base=_url(env, "TELEGRAM_API_BASE"),
        telegram_webhook_url=webhook,
        telegram_webhook_secret=secret,
        http_port=int(port_text),
        http_host=env.get("QATYSU_HTTP_HOST", "").strip() or "127.0.0.1",
        http_access_log=access_log in ("1", "yes", "on", "true"),
        operator_name=env.get("QATYSU_OPERATOR_NAME", "").strip() or "Qatysu",
        operator_bin=env.get("QATYSU_OPERATOR_BIN", "").strip(),
        whatsapp=whatsapp,
        sweep_interval=sweep,
    )


def _whatsapp(env: Mapping[str, str]) -> WhatsAppConfig | None:
    token = env.get("WHATSAPP_TOKEN", "").strip()
    if not token:
        return None
    values = {}
    for name in ("WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN"):
        values[name] = env.get(name, "").strip()
        if not values[name]:
            raise ConfigError(f"{name} is required when WHATSAPP_TOKEN is set")
    if not values["WHATSAPP_PHONE_NUMBER_ID"].isdigit():
        raise ConfigError("WHATSAPP_PHONE_NUMBER_ID must be the numeric phone number id from Meta's app dashboard")
    version = env.get("WHATSAPP_API_VERSION", "").strip() or "v21.0"
    if not re.fullmatch(r"v\d{1,3}\.\d{1,2}", version):
        raise ConfigError(f"WHATSAPP_API_VERSION must look like v21.0, got {version!r}")
    templates = {}
    for name, value in env.items():
        if name.startswith("WHATSAPP_TEMPLATE_") and value.strip():
            if not re.fullmatch(r"[a-z0-9_]{1,512}", value.strip()):
                raise ConfigError(f"{name} must be a template name (a-z, 0-9 and _), got {value.strip()!r}")
            templates[name.removeprefix("WHATSAPP_TEMPLATE_").lower()] = value.strip()
    display = re.sub(r"[\s+()-]", "", env.get("WHATSAPP_DISPLAY_NUMBER", ""))
    if display and not re.fullmatch(r"\d{7,15}", display):
        raise ConfigError("WHATSAPP_DISPLAY_NUMBER must be the business's phone number, e.g. +7 700 123 4567")
    return WhatsAppConfig(
        token=token,
        phone_number_id=values["WHATSAPP_PHONE_NUMBER_ID"],
        app_secret=values["WHATSAPP_APP_SECRET"],
        verify_token=values["WHATSAPP_VERIFY_TOKEN"],
        api_base=_url(env, "WHATSAPP_API_BASE") or "https://graph.facebook.com",
        api_version=version,
        templates=templates,
        display_number=display or None,
    )
