"""The ``qatysu`` command: run, demo, backup, audit verify."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys

from bot import config as configuration


def _run(args: argparse.Namespace) -> int:
    from bot.app import TelegramApp

    cfg = configuration.load(need_telegram=True)
    print("Telegram: configured. WhatsApp: not available in this version.", file=sys.stderr)
    try:
        asyncio.run(TelegramApp(cfg).run_forever())
    except KeyboardInterrupt:
        pass
    return 0


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    out = asyncio.run(run_demo(args.out, seed=args.seed))
    print(f"Demo transcript and charts written to {out}/")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from bot.storage.db import Database

    if os.path.exists(args.path):
        print(f"qatysu: {args.path} already exists; name a new file for the backup", file=sys.stderr)
        return 2

    async def go() -> None:
        async with Database(configuration.load().db_path) as db:
            await db.backup(args.path)

    asyncio.run(go())
    print(f"Backup written to {args.path}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from bot.storage import audit
    from bot.storage.db import Database

    async def go() -> int:
        async with Database(configuration.load().db_path) as db:
            async def check(tx):
                missing = [h for h in args.head if not await audit.has_hash(tx, h)]
                return await audit.verify(tx), await audit.head(tx), missing

            broken, head, missing = await db.atomic(check)
        if broken is not None:
            print(f"audit log broken at entry {broken.entry_id}: {broken.reason}")
            return 1
        if missing:
            # The chain itself is consistent, so entries were cut from its end (and maybe others
            # appended since), or the hash comes from another database.
            print(f"audit log cut: no entry has the posted hash {', '.join(missing)}; "
                  f"entries were removed from its end (head now {head[:12]})")
            return 1
        print(f"audit log intact; head {head[:12]}" + (f"; posted hashes found: {', '.join(args.head)}"
                                                         if args.head else ""))
        return 0

    return asyncio.run(go())


def _hash_prefix(value: str) -> str:
    value = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", value):
        raise argparse.ArgumentTypeError("a hash is 8 to 64 hexadecimal characters, as posted: 'Check code: 3fa9c01b'")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qatysu", description="Qatysu community participation bot")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="run the bot (needs TELEGRAM_BOT_TOKEN)").set_defaults(fn=_run)
    demo = sub.add_parser("demo", help="simulate a community, no token or network needed")
    demo.add_argument("--out", default="demo-out")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(fn=_demo)
    backup = sub.add_parser("backup", help="consistent copy of the database, safe while running")
    backup.add_argument("path")
    backup.set_defaults(fn=_backup)
    audit_parser = sub.add_parser("audit", help="audit log tools")
    audit_parser.add_argument("action", choices=["verify"])
    audit_parser.add_argument("--head", action="append", default=[], type=_hash_prefix, metavar="HASH",
                              help="a check code posted to a group ('Check code: …'); checks the log still has it")
    audit_parser.set_defaults(fn=_audit)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.cmd == "run" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except configuration.ConfigError as exc:
        print(f"qatysu: {exc}", file=sys.stderr)
        return 2
