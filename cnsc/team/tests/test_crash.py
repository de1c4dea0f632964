"""Crash safety of the roster import with real processes, against a database of their own: the
import killed (SIGKILL) while it writes members leaves nothing, and running it again finishes
the job."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from cnsc.core.testing_processes import Child, ChildDatabase, run
from cnsc.team.imports import MEMBER_COLUMNS, MEMBER_SHEET, TEAM_COLUMNS, TEAM_SHEET

TEAMS = 50
PER_TEAM = 80
COMMAND = ["manage.py", "import_members", "--commune", "25747", "--user", "importer"]
TRACED = ["-m", "cnsc.core.tests.traced_manage", *COMMAND[1:]]


def roster_file(path: Path) -> Path:
    wb = Workbook(write_only=True)
    teams = wb.create_sheet(TEAM_SHEET)
    teams.append([c.header for c in TEAM_COLUMNS])
    for n in range(TEAMS):
        row = {"code": f"T{n:02d}", "name": f"Tổ CNSC {n}", "hamlet": f"Khu phố {n % 5 + 1}"}
        teams.append([row.get(c.key) for c in TEAM_COLUMNS])
    members = wb.create_sheet(MEMBER_SHEET)
    members.append([c.header for c in MEMBER_COLUMNS])
    for n in range(TEAMS * PER_TEAM):
        row = {
            "full_name": f"Thành viên {n}",
            "sex": "Nữ" if n % 2 else "Nam",
            "birth_year": 1970 + n % 30,
            "phone": f"0912{n:06d}",
            "consent": "Có",
            "team_code": f"T{n // PER_TEAM:02d}",
            "role": "Tổ trưởng" if n % PER_TEAM == 0 else "Tổ viên",
        }
        members.append([row.get(c.key) for c in MEMBER_COLUMNS])
    wb.save(path)
    return path


def counts(db: ChildDatabase) -> tuple[int, int, int]:
    return (
        db.value("SELECT COUNT(*) FROM team_team"),
        db.value("SELECT COUNT(*) FROM team_member"),
        db.value("SELECT COUNT(*) FROM team_membership"),
    )


def test_a_roster_import_killed_half_way_leaves_nothing_and_a_rerun_finishes(child_db, tmp_path):
    run(["-m", "cnsc.team.tests.crash_child"], child_db.env, timeout=60)
    data = roster_file(tmp_path / "roster.xlsx")
    # The teams are saved and the first batch of members has gone in: stopped there, killed.
    moment = 'INSERT INTO "team_member"'
    child = Child.start(
        [*TRACED, str(data), "--apply"], child_db.env, extra={"TRACE_STOP_AT": moment}
    )
    child.wait_for(lambda line: line.startswith("STOPPED: " + moment), timeout=50)
    child.kill()
    assert counts(child_db) == (0, 0, 0)
    assert not child_db.value("SELECT COUNT(*) FROM team_historicalmember")
    lines = run([*COMMAND, str(data), "--apply"], child_db.env, timeout=60)
    assert "Applied." in lines
    assert counts(child_db) == (TEAMS, TEAMS * PER_TEAM, TEAMS * PER_TEAM)
    assert child_db.value("SELECT COUNT(*) FROM team_membership WHERE role = 'leader'") == TEAMS
