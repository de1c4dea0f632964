# ruff: noqa: S608 - the SQL is assembled from table names and column expressions defined in
# this module; every value travels as a query parameter.
"""Computing the figures: set-wise SQL over the raw tables, no loop over units or rows in Python.

The pipeline (one transaction, temporary tables named ``dash_*``):

1. **Cells.** Every figure is first counted per *cell*: a (commune, hamlet, team) combination,
   where hamlet and team are 0 when there is none (a household no team covers, an
   organisation's team). Cells partition everything, so every unit's figure is a sum of cells.
   - *Flows* (visits, signatures, residents trained, active members) are counted per period by
     joining each row's local day to a calendar of the periods wanted.
   - *Stocks* of the big tables (households, residents, service states) are sums of changes:
     each row contributes +1 on the day it starts to count and -1 on the day it stops (a
     level-2 VNeID entered, or taken back). The changes are summed per cell and bucketed into
     the "as at" days of the periods, then added up over time with a window function. A
     resident aged 13 whose account reached level 2 starts to count on 1 January of the year
     they turn 14, so the numerator always stays inside the denominator.
   - *Stocks* of the small tables (hamlets, teams, memberships) are compared with each "as at"
     day directly.
2. **Local units.** Communes, hamlets and teams are sums of their cells.
3. **Roll-ups.** Provinces are sums of their communes' stored figures, former communes,
   districts and provinces sums of their hamlets' (a hamlet's former commune is the one it
   records, or the only former commune its commune was made from). Organisation teams, which
   have no hamlet, are in the current units only.
4. The member and team targets of the roster (``team.Target``) become the denominators of the
   two "against target" indicators of the unit that has them.

A *plan* says which periods and which communes to compute: everything (``recompute_indicators``)
or what changed since the last run (``refresh_indicators``, see cnsc.dashboard.services). A
refresh also names a *base day* whose stored figures are right: stocks are then that day's
figure plus the changes after it, found by time (visits and changes since, households and
residents listed since), so a refresh reads what happened lately rather than all history.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

from cnsc.geo.models import AdminUnit, Hamlet, UnitMapping
from cnsc.outreach.catalogue import GOAL, Service
from cnsc.outreach.models import Household, Resident, ServiceEvent, Visit
from cnsc.team.models import Membership, Target, Team
from cnsc.training.models import Attendance, TrainingSession

from . import indicators as ind
from .indicators import CATALOGUE, Measure, UnitType
from .models import IndicatorValue
from .periods import Period

TABLES = {
    "iv": IndicatorValue._meta.db_table,
    "unit": AdminUnit._meta.db_table,
    "hamlet": Hamlet._meta.db_table,
    "mapping": UnitMapping._meta.db_table,
    "team": Team._meta.db_table,
    "membership": Membership._meta.db_table,
    "target": Target._meta.db_table,
    "household": Household._meta.db_table,
    "resident": Resident._meta.db_table,
    "event": ServiceEvent._meta.db_table,
    "visit": Visit._meta.db_table,
    "attendance": Attendance._meta.db_table,
    "session": TrainingSession._meta.db_table,
    "trainers": TrainingSession.trainers.through._meta.db_table,
}

# Stocks counted as sums of changes (the others are counted directly, or are flows).
DELTA_STOCKS = (
    ind.HOUSEHOLDS_VISITED,
    ind.VNEID_LEVEL2,
    ind.PAYMENT_ACCOUNT,
    ind.WELFARE_ACCOUNT,
)
COUNT_CODES = tuple(i.code for i in CATALOGUE if i.measure == Measure.COUNT)
ROSTER_TARGETS = {i.code: i.roster_target for i in CATALOGUE if i.roster_target}
ADMIN_TYPES = (
    UnitType.PROVINCE,
    UnitType.COMMUNE,
    UnitType.FORMER_PROVINCE,
    UnitType.FORMER_DISTRICT,
    UnitType.FORMER_COMMUNE,
)
WORK_MEM = "256MB"
_SAFE_TZ = re.compile(r"[A-Za-z_/+\-0-9]+")


@dataclass
class Plan:
    """What to compute: these periods, for these communes (None: all of them)."""

    periods: Sequence[Period]
    today: dt.date
    computed_at: dt.datetime
    communes: set[int] | None = None
    # Start from an empty table (the full recompute): figures of periods no longer kept go too.
    replace_all: bool = False
    # A day whose stored figures are right: stocks are then that day's figure plus the changes
    # after it, instead of every change since the beginning (what keeps a refresh short).
    base: dt.date | None = None

    @property
    def everywhere(self) -> bool:
        return self.communes is None


@dataclass
class Outcome:
    cells: int = 0
    values: int = 0
    periods: int = 0
    communes: int | None = None


def run(plan: Plan) -> Outcome:
    """Compute and store the figures the plan asks for. Call inside a transaction."""
    if not plan.periods:
        return Outcome()
    sql = _Sql(plan)
    try:
        return sql.run()
    finally:
        sql.drop()


class _Sql:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.pg = connection.vendor == "postgresql"
        tz = settings.TIME_ZONE
        if not _SAFE_TZ.fullmatch(tz):
            raise ValueError(f"unexpected TIME_ZONE {tz!r}")
        self.tz = tz
        self.cursor = connection.cursor()
        self.temp: list[str] = []

    # --- dialect ------------------------------------------------------------------------

    def local_date(self, column: str) -> str:
        """The day (in the project's time zone) of a timestamp column."""
        if self.pg:
            return f"(({column}) AT TIME ZONE '{self.tz}')::date"
        return f"django_datetime_cast_date({column}, '{self.tz}', 'UTC')"

    def jan1(self, year: str) -> str:
        if self.pg:
            return f"make_date(({year})::int, 1, 1)"
        return f"printf('%%04d-01-01', {year})"

    def greatest(self, *exprs: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({', '.join(exprs)})"

    def ts(self, value: dt.datetime) -> Any:
        return connection.ops.adapt_datetimefield_value(value)

    def d(self, value: dt.date) -> Any:
        return value if self.pg else value.isoformat()

    def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        self.cursor.execute(sql.format(**TABLES), list(params))
        return self.cursor.rowcount

    def create(self, name: str, columns: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {name}")
        self.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
        self.temp.append(name)

    def analyze(self, *names: str) -> None:
        # PostgreSQL's autovacuum never analyses temporary tables: without this the planner
        # guesses their sizes and picks nested loops over millions of rows.
        if self.pg:
            for name in names:
                self.execute(f"ANALYZE {name}")

    def drop(self) -> None:
        for name in reversed(self.temp):
            self.execute(f"DROP TABLE IF EXISTS {name}")
        self.temp.clear()
        self.cursor.close()

    # --- set-up -------------------------------------------------------------------------

    def run(self) -> Outcome:
        plan = self.plan
        self.date_type = "date" if self.pg else "text"
        if self.pg:
            # The big GROUP BYs and hash joins of a full recompute spill to disk with the default
            # 4 MB; this holds for this transaction only.
            self.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        self.periods = sorted(plan.periods)
        self.create(
            "dash_period",
            f"code varchar(8) PRIMARY KEY, type varchar(8), start_day {self.date_type}, "
            f"end_day {self.date_type}, asof {self.date_type}, year integer",
        )
        self.insert_rows(
            "dash_period",
            [
                (
                    p.code,
                    p.type,
                    self.d(p.start),
                    self.d(p.end),
                    self.d(p.as_of(plan.today)),
                    p.start.year,
                )
                for p in self.periods
            ],
        )
        outcome = Outcome(periods=len(self.periods))
        self.communes_table()
        self.calendar_tables()
        outcome.cells = self.cells()
        outcome.values += self.write_local()
        outcome.values += self.write_rollups()
        if plan.replace_all:
            # Millions of rows replaced: the pages' queries need fresh statistics now, not when
            # autovacuum gets round to it.
            self.analyze("{iv}")
        outcome.communes = None if plan.everywhere else len(plan.communes or ())
        return outcome

    def insert_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        marks = ", ".join(["%s"] * len(rows[0]))
        self.cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def communes_table(self) -> None:
        self.create("dash_commune", "id bigint PRIMARY KEY")
        self.create("dash_team", "id bigint PRIMARY KEY")
        if not self.plan.everywhere:
            self.insert_rows("dash_commune", [(c,) for c in sorted(self.plan.communes or ())])
            self.execute(
                "INSERT INTO dash_team SELECT id FROM {team} "
                "WHERE commune_id IN (SELECT id FROM dash_commune)"
            )
            self.analyze("dash_commune", "dash_team")
            # The households whose rows count for the planned communes or their teams. Queries
            # start from this small table and walk the indexes (household → residents →
            # service changes), instead of scanning millions of rows to keep a few thousand.
            self.create("dash_household", "id bigint PRIMARY KEY")
            self.execute(
                "INSERT INTO dash_household "
                "SELECT id FROM {household} WHERE commune_id IN (SELECT id FROM dash_commune) "
                "UNION SELECT id FROM {household} WHERE team_id IN (SELECT id FROM dash_team)"
            )
            self.analyze("dash_household")

    def calendar_tables(self) -> None:
        """dash_calendar: each day of each period (up to today) → the period's code.
        dash_asof: the "as at" days; dash_bucket: each day → the first "as at" day on or after
        it, for summing changes."""
        plan = self.plan
        self.create("dash_calendar", f"day {self.date_type}, code varchar(8)")
        rows: list[tuple[Any, ...]] = []
        for p in self.periods:
            day = p.start
            last = min(p.end, plan.today)
            while day <= last:
                rows.append((self.d(day), p.code))
                day += dt.timedelta(days=1)
        self.insert_rows("dash_calendar", rows)
        self.execute("CREATE INDEX dash_calendar_day ON dash_calendar (day)")

        asofs = sorted({p.as_of(plan.today) for p in self.periods})
        self.create("dash_asof", f"asof {self.date_type} PRIMARY KEY")
        self.insert_rows("dash_asof", [(self.d(a),) for a in asofs])
        self.first_day = min(settings.INDICATORS_SINCE, asofs[0])
        self.create("dash_bucket", f"day {self.date_type} PRIMARY KEY, asof {self.date_type}")
        buckets: list[tuple[Any, ...]] = []
        day, i = self.first_day, 0
        while day <= asofs[-1]:
            while asofs[i] < day:
                i += 1
            buckets.append((self.d(day), self.d(asofs[i])))
            day += dt.timedelta(days=1)
        self.insert_rows("dash_bucket", buckets)
        self.analyze("dash_period", "dash_calendar", "dash_asof", "dash_bucket")

    # --- restrictions -----------------------------------------------------------------------

    def only(self, commune: str = "", team: str = "") -> str:
        """A WHERE clause (starting with AND) keeping rows of the planned communes, or of their
        teams; empty when everything is computed."""
        if self.plan.everywhere:
            return ""
        parts = []
        if commune:
            parts.append(f"{commune} IN (SELECT id FROM dash_commune)")
        if team:
            parts.append(f"{team} IN (SELECT id FROM dash_team)")
        return " AND (" + " OR ".join(parts) + ")"

    def planned(self, household_id: str) -> str:
        """AND-clause keeping rows of the planned households (empty when all are planned)."""
        if self.plan.everywhere:
            return ""
        return f"AND {household_id} IN (SELECT id FROM dash_household)"

    def households(self) -> str:
        """The FROM of a query over households (alias h): all of them, or the planned ones."""
        if self.plan.everywhere:
            return "{household} h"
        return "dash_household dh JOIN {household} h ON h.id = dh.id"

    def residents(self) -> str:
        """Households (h) and their residents (r)."""
        return f"{self.households()} JOIN {{resident}} r ON r.household_id = h.id"

    def events(self) -> str:
        """Households (h), residents (r) and their service changes (e)."""
        return f"{self.residents()} JOIN {{event}} e ON e.resident_id = r.id"

    # --- cells ----------------------------------------------------------------------------

    def cells(self) -> int:
        self.create(
            "dash_cell",
            "indicator varchar(40), commune_id bigint, hamlet_id bigint, team_id bigint, "
            "period varchar(8), num bigint, den bigint",
        )
        self.create(
            "dash_delta",
            "indicator varchar(40), part char(1), commune_id bigint, hamlet_id bigint, "
            f"team_id bigint, day {self.date_type}, delta bigint",
        )
        zone = ZoneInfo(self.tz)
        start = dt.datetime.combine(self.periods[0].start, dt.time.min, tzinfo=zone)
        self.since_ts = self.ts(start)
        base = self.plan.base
        self.after_base = (
            self.ts(dt.datetime.combine(base + dt.timedelta(days=1), dt.time.min, tzinfo=zone))
            if base
            else None
        )
        self.roster_cells()
        self.visit_cells()
        self.event_flow_cells(ind.SIGNATURES_ISSUED, Service.SIGNATURE)
        self.training_cells()
        self.household_deltas()
        self.resident_deltas()
        self.stock_cells()
        self.analyze("dash_cell")
        self.execute("SELECT COUNT(*) FROM dash_cell")
        return int(self.cursor.fetchone()[0])

    def team_active(self, alias: str, asof: str) -> str:
        """Whether team ``alias`` was active on ``asof``. A team counts from its founding
        decision (or its creation); one that is now suspended or dissolved counted until the day
        of that status. Earlier suspensions are in the change history and are not replayed."""
        founded = f"COALESCE({alias}.decision_date, {self.local_date(f'{alias}.created_at')})"
        return (
            f"({founded} <= {asof} AND ({alias}.status = 'active' "
            f"OR {alias}.status_since > {asof}))"
        )

    def roster_cells(self) -> None:
        active = self.team_active("t", "p.asof")
        # A hamlet counts while it exists; it "has a team" when one of its teams is active.
        self.execute(
            f"""
            INSERT INTO dash_cell
            SELECT %s, h.commune_id, h.id, 0, p.code,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {{team}} t WHERE t.hamlet_id = h.id AND {active}
                   ) THEN 1 ELSE 0 END,
                   1
            FROM {{hamlet}} h
            JOIN dash_period p
              ON h.created_on <= p.asof AND (h.retired_on IS NULL OR h.retired_on > p.asof)
            WHERE 1 = 1 {self.only(commune="h.commune_id")}
            """,
            [ind.HAMLETS_WITH_TEAM],
        )
        self.execute(
            f"""
            INSERT INTO dash_cell
            SELECT %s, t.commune_id, COALESCE(t.hamlet_id, 0), t.id, p.code, 1, NULL
            FROM {{team}} t JOIN dash_period p ON {active}
            WHERE 1 = 1 {self.only(commune="t.commune_id")}
            """,
            [ind.TEAMS],
        )
        member_in_team = "m.joined_on <= p.asof AND (m.left_on IS NULL OR m.left_on > p.asof)"
        self.execute(
            f"""
            INSERT INTO dash_cell
            SELECT %s, t.commune_id, COALESCE(t.hamlet_id, 0), t.id, p.code, COUNT(*), NULL
            FROM {{membership}} m
            JOIN {{team}} t ON t.id = m.team_id
            JOIN dash_period p ON {member_in_team}
            WHERE 1 = 1 {self.only(commune="t.commune_id")}
            GROUP BY t.commune_id, t.hamlet_id, t.id, p.code
            """,
            [ind.MEMBERS],
        )
        # Members with at least one visit in the period, wherever they made it.
        self.create("dash_active", "member_id bigint, code varchar(8)")
        members_of_plan = (
            ""
            if self.plan.everywhere
            else " AND v.member_id IN (SELECT m.member_id FROM {membership} m "
            "WHERE m.team_id IN (SELECT id FROM dash_team))"
        )
        self.execute(
            f"""
            INSERT INTO dash_active
            SELECT DISTINCT x.member_id, c.code
            FROM (
                SELECT DISTINCT v.member_id, {self.local_date("v.happened_at")} AS c_day
                FROM {{visit}} v
                WHERE v.happened_at >= %s {members_of_plan}
            ) x
            JOIN dash_calendar c ON c.day = x.c_day
            """,
            [self.since_ts],
        )
        self.analyze("dash_active")
        self.execute(
            f"""
            INSERT INTO dash_cell
            SELECT %s, t.commune_id, COALESCE(t.hamlet_id, 0), t.id, p.code,
                   SUM(CASE WHEN a.member_id IS NULL THEN 0 ELSE 1 END), COUNT(*)
            FROM {{membership}} m
            JOIN {{team}} t ON t.id = m.team_id
            JOIN dash_period p ON {member_in_team}
            LEFT JOIN dash_active a ON a.member_id = m.member_id AND a.code = p.code
            WHERE 1 = 1 {self.only(commune="t.commune_id")}
            GROUP BY t.commune_id, t.hamlet_id, t.id, p.code
            """,
            [ind.ACTIVE_MEMBERS],
        )

    def visit_cells(self) -> None:
        # Planned communes: the visits to their households (an index walk per household)
        # rather than every visit of the period filtered.
        visits = (
            "{visit} v"
            if self.plan.everywhere
            else "dash_household dv JOIN {visit} v ON v.household_id = dv.id"
        )
        # The visit's commune and team are those at the time of the visit; the hamlet is the
        # household's when it lies in that commune.
        self.execute(
            f"""
            INSERT INTO dash_cell
            SELECT %s, x.c_commune, x.c_hamlet, x.c_team, c.code, SUM(x.n), NULL
            FROM (
                SELECT v.commune_id AS c_commune,
                       CASE WHEN h.commune_id = v.commune_id THEN h.hamlet_id ELSE 0 END
                           AS c_hamlet,
                       v.team_id AS c_team,
                       {self.local_date("v.happened_at")} AS c_day,
                       COUNT(*) AS n
                FROM {visits}
                JOIN {{household}} h ON h.id = v.household_id
                WHERE v.happened_at >= %s
                GROUP BY v.commune_id,
                         CASE WHEN h.commune_id = v.commune_id THEN h.hamlet_id ELSE 0 END,
                         v.team_id, {self.local_date("v.happened_at")}
            ) x
            JOIN dash_calendar c ON c.day = x.c_day
            GROUP BY x.c_commune, x.c_hamlet, x.c_team, c.code
            """,
            [ind.VISITS, self.since_ts],
        )

    def household_cell(self) -> str:
        return "h.commune_id, h.hamlet_id, COALESCE(h.team_id, 0)"

    def event_flow_cells(self, code: str, service: str) -> None:
        goal = GOAL[service]
        self.execute(
            f"""
            INSERT INTO dash_cell
            SELECT %s, x.c_commune, x.c_hamlet, x.c_team, c.code, SUM(x.n), NULL
            FROM (
                SELECT h.commune_id AS c_commune, h.hamlet_id AS c_hamlet,
                       COALESCE(h.team_id, 0) AS c_team,
                       {self.local_date("e.happened_at")} AS c_day, COUNT(*) AS n
                FROM {self.events()}
                WHERE e.service = %s AND e.to_state = %s AND e.from_state <> %s
                  AND e.happened_at >= %s
                GROUP BY h.commune_id, h.hamlet_id, h.team_id,
                         {self.local_date("e.happened_at")}
            ) x
            JOIN dash_calendar c ON c.day = x.c_day
            GROUP BY x.c_commune, x.c_hamlet, x.c_team, c.code
            """,
            [code, service, goal, goal, self.since_ts],
        )

    def training_cells(self) -> None:
        """Residents who passed a training session held in the period (cnsc.training counts
        them the same way: at sessions held in the commune, once each). A resident trained
        twice in a period counts once, at the first session; a session is a team's when all its
        trainers were in that team on the day."""
        session_day = self.local_date("s.starts_at")
        self.create("dash_session_team", "session_id bigint PRIMARY KEY, team_id bigint")
        self.execute(
            f"""
            INSERT INTO dash_session_team
            SELECT s.id, MIN(m.team_id)
            FROM {{session}} s
            JOIN {{trainers}} tr ON tr.trainingsession_id = s.id
            JOIN {{membership}} m ON m.member_id = tr.member_id AND m.joined_on <= {session_day}
                                 AND (m.left_on IS NULL OR m.left_on > {session_day})
            WHERE s.starts_at >= %s {self.only(commune="s.commune_id")}
            GROUP BY s.id
            HAVING COUNT(DISTINCT m.team_id) = 1
            """,
            [self.since_ts],
        )
        self.execute(
            f"""
            INSERT INTO dash_cell
            SELECT %s, s.commune_id, COALESCE(s.hamlet_id, 0), COALESCE(st.team_id, 0), x.code,
                   COUNT(*), NULL
            FROM (
                SELECT a.resident_id, c.code, MIN(a.session_id) AS session_id
                FROM {{attendance}} a
                JOIN {{session}} s ON s.id = a.session_id
                JOIN dash_calendar c ON c.day = {session_day}
                WHERE a.passed AND a.resident_id IS NOT NULL
                  AND s.starts_at >= %s AND s.ends_at <= %s {self.only(commune="s.commune_id")}
                GROUP BY a.resident_id, c.code
            ) x
            JOIN {{session}} s ON s.id = x.session_id
            LEFT JOIN dash_session_team st ON st.session_id = s.id
            GROUP BY s.commune_id, s.hamlet_id, st.team_id, x.code
            """,
            [ind.RESIDENTS_TRAINED, self.since_ts, self.ts(self.plan.computed_at)],
        )

    # --- stocks as sums of changes --------------------------------------------------------------

    def delta(self, select: str, group_day: str, params: list[Any]) -> None:
        self.execute(
            f"""
            INSERT INTO dash_delta
            {select}
            GROUP BY h.commune_id, h.hamlet_id, h.team_id, {group_day}
            """,
            params,
        )

    def household_deltas(self) -> None:
        """Households on the list from the day they were listed; visited from the later of
        that day and their first visit. From a base day: only households listed or first
        visited after it (found through the visits since, not by reading every visit)."""
        code = ind.HOUSEHOLDS_VISITED
        created = self.local_date("h.created_at")
        if self.after_base is None:
            self.delta(
                f"SELECT %s, 'd', {self.household_cell()}, {created}, COUNT(*) "
                f"FROM {self.households()}",
                created,
                [code],
            )
        else:
            # Few households are listed in a day: find them by time, then keep the planned.
            self.delta(
                f"SELECT %s, 'd', {self.household_cell()}, {created}, COUNT(*) "
                f"FROM {{household}} h WHERE h.created_at >= %s {self.planned('h.id')}",
                created,
                [code, self.after_base],
            )
        first_visit = self.greatest(created, self.local_date("f.first_at"))
        after: list[Any] = []
        if self.plan.base is None:
            visits = (
                "{visit} v"
                if self.plan.everywhere
                else "dash_household dv JOIN {visit} v ON v.household_id = dv.id"
            )
            since_base = ""
        else:
            self.create("dash_hh_recent", "id bigint PRIMARY KEY")
            self.execute(
                "INSERT INTO dash_hh_recent SELECT h.id FROM {household} h "
                f"WHERE h.created_at >= %s {self.planned('h.id')} "
                "UNION SELECT v.household_id FROM {visit} v "
                f"WHERE v.happened_at >= %s {self.planned('v.household_id')}",
                [self.after_base, self.after_base],
            )
            self.analyze("dash_hh_recent")
            visits = "dash_hh_recent dv JOIN {visit} v ON v.household_id = dv.id"
            since_base = f"WHERE {first_visit} > %s"
            after = [self.d(self.plan.base)]
        self.delta(
            f"""
            SELECT %s, 'n', {self.household_cell()}, {first_visit}, COUNT(*)
            FROM {"{household} h" if self.plan.base else self.households()}
            JOIN (
                SELECT v.household_id, MIN(v.happened_at) AS first_at
                FROM {visits} GROUP BY v.household_id
            ) f ON f.household_id = h.id
            {since_base}
            """,
            first_visit,
            [code, *after],
        )

    def resident_deltas(self) -> None:
        """Shares of residents: VNeID level 2 among those aged 14+, a payment account among
        15+, welfare paid through an account among beneficiaries. A resident counts from the
        later of their registration and 1 January of the year they reach the age; among them,
        +1 when a change reaches the service's final state and -1 when one leaves it. Every
        change of a service state comes with its event (cnsc.outreach.services), so the sum up
        to a day is the number of residents in that state on that day. One pass over the
        residents and one over their changes, for the three shares together."""
        self.create(
            "dash_rule",
            "indicator varchar(40), service varchar(16), goal varchar(16), min_age integer, "
            "welfare boolean",
        )
        self.insert_rows(
            "dash_rule",
            [
                (ind.VNEID_LEVEL2, Service.VNEID, GOAL[Service.VNEID], ind.VNEID_MIN_AGE, False),
                (
                    ind.PAYMENT_ACCOUNT,
                    Service.PAYMENT,
                    GOAL[Service.PAYMENT],
                    ind.PAYMENT_MIN_AGE,
                    False,
                ),
                (
                    ind.WELFARE_ACCOUNT,
                    Service.WELFARE_ACCOUNT,
                    GOAL[Service.WELFARE_ACCOUNT],
                    None,
                    True,
                ),
            ],
        )
        created = self.local_date("r.created_at")
        of_age = self.jan1("r.birth_year + q.min_age")
        counted = (
            "((q.min_age IS NOT NULL AND r.birth_year IS NOT NULL) "
            "OR (q.welfare AND r.welfare_beneficiary))"
        )
        counted_from = (
            f"CASE WHEN q.min_age IS NULL THEN {created} ELSE {self.greatest(created, of_age)} END"
        )
        recent_residents, after_base, recent_resident = "", "", ""
        residents_from = self.residents()
        base_params: list[Any] = []
        recent_params: list[Any] = []
        if self.plan.base is not None:
            base, today = self.plan.base, self.plan.today
            # Listed after the base day, or (when a 1 January came since) reaching 14 or 15 on it.
            recent_resident = "r.created_at >= %s"
            recent_params = [self.after_base]
            if base.year < today.year:
                recent_resident = (
                    f"({recent_resident} OR (r.birth_year > %s AND r.birth_year <= %s))"
                )
                recent_params += [
                    base.year - ind.PAYMENT_MIN_AGE,
                    today.year - ind.VNEID_MIN_AGE,
                ]
            recent_residents = f"WHERE {recent_resident} {self.planned('h.id')}"
            after_base = "AND x.c_day > %s"
            residents_from = "{resident} r JOIN {household} h ON h.id = r.household_id"
            base_params = [self.d(base)]
        self.execute(
            f"""
            INSERT INTO dash_delta
            SELECT x.indicator, 'd', x.c_commune, x.c_hamlet, x.c_team, x.c_day, COUNT(*)
            FROM (
                SELECT q.indicator, h.commune_id AS c_commune, h.hamlet_id AS c_hamlet,
                       COALESCE(h.team_id, 0) AS c_team, {counted_from} AS c_day
                FROM {residents_from} JOIN dash_rule q ON {counted}
                {recent_residents}
            ) x
            WHERE 1 = 1 {after_base}
            GROUP BY x.indicator, x.c_commune, x.c_hamlet, x.c_team, x.c_day
            """,
            [*recent_params, *base_params],
        )
        happened = self.local_date("e.happened_at")
        events_from = self.events()
        if self.plan.base is not None:
            # Only what changed after the base day: events since, and the events of residents
            # listed since or reaching the age since (a new year).
            self.create("dash_res_recent", "id bigint PRIMARY KEY")
            self.execute(
                "INSERT INTO dash_res_recent SELECT r.id FROM {resident} r "
                f"WHERE {recent_resident} {self.planned('r.household_id')}",
                recent_params,
            )
            self.analyze("dash_res_recent")
            self.create("dash_ev_recent", "id bigint PRIMARY KEY")
            self.execute(
                "INSERT INTO dash_ev_recent SELECT e.id FROM {event} e "
                "WHERE e.happened_at >= %s AND e.service IN (SELECT service FROM dash_rule) "
                "UNION SELECT e.id FROM dash_res_recent rr JOIN {event} e "
                "ON e.resident_id = rr.id",
                [self.after_base],
            )
            self.analyze("dash_ev_recent")
            events_from = (
                "dash_ev_recent er JOIN {event} e ON e.id = er.id "
                "JOIN {resident} r ON r.id = e.resident_id "
                "JOIN {household} h ON h.id = r.household_id"
            ) + ("" if self.plan.everywhere else " JOIN dash_household dh ON dh.id = h.id")
        changed_from = (
            f"CASE WHEN q.min_age IS NULL THEN {self.greatest(happened, created)} "
            f"ELSE {self.greatest(happened, created, of_age)} END"
        )
        self.execute(
            f"""
            INSERT INTO dash_delta
            SELECT x.indicator, 'n', x.c_commune, x.c_hamlet, x.c_team, x.c_day, SUM(x.d)
            FROM (
                SELECT q.indicator, h.commune_id AS c_commune, h.hamlet_id AS c_hamlet,
                       COALESCE(h.team_id, 0) AS c_team, {changed_from} AS c_day,
                       CASE WHEN e.to_state = q.goal THEN 1 ELSE 0 END
                       - CASE WHEN e.from_state = q.goal THEN 1 ELSE 0 END AS d
                FROM {events_from} JOIN dash_rule q ON q.service = e.service
                WHERE (e.to_state = q.goal OR e.from_state = q.goal) AND {counted}
            ) x
            WHERE 1 = 1 {after_base}
            GROUP BY x.indicator, x.c_commune, x.c_hamlet, x.c_team, x.c_day
            """,
            base_params,
        )

    def stock_cells(self) -> None:
        self.analyze("dash_delta")
        first = self.d(self.first_day)
        self.create(
            "dash_bucketed",
            "indicator varchar(40), part char(1), commune_id bigint, hamlet_id bigint, "
            f"team_id bigint, asof {self.date_type}, delta bigint",
        )
        self.execute(
            """
            INSERT INTO dash_bucketed
            SELECT d.indicator, d.part, d.commune_id, d.hamlet_id, d.team_id, k.asof,
                   SUM(d.delta)
            FROM dash_delta d
            JOIN dash_bucket k ON k.day = CASE WHEN d.day < %s THEN %s ELSE d.day END
            GROUP BY d.indicator, d.part, d.commune_id, d.hamlet_id, d.team_id, k.asof
            """,
            [first, first],
        )
        self.analyze("dash_bucketed")
        self.create(
            "dash_stock",
            "indicator varchar(40), part char(1), commune_id bigint, hamlet_id bigint, "
            f"team_id bigint, asof {self.date_type}, total bigint",
        )
        self.execute(
            """
            INSERT INTO dash_stock
            SELECT s.indicator, s.part, s.commune_id, s.hamlet_id, s.team_id, a.asof,
                   SUM(COALESCE(b.delta, 0)) OVER (
                       PARTITION BY s.indicator, s.part, s.commune_id, s.hamlet_id, s.team_id
                       ORDER BY a.asof ROWS UNBOUNDED PRECEDING
                   )
            FROM (
                SELECT DISTINCT indicator, part, commune_id, hamlet_id, team_id
                FROM dash_bucketed
            ) s
            CROSS JOIN dash_asof a
            LEFT JOIN dash_bucketed b
              ON b.indicator = s.indicator AND b.part = s.part AND b.commune_id = s.commune_id
             AND b.hamlet_id = s.hamlet_id AND b.team_id = s.team_id AND b.asof = a.asof
            """
        )
        self.analyze("dash_stock")
        self.execute(
            """
            INSERT INTO dash_cell
            SELECT s.indicator, s.commune_id, s.hamlet_id, s.team_id, p.code,
                   SUM(CASE WHEN s.part = 'n' THEN s.total ELSE 0 END),
                   SUM(CASE WHEN s.part = 'd' THEN s.total ELSE 0 END)
            FROM dash_stock s JOIN dash_period p ON p.asof = s.asof
            GROUP BY s.indicator, s.commune_id, s.hamlet_id, s.team_id, p.code
            """
        )

    # --- writing units ------------------------------------------------------------------

    def unit_table(self) -> None:
        self.create(
            "dash_unit",
            "indicator varchar(40), unit_type varchar(16), unit_id bigint, period varchar(8), "
            "num bigint, den bigint",
        )

    def write_local(self) -> int:
        """Communes, hamlets and teams of the plan, from their cells."""
        self.unit_table()
        keep_commune = self.only(commune="c.commune_id")
        self.execute(
            f"""
            INSERT INTO dash_unit
            SELECT c.indicator, 'commune', c.commune_id, c.period, SUM(c.num), SUM(c.den)
            FROM dash_cell c WHERE 1 = 1 {keep_commune}
            GROUP BY c.indicator, c.commune_id, c.period
            """
        )
        self.execute(
            f"""
            INSERT INTO dash_unit
            SELECT c.indicator, 'hamlet', c.hamlet_id, c.period, SUM(c.num), SUM(c.den)
            FROM dash_cell c WHERE c.hamlet_id <> 0 {keep_commune}
            GROUP BY c.indicator, c.hamlet_id, c.period
            """
        )
        self.execute(
            f"""
            INSERT INTO dash_unit
            SELECT c.indicator, 'team', c.team_id, c.period, SUM(c.num), SUM(c.den)
            FROM dash_cell c WHERE c.team_id <> 0 {self.only(team="c.team_id")}
            GROUP BY c.indicator, c.team_id, c.period
            """
        )
        if self.plan.base is not None:
            self.add_base()
        if self.plan.replace_all:
            self.execute("DELETE FROM {iv}")
        elif self.plan.everywhere:
            self.execute("DELETE FROM {iv} WHERE period IN (SELECT code FROM dash_period)")
        else:
            # One statement per unit type: each walks the (unit type, unit) index.
            for unit_type, ids in (
                ("commune", "SELECT id FROM dash_commune"),
                ("hamlet", "SELECT id FROM {hamlet} WHERE commune_id IN "
                           "(SELECT id FROM dash_commune)"),
                ("team", "SELECT id FROM dash_team"),
            ):  # fmt: skip
                self.execute(
                    f"DELETE FROM {{iv}} WHERE unit_type = %s AND unit_id IN ({ids}) "
                    "AND period IN (SELECT code FROM dash_period)",
                    [unit_type],
                )
        return self.store()

    def add_base(self) -> None:
        """Stocks counted from the base day: its stored figure, for each period, to which the
        changes since (already in dash_unit) add up in store()."""
        base = self.plan.base
        assert base is not None
        stocks = ", ".join(f"'{c}'" for c in DELTA_STOCKS)
        wanted = {
            "commune": "SELECT id FROM dash_commune",
            "hamlet": "SELECT id FROM {hamlet} WHERE commune_id IN (SELECT id FROM dash_commune)",
            "team": "SELECT id FROM dash_team",
        }
        for unit_type, ids in wanted.items():
            keep = "" if self.plan.everywhere else f"AND b.unit_id IN ({ids})"
            self.execute(
                f"""
                INSERT INTO dash_unit
                SELECT b.indicator, b.unit_type, b.unit_id, p.code, b.numerator, b.denominator
                FROM {{iv}} b CROSS JOIN dash_period p
                WHERE b.unit_type = %s AND b.period = %s AND b.indicator IN ({stocks}) {keep}
                """,
                [unit_type, base.strftime("%Y%m%d")],
            )

    def write_rollups(self) -> int:
        """Provinces from their communes, former units from their hamlets, as stored."""
        plan = self.plan
        periods = "SELECT code FROM dash_period"
        self.unit_table()
        self.create("dash_hamlet_former", "hamlet_id bigint PRIMARY KEY, former_id bigint")
        # A hamlet's former commune: the one it records, or the only one its commune came from.
        self.execute(
            """
            INSERT INTO dash_hamlet_former
            SELECT h.id, COALESCE(h.former_commune_id, (
                SELECT MIN(m.former_id) FROM {mapping} m
                JOIN {unit} f ON f.id = m.former_id AND f.level = 'commune'
                WHERE m.current_id = h.commune_id
                HAVING COUNT(*) = 1
            ))
            FROM {hamlet} h
            """
        )
        self.execute("DELETE FROM dash_hamlet_former WHERE former_id IS NULL")
        self.analyze("dash_hamlet_former")
        provinces = "SELECT province_id FROM {unit} WHERE id IN (SELECT id FROM dash_commune)"
        touched_formers = (
            "SELECT former_id FROM dash_hamlet_former WHERE hamlet_id IN "
            "(SELECT id FROM {hamlet} WHERE commune_id IN (SELECT id FROM dash_commune))"
        )
        restrict = not plan.everywhere
        self.execute(
            f"""
            INSERT INTO dash_unit
            SELECT v.indicator, 'province', a.province_id, v.period,
                   SUM(v.numerator), SUM(v.denominator)
            FROM {{iv}} v JOIN {{unit}} a ON a.id = v.unit_id
            WHERE v.unit_type = 'commune' AND v.period IN ({periods})
              {f"AND a.province_id IN ({provinces})" if restrict else ""}
            GROUP BY v.indicator, a.province_id, v.period
            """
        )
        for unit_type, key in (
            (UnitType.FORMER_COMMUNE, "f.id"),
            (UnitType.FORMER_DISTRICT, "f.parent_id"),
            (UnitType.FORMER_PROVINCE, "f.province_id"),
        ):
            self.execute(
                f"""
                INSERT INTO dash_unit
                SELECT v.indicator, %s, {key}, v.period, SUM(v.numerator), SUM(v.denominator)
                FROM {{iv}} v
                JOIN dash_hamlet_former hf ON hf.hamlet_id = v.unit_id
                JOIN {{unit}} f ON f.id = hf.former_id
                WHERE v.unit_type = 'hamlet' AND v.period IN ({periods})
                  AND {key} IS NOT NULL
                  {f"AND f.id IN ({touched_formers})" if restrict else ""}
                GROUP BY v.indicator, {key}, v.period
                """,
                [unit_type],
            )
        if restrict:
            # Every unit rolled up again loses its old figures, including ones now zero.
            for unit_type, ids in (
                (UnitType.PROVINCE, provinces),
                (UnitType.FORMER_COMMUNE, touched_formers),
                (
                    UnitType.FORMER_DISTRICT,
                    f"SELECT parent_id FROM {{unit}} WHERE id IN ({touched_formers})",
                ),
                (
                    UnitType.FORMER_PROVINCE,
                    f"SELECT province_id FROM {{unit}} WHERE id IN ({touched_formers})",
                ),
            ):
                self.execute(
                    f"DELETE FROM {{iv}} WHERE unit_type = %s AND unit_id IN ({ids}) "
                    f"AND period IN ({periods})",
                    [unit_type],
                )
        return self.store()

    def store(self) -> int:
        """dash_unit → IndicatorValue: roster targets as denominators, the value, the time."""
        counts = ", ".join(f"'{c}'" for c in COUNT_CODES) or "''"
        not_for_teams = ", ".join(
            f"'{i.code}'" for i in CATALOGUE if UnitType.TEAM not in i.unit_types
        )
        admin_types = ", ".join(f"'{t}'" for t in ADMIN_TYPES)
        roster_den = " ".join(
            f"WHEN u.indicator = '{code}' THEN "
            f"CASE WHEN u.unit_type IN ({admin_types}) THEN tt.{field_name} END"
            for code, field_name in ROSTER_TARGETS.items()
        )
        self.analyze("dash_unit")
        return self.execute(
            f"""
            INSERT INTO {{iv}} (indicator, unit_type, unit_id, period_type, period, period_start,
                                numerator, denominator, value, computed_at)
            SELECT x.indicator, x.unit_type, x.unit_id, x.type, x.code, x.start_day, x.num, x.den,
                   CASE WHEN x.indicator IN ({counts}) THEN x.num
                        WHEN x.den > 0 THEN 100.0 * x.num / x.den END,
                   %s
            FROM (
                SELECT u.indicator, u.unit_type, u.unit_id, p.type, p.code, p.start_day, u.num,
                       CASE {roster_den} ELSE u.den END AS den
                FROM (
                    -- A stock counted from a base day has two rows: the base and the changes.
                    SELECT indicator, unit_type, unit_id, period, SUM(num) AS num, SUM(den) AS den
                    FROM dash_unit GROUP BY indicator, unit_type, unit_id, period
                ) u
                JOIN dash_period p ON p.code = u.period
                LEFT JOIN {{target}} tt ON tt.unit_id = u.unit_id AND tt.year = p.year
                                        AND u.unit_type IN ({admin_types})
                WHERE NOT (u.unit_type = 'team' AND u.indicator IN ({not_for_teams}))
            ) x
            WHERE x.num <> 0 OR COALESCE(x.den, 0) <> 0
            """,
            [self.plan.computed_at],
        )


def roster_targets_apply(pairs: set[tuple[int, int]]) -> int:
    """Put the current roster targets into the stored figures of these units and years: the
    "against target" indicators' denominators, and so their values."""
    if not pairs:
        return 0
    changed = 0
    admin_types = ", ".join(f"'{t}'" for t in ADMIN_TYPES)
    with connection.cursor() as cursor:
        for code, field_name in ROSTER_TARGETS.items():
            target = (
                f"(SELECT t.{field_name} FROM {TABLES['target']} t WHERE t.unit_id = %s "
                f"AND t.year = %s)"
            )
            for unit_id, year in sorted(pairs):
                cursor.execute(
                    f"UPDATE {TABLES['iv']} SET denominator = {target}, "
                    f"value = CASE WHEN {target} > 0 THEN 100.0 * numerator / {target} END "
                    f"WHERE indicator = %s AND unit_type IN ({admin_types}) AND unit_id = %s "
                    f"AND period_start >= %s AND period_start <= %s",
                    [
                        unit_id, year, unit_id, year, unit_id, year,
                        code, unit_id, dt.date(year, 1, 1), dt.date(year, 12, 31),
                    ],
                )  # fmt: skip
                changed += max(cursor.rowcount, 0)
    return changed
