"""Channel code: Telegram updates in, the engine's replies out."""

from bot.handlers.aiogram_types import load as _load_aiogram

_load_aiogram()  # before anything imports aiogram: see bot/handlers/aiogram_types.py
