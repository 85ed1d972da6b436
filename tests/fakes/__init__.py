"""Fakes for end-to-end tests: a fake Telegram Bot API server (see :mod:`.telegram`) and a fake
WhatsApp Cloud API (see :mod:`.whatsapp`)."""

from .telegram import Call, FakeChat, FakeTelegram, FakeUser, UploadedFile, parse_formatted, tiny_png
from .whatsapp import FakeWhatsApp, WaUser

__all__ = [
    "Call",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "FakeWhatsApp",
    "UploadedFile",
    "parse_formatted",
    "tiny_png",
    "WaUser",
]
