"""`qatysu copy` of a big database: SQLite → PostgreSQL → SQLite, time, rows/s and memory.

    QATYSU_TEST_PG=$(PG_LOCAL_PORT=5434 scripts/pg_local.sh start) python bench/db_copy.py
    python bench/db_copy.py --pg postgresql://user:pw@127.0.0.1:5434/qatysu   # a server to create databases on
    python bench/db_copy.py --sqlite-only                                        # no server: SQLite → SQLite

Build (not measured, printed): ``bench/startup_scale.py``'s database, ``--communities`` ×
``--members`` (default 100 × 500 = 50,000 members, their identities and memberships, a closed
sticker ballot each with 3 stickers per member, 100,000 processed update ids, …), and the same
with a tenth of the communities, to show whether memory grows with the database.

Measured, each copy a fresh ``python -m bot copy SRC DST`` process (as an operator runs it; it
includes the verification, which reads SRC and DST again, and the interpreter's start): wall
time, rows copied per second of wall time, the process's CPU seconds (user + system, from
``wait4``; PostgreSQL's own CPU is not in it) and its peak RSS (``VmHWM``). The load average
is printed before and after: the machine may be shared.
"""

from __future__ import annotations

import sys

import argparse
import asyncio
import os
import re
import subprocess
import tempfile
import time
import uuid

from _common import ROOT, drop_database, loadavg, machine, new_database


# ``python -m bot copy SRC DST``, then the process's peak RSS on stderr. VmHWM, not ru_maxrss:
# Linux carries a forked child's high-water mark (this process's, after the build) across exec.
CHILD = """
import runpy, sys
sys.argv = ["qatysu", "copy", *sys.argv[1:]]
try:
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
finally:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write(f"peak {int(line.split()[1]) / 1024:.1f} MB\\n")
"""


def run_copy(src: str, dst: str) -> dict:
    """``python -m bot copy SRC DST`` in a process of its own: its wall time, CPU and peak RSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", CHILD, src, dst], cwd=ROOT, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own usage, not all children's
        wall = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        said, complaint = out.read(), err.read()
    if process.returncode != 0 or "OK: " not in said:
        raise SystemExit(f"copy {src} → {dst} failed:\n{said[-2000:]}\n{complaint[-2000:]}")
    rows = int(re.search(r"OK: ([\d,]+) rows", said).group(1).replace(",", ""))
    rss = float(re.search(r"peak ([\d.]+) MB", complaint).group(1))
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": rss, "rows": rows}


def line(label: str, r: dict) -> str:
    return (f"  {label:<28} {r['wall']:7.1f} s  {r['rows'] / r['wall']:>9,.0f} rows/s  "
            f"CPU {r['cpu']:6.1f} s  peak RSS {r['rss']:5.0f} MB")


async def measure(db_path: str, server: str | None, workdir: str, tag: str) -> dict:
    results = {}
    back = os.path.join(workdir, f"back-{tag}.db")
    if server:
        name = f"qatysu_bench_copy_{uuid.uuid4().hex[:8]}"
        url = await new_database(server, name)
        try:
            results["SQLite → PostgreSQL"] = run_copy(db_path, url)
            results["PostgreSQL → SQLite"] = run_copy(url, back)
        finally:
            await drop_database(server, name)
    else:
        results["SQLite → SQLite"] = run_copy(db_path, back)
    os.unlink(back)
    return results


async def main(args: argparse.Namespace) -> int:
    import startup_scale

    server = None if args.sqlite_only else (args.pg or os.environ.get("QATYSU_TEST_PG", "").strip() or None)
    if not server and not args.sqlite_only:
        print("no PostgreSQL server: give --pg URL or QATYSU_TEST_PG (scripts/pg_local.sh start), or --sqlite-only")
        return 2
    workdir = tempfile.mkdtemp(prefix="qatysu-bench-copy-")
    print(f"copy: {args.communities} communities × {args.members} members, and {args.communities // 10} × "
          f"{args.members} beside it; {'SQLite → SQLite' if not server else 'SQLite → PostgreSQL → SQLite'}")
    print(f"machine: {machine()}")
    sizes = {}
    for tag, communities in (("big", args.communities), ("small", max(1, args.communities // 10))):
        path = os.path.join(workdir, f"{tag}.db")
        shape = argparse.Namespace(communities=communities, members=args.members, problems=args.problems,
                                   history=args.history * communities // args.communities, seed=args.seed)
        began = time.perf_counter()
        counts = await startup_scale.build(path, shape)
        print(f"built {tag} ({communities} communities) in {time.perf_counter() - began:.1f} s: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items())
              + f"; {os.path.getsize(path) / 1024 / 1024:.0f} MB")
        sizes[tag] = path
    print(f"load average before: {loadavg()}")
    figures = {tag: await measure(path, server, workdir, tag) for tag, path in sizes.items()}
    print(f"load average after: {loadavg()}")
    for tag in ("big", "small"):
        first = next(iter(figures[tag].values()))
        print(f"{tag}: {first['rows']:,} rows")
        for label, r in figures[tag].items():
            print(line(label, r))
    print("memory: peak RSS of the big copy ÷ the small one's (10× fewer rows): "
          + ", ".join(f"{label} {figures['big'][label]['rss'] / figures['small'][label]['rss']:.2f}"
                      for label in figures["big"]))
    for path in sizes.values():
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
    os.rmdir(workdir)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--members", type=int, default=500, help="members per community")
    parser.add_argument("--problems", type=int, default=6, help="problems per community")
    parser.add_argument("--history", type=int, default=100_000, help="processed update ids (the big database)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--pg", help="a PostgreSQL server on which databases may be created (default QATYSU_TEST_PG)")
    parser.add_argument("--sqlite-only", action="store_true", help="no server: SQLite → SQLite")
    sys.exit(asyncio.run(main(parser.parse_args())))
