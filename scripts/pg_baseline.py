"""Write PostgreSQL's baseline schema: the SQLite schema at a migration, translated.

    python scripts/pg_baseline.py 22 > bot/storage/migrations_pg/022_baseline.sql

Run once per baseline (the SQLite schema at a given migration number never changes); every later
migration is written twice by hand, ``bot/storage/migrations/NNN_x.sql`` and
``bot/storage/migrations_pg/NNN_x.sql``. tests/test_pg_schema.py checks that the committed baseline
is this script's output and that both stores end with the same tables, columns, indexes and
triggers.

What is translated, and how (see bot/storage/pg.py for why):
- tables in an order where each is created after those it references; ``INTEGER PRIMARY KEY``
  named ``id`` or ``seq`` (SQLite's automatic row ids) becomes an identity column, and a trigger
  moves its sequence past an id inserted explicitly, as SQLite's rowid does; ``REAL`` becomes
  ``DOUBLE PRECISION``, ``BLOB`` ``BYTEA``; ``GLOB`` a regular expression; ``IS [NOT] x``
  ``IS [NOT] DISTINCT FROM x``; ``json_extract(c, '$.k') = v`` ``c::jsonb -> 'k' = to_jsonb(v)``;
  the tables whose rowid the repositories read get a ``rowid`` identity column.
- each trigger becomes a PL/pgSQL function and a row trigger of the same name: its ``WHEN`` (PG
  allows no subquery there) and each ``SELECT RAISE(ABORT, 'msg') WHERE cond`` become ``IF``s,
  the raise ``RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = 'msg'`` (an integrity
  violation: bot/storage/pg.py maps it to the same exception SQLite's ABORT gives).
- PG runs a row's AFTER triggers when the whole statement is done, SQLite after each row: the
  triggers that count a ballot's voters ("is this the member's first sticker?") are written out
  below with the statement's transition table, so a statement writing several rows of one member
  counts them once, as on SQLite.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile

ERRCODE = "23000"  # integrity_constraint_violation

# Triggers that SQLite runs after each row and that count the rows of the member's: on PG the
# count happens once the statement is done, so they read the statement's rows (``changed``).
_FIRST = """
    IF NEW.{key} = (SELECT MIN({key}) FROM changed WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id)
       AND (SELECT COUNT(*) FROM {table} WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id)
         = (SELECT COUNT(*) FROM changed WHERE ballot_id = NEW.ballot_id AND member_id = NEW.member_id) THEN
        UPDATE ballots SET turnout = turnout + 1 WHERE id = NEW.ballot_id;
    END IF;"""
_LAST = """
    IF OLD.{key} = (SELECT MIN({key}) FROM changed WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id)
       AND NOT EXISTS (SELECT 1 FROM {table} WHERE ballot_id = OLD.ballot_id AND member_id = OLD.member_id) THEN
        UPDATE ballots SET turnout = turnout - 1 WHERE id = OLD.ballot_id;
    END IF;"""
OVERRIDES = {  # name: (REFERENCING clause, body)
    "dot_votes_added": ("REFERENCING NEW TABLE AS changed", """
    UPDATE ballot_options SET online = online + NEW.count
     WHERE ballot_id = NEW.ballot_id AND problem_id = NEW.problem_id;""" + _FIRST.format(key="problem_id", table="dot_votes")),
    "dot_votes_removed": ("REFERENCING OLD TABLE AS changed", """
    UPDATE ballot_options SET online = online - OLD.count
     WHERE ballot_id = OLD.ballot_id AND problem_id = OLD.problem_id;""" + _LAST.format(key="problem_id", table="dot_votes")),
    "election_votes_added": ("REFERENCING NEW TABLE AS changed", """
    UPDATE election_options SET online = online + 1
     WHERE ballot_id = NEW.ballot_id AND nomination_id = NEW.nomination_id;"""
                             + _FIRST.format(key="nomination_id", table="election_votes")),
    "election_votes_removed": ("REFERENCING OLD TABLE AS changed", """
    UPDATE election_options SET online = online - 1
     WHERE ballot_id = OLD.ballot_id AND nomination_id = OLD.nomination_id;"""
                               + _LAST.format(key="nomination_id", table="election_votes")),
}


# SQLite's scalar functions that PostgreSQL spells otherwise, for the repositories' SQL as it is:
# max(a, b) and min(a, b) of two values (NULL when either is, as in SQLite; GREATEST ignores NULLs);
# json_extract(text, '$.a.b') of an object's member, as text (compare it with text, or CAST it);
# json_valid(text), whether it is JSON (PostgreSQL 15 has no IS JSON).
PRELUDE = """\
CREATE FUNCTION json_valid(doc text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    PERFORM doc::jsonb;
    RETURN doc IS NOT NULL;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN false;
END $$;
CREATE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT doc::jsonb #>> string_to_array(substr(path, 3), '.') $$;
CREATE FUNCTION max(a anycompatible, b anycompatible) RETURNS anycompatible LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN a >= b THEN a ELSE b END $$;
CREATE FUNCTION min(a anycompatible, b anycompatible) RETURNS anycompatible LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN a IS NULL OR b IS NULL THEN NULL WHEN a <= b THEN a ELSE b END $$;"""


# Tables whose implicit rowid the repositories read (an order of insertion, or a row's identity in
# an UPDATE): on PostgreSQL it is a real column, numbered by a sequence as rows are inserted.
ROWID_TABLES = ("processed_updates", "inbox", "evaluation_answers")


def expression(sql: str) -> str:
    """SQLite's expression syntax that PostgreSQL spells otherwise."""
    sql = re.sub(r"\bIS NOT (?!NULL\b|DISTINCT\b)", "IS DISTINCT FROM ", sql)
    sql = re.sub(r"\bIS (?!NOT\b|NULL\b|DISTINCT\b)", "IS NOT DISTINCT FROM ", sql)
    sql = re.sub(r"json_extract\(([\w.]+), '\$\.(\w+)'\) = ([\w.]+)", r"(\1::jsonb -> '\2') = to_jsonb(\3)", sql)
    sql = re.sub(r"\bGLOB '([^']*)'", lambda m: f"~ '^{m.group(1)}$'", sql)
    sql = re.sub(r'"(\w+)"', r"\1", sql)
    return sql


def table(sql: str) -> tuple[str, str, set[str], str | None]:
    """(name, PG statement, tables it references, its identity column)."""
    name = re.match(r'CREATE TABLE "?(\w+)"?', sql).group(1)
    sql = re.sub(r"\)\s*WITHOUT ROWID\s*$", ")", sql)
    identity = None
    lines = []
    for line in expression(sql).splitlines():
        column = re.match(r"\s*,?\s*(\w+)\s+INTEGER PRIMARY KEY\b(?!\s*REFERENCES)", line)
        if column and column.group(1) in ("id", "seq"):
            identity = column.group(1)
            line = line.replace("INTEGER PRIMARY KEY", "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        line = re.sub(r"\bREAL\b", "DOUBLE PRECISION", line)
        line = re.sub(r"\bBLOB\b", "BYTEA", line)
        lines.append(line)
    if name in ROWID_TABLES:
        assert lines[-1].strip() == ")", lines[-1]
        lines[-2:] = [lines[-2] + ",", "    rowid        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE", ")"]
    refs = set(re.findall(r"REFERENCES (\w+)", sql)) - {name}
    return name, "\n".join(lines), refs, identity


def body_statement(sql: str) -> str:
    raise_ = re.fullmatch(r"SELECT RAISE\(ABORT, ('(?:[^']|'')*')\)(?:\s+WHERE\s+(.*))?", sql.strip(), re.S)
    if raise_:
        message, condition = raise_.groups()
        throw = f"RAISE EXCEPTION USING ERRCODE = '{ERRCODE}', MESSAGE = {message};"
        if condition is None:
            return "    " + throw
        return f"    IF {expression(condition)} THEN\n        {throw}\n    END IF;"
    assert "RAISE" not in sql, sql
    sql = expression(sql.strip())
    ignore = re.match(r"INSERT OR IGNORE INTO", sql)
    if ignore:
        sql = "INSERT INTO" + sql[ignore.end():] + " ON CONFLICT DO NOTHING"
    return "    " + sql + ";"


def trigger(sql: str) -> str:
    head, _, rest = sql.partition("BEGIN")
    header = re.fullmatch(r"\s*CREATE TRIGGER (\w+)\s+(BEFORE|AFTER)\s+(INSERT|DELETE|UPDATE(?:\s+OF\s+[\w\s,]+?)?)"
                          r"\s+ON\s+\"?(\w+)\"?\s*(?:FOR EACH ROW\s*)?(?:WHEN\s+(.*?))?\s*", head, re.S)
    assert header, head
    name, timing, event, on, when = header.groups()
    event = " ".join(event.split())
    body = rest.strip()
    assert body.endswith("END"), sql
    statements = [s.strip() for s in _split_body(body[:-3]) if s.strip()]
    if name in OVERRIDES:
        referencing, text = OVERRIDES[name]
        text = text.strip("\n")
    else:
        referencing, text = "", "\n".join(body_statement(s) for s in statements)
    if when:
        text = f"    IF {expression(' '.join(when.split()))} THEN\n" + _indent(text) + "\n    END IF;"
    returns = "NULL" if timing == "AFTER" else ("OLD" if event == "DELETE" else "NEW")
    return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{text}\n"
            f"    RETURN {returns};\nEND $$;\n"
            f"CREATE TRIGGER {name} {timing} {event} ON {on} {referencing + ' ' if referencing else ''}"
            f"FOR EACH ROW EXECUTE FUNCTION {name}();")


def _split_body(body: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in body:
        if char == "'":
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())


def follows(table_name: str, column: str) -> str:
    """An id inserted explicitly moves the sequence past it (SQLite's rowid takes the largest + 1)."""
    name = f"{table_name}_{column}_follows"
    sequence = f"{table_name}_{column}_seq"
    return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"    IF NEW.{column} >= (SELECT last_value FROM {sequence}) THEN\n"
            f"        PERFORM setval('{sequence}', NEW.{column});\n    END IF;\n    RETURN NEW;\nEND $$;\n"
            f"CREATE TRIGGER {name} BEFORE INSERT ON {table_name} FOR EACH ROW EXECUTE FUNCTION {name}();")


def translate(statements: list[tuple[str, str]]) -> str:
    """``statements``: (type, sql) from sqlite_master, in creation order."""
    tables, rest = {}, []
    for kind, sql in statements:
        if kind == "table":
            name, pg, refs, identity = table(sql)
            tables[name] = (pg, refs, identity)
        elif kind == "index":
            rest.append(expression(sql) + ";")
        elif kind == "trigger":
            rest.append(trigger(sql))
    out, done = [], set()
    while len(done) < len(tables):  # each table after those it references
        ready = [n for n, (_, refs, _) in tables.items() if n not in done and refs <= done]
        assert ready, f"a cycle of references among {set(tables) - done}"
        for name in ready:
            pg, _, identity = tables[name]
            out.append(pg + ";")
            if identity:
                rest.insert(0, follows(name, identity))
            done.add(name)
    return "\n\n".join([PRELUDE] + out + rest) + "\n"


def sqlite_schema(number: int) -> list[tuple[str, str]]:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from bot.storage.db import Database

    async def read(path: str) -> list[tuple[str, str]]:
        db = await Database(path).open(migrate_to=number)
        try:
            async with db.transaction() as tx:
                rows = await tx.all("SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
        finally:
            await db.close()
        return [(r[0], r[1]) for r in rows]

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(read(os.path.join(folder, "schema.db")))


def baseline(number: int) -> str:
    return (f"-- PostgreSQL's schema equal to SQLite's at migration {number:03d}, written by\n"
            f"-- `python scripts/pg_baseline.py {number}` (do not edit: add a migration).\n\n"
            + translate(sqlite_schema(number)))


if __name__ == "__main__":
    sys.stdout.write(baseline(int(sys.argv[1])))
