"""Whether a path can be the bot's database, checked before opening it and creating nothing.

SQLite creates a database wherever it is asked to open one: ``qatysu backup`` run in the wrong
folder would copy a new, empty database and report success. Commands that read the bot's data
check here first; ``qatysu run``, which may create the database, checks that it can.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from bot.storage.db import migrations


class Unusable(Exception):
    """The path cannot be used as the database; the message says why, in one line."""


def latest_version() -> int:
    """The schema version this version of Qatysu migrates a database to."""
    return len(migrations())


def check(path: str, *, must_exist: bool) -> int | None:
    """The schema version of the database at ``path``, or None when there is none yet.

    With ``must_exist`` the file must be a database that Qatysu has written to; without it, a
    missing file is fine as long as its folder exists and may be written to.
    """
    file = Path(path).absolute()
    if file.is_dir():
        raise Unusable(f"{file} is a folder, not a database file")
    if not file.exists():
        if must_exist:
            raise Unusable(f"there is no database at {file}: set QATYSU_DB to the bot's database file")
        folder = file.parent
        if not folder.is_dir():
            raise Unusable(f"the folder {folder} does not exist; create it, or name another one")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise Unusable(f"the folder {folder} may not be written to by this user")
        return None
    if not os.access(file, os.R_OK):
        raise Unusable(f"{file} may not be read by this user")
    try:
        # read-only: a file that is not a database is not touched, let alone turned into one
        with closing(sqlite3.connect(file.as_uri() + "?mode=ro", uri=True)) as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        raise Unusable(f"{file} cannot be read as a SQLite database: {exc}") from None
    if must_exist and version == 0:
        raise Unusable(f"{file} is an empty database: Qatysu has never run on it")
    return version
