"""Load benchmark: the web (gunicorn, production settings), the bot (``runbot --webhook``) and
their database under a realistic mix of users, all on 127.0.0.1, bounded in time.

Usage (PostgreSQL and Redis on this machine; the URL names the server):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/load.py \\
        [--duration 180] [--keep-db NAME]

or ``make load``. What it does:

1. creates a database (``cnsc_load_<pid>``, dropped at the end; ``--keep-db NAME`` uses that
   name and keeps it, and a second run with the same name skips the set-up), migrates it,
   loads the administrative units and the Bình Dương demo (seed_demo), computes the figures
   (refresh_indicators); then adds what the load needs: commune officials and province staff
   with their own authenticator keys, a Telegram account for every member of a team that
   covers households, badges for the demo wards' teams (codes to verify), and API clients;
2. starts, on free loopback ports: a stand-in for Telegram's Bot API server (in the load
   process, bench/load_users.py), the web with gunicorn (``--workers``, default 3 as in
   docker/Dockerfile) and CNSC_ENV=production, and the bot process with
   TELEGRAM_API_BASE_URL pointing at the stand-in;
3. runs the users of bench/load_users.py with Locust: a calm phase, the same users with a
   client flooding the API and a scraper trying verification codes (their 429 answers counted
   apart), then more users every ``--step`` seconds until a group's 95th percentile passes
   ``--p95-ms`` or its errors pass ``--max-errors``, or ``--duration`` is up;
4. prints, per phase and per group, requests per second, median and 95th percentile, errors
   and 429 answers, where it broke and which group first, the machine's load and the CPU
   seconds of the web, the bot, PostgreSQL's backends and the load generator;
5. stops every process it started, removes the Redis counters it made and drops the database
   (unless ``--keep-db``).

Production settings behind a proxy: the load generator speaks plain HTTP to gunicorn as a
reverse proxy would after ending TLS, and sends what the proxy adds (X-Forwarded-Proto: https,
the visitor's address in X-Real-IP, read through RATELIMIT_IP_META_KEY). So HTTPS redirects,
secure cookies, HSTS, two-factor sign-in for everyone (production's default) and Redis-shared
rate limits are all on, as deployed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "load-bench-password-2026"  # noqa: S105 (throwaway accounts in a throwaway database)
# The same key when seeding and serving, so residents' identity numbers match in searches.
CCCD_KEY = "load-bench-cccd-hash-key-0123456789abcdef"
WEBHOOK_SECRET = "load-bench-webhook-secret-0123456789"  # noqa: S105
BOT_TOKEN = "7000000001:AAH-load-bench-token-0123456789abcdef"  # noqa: S105
TELEGRAM_USER_BASE = 8_100_000_000
DATA_WARDS = ("25747", "25780")  # the outreach demo's wards (Thủ Dầu Một, Minh Thạnh)
PROVINCE = "79"
FORMER_PROVINCE = "74"
GROUPS = (
    ("official", "commune officials"),
    ("province", "province analysts"),
    ("volunteer", "volunteers (bot, to the answer)"),
    ("webhook", "bot webhook (accepted)"),
    ("ioc", "operations centre API"),
    ("resident", "residents (verify)"),
    ("sign-in", "sign-in (password + code; not judged)"),
    ("api flood", "API flood, one token"),
    ("verify scraper", "verify scraper, one address"),
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Database -----------------------------------------------------------------------------------


def database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("DATABASE_URL must point at PostgreSQL.")
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_sql(url: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(database_url(url, "postgres"), autocommit=True) as conn:
        cursor = conn.execute(sql.encode(), params)
        return cursor.fetchall() if cursor.description else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- Preparing the data (a child process with Django) -------------------------------------------


def prepare(out: Path, *, officials: int, analysts: int, ioc_clients: int) -> None:
    """What the load needs on top of the demo; idempotent, so a kept database can run again."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from unidecode import unidecode

    from cnsc.access.models import UnitAssignment, User
    from cnsc.access.roles import Role
    from cnsc.bot.models import LinkMethod, TelegramAccount
    from cnsc.core.models import Credential
    from cnsc.dashboard.models import ApiClient
    from cnsc.dashboard.services import api_client_create, api_client_new_token
    from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level
    from cnsc.outreach.models import Household, Resident
    from cnsc.team.badges import team_badges_ensure
    from cnsc.team.models import Membership, Team, TeamStatus

    current = AdminUnit.objects.filter(hierarchy=Hierarchy.CURRENT)
    province = current.get(level=Level.PROVINCE, code=PROVINCE)
    wards = list(current.filter(level=Level.COMMUNE, code__in=DATA_WARDS).order_by("code"))
    hashed = make_password(PASSWORD)

    def accounts(prefix: str, count: int, role: str, units: list[Any]) -> list[dict[str, Any]]:
        made = []
        for index in range(count):
            unit = units[index % len(units)]
            user, created = User.objects.get_or_create(
                username=f"{prefix}{index:03d}",
                defaults={"role": role, "password": hashed, "first_name": "Load"},
            )
            if created:
                UnitAssignment.objects.create(user=user, unit=unit)
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
            made.append(
                {
                    "username": user.username,
                    "password": PASSWORD,
                    "totp_key": device.key,
                    "unit": unit.code,
                }
            )
        return made

    communes = {}
    for ward in wards:
        households = Household.objects.filter(commune=ward)
        heads = list(households.exclude(head=None).values_list("head__full_name", flat=True)[:200])
        words = sorted({w for name in heads for w in (name.split()[0], name.split()[-1])})
        search = words + [unidecode(w).lower() for w in words[:20]]
        search += list(
            households.exclude(house_number="").values_list("house_number", flat=True)[:20]
        )
        communes[ward.code] = {
            "households": list(households.order_by("?").values_list("pk", flat=True)[:300]),
            "residents": list(
                Resident.objects.filter(household__commune=ward)
                .order_by("?")
                .values_list("pk", flat=True)[:300]
            ),
            "hamlets": sorted(set(households.values_list("hamlet_id", flat=True))),
            "teams": sorted({t for t in households.values_list("team_id", flat=True) if t}),
            "search": search,
        }

    volunteers = []
    memberships = (
        Membership.objects.filter(
            left_on__isnull=True,
            team__status=TeamStatus.ACTIVE,
            team__in=Household.objects.values("team"),
        )
        .select_related("member", "team")
        .order_by("pk")
    )
    for membership in memberships:
        member, team = membership.member, membership.team
        account = TelegramAccount.objects.filter(member=member).first()
        if account is None:
            account = TelegramAccount.objects.create(
                member=member,
                telegram_user_id=TELEGRAM_USER_BASE + member.pk,
                chat_id=TELEGRAM_USER_BASE + member.pk,
                linked_by=LinkMethod.INVITATION,
                language="vi",
            )
        place = (
            Hamlet.objects.filter(households__team=team, latitude__isnull=False)
            .values_list("latitude", "longitude")
            .first()
        ) or (10.98, 106.65)
        houses = list(
            Household.objects.filter(team=team)
            .exclude(house_number="")
            .values_list("house_number", flat=True)[:30]
        )
        volunteers.append(
            {
                "user_id": account.telegram_user_id,
                "lat": place[0],
                "lon": place[1],
                "houses": houses or ["1"],
            }
        )

    teams = Team.objects.filter(status=TeamStatus.ACTIVE, commune__in=wards)
    for team in teams:
        team_badges_ensure(team=team)
    credentials = list(
        Credential.objects.filter(revoked_at=None).values_list("code", flat=True)[:1000]
    )

    def token(name: str) -> str:
        client = ApiClient.objects.filter(name=name).first()
        if client is None:
            return api_client_create(name=name, unit_ids=[province.pk])[1]
        return api_client_new_token(client=client)

    former = AdminUnit.objects.filter(
        hierarchy=Hierarchy.FORMER, level=Level.DISTRICT, province__code=FORMER_PROVINCE
    )
    data = {
        "officials": accounts("load_xa_", officials, Role.COMMUNE_OFFICIAL, wards),
        "analysts": accounts("load_tinh_", analysts, Role.PROVINCE_STAFF, [province]),
        "volunteers": volunteers,
        "ioc_tokens": [token(f"Load IOC {i:03d}") for i in range(ioc_clients)],
        "flood_token": token("Load flood"),
        "credentials": credentials,
        "communes": communes,
        "province": PROVINCE,
        "province_communes": list(
            current.filter(level=Level.COMMUNE, province=province).values_list("code", flat=True)
        ),
        "data_communes": list(DATA_WARDS),
        "former_districts": list(former.values_list("code", flat=True)),
        "hamlet_codes": list(
            Hamlet.objects.filter(commune__in=wards, households__isnull=False)
            .distinct()
            .values_list("code", flat=True)
        ),
        "team_codes": [[t.commune.code, t.code] for t in teams.select_related("commune")],
    }
    out.write_text(json.dumps(data), encoding="utf-8")


# --- Processes ----------------------------------------------------------------------------------


class Processes:
    """Every process the benchmark starts, each in its own session so its children stop too."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        output = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started[name] = process
        return process

    def stop_all(self) -> None:
        for process in self.started.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.started.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def run(command: list[str], env: dict[str, str], what: str) -> None:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{what} failed:\n{result.stdout}\n{result.stderr}")
    log(f"{what}: {time.perf_counter() - started:.0f} s")


def wait_http(url: str, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})  # noqa: S310
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{url} did not answer within {timeout:.0f} s")


def wait_port(port: int, timeout: float, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} stopped at start (exit {process.returncode}); see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{name} did not listen on {port} within {timeout:.0f} s")


def cpu_seconds(pids: dict[str, list[int]], database: str) -> dict[str, float]:
    """CPU seconds so far of each named process tree, and of PostgreSQL's backends serving
    ``database`` (their command line names it)."""
    import psutil

    totals: dict[str, float] = {}
    for name, roots in pids.items():
        total = 0.0
        for pid in roots:
            try:
                root = psutil.Process(pid)
                for process in [root, *root.children(recursive=True)]:
                    times = process.cpu_times()
                    total += times.user + times.system
            except psutil.Error:
                continue
        totals[name] = total
    backends = 0.0
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if f" {database} " in command and command.startswith("postgres:"):
            try:
                times = process.cpu_times()
                backends += times.user + times.system
            except psutil.Error:
                continue
    totals["postgres"] = backends
    return totals


# --- Report -------------------------------------------------------------------------------------


def server_times(web_log: Path) -> list[tuple[str, int, int, float, float]]:
    """Where the web's time went, from its request log (one JSON line per request, by route):
    route, status, count, median ms and total seconds, most time first."""
    import statistics

    spent: dict[tuple[str, int], list[float]] = {}
    for line in web_log.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("logger") == "cnsc.request" and entry.get("route") != "healthz":
            spent.setdefault((entry["route"], entry["status"]), []).append(entry["ms"])
    rows = [
        (route, status, len(ms), statistics.median(ms), sum(ms) / 1000)
        for (route, status), ms in spent.items()
    ]
    return sorted(rows, key=lambda r: -r[4])


def _row(label: str, figures: dict[str, Any] | None) -> str:
    if not figures:
        return f"| {label} | — | — | — | — | — | — |"
    return (
        f"| {label} | {figures['requests']} | {figures['rps']:.1f} | "
        f"{figures['median_ms']:.0f} | {figures['p95_ms']:.0f} | {figures['error_rate']:.1%} | "
        f"{figures['answered_429']} |"
    )


def report(
    result: dict[str, Any], args: argparse.Namespace, cpu: dict[str, float], web_log: Path
) -> None:
    phases, broke = result["phases"], result["broke"]
    calm_p95 = next((p["pooled"]["p95_ms"] for p in phases if p["name"] == "calm"), 0.0)
    print(
        "\nPhases (users: simulated people; rps: requests answered per second, every group; "
        "median and p95 of the judged groups together, p95 also as a multiple of the calm "
        "phase's):"
    )
    print(
        "| phase | users | s | rps | median ms | p95 ms | p95 ÷ calm | load avg 1 min "
        "| machine CPU busy | load generator CPU |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for index, phase in enumerate(phases):
        rps = sum(g["rps"] for g in phase["groups"].values())
        pooled = phase["pooled"] or {"median_ms": 0.0, "p95_ms": 0.0}
        ratio = f"{pooled['p95_ms'] / calm_p95:.2f}" if calm_p95 else "—"
        verdict = ""
        if broke and broke["phase"] == index:
            verdict = " **broke**: " + ", ".join(f"{g} {w}" for g, w in broke["groups"].items())
        print(
            f"| {index} {phase['name']}{verdict} | {phase['users']} | {phase['seconds']:.0f} | "
            f"{rps:.1f} | {pooled['median_ms']:.0f} | {pooled['p95_ms']:.0f} | {ratio} | "
            f"{phase['load1']:.2f} | {phase['cpu_busy']:.0%} | {phase['locust_cpu']:.0%} |"
        )
    judged = [
        i
        for i, p in enumerate(phases)
        if p["name"] in ("calm", "step") and (not broke or i < broke["phase"])
    ]
    held_index = judged[-1] if judged else -1
    print()
    if held_index >= 0:
        held = phases[held_index]
        print(
            f"Held: phase {held_index} ({held['users']} users), every group with 20 answers "
            f"or more within p95 ≤ {args.p95_ms:.0f} ms and errors ≤ {args.max_errors:.0%}:"
        )
        print("| group | requests | requests/s | median ms | p95 ms | errors | 429 |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for key, label in GROUPS[:7]:
            print(_row(label, held["groups"].get(key)))
        total = sum(held["groups"].get(k, {}).get("rps", 0.0) for k, _l in GROUPS[:7])
        print(f"| all | | {total:.1f} | | | | |")
    else:
        print("Nothing held: the first phases already broke.")
    if broke:
        phase = phases[broke["phase"]]
        print(
            f"\nBroke at phase {broke['phase']} ({phase['users']} users); first: "
            f"{broke['first']} ({broke['groups'][broke['first']]}). That phase:"
        )
        print("| group | requests | requests/s | median ms | p95 ms | errors | 429 |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for key, label in GROUPS[:7]:
            print(_row(label, phase["groups"].get(key)))
    elif phases:
        print(f"\nDid not break within {args.duration} s (last phase {phases[-1]['users']} users).")
    if phases:
        last = phases[broke["phase"]] if broke else phases[-1]
        slowest = sorted(last["labels"].items(), key=lambda kv: -kv[1]["p95_ms"])[:10]
        print("\nSlowest requests of that phase:")
        print("| request | count | median ms | p95 ms | errors |")
        print("| --- | --- | --- | --- | --- |")
        for label, figures in slowest:
            print(
                f"| {label} | {figures['requests']} | {figures['median_ms']:.0f} | "
                f"{figures['p95_ms']:.0f} | {figures['errors']} |"
            )

    named = {p["name"]: p for p in phases}
    if "calm" in named and "abuse" in named:
        calm, abuse = named["calm"]["groups"], named["abuse"]["groups"]
        limited = (result.get("limited") or {}).get("groups", {})
        limited_s = (result.get("limited") or {}).get("seconds", 0.0)
        print(
            f"\nRate limits: the calm phase ({named['calm']['users']} users) against the same "
            f"users with the abusive clients; 'limited' is that phase's last {limited_s:.0f} s, "
            "once both were past their allowance:"
        )
        print(
            "| group | calm median / p95 ms | abuse median / p95 ms | limited median / p95 ms "
            "| limited ÷ calm median | 429 in abuse | 429 in limited |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for key, label in GROUPS:
            a, b, c = calm.get(key), abuse.get(key), limited.get(key)
            if not (a or b):
                continue

            def pair(f: dict[str, Any] | None) -> str:
                return f"{f['median_ms']:.0f} / {f['p95_ms']:.0f}" if f else "—"

            answered = f"{b['answered_429']} of {b['requests']}" if b else "—"
            answered_limited = f"{c['answered_429']} of {c['requests']}" if c else "—"
            ratio = f"{c['median_ms'] / a['median_ms']:.2f}" if a and c and a["median_ms"] else "—"
            print(
                f"| {label} | {pair(a)} | {pair(b)} | {pair(c)} | {ratio} | {answered} | "
                f"{answered_limited} |"
            )

    cpu = {**cpu, "load generator": sum(p["locust_cpu"] * p["seconds"] for p in phases)}
    wall = sum(p["seconds"] for p in phases)
    print(f"\nCPU seconds over the {wall:.0f} s of load (2 cores shared with other work):")
    for name, seconds in cpu.items():
        print(f"  {name:<22} {seconds:8.1f}  ({seconds / max(wall, 1):.0%} of one core)")
    print("\nWhere the web's time went (its request log, every phase, time inside Django):")
    print("| route | status | requests | median ms | total s |")
    print("| --- | --- | --- | --- | --- |")
    for route, status, count, median, total in server_times(web_log)[:12]:
        print(f"| {route} | {status} | {count} | {median:.0f} | {total:.1f} |")
    print(f"\nBot API calls answered by the stand-in: {result['bot_api_calls']}")
    print(f"Accounts handed out: {result['accounts_used']}")


# --- Main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=180, help="seconds of load (bound)")
    parser.add_argument("--warmup", type=int, default=15, help="seconds before measuring")
    parser.add_argument("--compare", type=int, default=30, help="seconds calm, then abused")
    parser.add_argument("--step", type=int, default=20, help="seconds of each later step")
    parser.add_argument("--start-users", type=int, default=10)
    parser.add_argument("--step-users", type=int, default=10)
    parser.add_argument("--spawn-rate", type=float, default=2.0, help="users started a second")
    parser.add_argument("--p95-ms", type=float, default=2000.0)
    parser.add_argument("--max-errors", type=float, default=0.01, help="error share, 0.01 = 1%%")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--api-rate", default="60/m", help="API_RATE_LIMIT for the run")
    parser.add_argument("--flood-rate", type=float, default=15.0, help="API flood, requests/s")
    parser.add_argument("--scrape-rate", type=float, default=5.0, help="scraper, requests/s")
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--keep-db", metavar="NAME")
    parser.add_argument("--prepare", metavar="OUT", help=argparse.SUPPRESS)
    parser.add_argument("--pools", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.prepare:
        officials, analysts, ioc = (int(n) for n in args.pools.split(","))
        prepare(Path(args.prepare), officials=officials, analysts=analysts, ioc_clients=ioc)
        return
    if args.duration < args.warmup + 2 * args.compare:
        sys.exit("--duration must leave room for the two comparison phases")

    server = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    name = args.keep_db or f"cnsc_load_{os.getpid()}"
    url = database_url(server, name)
    exists = admin_sql(server, "SELECT 1 FROM pg_database WHERE datname = %s", [name])
    if exists and not args.keep_db:
        sys.exit(f"database {name} exists already")

    import redis

    counters = redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db)
    if counters.dbsize():
        sys.exit(f"Redis database {args.redis_db} is not empty: choose another with --redis-db")

    base_var = os.environ.get("CNSC_VAR_DIR")
    folder = Path(tempfile.mkdtemp(prefix="cnsc-load-", dir=base_var or None))
    processes = Processes(folder)
    log(f"database {name}, logs and static files in {folder}")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CNSC_", "DATABASE_URL"))}
    common = {
        **keep,
        "DATABASE_URL": url,
        "CNSC_VAR_DIR": str(folder),
        "CCCD_HASH_KEY": CCCD_KEY,
        "DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    }
    development = {**common, "CNSC_ENV": "development"}
    manage = [sys.executable, "manage.py"]
    finished = False
    try:
        if not exists:
            admin_sql(server, f'CREATE DATABASE "{name}"')
            run([*manage, "migrate", "--noinput", "-v", "0"], development, "migrate")
            run([*manage, "load_units"], development, "load_units")
            run([*manage, "seed_demo"], development, "seed_demo")
            run([*manage, "refresh_indicators"], development, "refresh_indicators")
        most = args.start_users + args.step_users * max(
            0, (args.duration - args.warmup - 2 * args.compare) // args.step
        )
        pools = f"{most * 3 // 10 + 5},{most // 10 + 5},{most // 10 + 5}"
        prepared = folder / "prepared.json"
        run(
            [sys.executable, __file__, "--prepare", str(prepared), "--pools", pools],
            {**development, "DJANGO_SETTINGS_MODULE": "config.settings"},
            "accounts, Telegram links, badges, API clients",
        )

        web_port, webhook_port, bot_api_port = free_port(), free_port(), free_port()
        production = {
            **common,
            "CNSC_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1",
            "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            "RATELIMIT_IP_META_KEY": "HTTP_X_REAL_IP",
            "API_RATE_LIMIT": args.api_rate,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "TELEGRAM_WEBHOOK_URL": "https://127.0.0.1/telegram",
            "TELEGRAM_WEBHOOK_LISTEN": "127.0.0.1",
            "TELEGRAM_WEBHOOK_PORT": str(webhook_port),
            "TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{bot_api_port}",
        }
        run([*manage, "collectstatic", "--noinput", "-v", "0"], production, "collectstatic")

        config = {
            **json.loads(prepared.read_text(encoding="utf-8")),
            "web": f"http://127.0.0.1:{web_port}",
            "webhook": f"http://127.0.0.1:{webhook_port}/telegram",
            "webhook_port": webhook_port,
            "secret": WEBHOOK_SECRET,
            "token": BOT_TOKEN,
            "bot_api_port": bot_api_port,
            "go_file": str(folder / "go"),
            "plan": {
                "duration": args.duration,
                "warmup": args.warmup,
                "compare": args.compare,
                "step": args.step,
                "start": args.start_users,
                "increment": args.step_users,
                "spawn_rate": args.spawn_rate,
                "p95_ms": args.p95_ms,
                "max_error_rate": args.max_errors,
                "flood_rate": args.flood_rate,
                "scrape_rate": args.scrape_rate,
            },
        }
        config_path, result_path = folder / "config.json", folder / "result.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")

        users = processes.start(
            "load",
            [
                sys.executable,
                str(ROOT / "bench" / "load_users.py"),
                str(config_path),
                str(result_path),
            ],
            {**keep, "PYTHONUNBUFFERED": "1"},
        )
        wait_port(bot_api_port, 60, users, "the load process")
        web = processes.start(
            "web",
            [
                str(BIN / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{web_port}",
                "--workers",
                str(args.workers),
                "--forwarded-allow-ips",
                "127.0.0.1",
            ],
            production,
        )
        bot = processes.start("bot", [*manage, "runbot", "--webhook"], production)
        wait_http(f"http://127.0.0.1:{web_port}/healthz", 120)
        wait_port(webhook_port, 120, bot, "the bot")
        log(
            f"web on :{web_port} ({args.workers} workers), bot webhook on :{webhook_port}, "
            f"Bot API stand-in on :{bot_api_port}; load average {os.getloadavg()[0]:.2f}"
        )
        trees = {"web (gunicorn)": [web.pid], "bot": [bot.pid]}
        before = cpu_seconds(trees, name)
        (folder / "go").touch()
        log(f"load running for at most {args.duration} s…")
        try:
            users.wait(timeout=args.duration + 300)
        except subprocess.TimeoutExpired:
            sys.exit("the load process did not finish in time; see load.log")
        after = cpu_seconds(trees, name)
        if users.returncode != 0 or not result_path.exists():
            sys.exit(f"the load process failed (exit {users.returncode}); see {folder}/load.log")
        log(f"done; load average {os.getloadavg()[0]:.2f}")
        report(
            json.loads(result_path.read_text(encoding="utf-8")),
            args,
            {k: after[k] - before.get(k, 0.0) for k in after},
            folder / "web.log",
        )
        finished = True
    finally:
        processes.stop_all()
        for key in counters.scan_iter("cnsc:*"):
            counters.delete(key)
        if not args.keep_db:
            admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if finished and not args.keep_db:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            log(f"logs of the web, the bot and the load in {folder}")


if __name__ == "__main__":
    main()
