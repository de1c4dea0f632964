"""Benchmark: import 100,000 members from .xlsx and from .csv through the roster import
(cnsc.team.imports: dry run, then apply), beside a plain PostgreSQL COPY of the same rows.

Usage (PostgreSQL only; the URL names the server and an existing database to start from):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cnsc .venv/bin/python \\
        bench/import_members.py --rows 100000

Options: --rows N (members, default 100000), --formats xlsx,csv, --commune CODE (the current
ward the rows go into, default 25747), --tracemalloc (an extra, much slower pass per format for
the peak of Python allocations), --keep (leave the bench database and files).

What it does:
1. creates a scratch database <name>_bench_<pid> on the same server, migrates it, loads the
   administrative units, and adds one hamlet per team to the ward and a commune official;
2. writes the rows in the import template's format: one .xlsx with the team and member sheets,
   and a teams .csv plus a members .csv (a .csv holds one table); phones in mixed spellings,
   40% of members with a CCCD;
3. for each format, in a fresh child process (so its peak RSS is its own) on an emptied roster:
   dry run, apply, and the same file applied again (must change nothing); with --tracemalloc,
   once more under tracemalloc (those timings are not reported: tracing slows Python 5-10x);
4. times a COPY of the same team and member rows into scratch tables with psycopg;
5. prints seconds, member rows per second, peak memory, and import time / COPY time;
6. drops the scratch database and the files (unless --keep).

The import's own file-size limit (IMPORT_MAX_BYTES, 10 MB by default) is raised for the run:
100,000 members do not fit in 10 MB.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SEED = 100_000
TEAM_SIZES = (4, 8)
CCCD_SHARE = 0.4
# Prefixes that phonenumbers accepts over their whole range.
PREFIXES = ("032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097",
            "098", "088", "091", "094", "081", "082", "083", "084", "085", "090", "093",
            "070", "076", "077", "078", "079", "056", "058", "092")  # fmt: skip


# --- Setting up -----------------------------------------------------------------------------


def bench_database_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("DATABASE_URL must point at PostgreSQL: the benchmark compares with COPY.")
    name = f"{parts.path.lstrip('/') or 'cnsc'}_bench_{os.getpid()}"
    return name, urlunsplit(parts._replace(path=f"/{name}"))


def admin_command(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(sql)


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ["IMPORT_MAX_BYTES"] = str(2**31)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare_database(commune_code: str, teams: int) -> None:
    from django.core.management import call_command

    from cnsc.access.models import UnitAssignment, User
    from cnsc.access.roles import Role
    from cnsc.core.text import search_key
    from cnsc.geo.models import AdminUnit, Hamlet, HamletKind, Hierarchy, Level

    quiet = io.StringIO()
    call_command("migrate", verbosity=0, stdout=quiet)
    call_command("load_units", verbosity=0, stdout=quiet)
    commune = AdminUnit.objects.get(
        hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, code=commune_code
    )
    Hamlet.objects.bulk_create(
        [
            Hamlet(
                commune=commune,
                name=f"Khu phố {n}",
                search_name=search_key(f"Khu phố {n}"),
                kind=HamletKind.QUARTER,
            )
            for n in range(1, teams + 1)
        ],
        batch_size=5000,
    )
    user = User.objects.create_user(username="bench", role=Role.COMMUNE_OFFICIAL)
    UnitAssignment.objects.create(user=user, unit=commune)


# --- The rows -------------------------------------------------------------------------------


def generate(rows: int) -> tuple[list[list[str]], list[list[str]]]:
    """Team rows and member rows as the template's cells (text, as an official types them)."""
    from cnsc.core.identity import Sex
    from cnsc.team.demo import GIVEN, MIDDLE, SKILLS, SURNAMES
    from cnsc.team.imports import (
        KIND_VALUES,
        ORGANISATION_VALUES,
        ROLE_VALUES,
        SEX_VALUES,
        STATUS_VALUES,
        YES,
    )
    from cnsc.team.models import MemberRole, Organisation, TeamKind, TeamStatus

    rng = random.Random(SEED)
    sizes: list[int] = []
    while sum(sizes) < rows:
        sizes.append(min(rng.randint(*TEAM_SIZES), rows - sum(sizes)))
    surnames = [s for s, _ in SURNAMES]
    surname_weights = [w for _, w in SURNAMES]
    organisations = list(Organisation)
    phones: set[str] = set()
    cccds: set[str] = set()
    team_rows: list[list[str]] = []
    member_rows: list[list[str]] = []
    for n, size in enumerate(sizes, start=1):
        code = f"B{n:05d}"
        founded = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.choice((2022, 2023))}"
        team_rows.append(
            [
                code,
                f"Tổ CNSC Khu phố {n}",
                f"Khu phố {n}",
                KIND_VALUES[TeamKind.HAMLET],
                "",
                f"{rng.randint(1, 999)}/QĐ-UBND",
                founded,
                STATUS_VALUES[TeamStatus.ACTIVE],
            ]
        )
        for i in range(size):
            role = (
                MemberRole.LEADER if i == 0 else MemberRole.DEPUTY if i == 1 else MemberRole.MEMBER
            )
            sex = rng.choice((Sex.MALE, Sex.FEMALE))
            year = rng.randint(1960, 2005)
            name = " ".join(
                (
                    rng.choices(surnames, surname_weights)[0],
                    rng.choice(MIDDLE[sex]),
                    rng.choice(GIVEN[sex]),
                )
            )
            while True:
                digits = rng.choice(PREFIXES)[1:] + f"{rng.randrange(10**7):07d}"
                if digits not in phones:
                    phones.add(digits)
                    break
            # The spellings officials use; the import stores all of them as +84...
            phone = rng.choice(
                (
                    f"0{digits[:3]} {digits[3:6]} {digits[6:]}",
                    f"+84{digits}",
                    f"84-{digits[:3]}-{digits[3:6]}-{digits[6:]}",
                    f"0{digits}",
                )
            )
            cccd = ""
            if rng.random() < CCCD_SHARE:
                century = (0 if year < 2000 else 2) + (sex == Sex.FEMALE)
                while not cccd or cccd in cccds:
                    cccd = f"074{century}{year % 100:02d}{rng.randrange(10**6):06d}"
                cccds.add(cccd)
            organisation = rng.choice(organisations)
            member_rows.append(
                [
                    name,
                    SEX_VALUES[sex],
                    str(year),
                    phone,
                    "",
                    cccd,
                    ORGANISATION_VALUES[organisation],
                    SKILLS.get(organisation, "") if rng.random() < 0.3 else "",
                    YES,
                    code,
                    ROLE_VALUES[role],
                    founded,
                ]
            )
    return team_rows, member_rows


def write_files(
    directory: Path, team_rows: list[list[str]], member_rows: list[list[str]]
) -> dict[str, list[Path]]:
    from openpyxl import Workbook

    from cnsc.team.imports import MEMBER_COLUMNS, MEMBER_SHEET, TEAM_COLUMNS, TEAM_SHEET

    team_headers = [c.header for c in TEAM_COLUMNS]
    member_headers = [c.header for c in MEMBER_COLUMNS]
    wb = Workbook(write_only=True)
    for title, headers, rows in (
        (TEAM_SHEET, team_headers, team_rows),
        (MEMBER_SHEET, member_headers, member_rows),
    ):
        ws = wb.create_sheet(title)
        ws.append(headers)
        for row in rows:
            ws.append(row)
    xlsx = directory / "roster.xlsx"
    wb.save(xlsx)
    csvs = []
    for name, headers, rows in (
        ("teams.csv", team_headers, team_rows),
        ("members.csv", member_headers, member_rows),
    ):
        path = directory / name
        # UTF-8 with a BOM: what Excel writes as "CSV UTF-8".
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(headers)
            writer.writerows(rows)
        csvs.append(path)
    return {"xlsx": [xlsx], "csv": csvs}


def copy_baseline(url: str, team_rows: list[list[str]], member_rows: list[list[str]]) -> float:
    """Seconds for a plain COPY of the same rows into scratch tables of text columns."""
    import psycopg

    from cnsc.team.imports import MEMBER_COLUMNS, TEAM_COLUMNS

    tables = (
        ("bench_copy_teams", TEAM_COLUMNS, team_rows),
        ("bench_copy_members", MEMBER_COLUMNS, member_rows),
    )
    with psycopg.connect(url) as conn:
        for table, columns, _rows in tables:
            conn.execute(f"CREATE TABLE {table} ({', '.join(f'{c.key} text' for c in columns)})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            for table, _columns, rows in tables:
                with cur.copy(f"COPY {table} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
        for table, _columns, _rows in tables:
            conn.execute(f"DROP TABLE {table}")
        conn.commit()
    return seconds


# --- One format, in a child process ---------------------------------------------------------


def empty_roster() -> None:
    from django.db import connection

    from cnsc.team.models import Member, Membership, Team

    tables = []
    for model in (Membership, Member, Team):
        tables += [model._meta.db_table, model.history.model._meta.db_table]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def run_import(files: list[Path], *, apply: bool) -> tuple[float, float, dict[str, int]]:
    """Wall-clock seconds, this process's CPU seconds (the import's Python side; a busy machine
    stretches the first, hardly the second), and the plan's counts."""
    from cnsc.access.models import User
    from cnsc.team.imports import import_roster

    user = User.objects.get(username="bench")
    commune = user.assignments.get().unit
    counts: dict[str, int] = {}
    started, cpu = time.perf_counter(), time.process_time()
    for path in files:
        with path.open("rb") as upload:
            plan = import_roster(
                upload=upload,
                size=path.stat().st_size,
                commune=commune,
                user=user,
                apply=apply,
                file_name=path.name,
            )
        if not plan.ok:
            for error in plan.errors[:10]:
                print(error, file=sys.stderr)
            sys.exit(f"{path.name}: {len(plan.errors)} rows refused")
        for key, value in plan.counts.items():
            counts[key] = counts.get(key, 0) + value
    return time.perf_counter() - started, time.process_time() - cpu, counts


def child(files: list[Path], *, trace: bool) -> dict[str, Any]:
    """An official's sequence on an empty roster: for each file (a .csv holds one table, so its
    teams go first), a dry run then the apply; then every file applied a second time."""
    from cnsc.team.models import Member, MemberRole, Membership, Team

    empty_roster()
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        tracemalloc.start()
    result: dict[str, Any] = {"counts": {}}
    for phase in ("dry_run", "apply"):
        result[f"{phase}_seconds"] = result[f"{phase}_cpu"] = 0.0
    for path in files:
        for phase, apply in (("dry_run", False), ("apply", True)):
            seconds, cpu, counts = run_import([path], apply=apply)
            result[f"{phase}_seconds"] += seconds
            result[f"{phase}_cpu"] += cpu
        result["counts"] |= counts
    result["again_seconds"], result["again_cpu"], result["again_counts"] = run_import(
        files, apply=True
    )
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result["rss_start_mb"] = rss_start
    result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["members"] = Member.objects.count()
    result["teams"] = Team.objects.count()
    result["leaders"] = Membership.objects.filter(
        role=MemberRole.LEADER, left_on__isnull=True
    ).count()
    return result


def measure(fmt: str, files: list[Path], env: dict[str, str], *, trace: bool) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", *map(str, files)]
    if trace:
        command.append("--trace")
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{fmt} import failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- Main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--commune", default="25747")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", nargs="+", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        django_setup(os.environ["DATABASE_URL"])
        print(json.dumps(child(args.child, trace=args.trace)))
        return

    url = os.environ.get("DATABASE_URL", "")
    name, bench_url = bench_database_url(url)
    admin_command(url, f'CREATE DATABASE "{name}"')
    workdir = Path(tempfile.mkdtemp(prefix="cnsc-bench-"))
    try:
        started = time.perf_counter()
        django_setup(bench_url)
        team_rows, member_rows = generate(args.rows)
        prepare_database(args.commune, len(team_rows))
        files = write_files(workdir, team_rows, member_rows)
        print(
            f"set-up {time.perf_counter() - started:.0f}s: database {name}, "
            f"{len(member_rows):,} members in {len(team_rows):,} teams of ward {args.commune}; "
            + ", ".join(
                f"{p.name} {p.stat().st_size / 2**20:.1f} MB" for fs in files.values() for p in fs
            )
        )
        from django.db import connections

        connections.close_all()
        env = {**os.environ, "DATABASE_URL": bench_url}
        results = {}
        for fmt in args.formats.split(","):
            results[fmt] = measure(fmt, files[fmt], env, trace=False)
            if args.tracemalloc:
                traced = measure(fmt, files[fmt], env, trace=True)
                results[fmt]["tracemalloc_peak_mb"] = traced["tracemalloc_peak_mb"]
            print(f"{fmt}: {json.dumps(results[fmt])}", flush=True)
        copy_seconds = copy_baseline(bench_url, team_rows, member_rows)
        report(results, copy_seconds, len(member_rows), len(team_rows))
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept database {name} and files in {workdir}")
        else:
            admin_command(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            for path in workdir.iterdir():
                path.unlink()
            workdir.rmdir()


def report(results: dict[str, dict[str, Any]], copy_seconds: float, rows: int, teams: int) -> None:
    print(f"\n{rows:,} member rows (+ {teams:,} team rows), PostgreSQL")
    print(
        f"{'format':<6} {'dry run':>9} {'apply':>9} {'(CPU)':>9} {'rows/s':>8} {'again':>9} "
        f"{'peak RSS':>9} {'py peak':>9} {'apply/COPY':>10}"
    )
    for fmt, r in results.items():
        if (r["members"], r["teams"], r["leaders"]) != (rows, teams, teams):
            sys.exit(f"{fmt}: the roster does not hold what the file says: {r}")
        traced = r.get("tracemalloc_peak_mb")
        print(
            f"{fmt:<6} {r['dry_run_seconds']:>8.1f}s {r['apply_seconds']:>8.1f}s "
            f"{r['apply_cpu']:>8.1f}s "
            f"{rows / r['apply_seconds']:>8,.0f} {r['again_seconds']:>8.1f}s "
            f"{r['rss_peak_mb']:>6.0f} MB "
            + (f"{traced:>6.0f} MB " if traced is not None else f"{'-':>9} ")
            + f"{r['apply_seconds'] / copy_seconds:>9,.0f}x"
        )
    print(f"{'COPY':<6} {'':>9} {copy_seconds:>8.2f}s {'':>9} {rows / copy_seconds:>8,.0f}")
    print(
        "dry run: read and check, nothing written; apply: read, check and write (all or "
        "nothing); (CPU): the importing process's CPU time during the apply, the rest is "
        "waiting for PostgreSQL or for a busy machine; again: the same file applied a second "
        "time (changes nothing); rows/s: member rows per second of apply; peak RSS: the child "
        "process's maximum resident set; py peak: tracemalloc's peak over the whole sequence "
        "(--tracemalloc, a separate pass)."
    )


if __name__ == "__main__":
    main()
