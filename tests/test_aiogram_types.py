"""aiogram imported with its types built on first use (bot/handlers/aiogram_types.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from bot.handlers import aiogram_types

# In a fresh interpreter, as `qatysu run` starts: import, check the builds were deferred, then
# build every model of aiogram.types and aiogram.methods from its own module's globals alone
# (no namespace passed in), the way pydantic builds a deferred model at its first use.
PROBE = """
import json, sys
import bot.app
import aiogram.methods as M, aiogram.types as T
from pydantic import BaseModel
deferred = not T.Update.__pydantic_complete__ and not T.Message.__pydantic_complete__
failed, built = [], 0
for module in (T, M):
    for name in module.__all__:
        cls = getattr(module, name)
        if isinstance(cls, type) and issubclass(cls, BaseModel) \\
                and not cls.__pydantic_generic_metadata__["parameters"]:
            try:
                cls.model_rebuild(_parent_namespace_depth=0)
                built += 1
            except Exception as exc:
                failed.append(f"{name}: {exc}"[:200])
print(json.dumps({"deferred": deferred, "built": built, "failed": failed}))
"""


def test_every_aiogram_model_builds_on_first_use():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["deferred"], "aiogram's types were built at import: the deferral did not apply"
    assert result["failed"] == []
    assert result["built"] > 500


def test_a_second_load_changes_nothing():
    assert aiogram_types.load() is False  # aiogram is imported already (conftest, as the bot does)


def test_updates_and_replies_parse_with_deferred_types():
    from aiogram.methods.base import Response
    from aiogram.types import Message, Update

    update = Update.model_validate({
        "update_id": 7,
        "callback_query": {"id": "1", "from": {"id": 5, "is_bot": False, "first_name": "Әлия"},
                           "chat_instance": "c", "data": "d:1:2",
                           "message": {"message_id": 3, "date": 1, "chat": {"id": -100, "type": "group"},
                                       "text": "Дауыс беріңіз"}}})
    assert update.callback_query.from_user.first_name == "Әлия"
    assert update.callback_query.message.chat.type == "group"
    sent = Response[Message].model_validate({
        "ok": True, "result": {"message_id": 9, "date": 2, "chat": {"id": 5, "type": "private"},
                               "text": "Қош келдіңіз", "from": {"id": 1, "is_bot": True, "first_name": "Q"}}})
    assert sent.result.from_user.is_bot and sent.result.text == "Қош келдіңіз"
    assert json.loads(update.model_dump_json(exclude_none=True))["callback_query"]["data"] == "d:1:2"
