"""Bot API calls made for every update, as plain JSON over the bot's own aiohttp session.

aiogram builds a pydantic model of each method it sends, dumps it into a form, and validates the
answer into another model: for ``answerCallbackQuery`` (once a tap), ``getUpdates`` (once a
batch) and ``editMessageText`` (a view), whose answers the bot does not read, that was about a
third of a tap's CPU (bench/README.md, vote_burst.py). Here the parameters go out as JSON on the
same session (its keep-alive connections, its API server, its timeout) and only the answer's
``ok`` and ``result`` are read.

Failures are aiogram's exceptions, raised exactly as aiogram raises them: an answer that is not a
success goes through the session's own ``check_response`` with the method's model, built then
only; a network failure or timeout is ``TelegramNetworkError``. Callers handling errors
(``_translated_errors``, ``_retrying``, polling's back-off) see no difference.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientError

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetUpdates

_MODELS = {"answerCallbackQuery": AnswerCallbackQuery, "editMessageText": EditMessageText,
           "getUpdates": GetUpdates}
_HEADERS = {"Content-Type": "application/json"}


def _model(method: str, params: dict[str, Any]):
    """aiogram's model of the call, for its exceptions (which carry it): built on failure only."""
    model = _MODELS[method]
    try:
        return model.model_validate(params)
    except Exception:  # parameters its model would refuse: a bare instance still names the method
        return model.model_construct(**params)


async def call(bot: Bot, method: str, params: dict[str, Any], timeout: float | None = None) -> Any:
    """``method`` with ``params`` (None values left out, as aiogram does); its ``result``."""
    session = bot.session
    client = await session.create_session()
    url = session.api.api_url(token=bot.token, method=method)
    # ASCII (any text fits, a lone surrogate too) and bytes, which aiohttp sends as they are
    body = json.dumps({key: value for key, value in params.items() if value is not None}).encode()
    try:
        async with client.post(url, data=body, headers=_HEADERS,
                               timeout=session.timeout if timeout is None else timeout) as resp:
            status, content = resp.status, await resp.read()
    except asyncio.TimeoutError as exc:
        raise TelegramNetworkError(method=_model(method, params), message="Request timeout error") from exc
    except ClientError as exc:
        raise TelegramNetworkError(method=_model(method, params), message=f"{type(exc).__name__}: {exc}") from exc
    if 200 <= status <= 226:
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("ok") is True:
            return answer.get("result")
    text = content.decode("utf-8", "replace")
    # Not a success: aiogram reads it and raises what it would have raised (or returns, if it
    # finds a success in what this did not: then its result is the answer).
    return session.check_response(bot=bot, method=_model(method, params), status_code=status, content=text).result
