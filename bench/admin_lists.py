"""Benchmark: the back office's lists (households, residents, visits) as a commune official sees
them, server time through Django's test client.

Usage (PostgreSQL; the URL names the database, created and filled with the demo if missing):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cnsc_admin_lists .venv/bin/python \\
        bench/admin_lists.py [--requests 30] [--user xa] [--profile households] [--json out.json]

What it does:
1. unless the database already holds the demo (or with --rebuild): migrates, loads the
   administrative units and runs seed_demo (Phường Thủ Dầu Một and Xã Minh Thạnh: about 990
   households, 2,950 residents, 900 visits, and the demo accounts);
2. signs in as ``--user`` (the demo's commune official ``xa`` by default) with Django's test
   client, past the second factor when the account needs one;
3. asks for each list ``--requests`` times after two warm-up requests (middleware, view,
   template; no network) and prints the median and 95th percentile milliseconds, the median of
   this process's CPU milliseconds per request (Python's share, steadier than the wall clock on a
   busy machine; PostgreSQL's work is not in it), the statements one request sends and the rows
   on the page;
4. with ``--profile LIST``, runs that list once more under cProfile and prints the 30 functions
   with the most cumulative time and the 30 with the most own time (``--profile-file``
   keeps the whole profile for pstats or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LISTS = {
    "households": "/admin/outreach/household/",
    "residents": "/admin/outreach/resident/",
    "visits": "/admin/outreach/visit/",
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def counting(statements: list[str]) -> Any:
    def count(execute: Any, sql: str, *rest: Any) -> Any:
        statements.append(sql)
        return execute(sql, *rest)

    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--user", default="xa")
    parser.add_argument("--lists", default=",".join(LISTS))
    parser.add_argument("--profile", choices=sorted(LISTS), default=None)
    parser.add_argument("--profile-file", type=Path, default=None, help="pstats file to write")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a PostgreSQL database")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CNSC_ENV", "development")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("CCCD_HASH_KEY", "admin-lists-bench-cccd-hash-key-0123456789")
    from bench.dashboard import ensure_database

    created = ensure_database(url)

    import django

    django.setup()
    logging.disable(logging.INFO)  # the request log would print a line per request
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from cnsc.access.models import User
    from cnsc.outreach.models import Household

    if created or args.rebuild or not Household.objects.exists():
        started = time.perf_counter()
        call_command("migrate", "--noinput", verbosity=0)
        call_command("load_units", verbosity=0)
        call_command("seed_demo", verbosity=0)
        print(f"demo data: {time.perf_counter() - started:.0f} s", flush=True)

    user = User.objects.get(username=args.user)
    client = Client()
    client.force_login(user)
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cnsc.access.twofactor import second_factor_needed

    if second_factor_needed(user):
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="admin-lists bench", defaults={"confirmed": True}
        )
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()

    results: dict[str, Any] = {}
    print(f"{args.user}, {args.requests} requests per list")
    print("| list | median ms | p95 ms | CPU median ms | statements | rows |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in args.lists.split(","):
        path = LISTS[name]
        for _ in range(2):
            response = client.get(path)
            if response.status_code != 200:
                sys.exit(f"{path}: {response.status_code}")
        # Counted by a wrapper: the query log is emptied when a request starts.
        statements: list[str] = []
        with connection.execute_wrapper(counting(statements)):
            response = client.get(path)
        rows = len(response.context_data["cl"].result_list)
        times, cpu = [], []
        for _ in range(args.requests):
            started, started_cpu = time.perf_counter(), time.process_time()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        median, p95, cpu_median = (
            statistics.median(times),
            percentile(times, 0.95),
            statistics.median(cpu),
        )
        results[name] = {
            "median_ms": median,
            "p95_ms": p95,
            "cpu_median_ms": cpu_median,
            "statements": len(statements),
            "rows": rows,
        }
        figures = f"{median:.0f} | {p95:.0f} | {cpu_median:.0f} | {len(statements)} | {rows}"
        print(f"| {name} | {figures} |", flush=True)

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        client.get(LISTS[args.profile])
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(30)
        if args.profile_file:
            stats.dump_stats(args.profile_file)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
