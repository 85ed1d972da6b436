"""Fakes for end-to-end tests: a fake Telegram Bot API server (see :mod:`.telegram`)."""

from .telegram import Call, FakeChat, FakeTelegram, FakeUser, UploadedFile, parse_formatted, tiny_png

__all__ = [
    "Call",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "UploadedFile",
    "parse_formatted",
    "tiny_png",
]
