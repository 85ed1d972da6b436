"""Which store ``QATYSU_DB`` names: a ``postgresql://`` URL is PostgreSQL (bot/storage/pg.py),
anything else a SQLite file (bot/storage/db.py). Both have the same public API."""

from __future__ import annotations

from typing import Any

from bot.storage.db import Database
from bot.storage.pg import PgDatabase, is_url, redacted


def database(target: str, **options: Any) -> Database | PgDatabase:
    """The (unopened) database at ``target``: ``await database(target).open()``."""
    if is_url(target):
        return PgDatabase(target, **options)
    return Database(target, **options)


def shown(target: str) -> str:
    """``target`` as messages and logs may show it: a URL without its password."""
    return redacted(target) if is_url(target) else target
