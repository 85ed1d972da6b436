"""Configuration: read once, validated, and a wrong value stops the bot with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.config import ConfigError, load

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_defaults_need_no_token():
    config = load({})
    assert (config.db_path, config.locale, config.tz, config.telegram_token) == ("./qatysu.db", "kk", "Asia/Almaty", None)


@pytest.mark.parametrize("env, variable", [
    ({}, "TELEGRAM_BOT_TOKEN"),
    ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "QATYSU_LOCALE": "de"}, "QATYSU_LOCALE"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "QATYSU_TZ": "Asia"}, "QATYSU_TZ"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "QATYSU_TZ": "Mars/Olympus"}, "QATYSU_TZ"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "QATYSU_HTTP_PORT": "99999"}, "QATYSU_HTTP_PORT"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": "localhost:8081"}, "TELEGRAM_API_BASE"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_URL": "https://bot.example.kz"}, "TELEGRAM_WEBHOOK_SECRET"),
    ({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_URL": "https://bot.example.kz",
      "TELEGRAM_WEBHOOK_SECRET": "has spaces"}, "TELEGRAM_WEBHOOK_SECRET"),
])
def test_a_wrong_variable_is_named(env, variable):
    with pytest.raises(ConfigError) as error:
        load(env, need_telegram=True)
    assert variable in str(error.value) and "\n" not in str(error.value)


def test_qatysu_run_without_a_token_says_so_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "QATYSU_DB": str(tmp_path / "x.db")}
    result = subprocess.run([sys.executable, "-m", "bot", "run"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["qatysu: TELEGRAM_BOT_TOKEN is not set (get one from @BotFather)"]
