"""Crash safety with real processes, each against a database of its own: the household import
killed (SIGKILL) while it stages rows or writes them leaves nothing, and running it again
finishes the job; visits sent again by a field client after the process storing them was killed
are stored once each. On PostgreSQL the import stages rows with COPY."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest

from cnsc.core.testing_processes import Child, ChildDatabase, run
from cnsc.core.tests.corpus import CORPUS
from cnsc.outreach.imports import COLUMNS

HOUSEHOLDS = 3000
PER_HOUSEHOLD = 4
COMMAND = ["manage.py", "import_households", "--commune", "25747", "--user", "importer"]
# The same command, announcing each SQL statement as it starts: the test kills at the one it wants.
TRACED = ["-m", "cnsc.core.tests.traced_manage", *COMMAND[1:]]
SETUP = ["-m", "cnsc.outreach.tests.crash_child", "setup"]


def household_file(path: Path) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.header for c in COLUMNS])
    keys = [c.key for c in COLUMNS]
    relations = ["Chủ hộ", "Vợ/Chồng", "Con", "Con"]
    for house in range(HOUSEHOLDS):
        for person in range(PER_HOUSEHOLD):
            values = {
                "household_code": f"H{house:05d}",
                "hamlet": f"Khu phố {house % 5 + 1}",
                "house_number": str(house),
                "street": "Đường Yersin",
                "full_name": f"Người {house}-{person}",
                "relation": relations[person],
                "sex": "Nam" if person % 2 == 0 else "Nữ",
                "birth_year": 1960 + person * 10,
                "state_vneid": "Mức 2" if person < 2 else "",
            }
            writer.writerow([values.get(k, "") for k in keys])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def counts(db: ChildDatabase) -> tuple[int, int, int]:
    return (
        db.value("SELECT COUNT(*) FROM outreach_household"),
        db.value("SELECT COUNT(*) FROM outreach_resident"),
        db.value("SELECT COUNT(*) FROM outreach_servicestate"),
    )


COMPLETE = (HOUSEHOLDS, HOUSEHOLDS * PER_HOUSEHOLD, HOUSEHOLDS * 2)


@pytest.mark.parametrize(
    ("moment", "stop"),
    [
        # Rows are about to be staged (COPY on PostgreSQL, batched inserts on SQLite): killed
        # 0.2 s later, while they stream in.
        ("CREATE TEMPORARY TABLE cnsc_import_rows", False),
        # The households are written, the residents not yet: stopped right there and killed.
        ("INSERT INTO outreach_household", True),
    ],
    ids=["staging", "writing"],
)
def test_an_import_killed_half_way_leaves_nothing_and_a_rerun_finishes(
    moment, stop, child_db, tmp_path
):
    run([*SETUP], child_db.env, timeout=60)
    data = household_file(tmp_path / "ho.csv")
    if stop:
        child = Child.start(
            [*TRACED, str(data), "--apply"], child_db.env, extra={"TRACE_STOP_AT": moment}
        )
        child.wait_for(lambda line: line.startswith("STOPPED: " + moment), timeout=50)
    else:
        child = Child.start([*TRACED, str(data), "--apply"], child_db.env)
        child.wait_for(lambda line: line.startswith("SQL: " + moment), timeout=50)
        time.sleep(0.2)
    child.kill()
    assert counts(child_db) == (0, 0, 0)
    assert not child_db.value(
        "SELECT COUNT(*) FROM access_auditevent WHERE target = %s", ["outreach.household"]
    )
    lines = run([*COMMAND, str(data), "--apply"], child_db.env, timeout=60)
    assert "Applied." in lines
    assert counts(child_db) == COMPLETE


def test_visits_sent_again_after_a_kill_are_stored_once(child_db):
    """A field client sends its queue of 60 visits (each with a photo and an idempotency key);
    the process storing them is killed half-way; a new one is sent the whole queue again."""
    photo = CORPUS / "gps.jpg"
    run([*SETUP, "60"], child_db.env, timeout=60)
    extra = {"CRASH_PHOTO": str(photo)}
    child = Child.start(
        ["-m", "cnsc.outreach.tests.crash_child", "visits", "1", "60"], child_db.env, extra=extra
    )
    child.wait_for(lambda line: line.startswith("stored 25 "), timeout=50)
    child.kill()
    stored = child_db.value("SELECT COUNT(*) FROM outreach_visit")
    assert 25 <= stored < 60
    lines = run(
        ["-m", "cnsc.outreach.tests.crash_child", "visits", "1", "60"],
        child_db.env,
        timeout=60,
        **extra,
    )
    assert sum(line.endswith(" again") for line in lines) == stored
    assert child_db.value("SELECT COUNT(*) FROM outreach_visit") == 60
    assert child_db.value("SELECT COUNT(DISTINCT idempotency_key) FROM outreach_visit") == 60
    # Each visit whole: its outcome, its event and its photo, and no file without its row.
    assert child_db.value("SELECT COUNT(*) FROM outreach_visitoutcome") == 60
    assert child_db.value("SELECT COUNT(*) FROM outreach_serviceevent") == 60
    names = {name for (name,) in child_db.rows("SELECT file FROM outreach_visitphoto")}
    assert len(names) == 60
    files = {
        str(p.relative_to(child_db.folder / "media"))
        for p in (child_db.folder / "media").rglob("*")
        if p.is_file()
    }
    assert names <= files
    orphans = files - names
    # The one visit in flight at the kill may have left its photo behind (stored before the
    # transaction commits); never more.
    assert len(orphans) <= 1, orphans
