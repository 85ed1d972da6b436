"""The ``qatysu`` command: run, demo, backup, audit verify, report, export, migrate, copy, health.

Whatever an operator can get wrong from the command line — a variable, a path, a database in
another folder — ends in one line on stderr naming it and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import logging
import os
import re
import sqlite3
import sys

from bot import config as configuration
from bot import heartbeat

DB_ENV = """\
environment:
  QATYSU_DB                 the bot's database file (default ./qatysu.db); a postgresql:// URL is
                            refused: back PostgreSQL up with pg_dump -Fc, restore with pg_restore
"""
READ_ENV = """\
environment:
  QATYSU_DB                 the bot's database, read as it is (never migrated): a file (default
                            ./qatysu.db) or postgresql://user:password@host[:port]/database
"""
MIGRATE_ENV = """\
environment:
  QATYSU_DB                 the bot's database: a file (default ./qatysu.db; created if missing)
                            or postgresql://user:password@host[:port]/database
"""
RUN_ENV = """\
environment:
  TELEGRAM_BOT_TOKEN        the bot's token from @BotFather (this or WHATSAPP_TOKEN is required)
  TELEGRAM_API_BASE         another Bot API server (default: Telegram's)
  TELEGRAM_WEBHOOK_URL      webhook mode: the public https base URL (default: long polling)
  TELEGRAM_WEBHOOK_SECRET   required with the webhook; Telegram sends it in a header
  QATYSU_HTTP_HOST          where the HTTP server listens (default 127.0.0.1): one server for
                            /telegram/webhook, /whatsapp/webhook and /health
  QATYSU_HTTP_PORT          its port (default 8080)
  QATYSU_HTTP_ACCESS_LOG    1: log a line per HTTP request (default 0: none, a burst costs less)
  QATYSU_DB                 the database file (default ./qatysu.db; created if missing), or
                            postgresql://user:password@host[:port]/database (migrated at start;
                            back it up with pg_dump)
  QATYSU_LOCALE             kk, ru or en, for clients in another language (default kk)
  QATYSU_TZ                 default time zone (default Asia/Almaty)
  QATYSU_OPERATOR_NAME      the personal-data operator named in the consent text (default Qatysu)
  QATYSU_OPERATOR_BIN       the operator's BIN, shown in the consent text (default none)
  WHATSAPP_TOKEN            the WhatsApp Cloud API token: serves WhatsApp at /whatsapp/webhook
  WHATSAPP_PHONE_NUMBER_ID  required with it: the business number's id
  WHATSAPP_APP_SECRET       required with it: checks each webhook's X-Hub-Signature-256
  WHATSAPP_VERIFY_TOKEN     required with it: answers Meta's webhook verification
  WHATSAPP_API_BASE         the Graph API (default https://graph.facebook.com)
  WHATSAPP_API_VERSION      its version (default v21.0)
  WHATSAPP_TEMPLATE_NOTICE  the approved template sent outside the 24-hour window
  WHATSAPP_DISPLAY_NUMBER   the business number, for wa.me links

  QATYSU_SWEEP_SECONDS      seconds between the scheduler's sweeps (closing times, reminders;
                            default 10)

Several workers: on PostgreSQL, start `qatysu run --webhook` in N processes (or containers)
behind one address; any worker takes any update, and one of them at a time runs the scheduler
(another takes over within seconds when it dies). A SQLite file is served by one process: a
second `qatysu run` on the same file is refused.

SIGTERM or SIGINT stops it cleanly within 8 s: no new updates, those in hand answered, the send in
flight finished, the database closed; what was not handled is handled at the next start.
"""
COPY_HELP = """\
SRC and DST are each a SQLite file or postgresql://user:password@host[:port]/database.
SRC must be at this version's schema (`qatysu migrate` it first); it is only read, in one snapshot:
stop the bot on it first, or what it writes after the copy began is not in DST. DST must be a new
file or an empty database: it is migrated, and one that holds data is refused, never replaced.
Every table is copied in one transaction, ids kept, then compared row by row with SRC, and the
audit chain is recomputed on both and must end at the same head: only then is the copy kept.
One line per table, then OK; exit 2 when SRC or DST cannot be used, 1 when the copy or its
verification failed (nothing of it is kept in DST).

environment: none (QATYSU_DB is not read: name both databases on the command line)
"""
HEALTH_ENV = """\
environment (those of `qatysu run`):
  TELEGRAM_WEBHOOK_URL      when set, or WHATSAPP_TOKEN: healthy means the HTTP server answers
                            on QATYSU_HTTP_HOST, QATYSU_HTTP_PORT (its /health)
  QATYSU_DB                 when Telegram is polled (no TELEGRAM_WEBHOOK_URL), healthy also means
                            <QATYSU_DB>.heartbeat (for PostgreSQL: qatysu-*.heartbeat in the
                            temporary folder) was touched less than 90 s ago
"""


class Refused(Exception):
    """What the operator asked for cannot be done; the message says why, in one line."""


def _database(*, must_exist: bool) -> tuple[str, int | None]:
    """QATYSU_DB, a SQLite file, and its schema version (None: no database yet), or ``Refused``
    naming the variable. (``_Reading`` opens either store for the commands that only read.)"""
    from bot.storage.dbfile import Unusable, check

    path = configuration.db_path()
    if configuration.is_postgresql(path):
        raise Refused("QATYSU_DB names a PostgreSQL server: this command reads a SQLite file only "
                      "(back PostgreSQL up with pg_dump)")
    where = (f"QATYSU_DB={os.environ['QATYSU_DB'].strip()}" if os.environ.get("QATYSU_DB", "").strip()
             else f"QATYSU_DB is not set, so {configuration.DEFAULT_DB} in the current folder")
    try:
        return path, check(path, must_exist=must_exist)
    except Unusable as exc:
        raise Refused(f"{exc} ({where})") from None


def _shown(target: str) -> str:
    """QATYSU_DB as a message names it: a file's absolute path, a URL without its password."""
    from bot.storage.stores import shown

    return shown(target) if configuration.is_postgresql(target) else os.path.abspath(target)


class _Reading:
    """QATYSU_DB, a SQLite file or a PostgreSQL database, opened as it is (never migrated: these
    commands only read) for ``audit verify``, ``report`` and ``export``: ``async with _Reading() as
    (db, version)``. What cannot be opened is ``Refused`` in one line naming the variable."""

    def __init__(self) -> None:
        self.target = configuration.db_path()
        self.shown = _shown(self.target)
        self.version: int | None = None
        if not configuration.is_postgresql(self.target):
            _, self.version = _database(must_exist=True)
        self.db = None

    async def __aenter__(self):
        from bot.storage import pg
        from bot.storage.stores import database

        db = database(self.target)
        try:
            await db.open(migrate_to=0)
        except pg.Unreachable as exc:
            raise Refused(f"QATYSU_DB: {exc}") from None
        except pg.SchemaTooNew as exc:
            raise Refused(f"{exc} (QATYSU_DB)") from None
        self.db = db
        if self.version is None:
            self.version = await db.version()
            if not self.version:
                await self.__aexit__()
                raise Refused(f"{self.shown} holds no Qatysu database (QATYSU_DB): `qatysu migrate` makes one, "
                              f"`qatysu copy` fills it from a SQLite file")
        return db, self.version

    async def __aexit__(self, *exc: object) -> None:
        db, self.db = self.db, None
        if db is not None:
            await db.close()


def _read_failed():
    """The exceptions a read of either store ends in when the database is broken or goes away."""
    from bot.storage import pg

    return sqlite3.Error, pg.asyncpg.PostgresError, pg.asyncpg.InterfaceError, OSError


def _run(args: argparse.Namespace) -> int:
    from bot import i18n
    from bot.storage.dbfile import latest_version

    cfg = configuration.load(need_telegram=True)
    if args.webhook and cfg.telegram_token and not cfg.telegram_webhook_url:
        raise Refused("--webhook: TELEGRAM_WEBHOOK_URL is not set (a worker started with --webhook takes "
                      "Telegram's updates by webhook only, never by long polling)")
    missing = i18n.missing_catalogs()
    if missing:
        raise Refused(f"the translation catalogs for {', '.join(missing)} are missing from this installation "
                      f"(looked in {i18n.LOCALES_DIR}); reinstall qatysu")
    if configuration.is_postgresql(cfg.db_path):  # reached, migrated or refused (newer schema) at the start
        from bot.storage.pg import redacted

        path = cfg.db_path
        print(f"Database: {redacted(path)} (PostgreSQL; back it up with pg_dump)", file=sys.stderr)
    else:
        path, version = _database(must_exist=False)
        if version is None:
            print(f"Database: none yet; creating one at {os.path.abspath(path)}", file=sys.stderr)
        elif version > latest_version():
            from bot.storage.db import too_new

            raise Refused(too_new(os.path.abspath(path), version, latest_version()))
        else:
            print(f"Database: {os.path.abspath(path)}", file=sys.stderr)
        only_this_one = _only_process_on(path)  # noqa: F841  (kept open, and locked, until this process exits)

    telegram = whatsapp = None
    if cfg.telegram_token:
        from bot.app import TelegramApp  # aiogram only when Telegram is served

        telegram = TelegramApp(cfg, sweep_interval=cfg.sweep_interval)
    if cfg.whatsapp:
        from bot.whatsapp.app import WhatsAppApp

        # beside Telegram it shares its database and engine
        whatsapp = WhatsAppApp(cfg, telegram=telegram, sweep_interval=cfg.sweep_interval)
    beat = heartbeat.path_for(path)
    beat.unlink(missing_ok=True)  # one left by an earlier run says nothing about this one

    def receiving() -> bool:
        # DurablePolling's loop: it ends only on an error it cannot handle (then nothing arrives)
        runner = getattr(telegram.polling, "_runner", None) if telegram is not None else None
        return runner is not None and not runner.done()

    async def run() -> None:
        from bot.serve import serve

        beating = asyncio.create_task(heartbeat.beat_forever(beat, receiving))
        try:  # a failed start stops what it started and raises CannotRun; SIGTERM, SIGINT stop cleanly
            await serve(cfg, telegram, whatsapp)
        finally:
            beating.cancel()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:  # before the signal handlers were set
        pass
    except configuration.CannotRun as exc:  # one line, and an exit code that makes Docker or systemd restart it
        print(f"qatysu: {exc}", file=sys.stderr)
        return 1
    return 0


def _only_process_on(path: str):
    """Take the SQLite file for this process alone (an advisory ``flock`` on the file, which
    SQLite's own locks do not use); the open file is returned and must be kept open. A second
    ``qatysu run`` on the same file is refused: SQLite is served by one process (two would run
    two schedulers, and each would send the same reminders); several workers need PostgreSQL."""
    import fcntl

    try:
        holder = open(path, "ab")  # creates an empty file when there is none: SQLite takes it as new
    except OSError as exc:
        raise Refused(f"cannot open {os.path.abspath(path)} (QATYSU_DB): {exc.strerror or exc}") from None
    try:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder.close()
        raise Refused(f"another `qatysu run` serves {os.path.abspath(path)}: a SQLite database is served by one "
                      f"process; several workers need PostgreSQL (QATYSU_DB=postgresql://…)") from None
    return holder


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise Refused(f"{args.out} is a file; name a folder for the demo with --out")
    try:
        out = asyncio.run(run_demo(args.out, seed=args.seed))
    except OSError as exc:
        raise Refused(f"cannot write the demo to {args.out}: {exc.strerror or exc}") from None
    print(f"Demo transcript, charts, report.pdf and export.xlsx written to {out}/ (open {out}/transcript.md first)")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from bot.storage.db import Database

    if configuration.is_postgresql(configuration.db_path()):
        raise Refused("QATYSU_DB names a PostgreSQL server: `qatysu backup` copies a SQLite file; back PostgreSQL "
                      "up with pg_dump -Fc (README: Several workers on PostgreSQL)")
    target = os.path.abspath(args.path)
    if os.path.exists(args.path):
        raise Refused(f"{args.path} already exists; name a new file for the backup")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise Refused(f"the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Refused(f"the folder {folder} may not be written to by this user")
    path, _ = _database(must_exist=True)

    async def go() -> None:
        # migrate_to=0: a backup copies the database as it is (taken before an upgrade, it must
        # not upgrade the live database under the version still running)
        db = Database(path)
        try:
            await db.open(migrate_to=0)
            await db.backup(target)
        finally:
            await db.close()

    try:
        asyncio.run(go())
    except sqlite3.Error as exc:
        raise Refused(f"the backup of {os.path.abspath(path)} failed: {exc}") from None
    print(f"Backup written to {args.path}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from bot.storage import audit

    reading = _Reading()

    async def go() -> tuple:
        async with reading as (db, _):  # it only reads: the schema stays as it is
            async def check(tx):
                missing = [h for h in args.head if not await audit.has_hash(tx, h)]
                return await audit.verify(tx), await audit.head(tx), missing

            return await db.atomic(check)

    try:
        broken, head, missing = asyncio.run(go())
    except _read_failed() as exc:
        raise Refused(f"the audit log of {reading.shown} could not be read: {exc}") from None
    if broken is not None:
        print(f"audit log broken at entry {broken.entry_id}: {broken.reason}")
        return 1
    if missing:
        # The chain is consistent. A hash it does not hold was mistyped, comes from another
        # database, or was the head before entries were cut from the log's end: only the
        # operator can tell which, so say what is known and not more.
        print(f"audit log: no entry has the posted hash {', '.join(missing)}; the chain itself is intact, "
              f"head {head[:12]}. Check the hash against the group's message: if it is right, entries were "
              f"cut from the log's end, or it comes from another database")
        return 1
    print(f"audit log intact; head {head[:12]}" + (f"; posted hashes found: {', '.join(args.head)}"
                                                     if args.head else ""))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Bring QATYSU_DB, a SQLite file or a PostgreSQL database, to this version's schema. Safe to
    run twice, or from two processes at once (SQLite's write lock, PostgreSQL's advisory lock)."""
    from bot.storage import pg
    from bot.storage.dbfile import latest_version
    from bot.storage.stores import database

    target = configuration.db_path()
    if pg.is_url(target):
        shown = pg.redacted(target)
        before = None
    else:
        shown = os.path.abspath(target)
        _, before = _database(must_exist=False)
        if before is not None and before > latest_version():
            from bot.storage.db import too_new

            raise Refused(too_new(shown, before, latest_version()))

    async def go() -> tuple[int | None, int]:
        db = database(target, busy_timeout_ms=60_000)  # another process migrating holds SQLite's lock a while
        try:
            await db.open()
            if isinstance(db, pg.PgDatabase):  # what it was, read under the lock it migrated under
                return db.found, await db.version()
            return before, await db.version()
        finally:
            await db.close()

    try:
        found, now = asyncio.run(go())
    except pg.Unreachable as exc:
        print(f"qatysu: QATYSU_DB: {exc}", file=sys.stderr)
        return 1
    except pg.SchemaTooNew as exc:
        raise Refused(str(exc)) from None
    except (sqlite3.Error, pg.asyncpg.PostgresError) as exc:
        print(f"qatysu: migrating {shown} (QATYSU_DB) failed: {exc}", file=sys.stderr)
        return 1
    if found == now:
        print(f"{shown} is at schema {now}, this version's: nothing to do")
    else:
        print(f"{shown} migrated from schema {found or 0} to {now}")
    return 0


def _copy(args: argparse.Namespace) -> int:
    from bot.storage import copy as copying

    run = copying.verify if args.verify_only else copying.copy
    try:
        summary = asyncio.run(run(args.src, args.dst, say=lambda line: print(line, flush=True)))
    except copying.Refused as exc:
        raise Refused(str(exc)) from None
    except copying.Failed as exc:
        print(f"qatysu: {exc}", file=sys.stderr)
        return 1
    done = "are identical" if args.verify_only else "copied and verified identical"
    print(f"OK: {summary.rows:,} rows in {len(summary.tables)} tables {done} ({summary.src} -> {summary.dst}); "
          f"audit log intact on both, head {summary.head[:12]}; {summary.seconds:.1f} s")
    return 0


def _community_data(args: argparse.Namespace, build):
    """``build(tx, data, cycle, now)`` for the community named by id or join code and its cycle
    ``--cycle`` (``data``: the community, or a finished cycle's archive), read from QATYSU_DB as it
    is (never migrated here)."""
    from datetime import datetime, timezone

    import bot.flows.all  # noqa: F401  (the flows whose charts and words the documents use)
    from bot.flows.report import cycle_data
    from bot.storage import communities, cycles
    from bot.storage.dbfile import latest_version

    reading = _Reading()

    async def go():
        async with reading as (db, version):
            if version != latest_version():
                raise Refused(f"{reading.shown} has schema {version}, this version of Qatysu reads {latest_version()}: "
                              f"run the matching version (`qatysu migrate` upgrades it)")

            async def read(tx):
                key = args.community.strip()
                found = await communities.get(tx, int(key)) if key.isdigit() else None
                found = found if found is None or not await cycles.is_archive(tx, found.id) else None
                found = found or await communities.by_code(tx, key.upper())
                if found is None:
                    return None, None
                of_cycle = await cycle_data(tx, found, args.cycle)
                if of_cycle is None:
                    return found, None
                return found, await build(tx, *of_cycle, datetime.now(timezone.utc))

            return await db.atomic(read)

    try:
        community, data = asyncio.run(go())
    except _read_failed() as exc:
        raise Refused(f"{reading.shown} could not be read: {exc}") from None
    if community is None:
        raise Refused(f"no community has the id or join code {args.community!r} in {reading.shown}")
    if data is None:
        raise Refused(f"«{community.name}» has no cycle {args.cycle} (--cycle)")
    return community, data


def _report(args: argparse.Namespace) -> int:
    from bot.charts.report import render_report
    from bot.flows.report import gather

    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise Refused(f"the folder {folder} does not exist; create it first")
    community, report = _community_data(
        args, lambda tx, community, cycle, now: gather(tx, community, args.lang, now, cycle))
    try:
        with open(args.out, "wb") as out:
            out.write(render_report(report))
    except OSError as exc:
        raise Refused(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Report of «{community.name}» written to {args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from bot.charts.sheets import csv_name, render_csv, render_xlsx
    from bot.flows.report import export_tables, file_stem

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise Refused(f"{args.out} is a file; name a folder for the export with --out")
    community, tables = _community_data(
        args, lambda tx, community, cycle, now: export_tables(tx, community, args.lang, now, cycle))
    stem = file_stem(community)
    try:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, f"{stem}.xlsx"), "wb") as out:
            out.write(render_xlsx(tables))
        for number, table in enumerate(tables, start=1):
            with open(os.path.join(args.out, f"{stem}-{csv_name(number, table)}"), "wb") as out:
                out.write(render_csv(table))
    except OSError as exc:
        raise Refused(f"cannot write the export to {args.out}: {exc.strerror or exc}") from None
    print(f"Data of «{community.name}» written to {args.out}/ ({stem}.xlsx and {len(tables)} CSV files)")
    return 0


def _health(args: argparse.Namespace) -> int:
    cfg = configuration.load()
    said = []
    if cfg.telegram_webhook_url or cfg.whatsapp:  # the HTTP server must answer
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(cfg.http_host, cfg.http_host)
        connection = http.client.HTTPConnection(host, cfg.http_port, timeout=5)
        try:
            connection.request("GET", "/health")
            response = connection.getresponse()  # any answer: the server is up
            status = response.status
            said_by_it = response.read(200).decode("utf-8", "replace").strip()
        except OSError as exc:
            print(f"unhealthy: the webhook server does not answer on {host}:{cfg.http_port} ({exc})")
            return 1
        finally:
            connection.close()
        said.append(f"the webhook server answers on {host}:{cfg.http_port} (HTTP {status}"
                    + (f": {said_by_it}" if said_by_it.startswith("ok: ") else "") + ")")
    if not cfg.telegram_webhook_url and (cfg.telegram_token or not cfg.whatsapp):  # Telegram is polled
        beat = heartbeat.path_for(cfg.db_path)
        age = heartbeat.age(beat)
        if age is None:
            print(f"unhealthy: no heartbeat at {os.path.abspath(beat)}: the bot is not polling (yet)")
            return 1
        if age > heartbeat.STALE_AFTER:
            print(f"unhealthy: the last heartbeat is {age:.0f} s old: the bot stopped polling for updates")
            return 1
        said.append(f"polling; last heartbeat {age:.0f} s ago")
    print(f"healthy: {'; '.join(said)}")
    return 0


def _hash_prefix(value: str) -> str:
    value = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", value):
        raise argparse.ArgumentTypeError("a hash is 8 to 64 hexadecimal characters, as posted: 'Check code: 3fa9c01b'")
    return value


def parser() -> argparse.ArgumentParser:
    def command(name: str, help: str, epilog: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".", epilog=epilog,
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    main = argparse.ArgumentParser(prog="qatysu", description="Qatysu community participation bot",
                                   epilog="Each command's --help names the environment variables it reads.")
    sub = main.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    run = command("run", "run the bot (needs TELEGRAM_BOT_TOKEN or WHATSAPP_TOKEN)", RUN_ENV)
    run.add_argument("--webhook", action="store_true",
                     help="take updates by webhook only, never by long polling (one of several workers behind one "
                          "address, on PostgreSQL): refuses to start without TELEGRAM_WEBHOOK_URL when "
                          "TELEGRAM_BOT_TOKEN is set")
    run.set_defaults(fn=_run)
    demo = command("demo", "simulate a community, no token or network needed",
                   "environment: none (the demo's database is OUT/demo.db, never QATYSU_DB)")
    demo.add_argument("--out", default="demo-out", help="folder for transcript.md, the charts and demo.db "
                                                        "(default demo-out)")
    demo.add_argument("--seed", type=int, default=7, help="seed of the simulated community's choices")
    demo.set_defaults(fn=_demo)
    backup = command("backup", "consistent copy of the database, safe while the bot runs", DB_ENV)
    backup.add_argument("path", help="the new file to write (an existing file is never overwritten)")
    backup.set_defaults(fn=_backup)
    audit_parser = command("audit", "audit log tools: `audit verify` recomputes the hash chain", READ_ENV)
    audit_parser.add_argument("action", choices=["verify"])
    audit_parser.add_argument("--head", action="append", default=[], type=_hash_prefix, metavar="HASH",
                              help="a check code posted to a group ('Check code: …'); checks the log still has it")
    audit_parser.set_defaults(fn=_audit)
    report = command("report", "the community's cycle as a printable PDF (A4)", READ_ENV)
    report.add_argument("community", metavar="COMMUNITY", help="the community's id or join code")
    report.add_argument("--out", required=True, metavar="FILE.pdf", help="the PDF file to write")
    report.add_argument("--lang", choices=["kk", "ru", "en"], default="kk", help="its language (default kk)")
    report.add_argument("--cycle", type=int, metavar="N", help="an earlier cycle (default: the current one)")
    report.set_defaults(fn=_report)
    export = command("export", "the community's data as a spreadsheet and CSV files (counts, no voters)", READ_ENV)
    export.add_argument("community", metavar="COMMUNITY", help="the community's id or join code")
    export.add_argument("--out", required=True, metavar="DIR", help="the folder to write to (created if missing)")
    export.add_argument("--lang", choices=["kk", "ru", "en"], default="kk", help="the headings' language (default kk)")
    export.add_argument("--cycle", type=int, metavar="N", help="an earlier cycle (default: the current one)")
    export.set_defaults(fn=_export)
    command("migrate", "bring the database (a SQLite file or PostgreSQL) to this version's schema; safe to "
                       "run twice or at once", MIGRATE_ENV).set_defaults(fn=_migrate)
    copy = command("copy", "copy the whole database from SRC to DST (SQLite or PostgreSQL), verified", COPY_HELP)
    copy.add_argument("src", metavar="SRC", help="the database to copy: a SQLite file or a postgresql:// URL")
    copy.add_argument("dst", metavar="DST", help="a new SQLite file or an empty PostgreSQL database")
    copy.add_argument("--verify-only", action="store_true",
                      help="copy nothing: compare SRC and DST (an earlier copy) as a copy is verified")
    copy.set_defaults(fn=_copy)
    command("health", "exit 0 if the running bot is healthy (Docker's HEALTHCHECK)", HEALTH_ENV
            ).set_defaults(fn=_health)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.cmd == "run" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its job bookkeeping says nothing to an operator
    if args.cmd == "run":
        from bot.storage.db import busy_in_one_line

        for handler in logging.getLogger().handlers:
            handler.addFilter(busy_in_one_line)  # a database busy or out of reach a while: one line, no traceback
    try:
        return args.fn(args)
    except (configuration.ConfigError, Refused) as exc:
        print(f"qatysu: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
