"""Benchmark: import a province the size of Bình Dương (900,000 households, 2.7 million residents,
their services) through the household import, beside a plain PostgreSQL COPY of the same rows;
load its 3 million visits of two years; record visits one by one through the visit service.

Usage (PostgreSQL only; the URL names the server, its database part is only where to connect
first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python \\
        bench/import_households.py [--households 900000] [--visits 3000000] \\
        [--keep-db cnsc_bench_province] [--data /tmp/province] [--one-by-one 2000] [--big 1000000]

What it does, printing the time of each step:

1. creates a fresh database (``--keep-db NAME``: that name, kept at the end for the dashboards'
   benchmark; otherwise ``cnsc_bench_<pid>``, dropped at the end), migrates it, loads the
   administrative units and the demo's Bình Dương roster (610 hamlets, 586 teams, 3,329 members);
2. generates the province as files with bench/gen_province.py (``--data DIR`` keeps them and
   reuses them when they match the arguments);
3. COPY baseline: the same household files, rows as they are, into a scratch table of text
   columns with psycopg's ``cursor.copy``;
4. imports every ward's file through ``cnsc.outreach.imports.import_households`` in a child
   process (so its peak RSS is its own), as an official would: a dry run, then the apply; the
   same in a second child under tracemalloc for the peak of Python allocations (``--no-trace``
   to skip; tracing slows it, so its times are not reported);
5. with ``--big N``: one file of N residents for a single ward, imported (dry run, then apply
   inside a transaction rolled back at the end, so the kept database does not get them) in a
   child process, for memory against the size of one file;
6. loads the visits (bench's own COPY loader, not a product path: the bot records visits one by
   one) so the database holds the two years of work, and times a plain COPY of the same rows;
7. records ``--one-by-one`` visits through ``cnsc.outreach.services.visit_record``, one call per
   visit with the service-state updates, as the bot does, in a child process;
8. prints rows per second, peak memory and the ratios to the COPY baseline.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_USER = "bench-province"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Databases ------------------------------------------------------------------------------


def server_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("DATABASE_URL must point at PostgreSQL: the benchmark compares with COPY.")
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_sql(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(server_url(url, "postgres"), autocommit=True) as conn:
        cursor = conn.execute(sql)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ["HOUSEHOLD_IMPORT_MAX_BYTES"] = str(2**33)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def prepare_database() -> None:
    from django.core.management import call_command

    from cnsc.access.models import UnitAssignment, User
    from cnsc.access.roles import Role
    from cnsc.geo.models import AdminUnit, Hierarchy, Level
    from cnsc.team.demo import CURRENT_PROVINCE, seed_binh_duong

    call_command("migrate", verbosity=0)
    call_command("load_units", verbosity=0)
    log(str(seed_binh_duong()))
    user = User.objects.create_user(username=BENCH_USER, role=Role.PROVINCE_STAFF)
    city = AdminUnit.objects.get(
        hierarchy=Hierarchy.CURRENT, level=Level.PROVINCE, code=CURRENT_PROVINCE
    )
    UnitAssignment.objects.create(user=user, unit=city)


# --- CPU time -------------------------------------------------------------------------------
# The machine may be shared: wall-clock seconds then measure the neighbours too. CPU seconds of
# this process and of its PostgreSQL backend (read from /proc, same machine) do not.


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process of this machine; 0 when /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def django_backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


# --- COPY baselines -------------------------------------------------------------------------


def copy_baseline(url: str, files: list[Path], columns: int) -> tuple[float, int]:
    """Seconds and rows of a plain COPY of the files (CSV with a header) into a scratch table of
    text columns, committed."""
    import psycopg

    with psycopg.connect(url) as conn:
        names = ", ".join(f"c{i} text" for i in range(columns))
        conn.execute(f"CREATE TABLE bench_copy ({names})")  # type: ignore[arg-type]
        conn.commit()
        backend = conn.info.backend_pid
        cpu_before = process_cpu(backend) + own_cpu()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for path in files:
                with (
                    cursor.copy("COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)") as copy,
                    path.open("rb") as source,
                ):
                    while chunk := source.read(1 << 20):
                        copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        COPY_CPU[columns] = process_cpu(backend) + own_cpu() - cpu_before
        rows = conn.execute("SELECT COUNT(*) FROM bench_copy").fetchone()
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return seconds, int(rows[0]) if rows else 0


# CPU seconds (this process and the backend) of the last COPY baseline, by column count.
COPY_CPU: dict[int, float] = {}


# --- The household import, in a child process -----------------------------------------------


def ward_of(path: Path) -> Any:
    from cnsc.geo.models import AdminUnit, Hierarchy, Level

    return AdminUnit.objects.get(hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, code=path.stem)


def import_files(files: list[Path], *, apply: bool, rollback: bool = False) -> dict[str, Any]:
    from django.db import connection, transaction

    from cnsc.access.models import User
    from cnsc.outreach.imports import import_households

    user = User.objects.get(username=BENCH_USER)
    totals: dict[str, Any] = {"rows": 0, "seconds": 0.0, "counts": {}}
    backend = django_backend_pid()
    cpu = own_cpu(), process_cpu(backend)
    for path in files:
        commune = ward_of(path)
        started = time.perf_counter()
        with transaction.atomic(), path.open("rb") as upload:
            result = import_households(
                upload=upload,
                size=path.stat().st_size,
                commune=commune,
                user=user,
                apply=apply,
                file_name=path.name,
            )
            if rollback:
                # The checks PostgreSQL defers to the commit are part of an apply's cost.
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                transaction.set_rollback(True)
        totals["seconds"] += time.perf_counter() - started
        if not result.ok:
            for error in result.errors[:10]:
                print(path.name, error, file=sys.stderr)
            sys.exit(f"{path.name}: {result.error_count} errors")
        totals["rows"] += result.rows
        for key, value in result.counts.items():
            totals["counts"][key] = totals["counts"].get(key, 0) + value
    totals["cpu_seconds"] = own_cpu() - cpu[0]
    totals["db_cpu_seconds"] = process_cpu(backend) - cpu[1]
    return totals


def child_import(
    files: list[Path], *, trace: bool, dry_run: bool, rollback: bool
) -> dict[str, Any]:
    if trace:
        tracemalloc.start()
    result: dict[str, Any] = {}
    if dry_run:
        result["dry_run"] = import_files(files, apply=False)
    result["apply"] = import_files(files, apply=True, rollback=rollback)
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    return run_children(env, [list(args)])[0]


def run_children(env: dict[str, str], jobs: list[list[str]]) -> list[dict[str, Any]]:
    """Child processes run at the same time, one per job; their JSON results."""
    running = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", *job],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in jobs
    ]
    results = []
    for job, process in zip(jobs, running, strict=True):
        out, err = process.communicate()
        if process.returncode:
            sys.exit(f"child {job[0]} failed:\n{err[-4000:]}")
        results.append(dict(json.loads(out.strip().splitlines()[-1])))
    return results


def shares(files: list[Path], workers: int) -> list[list[Path]]:
    """The files in ``workers`` groups of about the same size, largest first."""
    groups: list[list[Path]] = [[] for _ in range(workers)]
    sizes = [0] * workers
    for path in sorted(files, key=lambda p: p.stat().st_size, reverse=True):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(path)
        sizes[smallest] += path.stat().st_size
    return [g for g in groups if g]


# --- One big file ---------------------------------------------------------------------------


BIG_SERIALS_FROM = 500_000


class _SerialsFrom(Counter[str]):
    """Serials per CCCD prefix that start at ``start`` rather than 0."""

    def __init__(self, start: int) -> None:
        super().__init__()
        self.start = start

    def __missing__(self, key: str) -> int:
        return self.start


def _distinct(people: list[Any]) -> list[Any]:
    """The first person of each name (without diacritics, as the import compares names) and
    year of birth: "Nguyễn Ngọc Dung" and "Nguyễn Ngọc Dũng" born the same year may be drawn in
    one household, and the import rightly cannot tell them apart without a CCCD."""
    from cnsc.core.text import search_key

    kept, seen = [], set()
    for person in people:
        key = (search_key(person.name), person.birth_year)
        if key not in seen:
            seen.add(key)
            kept.append(person)
    return kept


def write_big_file(path: Path, residents: int, ward: str) -> int:
    """One ward's list with ``residents`` rows, new households only (codes BIG...)."""
    from cnsc.geo.models import Hamlet
    from cnsc.outreach.demo import STREETS, Population, template_row
    from cnsc.outreach.imports import COLUMNS

    hamlets = list(
        Hamlet.objects.filter(commune__code=ward, commune__hierarchy="current").order_by("name")
    )
    population = Population(random.Random(1))
    # The province's files count each CCCD prefix's serials from 1 (a few thousand per prefix):
    # counting these from the middle of the range keeps every person of this file new, not a
    # resident of the province moving in.
    population.serials = _SerialsFrom(BIG_SERIALS_FROM)
    written = 0
    serial = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out)
        rows.writerow([c.header for c in COLUMNS])
        while written < residents:
            serial += 1
            hamlet = hamlets[serial % len(hamlets)]
            people = _distinct(population.household(2024))[: residents - written]
            for person in people:
                rows.writerow(
                    template_row(
                        person,
                        code=f"BIG{serial:07d}",
                        hamlet=hamlet.name,
                        house=str(serial),
                        street=STREETS[serial % len(STREETS)],
                        phone="",
                        on="30/11/2024",
                    )
                )
            written += len(people)
    return written


# --- Visits ---------------------------------------------------------------------------------


def load_visits(url: str, path: Path) -> dict[str, Any]:
    """The generated visits, their outcomes, the service events they caused and the states they
    leave, written set-based (bench only: the product records visits one by one)."""
    import psycopg

    from cnsc.core.bulk import random_codes

    codes = random_codes(12)
    started = time.perf_counter()
    visits = outcomes = 0
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cur,
        tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool,
        path.open(encoding="utf-8", newline="") as source,
    ):
        backend = conn.info.backend_pid
        cpu_before = own_cpu() + process_cpu(backend)
        cur.execute(
            """CREATE TEMP TABLE bench_visits (key text, ward text, household text, phone text,
            happened_at timestamptz, latitude float8, longitude float8, accuracy integer,
            code text)"""
        )
        cur.execute(
            """CREATE TEMP TABLE bench_outcomes (key text, place integer, service text,
            result text, before text, after text)"""
        )
        reader = csv.reader(source)
        next(reader)
        # One COPY at a time on a connection: the outcomes wait in a spool file meanwhile.
        spooled = csv.writer(spool)
        with cur.copy("COPY bench_visits FROM STDIN") as copy:
            for key, ward, household, phone, at, lat, lon, accuracy, found in reader:
                copy.write_row(
                    [key, ward, household, phone, at, lat or None, lon or None,
                     accuracy or None, next(codes)]
                )  # fmt: skip
                visits += 1
                for item in found.split("|") if found else ():
                    spooled.writerow([key, *item.split(":")])
                    outcomes += 1
        spool.seek(0)
        with cur.copy("COPY bench_outcomes FROM STDIN (FORMAT csv)") as copy:
            while chunk := spool.read(1 << 20):
                copy.write(chunk)
        staging_seconds = time.perf_counter() - started
        # Every row below is made by joining the rows it points at, so the foreign-key
        # triggers (one lookup per key of each of about 15 million rows, most of this step's
        # time) would find nothing wrong: they are switched off for this transaction (the
        # benchmark connects as a superuser). Unique indexes and checks still apply.
        cur.execute("SET LOCAL session_replication_role = replica")
        for statement in VISIT_SQL:
            cur.execute(statement)  # type: ignore[arg-type]
        conn.commit()
        cpu = own_cpu() + process_cpu(backend) - cpu_before
    return {
        "visits": visits,
        "outcomes": outcomes,
        "seconds": time.perf_counter() - started,
        "staging_seconds": staging_seconds,
        "cpu_seconds": cpu,
    }


VISIT_SQL = (
    "CREATE INDEX ON bench_outcomes (key)",
    "ANALYZE bench_visits",
    "ANALYZE bench_outcomes",
    """INSERT INTO outreach_visit (code, idempotency_key, member_id, household_id, team_id,
        commune_id, happened_at, recorded_at, edited_at, latitude, longitude, accuracy_m, notes,
        source)
    SELECT v.code, v.key, m.id, h.id, h.team_id, h.commune_id, v.happened_at, v.happened_at,
        NULL, v.latitude, v.longitude, v.accuracy, '', 'bot'
    FROM bench_visits v
    JOIN geo_adminunit c ON c.code = v.ward AND c.hierarchy = 'current' AND c.level = 'commune'
    JOIN outreach_household h ON h.commune_id = c.id AND h.code = v.household
    JOIN team_member m ON m.phone = v.phone
    WHERE h.team_id IS NOT NULL""",
    """CREATE TEMP TABLE bench_places AS
    SELECT id AS resident_id, household_id,
           ROW_NUMBER() OVER (PARTITION BY household_id ORDER BY id) AS place
    FROM outreach_resident""",
    "CREATE INDEX ON bench_places (household_id, place)",
    "ANALYZE bench_places",
    """CREATE TEMP TABLE bench_done AS
    SELECT v.id AS visit_id, v.member_id, v.happened_at, p.resident_id, o.service, o.result,
           o.before, COALESCE(o.after, '') AS after
    FROM bench_outcomes o
    JOIN outreach_visit v ON v.idempotency_key = o.key
    JOIN bench_places p ON p.household_id = v.household_id AND p.place = o.place""",
    """INSERT INTO outreach_visitoutcome (visit_id, resident_id, service, result, new_state,
        details)
    SELECT visit_id, resident_id, service, result, after, '{}' FROM bench_done""",
    """INSERT INTO outreach_serviceevent (resident_id, service, from_state, to_state, backward,
        happened_at, recorded_at, source, visit_id, member_id, user_id, details)
    SELECT resident_id, service, before, after, FALSE, happened_at, happened_at, 'visit',
        visit_id, member_id, NULL, '{}'
    FROM bench_done WHERE after <> ''""",
    """INSERT INTO outreach_servicestate (resident_id, service, state, details, changed_at,
        last_result)
    SELECT DISTINCT ON (resident_id, service) resident_id, service,
        COALESCE(NULLIF(after, ''), before), '{}', happened_at, result
    FROM bench_done ORDER BY resident_id, service, happened_at DESC
    ON CONFLICT (resident_id, service) DO UPDATE SET
        state = CASE WHEN excluded.state <> 'none' THEN excluded.state
                     ELSE outreach_servicestate.state END,
        changed_at = GREATEST(excluded.changed_at, outreach_servicestate.changed_at),
        last_result = excluded.last_result""",
    """UPDATE outreach_household h SET last_visited_at = x.last
    FROM (SELECT household_id, MAX(happened_at) AS last FROM outreach_visit
          GROUP BY household_id) x
    WHERE x.household_id = h.id""",
    "ANALYZE",
)


def child_one_by_one(count: int) -> dict[str, Any]:
    """``count`` visits recorded through the visit service, one call each, as the bot does."""
    from django.utils import timezone

    from cnsc.outreach.catalogue import Result, Service
    from cnsc.outreach.models import Household, Resident, VisitSource
    from cnsc.outreach.services import OutcomeIn, visit_record
    from cnsc.team.models import Membership

    rng = random.Random(5)
    today = timezone.localdate()
    households = list(
        Household.objects.filter(team__isnull=False).order_by("id").values_list("id", flat=True)
    )
    picked = sorted(rng.sample(households, min(count, len(households))))
    members: dict[int, list[Any]] = {}
    for membership in Membership.objects.filter(
        left_on__isnull=True, joined_on__lte=today
    ).select_related("member"):
        members.setdefault(membership.team_id, []).append(membership.member)
    plans = []
    for household in Household.objects.filter(id__in=picked).order_by("id"):
        team_members = members.get(household.team_id or 0)
        residents = list(Resident.objects.filter(household=household, erased_at__isnull=True))
        if not team_members or not residents:
            continue
        helped = rng.sample(residents, min(len(residents), rng.choice((1, 2))))
        outcomes = [
            OutcomeIn(
                resident=r,
                service=rng.choice((Service.VNEID, Service.PAYMENT, Service.PROVINCE_APP)),
                result=rng.choice((Result.DONE, Result.DONE, Result.REFUSED)),
            )
            for r in helped
        ]
        plans.append((rng.choice(team_members), household, outcomes))
    now = timezone.now()
    backend = django_backend_pid()
    cpu_before = own_cpu(), process_cpu(backend)
    started = time.perf_counter()
    for n, (member, household, outcomes) in enumerate(plans):
        visit_record(
            member=member,
            household=household,
            happened_at=now - dt.timedelta(minutes=len(plans) - n),
            outcomes=outcomes,
            idempotency_key=f"bench-one:{os.getpid()}:{n}",
            source=VisitSource.BOT,
            point=None,
        )
    seconds = time.perf_counter() - started
    return {
        "visits": len(plans),
        "outcomes": sum(len(p[2]) for p in plans),
        "seconds": seconds,
        "cpu_seconds": own_cpu() - cpu_before[0],
        "db_cpu_seconds": process_cpu(backend) - cpu_before[1],
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# --- Main -----------------------------------------------------------------------------------


def merge(parts: list[dict[str, Any]], wall: float) -> dict[str, Any]:
    """Several workers' results as one: rows add up; time is the longest worker's (they ran
    together), per phase."""
    merged: dict[str, Any] = {"workers": len(parts)}
    for phase in ("dry_run", "apply"):
        if phase in parts[0]:
            merged[phase] = {
                "rows": sum(p[phase]["rows"] for p in parts),
                "seconds": max(p[phase]["seconds"] for p in parts),
                "cpu_seconds": sum(p[phase].get("cpu_seconds", 0) for p in parts),
                "db_cpu_seconds": sum(p[phase].get("db_cpu_seconds", 0) for p in parts),
            }
    merged["rss_peak_mb"] = max(p["rss_peak_mb"] for p in parts)
    merged["wall_seconds"] = wall
    return merged


def matching_data(data: Path, args: argparse.Namespace) -> bool:
    summary = data / "summary.json"
    if not summary.exists():
        return False
    found = json.loads(summary.read_text())
    return bool(
        found.get("households") == args.households
        and found.get("seed") == args.seed
        and found.get("until") == args.until.isoformat()
    )


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}/s" if seconds else "—"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=900_000)
    parser.add_argument("--visits", type=int, default=3_000_000)
    parser.add_argument("--seed", type=int, default=74)
    parser.add_argument(
        "--until",
        type=dt.date.fromisoformat,
        default=dt.date.today() - dt.timedelta(days=1),  # noqa: DTZ011 (a calendar day)
    )
    parser.add_argument("--keep-db", default="", help="name the database and keep it")
    parser.add_argument("--data", type=Path, help="where the files go (kept, reused)")
    parser.add_argument("--one-by-one", type=int, default=2000)
    parser.add_argument("--big", type=int, default=0, help="residents in one extra big file")
    parser.add_argument("--no-trace", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="wards imported at the same time (default 1)"
    )
    parser.add_argument("--no-dry-run", action="store_true")
    parser.add_argument(
        "--steps",
        default="import,big,visits",
        help="which of import, big, visits to run (default all); without import, --keep-db "
        "names a database that already holds the province, and it is used as it is",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        django_setup(os.environ["DATABASE_URL"])
        mode, *rest = args.child
        if mode == "import":
            flags, files = rest[0], [Path(p) for p in rest[1:]]
            out = child_import(
                files, trace="t" in flags, dry_run="d" in flags, rollback="r" in flags
            )
        else:
            out = child_one_by_one(int(rest[0]))
        print(json.dumps(out))
        return

    steps = set(args.steps.split(","))
    if not steps <= {"import", "big", "visits"}:
        sys.exit(f"Unknown steps: {', '.join(sorted(steps - {'import', 'big', 'visits'}))}")
    url = os.environ.get("DATABASE_URL", "")
    name = args.keep_db or f"cnsc_bench_{os.getpid()}"
    exists = admin_sql(url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
    if "import" in steps and exists:
        sys.exit(f"Database {name} exists: drop it first (dropdb -h 127.0.0.1 -U postgres {name}).")
    if "import" not in steps and not (args.keep_db and exists):
        sys.exit("Without the import step, --keep-db must name a database holding the province.")
    if "import" in steps:
        admin_sql(url, f'CREATE DATABASE "{name}"')
    bench_url = server_url(url, name)
    data = args.data or Path(tempfile.mkdtemp(prefix="cnsc-province-"))
    env = {**os.environ, "DATABASE_URL": bench_url, "HOUSEHOLD_IMPORT_MAX_BYTES": str(2**33)}
    env["DEBUG"] = "false"
    report: dict[str, Any] = {"database": name, "data": str(data)}
    try:
        started = time.perf_counter()
        django_setup(bench_url)
        if "import" in steps:
            prepare_database()
            log(f"database {name} ready ({time.perf_counter() - started:.0f}s)")
        from django.db import connections

        connections.close_all()

        if not matching_data(data, args):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "gen_province.py"), "--out", str(data),
                 "--households", str(args.households), "--visits", str(args.visits),
                 "--seed", str(args.seed), "--until", args.until.isoformat()],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            log(f"generated into {data} ({time.perf_counter() - started:.0f}s)")
        summary = json.loads((data / "summary.json").read_text())
        report["summary"] = summary
        files = sorted((data / "households").glob("*.csv"))
        biggest = max(files, key=lambda p: p.stat().st_size)

        if steps & {"import", "big"}:
            copy_seconds, copy_rows = copy_baseline(bench_url, files, 22)
            report["copy_households"] = {
                "seconds": copy_seconds,
                "rows": copy_rows,
                "cpu_seconds": COPY_CPU[22],
            }
            log(
                f"COPY baseline: {copy_rows:,} rows in {copy_seconds:.1f}s "
                f"({rate(copy_rows, copy_seconds)})"
            )

        if "import" in steps:
            flags = "-" if args.no_dry_run else "d"
            started = time.perf_counter()
            parts = run_children(
                env, [["import", flags, *map(str, group)] for group in shares(files, args.workers)]
            )
            wall = time.perf_counter() - started
            imported = parts[0] if len(parts) == 1 else merge(parts, wall)
            report["import"] = imported
            apply = imported["apply"]
            log(
                f"import: {apply['rows']:,} residents applied in {apply['seconds']:.1f}s "
                f"({rate(apply['rows'], apply['seconds'])}), "
                f"peak RSS {imported['rss_peak_mb']:.0f} MB"
            )
            if not args.no_trace:
                traced = run_child(env, "import", "dtr", str(biggest))
                report["import_trace"] = {
                    "file": biggest.name,
                    "rows": traced["apply"]["rows"],
                    "tracemalloc_peak_mb": traced["tracemalloc_peak_mb"],
                    "rss_peak_mb": traced["rss_peak_mb"],
                }
                log(f"tracemalloc peak on {biggest.name}: {traced['tracemalloc_peak_mb']:.1f} MB")

        if args.big and "big" in steps:
            django_setup(bench_url)
            big = data / "big" / "25747.csv"
            big.parent.mkdir(exist_ok=True)
            rows = write_big_file(big, args.big, "25747")
            connections.close_all()
            measured = run_child(env, "import", "dr", str(big))
            report["big"] = {"rows": rows, "bytes": big.stat().st_size, **measured}
            if not args.no_trace:
                traced = run_child(env, "import", "tdr", str(big))
                report["big"]["tracemalloc_peak_mb"] = traced["tracemalloc_peak_mb"]
            log(f"big file: {rows:,} rows, apply {measured['apply']['seconds']:.1f}s")

        if "visits" in steps:
            visits_file = data / "visits.csv"
            visit_copy_seconds, visit_copy_rows = copy_baseline(bench_url, [visits_file], 9)
            report["copy_visits"] = {
                "seconds": visit_copy_seconds,
                "rows": visit_copy_rows,
                "cpu_seconds": COPY_CPU[9],
            }
            loaded = load_visits(bench_url, visits_file)
            report["visits_load"] = loaded
            log(f"visits loaded: {loaded['visits']:,} in {loaded['seconds']:.0f}s")

        if args.one_by_one:
            one = run_child(env, "one", str(args.one_by_one))
            report["one_by_one"] = one
            log(f"visit_record: {one['visits']:,} visits in {one['seconds']:.1f}s")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            admin_sql(url, f'DROP DATABASE IF EXISTS "{name}"')
    print_report(report)


def line(label: str, step: dict[str, Any], baseline: dict[str, Any], rows_key: str = "rows") -> str:
    """A row of the result: wall-clock and CPU rates, each over the COPY baseline's."""
    rows = step[rows_key]
    cpu = step.get("cpu_seconds", 0) + step.get("db_cpu_seconds", 0)
    base_rate = baseline["rows"] / baseline["seconds"]
    base_cpu_rate = baseline["rows"] / baseline["cpu_seconds"] if baseline["cpu_seconds"] else 0
    cpu_rate = rows / cpu if cpu else 0
    return (
        f"| {label} | {rows:,} | {step['seconds']:.1f} | {rows / step['seconds']:,.0f} | "
        f"{rows / step['seconds'] / base_rate:.4f} | {cpu:.1f} | {cpu_rate:,.0f} | "
        f"{cpu_rate / base_cpu_rate if base_cpu_rate else 0:.4f} |"
    )


HEADER = (
    "| step | rows | wall s | rows/s | ÷ COPY | CPU s (Python + PostgreSQL) | rows per CPU s "
    "| ÷ COPY (CPU) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def print_report(r: dict[str, Any]) -> None:
    summary = r["summary"]
    print()
    print(
        f"Province: {summary['households']:,} households, {summary['residents']:,} residents, "
        f"{summary['visits']:,} visits in {summary['wards']} wards"
    )
    print(f"Files in {r['data']}, database {r['database']}; load average {os.getloadavg()}")
    if "copy_households" in r:
        copy = r["copy_households"]
        print()
        print(HEADER)
        print(line("COPY of the household rows (baseline)", copy, copy))
    if "import" in r:
        if "dry_run" in r["import"]:
            print(line("import, dry run (every check, nothing written)", r["import"]["dry_run"],
                       copy))  # fmt: skip
        apply = r["import"]["apply"]
        print(line("import, apply (every check, all written)", apply, copy))
        print()
        workers = r["import"].get("workers", 1)
        print(f"Import ({workers} ward(s) at a time): peak RSS per process "
              f"{r['import']['rss_peak_mb']:.0f} MB")  # fmt: skip
    if "import_trace" in r:
        t = r["import_trace"]
        print(f"tracemalloc peak on the largest file ({t['file']}, {t['rows']:,} rows, dry run "
              f"and apply): {t['tracemalloc_peak_mb']:.1f} MB")  # fmt: skip
    if "big" in r:
        b = r["big"]
        print(line(f"one file of {b['rows']:,} rows, dry run", {**b["dry_run"], "rows": b["rows"]},
                   copy))  # fmt: skip
        print(line(f"one file of {b['rows']:,} rows, apply", {**b["apply"], "rows": b["rows"]},
                   copy))  # fmt: skip
        print(f"One file of {b['rows']:,} rows ({b['bytes'] / 2**20:.0f} MB): dry run "
              f"{b['dry_run']['seconds']:.1f}s, apply {b['apply']['seconds']:.1f}s "
              f"({b['apply']['rows'] / b['apply']['seconds']:,.0f} rows/s), peak RSS "
              f"{b['rss_peak_mb']:.0f} MB"
              + (f", tracemalloc peak {b['tracemalloc_peak_mb']:.1f} MB"
                 if "tracemalloc_peak_mb" in b else ""))  # fmt: skip
    if "copy_visits" not in r:
        print()
        print(json.dumps(r, indent=1, default=str))
        return
    visit_copy = r["copy_visits"]
    print()
    print(HEADER.replace("| step |", "| visits |"))
    print(line("COPY of the visit rows (baseline)", visit_copy, visit_copy))
    if "visits_load" in r:
        print(line("bench loader (set-based SQL, not a product path)", r["visits_load"],
                   visit_copy, "visits"))  # fmt: skip
    if "one_by_one" in r:
        o = r["one_by_one"]
        print(line(f"visit_record, one call per visit ({o['outcomes']:,} outcomes)", o,
                   visit_copy, "visits"))  # fmt: skip
    print()
    print(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main()
