"""Benchmark: dashboards, API and indicator computation on Bình Dương-size data, each beside the
same figure computed straight from the raw tables.

Usage (PostgreSQL only; the URL names the server and the database to use, created if missing):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cnsc_dash_bench .venv/bin/python \\
        bench/dashboard.py [--rebuild] [--requests 100] [--json out.json]

What it does:
1. unless the database already holds the data (or with --rebuild): migrates, loads the
   administrative units, runs seed_demo (Bình Dương's 610 hamlets, 586 teams, 3,329 members
   under Hồ Chí Minh City's wards), then generates inside PostgreSQL (INSERT … SELECT over
   generate_series, seeded): 900,000 households, 2.7 million residents, 3 million visits from
   January 2023 to now (more each month), service changes as the province reports them
   (1.2 million level-2 VNeID, 82% of adults with a payment account, 18,369 signatures, 70%
   of welfare beneficiaries paid through an account) with their current states, 1,500
   training sessions with 30,000 residents trained, and the city's targets for the shares;
2. times the full recompute (``recompute_indicators``), an incremental refresh after one visit
   recorded through the visit service, and a refresh with nothing new;
3. times, over many requests through Django's test client (server time: middleware, views,
   templates, no network), the province page of Hồ Chí Minh City, the page of Phường Thủ Dầu
   Một, and an API call for one indicator of that ward over 24 months;
4. beside each, computes the same figures straight from the raw tables with plain SQL
   (GROUP BY, current states) and times that too;
5. prints a table of median and 95th percentile milliseconds (and --json writes them).

The database is kept for the next run (and for screenshots); --rebuild generates it again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOUSEHOLDS = 900_000
VISITS = 3_000_000
SESSIONS = 1_500
TRAINEES = 30_000
SIGNATURES = 18_369


def ensure_database(url: str) -> bool:
    """Create the database if missing; True when it was created."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return not exists


def timed(label: str, fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = fn()
    print(f"  {label}: {time.perf_counter() - started:.1f}s", flush=True)
    return result


# --- Data -----------------------------------------------------------------------------------

GENERATE = [
    (
        "hamlet weights",
        """
        SELECT setseed(0.20231129);
        DROP TABLE IF EXISTS bench_hamlet;
        CREATE TABLE bench_hamlet AS
        SELECT h.id AS hamlet_id, h.commune_id,
               (SELECT t.id FROM team_team t WHERE t.hamlet_id = h.id ORDER BY t.id LIMIT 1)
                   AS team_id,
               0.4 + random() * 1.2 AS weight
        FROM geo_hamlet h
        JOIN geo_adminunit f ON f.id = h.former_commune_id
        JOIN geo_adminunit p ON p.id = f.province_id AND p.code = '74';
        ALTER TABLE bench_hamlet ADD COLUMN households integer;
        UPDATE bench_hamlet SET households = round(
            weight * %(households)s / (SELECT sum(weight) FROM bench_hamlet))::integer;
        """,
    ),
    (
        "households",
        """
        SELECT setseed(0.1);
        INSERT INTO outreach_household (code, commune_id, hamlet_id, house_number, street,
            address_key, phone, team_id, search_name, created_at, updated_at)
        SELECT 'B' || lpad((row_number() OVER ())::text, 7, '0'), h.commune_id, h.hamlet_id,
               g::text, 'Đường số ' || (1 + g %% 40), g || ' duong so ' || (1 + g %% 40), '',
               h.team_id, g || ' duong so ' || (1 + g %% 40), c.at, c.at
        FROM bench_hamlet h
        CROSS JOIN LATERAL generate_series(1, h.households) g
        CROSS JOIN LATERAL (SELECT CASE WHEN random() < 0.55
            THEN timestamptz '2023-01-02 01:00+07' + random() * interval '90 days'
            ELSE timestamptz '2023-04-01 01:00+07'
                 + random() * (now() - interval '2 days' - timestamptz '2023-04-01 01:00+07')
            END + (g * 0) * interval '1 s' AS at) c;
        """,
    ),
    (
        "residents",
        """
        SELECT setseed(0.2);
        INSERT INTO outreach_resident (code, household_id, full_name, search_name, sex,
            birth_year, relation_to_head, phone, cccd_hash, cccd_last4, cccd_key_id,
            welfare_beneficiary, created_at, updated_at)
        SELECT 'R' || lpad((row_number() OVER ())::text, 9, '0'), h.id,
               'Cư dân ' || h.id || '-' || k, 'cu dan ' || h.id || '-' || k,
               CASE WHEN random() < 0.5 THEN 'male' ELSE 'female' END,
               2025 - floor(power(random(), 1.15) * 86)::int,
               CASE WHEN k = 1 THEN 'head' ELSE 'child' END, '', '', '', '',
               random() < 0.0114, h.created_at, h.created_at
        FROM outreach_household h
        CROSS JOIN LATERAL generate_series(1, 1 + floor(random() * 5)::int + (h.id * 0)) k;
        """,
    ),
    (
        "visits",
        """
        SELECT setseed(0.3);
        DROP TABLE IF EXISTS bench_hh;
        CREATE TABLE bench_hh AS
        SELECT row_number() OVER (ORDER BY id) AS rn, id, team_id, commune_id, created_at
        FROM outreach_household WHERE team_id IS NOT NULL;
        CREATE UNIQUE INDEX ON bench_hh (rn);
        DROP TABLE IF EXISTS bench_member;
        CREATE TABLE bench_member AS
        SELECT team_id, row_number() OVER (PARTITION BY team_id ORDER BY member_id) AS k,
               member_id, count(*) OVER (PARTITION BY team_id) AS size
        FROM team_membership WHERE left_on IS NULL;
        CREATE UNIQUE INDEX ON bench_member (team_id, k);
        INSERT INTO outreach_visit (code, idempotency_key, member_id, household_id, team_id,
            commune_id, happened_at, recorded_at, notes, source)
        SELECT 'V' || lpad(x.g::text, 9, '0'), 'bench:' || x.g, m.member_id, h.id, h.team_id,
               h.commune_id, t.at, t.at + interval '3 minutes', '', 'bot'
        FROM (
            SELECT g, 1 + floor(random() * (SELECT count(*) FROM bench_hh))::bigint AS rn,
                   random() AS pick, random() AS moment
            FROM generate_series(1, %(visits)s) g
        ) x
        JOIN bench_hh h ON h.rn = x.rn
        -- After the household was listed, more often lately (teams grow busier).
        CROSS JOIN LATERAL (SELECT h.created_at + interval '1 hour'
            + sqrt(x.moment) * (now() - interval '2 hours' - h.created_at) AS at) t
        JOIN LATERAL (SELECT size FROM bench_member s WHERE s.team_id = h.team_id LIMIT 1) sz
             ON true
        JOIN bench_member m ON m.team_id = h.team_id AND m.k = 1 + floor(x.pick * sz.size);
        UPDATE outreach_household h SET last_visited_at = v.last
        FROM (SELECT household_id, max(happened_at) AS last FROM outreach_visit
              GROUP BY household_id) v
        WHERE v.household_id = h.id;
        """,
    ),
    (
        "service changes",
        """
        SELECT setseed(0.4);
        DROP TABLE IF EXISTS bench_first_visit;
        CREATE TABLE bench_first_visit AS
        SELECT DISTINCT ON (household_id) household_id, id AS visit_id, member_id, happened_at
        FROM outreach_visit ORDER BY household_id, happened_at;
        CREATE UNIQUE INDEX ON bench_first_visit (household_id);
        -- Each change either at the household's first visit, or from an official's list.
        DROP TABLE IF EXISTS bench_change;
        CREATE TABLE bench_change AS
        SELECT r.id AS resident_id, s.service, s.goal,
               CASE WHEN fv.visit_id IS NOT NULL AND random() < 0.6 THEN fv.visit_id END
                   AS visit_id,
               fv.member_id, fv.happened_at AS visit_at, r.created_at
        FROM outreach_resident r
        JOIN outreach_household h ON h.id = r.household_id
        LEFT JOIN bench_first_visit fv ON fv.household_id = h.id
        CROSS JOIN LATERAL (VALUES
            ('vneid', 'level2', r.birth_year <= 2011 AND random() < 0.56),
            ('payment', 'opened', r.birth_year <= 2010 AND random() < 0.82),
            ('welfare_account', 'paid_via_account', r.welfare_beneficiary AND random() < 0.70)
        ) s(service, goal, chosen)
        WHERE s.chosen;
        INSERT INTO bench_change
        SELECT r.id, 'signature', 'issued', NULL, NULL, NULL, r.created_at
        FROM outreach_resident r WHERE r.birth_year <= 2006
        ORDER BY random() LIMIT %(signatures)s;
        INSERT INTO outreach_serviceevent (resident_id, service, from_state, to_state, backward,
            happened_at, recorded_at, source, visit_id, member_id, details)
        SELECT resident_id, service, 'none', goal, false, at, at + interval '5 minutes',
               CASE WHEN visit_id IS NULL THEN 'official' ELSE 'visit' END, visit_id,
               CASE WHEN visit_id IS NULL THEN NULL ELSE member_id END, '{}'
        FROM (SELECT *, CASE WHEN visit_id IS NOT NULL THEN visit_at
                     ELSE created_at + random() * (now() - interval '1 day' - created_at)
                     END AS at
              FROM bench_change) c;
        -- A few level-2 accounts entered by mistake, taken back a month later.
        INSERT INTO outreach_serviceevent (resident_id, service, from_state, to_state, backward,
            happened_at, recorded_at, source, details)
        SELECT resident_id, 'vneid', 'level2', 'level1', true,
               happened_at + interval '30 days', happened_at + interval '30 days', 'official', '{}'
        FROM outreach_serviceevent
        WHERE service = 'vneid' AND random() < 0.005 AND happened_at < now() - interval '31 days';
        INSERT INTO outreach_servicestate (resident_id, service, state, details, changed_at,
            last_result)
        SELECT DISTINCT ON (resident_id, service) resident_id, service, to_state, '{}',
               happened_at, ''
        FROM outreach_serviceevent ORDER BY resident_id, service, happened_at DESC;
        """,
    ),
    (
        "training",
        """
        SELECT setseed(0.5);
        INSERT INTO training_course (code, unit_id, title, search_name, hours, pass_rule,
            created_at)
        SELECT 'BENCHCOURSE', id, 'Kỹ năng số cơ bản', 'ky nang so co ban', 2, 'attendance', now()
        FROM geo_adminunit WHERE hierarchy = 'current' AND level = 'province' AND code = '79';
        INSERT INTO training_trainingsession (code, course_id, commune_id, hamlet_id, place,
            starts_at, ends_at, capacity, created_at)
        SELECT 'S' || lpad(g::text, 9, '0'), (SELECT id FROM training_course
                                             WHERE code = 'BENCHCOURSE'),
               h.commune_id, h.hamlet_id, 'Nhà văn hóa', x.at, x.at + interval '2 hours', 60, now()
        FROM generate_series(1, %(sessions)s) g
        CROSS JOIN LATERAL (SELECT timestamptz '2025-03-01 08:00+07'
                            + random() * (now() - interval '3 days'
                                          - timestamptz '2025-03-01 08:00+07') AS at,
                            1 + floor(random() * (SELECT count(*) FROM bench_hamlet
                                                  WHERE team_id IS NOT NULL))::int + g * 0 AS n
                           ) x
        JOIN (SELECT row_number() OVER (ORDER BY hamlet_id) AS n, * FROM bench_hamlet
              WHERE team_id IS NOT NULL) h ON h.n = x.n;
        INSERT INTO training_trainingsession_trainers (trainingsession_id, member_id)
        SELECT s.id, m.member_id
        FROM training_trainingsession s
        JOIN team_team t ON t.hamlet_id = s.hamlet_id
        JOIN bench_member m ON m.team_id = t.id AND m.k = 1;
        INSERT INTO training_residentattendee (commune_id, full_name, search_name, birth_year,
            phone, consent_purpose, consent_given_at, created_at)
        SELECT s.commune_id, 'Học viên ' || g, 'hoc vien ' || g, 1950 + g %% 55, '',
               'Cấp giấy chứng nhận', s.starts_at, s.starts_at
        FROM generate_series(1, %(trainees)s) g
        JOIN training_trainingsession s
          ON s.code = 'S' || lpad((1 + g %% %(sessions)s)::text, 9, '0');
        INSERT INTO training_attendance (session_id, resident_id, attended, marked_at, method,
            passed, created_at)
        SELECT s.id, a.id, true, s.starts_at + interval '1 hour', 'back_office', random() < 0.85,
               s.starts_at
        FROM training_residentattendee a
        JOIN training_trainingsession s
          ON s.code = 'S'
             || lpad((1 + substr(a.search_name, 10)::int %% %(sessions)s)::text, 9, '0');
        """,
    ),
    ("analyse", "ANALYZE;"),
]


def build() -> None:
    from django.core.management import call_command
    from django.db import connection

    print("building the data set", flush=True)
    timed("migrate", lambda: call_command("migrate", verbosity=0))
    timed("load_units", lambda: call_command("load_units", verbosity=0))
    timed("seed_demo", lambda: call_command("seed_demo", verbosity=0))
    params = {
        "households": HOUSEHOLDS,
        "visits": VISITS,
        "signatures": SIGNATURES,
        "sessions": SESSIONS,
        "trainees": TRAINEES,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE outreach_servicestate, outreach_serviceevent, outreach_visitoutcome, "
            "outreach_visit, outreach_resident, outreach_household, training_attendance, "
            "training_residentattendee, training_trainingsession_trainers, "
            "training_trainingsession, training_course, dashboard_indicatorvalue, "
            "dashboard_refreshstate CASCADE"
        )
        for label, sql in GENERATE:
            # One statement per execute: psycopg binds parameters statement by statement.
            statements = [part.strip() for part in sql.split(";\n") if part.strip()]

            def execute(statements: list[str] = statements) -> None:
                for statement in statements:
                    cursor.execute(statement.rstrip(";"), params)

            timed(label, execute)
    targets()
    counts = {}
    with connection.cursor() as cursor:
        for table in ("household", "resident", "visit", "serviceevent", "servicestate"):
            cursor.execute(f"SELECT count(*) FROM outreach_{table}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    print("  rows:", ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)


# The city's plan for the shares (percent), so the pages colour communes by distance from it.
TARGETS = {
    "households_visited": 95,
    "vneid_level2": 70,
    "payment_account": 85,
    "welfare_account": 80,
    "active_members": 90,
}


def targets() -> None:
    from django.utils import timezone

    from cnsc.dashboard.models import IndicatorTarget
    from cnsc.geo.models import AdminUnit

    city = AdminUnit.objects.get(hierarchy="current", level="province", code="79")
    for year in (timezone.localdate().year - 1, timezone.localdate().year):
        for code, value in TARGETS.items():
            IndicatorTarget.objects.get_or_create(
                indicator=code, unit=city, year=year, defaults={"value": value}
            )


def built() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('outreach_visit') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT count(*) > 1000000 FROM outreach_visit")
        return bool(cursor.fetchone()[0])


# --- Figures straight from the raw tables -------------------------------------------------------

RAW_UNIT_FIGURES = """
WITH hh AS (
    SELECT {group} AS unit, count(*) AS households,
           count(*) FILTER (WHERE h.last_visited_at IS NOT NULL) AS visited
    FROM outreach_household h {where_h} GROUP BY 1
), people AS (
    SELECT {group} AS unit,
           count(*) FILTER (WHERE r.birth_year <= %(year)s - 14) AS age14,
           count(*) FILTER (WHERE r.birth_year <= %(year)s - 14 AND v.state = 'level2') AS l2,
           count(*) FILTER (WHERE r.birth_year <= %(year)s - 15) AS age15,
           count(*) FILTER (WHERE r.birth_year <= %(year)s - 15 AND p.state = 'opened') AS paid,
           count(*) FILTER (WHERE r.welfare_beneficiary) AS welfare,
           count(*) FILTER (WHERE r.welfare_beneficiary AND w.state = 'paid_via_account')
               AS welfare_paid
    FROM outreach_resident r
    JOIN outreach_household h ON h.id = r.household_id
    LEFT JOIN outreach_servicestate v ON v.resident_id = r.id AND v.service = 'vneid'
    LEFT JOIN outreach_servicestate p ON p.resident_id = r.id AND p.service = 'payment'
    LEFT JOIN outreach_servicestate w ON w.resident_id = r.id AND w.service = 'welfare_account'
    {where_h} GROUP BY 1
), visits AS (
    SELECT {group_v} AS unit, count(*) AS visits, count(DISTINCT v.member_id) AS active
    FROM outreach_visit v JOIN outreach_household h ON h.id = v.household_id
    WHERE v.happened_at >= %(start)s AND v.happened_at < %(end)s {and_h} GROUP BY 1
), signatures AS (
    SELECT {group} AS unit, count(*) AS issued
    FROM outreach_serviceevent e JOIN outreach_resident r ON r.id = e.resident_id
    JOIN outreach_household h ON h.id = r.household_id
    WHERE e.service = 'signature' AND e.to_state = 'issued' AND e.from_state <> 'issued'
      AND e.happened_at >= %(start)s AND e.happened_at < %(end)s {and_h} GROUP BY 1
), roster AS (
    SELECT {group_t} AS unit, count(DISTINCT t.id) AS teams, count(m.id) AS members
    FROM team_team t LEFT JOIN team_membership m ON m.team_id = t.id AND m.left_on IS NULL
    WHERE t.status = 'active' {and_t} GROUP BY 1
)
SELECT * FROM hh
LEFT JOIN people USING (unit) LEFT JOIN visits USING (unit)
LEFT JOIN signatures USING (unit) LEFT JOIN roster USING (unit)
"""


def raw_province_page(province_id: int, start: Any, end: Any, year: int) -> int:
    """The province's figures and each commune's, this month, from the raw tables."""
    from django.db import connection

    communes = "(SELECT id FROM geo_adminunit WHERE province_id = %(unit)s)"
    sql = RAW_UNIT_FIGURES.format(
        group="h.commune_id",
        group_v="h.commune_id",
        group_t="t.commune_id",
        where_h=f"WHERE h.commune_id IN {communes}",
        and_h=f"AND h.commune_id IN {communes}",
        and_t=f"AND t.commune_id IN {communes}",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": start, "end": end, "year": year, "unit": province_id})
        return len(cursor.fetchall())


def raw_commune_page(commune_id: int, start: Any, end: Any, year: int) -> int:
    """A commune's figures for each hamlet and each team, this month, from the raw tables."""
    from django.db import connection

    rows = 0
    for group, group_t in (("h.hamlet_id", "t.hamlet_id"), ("h.team_id", "t.id")):
        sql = RAW_UNIT_FIGURES.format(
            group=group,
            group_v=group.replace("h.team_id", "v.team_id"),
            group_t=group_t,
            where_h="WHERE h.commune_id = %(unit)s",
            and_h="AND h.commune_id = %(unit)s",
            and_t="AND t.commune_id = %(unit)s",
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, {"start": start, "end": end, "year": year, "unit": commune_id})
            rows += len(cursor.fetchall())
    return rows


RAW_VNEID_MONTHS = """
WITH months AS (
    SELECT (date_trunc('month', m) + interval '1 month' - interval '1 day')::date AS last_day
    FROM generate_series(%(first)s::date, %(last)s::date, interval '1 month') m
), people AS (
    SELECT r.id, greatest((r.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date,
                          make_date(r.birth_year + 14, 1, 1)) AS counted_from
    FROM outreach_resident r JOIN outreach_household h ON h.id = r.household_id
    WHERE h.commune_id = %(commune)s AND r.birth_year IS NOT NULL
), states AS (
    SELECT e.resident_id, (e.happened_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS day,
           e.to_state,
           lead((e.happened_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date) OVER (
               PARTITION BY e.resident_id ORDER BY e.happened_at) AS until
    FROM outreach_serviceevent e JOIN people p ON p.id = e.resident_id
    WHERE e.service = 'vneid'
)
SELECT m.last_day,
       (SELECT count(*) FROM people p WHERE p.counted_from <= m.last_day),
       (SELECT count(*) FROM states s JOIN people p ON p.id = s.resident_id
        WHERE s.to_state = 'level2' AND s.day <= m.last_day AND p.counted_from <= m.last_day
          AND (s.until IS NULL OR s.until > m.last_day))
FROM months m ORDER BY 1
"""


def raw_api(commune_id: int, first: Any, last: Any) -> int:
    """Level-2 VNeID of one commune at the end of each of 24 months, from the raw tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(RAW_VNEID_MONTHS, {"commune": commune_id, "first": first, "last": last})
        return len(cursor.fetchall())


# --- Measuring ----------------------------------------------------------------------------------


def measure(fn: Callable[[], Any], n: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "n": n,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
    }


def run(requests: int) -> dict[str, Any]:
    import datetime as dt

    from django.db import transaction
    from django.test import Client
    from django.utils import timezone

    from cnsc.access.models import User
    from cnsc.dashboard import compute
    from cnsc.dashboard.periods import PeriodType, horizon, period_containing
    from cnsc.dashboard.services import (
        api_client_create,
        changes_since,
        indicators_recompute,
        indicators_refresh,
    )
    from cnsc.dashboard.units import resolve
    from cnsc.outreach.catalogue import Result, Service
    from cnsc.outreach.models import Household, Resident, VisitSource
    from cnsc.outreach.services import OutcomeIn, visit_record
    from cnsc.team.models import Membership

    results: dict[str, Any] = {}
    print("recompute and refresh", flush=True)
    started = time.perf_counter()
    outcome = indicators_recompute()
    results["recompute_full_s"] = round(time.perf_counter() - started, 1)
    results["figures"] = outcome.values
    print(f"  full recompute: {results['recompute_full_s']}s, {outcome.values:,} figures")

    household = Household.objects.filter(commune__code="25747", team__isnull=False).first()
    assert household is not None
    member = Membership.objects.filter(team=household.team, left_on__isnull=True).first().member
    resident = Resident.objects.filter(household=household).first()
    visit_record(
        member=member,
        household=household,
        happened_at=timezone.now() - dt.timedelta(minutes=1),
        outcomes=[OutcomeIn(resident=resident, service=Service.PAYMENT, result=Result.DONE)],
        idempotency_key=f"bench:{time.time()}",
        source=VisitSource.BOT,
    )
    started = time.perf_counter()
    refreshed = indicators_refresh()
    results["refresh_after_visit_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    idle = indicators_refresh()
    results["refresh_idle_s"] = round(time.perf_counter() - started, 2)
    print(f"  refresh after one visit: {results['refresh_after_visit_s']}s ({refreshed})")
    print(f"  refresh with nothing new: {results['refresh_idle_s']}s ({idle})")
    # A busy minute touches every commune (and each new day does): the current periods of all
    # of them, stocks from yesterday's figures. Rolled back, so the data stays as it was.
    today = timezone.localdate()
    current = [p for p in horizon(today).periods() if p.end >= today]
    started = time.perf_counter()
    with transaction.atomic():
        compute.run(
            compute.Plan(
                periods=current,
                today=today,
                computed_at=timezone.now(),
                communes=None,
                base=today - dt.timedelta(days=1),
            )
        )
        transaction.set_rollback(True)
    results["refresh_every_commune_s"] = round(time.perf_counter() - started, 1)
    print(f"  refresh touching every commune: {results['refresh_every_commune_s']}s")
    started = time.perf_counter()
    changes_since(timezone.now() - dt.timedelta(minutes=1), today=today)
    results["change_detection_s"] = round(time.perf_counter() - started, 2)
    print(f"  finding what changed: {results['change_detection_s']}s")

    staff = User.objects.get(username="tinh")
    web = Client()
    web.force_login(staff)
    province, commune = resolve("79"), resolve("25747")
    assert province is not None
    assert commune is not None
    _client, token = api_client_create(name=f"bench {time.time()}", unit_ids=[province.id])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    month = period_containing(PeriodType.MONTH, timezone.localdate())
    first_month = month
    for _ in range(23):
        first_month = first_month.previous()
    start = dt.datetime.combine(month.start, dt.time.min, tzinfo=timezone.get_current_timezone())
    end = dt.datetime.combine(month.end + dt.timedelta(days=1), dt.time.min, tzinfo=start.tzinfo)
    api_url = (
        f"/api/v1/values?unit=25747&indicator=vneid_level2&start={first_month.code}"
        f"&end={month.code}"
    )
    body = api.get(api_url).json()
    assert body["count"] == 24, body

    def page(url: str) -> Callable[[], None]:
        def get() -> None:
            response = web.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return get

    def call() -> None:
        assert api.get(api_url).status_code == 200

    print(f"requests ({requests} each, raw baselines fewer)", flush=True)
    raw_n = max(5, requests // 20)
    results["province_page"] = measure(page("/dashboard/p/79/"), requests)
    results["province_page_raw"] = measure(
        lambda: raw_province_page(province.id, start, end, month.end.year), raw_n, warmup=1
    )
    results["commune_page"] = measure(page("/dashboard/c/25747/"), requests)
    results["commune_page_raw"] = measure(
        lambda: raw_commune_page(commune.id, start, end, month.end.year), raw_n, warmup=1
    )
    results["api_24_months"] = measure(call, requests * 2)
    results["api_24_months_raw"] = measure(
        lambda: raw_api(commune.id, first_month.start, month.start), raw_n, warmup=1
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit("DATABASE_URL must point at PostgreSQL.")
    ensure_database(url)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    if args.rebuild or not built():
        build()
    targets()
    results = run(args.requests)
    print()
    print(f"{'what':<26}{'median ms':>12}{'p95 ms':>10}   raw tables: median / p95 ms")
    for key, label in (
        ("province_page", "province page (79)"),
        ("commune_page", "commune page (25747)"),
        ("api_24_months", "API, 1 indicator, 24 mo"),
    ):
        mine, raw = results[key], results[f"{key}_raw"]
        print(
            f"{label:<26}{mine['median_ms']:>12}{mine['p95_ms']:>10}   "
            f"{raw['median_ms']} / {raw['p95_ms']}  ({raw['median_ms'] / mine['median_ms']:.0f}×)"
        )
    print(
        f"full recompute: {results['recompute_full_s']}s for {results['figures']:,} figures; "
        f"refresh after a visit {results['refresh_after_visit_s']}s, "
        f"touching every commune {results['refresh_every_commune_s']}s, "
        f"idle {results['refresh_idle_s']}s (finding what changed "
        f"{results['change_detection_s']}s)"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
