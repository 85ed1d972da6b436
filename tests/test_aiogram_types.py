"""aiogram imported with its types built on first use (bot/handlers/aiogram_types.py)."""

from __future__ import annotations

import json
import subprocess
import sys

# In a fresh interpreter, as `qatysu run` starts (or, with "eager", aiogram as shipped): check
# whether the builds were deferred, then build every model of aiogram.types and aiogram.methods
# the way pydantic does at first use, from a function whose locals share names with Telegram
# types (which must not leak into them), and fingerprint the models the bot uses most.
PROBE = """
import hashlib, json, sys, warnings
if sys.argv[1] == "eager":
    import aiogram
import bot.app
import aiogram.methods as M, aiogram.types as T
from aiogram.methods.base import Response
from pydantic import BaseModel
deferred = not T.Update.__pydantic_complete__ and not T.Message.__pydantic_complete__

def first_use():
    User, Chat, Message, DateTime, Optional = dict, list, str, int, None  # noqa: F841
    failed, built = [], 0
    for module in (T, M):
        for name in module.__all__:
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, BaseModel) \\
                    and not cls.__pydantic_generic_metadata__["parameters"]:
                try:
                    cls.model_rebuild()
                    built += 1
                except Exception as exc:
                    failed.append(f"{name}: {exc}"[:200])
    sample = [T.Update, T.Message, T.CallbackQuery, M.SendMessage, T.InlineKeyboardMarkup,
              M.AnswerCallbackQuery, M.GetUpdates, M.SetMyCommands, Response[T.Message]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schemas = json.dumps([cls.model_json_schema() for cls in sample], sort_keys=True, default=str)
    return failed, built, hashlib.sha256(schemas.encode()).hexdigest()

failed, built, fingerprint = first_use()
print(json.dumps({"deferred": deferred, "built": built, "failed": failed, "fingerprint": fingerprint}))
"""


def probes(*modes: str) -> list[dict]:
    """The probe in each mode, the interpreters side by side (each takes a core for seconds)."""
    children = [subprocess.Popen([sys.executable, "-c", PROBE, mode], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for mode in modes]
    results = []
    try:
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err[-2000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return results


def test_every_aiogram_model_builds_on_first_use_as_aiogram_builds_it():
    lazy, eager = probes("lazy", "eager")
    assert lazy["deferred"], "aiogram's types were built at import: the deferral did not apply"
    assert not eager["deferred"]
    assert lazy["failed"] == [] and lazy["built"] == eager["built"] > 500
    assert lazy["fingerprint"] == eager["fingerprint"], "a model differs from aiogram's own build"


def test_updates_and_replies_parse_with_deferred_types():
    from aiogram.methods.base import Response
    from aiogram.types import Message, Update

    def parse(payload):
        User = dict  # noqa: F841  (a local named like a Telegram type must not leak into the model)
        return Update.model_validate(payload)

    update = parse({
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
