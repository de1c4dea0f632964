"""Generate a province the size of Bình Dương as files: about 900,000 households and 2.7 million
residents with their digital services, and 3 million visits over two years.

Usage (the database must hold the units and the Bình Dương roster of the demo: after
``manage.py load_units`` and cnsc.team.demo.seed_binh_duong; bench/import_households.py does
both):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cnsc_bench_province .venv/bin/python \\
        bench/gen_province.py --out /tmp/province [--households 900000] [--visits 3000000]

Writes, streamed (memory does not grow with the size):

- ``households/<ward code>.csv``: one file per current ward or commune on Bình Dương's former
  land, in the household import's template (cnsc.outreach.imports), one row per resident, with
  each resident's services as the commune's list gave them on the baseline day (the day before
  the two years of visits);
- ``visits.csv``: the visits of those two years, one row per visit: the member (by phone), the
  household (by code), when, where, and the outcomes ``place:service:result:before:after``
  joined by ``|``, where ``place`` is the resident's row within the household (1 = first) and
  ``after`` is empty when the state did not change;
- ``summary.json``: the counts.

The hamlets, teams and members come from the database (the demo roster is deterministic); the
people, their services and the visits come from the demo's population model
(cnsc.outreach.demo.Population) and one seeded random stream: the same roster, ``--seed`` and
``--until`` give the same files byte for byte. Visits are made by members of the team that covers
the household (the hamlet's only team), after the day they joined.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 74
HOUSEHOLDS = 900_000
VISITS = 3_000_000
DAYS = 730


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "false"
    import django

    django.setup()


@dataclass
class HamletFrame:
    name: str
    ward: str
    is_ward: bool
    latitude: float | None
    longitude: float | None
    # (phone, joined on) of the members of the team that covers the hamlet's households.
    members: list[tuple[str, dt.date]] = field(default_factory=list)


def read_frame() -> dict[str, list[HamletFrame]]:
    """The Bình Dương hamlets by current ward, in a fixed order, with their team's members."""
    from cnsc.geo.models import Hamlet, UnitKind
    from cnsc.team.demo import FORMER_PROVINCE
    from cnsc.team.models import Membership, Team, TeamKind, TeamStatus

    frame: dict[str, list[HamletFrame]] = defaultdict(list)
    by_id: dict[int, HamletFrame] = {}
    for hamlet in (
        Hamlet.objects.filter(
            former_commune__province__code=FORMER_PROVINCE, retired_on__isnull=True
        )
        .select_related("commune")
        .order_by("commune__code", "name")
    ):
        item = HamletFrame(
            name=hamlet.name,
            ward=hamlet.commune.code,
            is_ward=hamlet.commune.kind == UnitKind.WARD,
            latitude=hamlet.latitude,
            longitude=hamlet.longitude,
        )
        frame[hamlet.commune.code].append(item)
        by_id[hamlet.pk] = item
    # The import gives a new household its hamlet's team when the hamlet has exactly one that
    # is not dissolved; only an active team's members visit.
    teams: dict[int, list[Any]] = defaultdict(list)
    for team in Team.objects.filter(kind=TeamKind.HAMLET, hamlet_id__in=by_id).exclude(
        status=TeamStatus.DISSOLVED
    ):
        teams[team.hamlet_id].append(team)
    covering = {
        team_list[0].pk: hamlet_id
        for hamlet_id, team_list in teams.items()
        if len(team_list) == 1 and team_list[0].status == TeamStatus.ACTIVE
    }
    for team_id, phone, joined_on in (
        Membership.objects.filter(team_id__in=covering, left_on__isnull=True)
        .order_by("team_id", "role", "member__phone")
        .values_list("team_id", "member__phone", "joined_on")
    ):
        by_id[covering[team_id]].members.append((phone, joined_on))
    return dict(sorted(frame.items()))


def generate(
    out: Path, *, households: int, visits: int, seed: int, until: dt.date
) -> dict[str, Any]:
    from cnsc.outreach.demo import STREETS, Population, template_row
    from cnsc.outreach.imports import COLUMNS

    rng = random.Random(seed)
    population = Population(rng)
    frame = read_frame()
    hamlets = [h for ward in frame.values() for h in ward]
    if not hamlets:
        sys.exit("No Bình Dương hamlets in the database: load the units and the demo roster.")
    first_day = until - dt.timedelta(days=DAYS - 1)
    baseline_day = first_day - dt.timedelta(days=1)
    baseline_text = baseline_day.strftime("%d/%m/%Y")
    this_year = baseline_day.year

    # Households per hamlet: quarters of wards are larger than rural hamlets.
    weights = [rng.uniform(0.6, 1.4) * (1.5 if h.is_ward else 1.0) for h in hamlets]
    scale = households / sum(weights)
    sizes = [max(1, round(w * scale)) for w in weights]
    sizes[-1] += households - sum(sizes)
    visited = sum(s for s, h in zip(sizes, hamlets, strict=True) if h.members)
    per_household = visits / max(1, visited)

    (out / "households").mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    tz = dt.timezone(dt.timedelta(hours=7))
    sizes_left = iter(sizes)
    number = 0
    with (out / "visits.csv").open("w", encoding="utf-8", newline="") as visit_file:
        visits_out = csv.writer(visit_file)
        visits_out.writerow(
            ["key", "ward", "household", "member_phone", "happened_at", "latitude",
             "longitude", "accuracy_m", "outcomes"]
        )  # fmt: skip
        for ward, ward_hamlets in frame.items():
            path = out / "households" / f"{ward}.csv"
            with path.open("w", encoding="utf-8", newline="") as household_file:
                rows = csv.writer(household_file)
                rows.writerow([c.header for c in COLUMNS])
                serial = 0
                for hamlet_index, hamlet in enumerate(ward_hamlets, start=1):
                    streets = rng.sample(STREETS, 4)
                    for n in range(next(sizes_left)):
                        serial += 1
                        code = f"HK{serial:06d}"
                        people = population.household(this_year)
                        phone = next((p.phone for p in people if p.phone), "")
                        for person in people:
                            rows.writerow(
                                template_row(
                                    person,
                                    code=code,
                                    hamlet=hamlet.name,
                                    house=f"{hamlet_index}/{n % 150 + 1}",
                                    street=f"Hẻm {n // 150 + 1} {streets[n % 4]}",
                                    phone=phone,
                                    on=baseline_text,
                                )
                            )
                            for service, state in person.states.items():
                                counts[f"baseline_{service}_{state}"] += 1
                        counts["households"] += 1
                        counts["residents"] += len(people)
                        if not hamlet.members:
                            continue
                        count = int(per_household) + (rng.random() < per_household % 1)
                        days = sorted(
                            first_day + dt.timedelta(days=rng.randrange(DAYS)) for _ in range(count)
                        )
                        for day in days:
                            phone_of_member, joined_on = rng.choice(hamlet.members)
                            if joined_on > day:
                                continue
                            outcomes = population.outcomes(people, day)
                            number += 1
                            moment = dt.datetime.combine(
                                day, dt.time(rng.randint(7, 19), rng.randrange(60)), tz
                            )
                            lat = lon = accuracy = ""
                            centre = (hamlet.latitude, hamlet.longitude)
                            if (
                                centre[0] is not None
                                and centre[1] is not None
                                and (rng.random() < 0.8)
                            ):
                                lat = f"{centre[0] + rng.uniform(-0.004, 0.004):.6f}"
                                lon = f"{centre[1] + rng.uniform(-0.004, 0.004):.6f}"
                                accuracy = str(rng.choice((5, 8, 12, 20, 35, 60)))
                            visits_out.writerow(
                                [
                                    f"bench:{number}",
                                    ward,
                                    code,
                                    phone_of_member,
                                    moment.isoformat(),
                                    lat,
                                    lon,
                                    accuracy,
                                    "|".join(
                                        f"{i + 1}:{service}:{result}:{before}:{after}"
                                        for i, service, result, before, after in outcomes
                                    ),
                                ]
                            )
                            counts["visits"] += 1
                            counts["outcomes"] += len(outcomes)
                            counts["state_changes"] += sum(1 for o in outcomes if o[4])
    summary = {
        "seed": seed,
        "until": until.isoformat(),
        "first_visit_day": first_day.isoformat(),
        "baseline_day": baseline_day.isoformat(),
        "wards": len(frame),
        "hamlets": len(hamlets),
        **dict(sorted(counts.items())),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--households", type=int, default=HOUSEHOLDS)
    parser.add_argument("--visits", type=int, default=VISITS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--until",
        type=dt.date.fromisoformat,
        default=dt.date.today() - dt.timedelta(days=1),  # noqa: DTZ011 (a calendar day)
        help="the last day of visits (default yesterday); the baseline is two years earlier",
    )
    args = parser.parse_args()
    django_setup()
    started = time.perf_counter()
    summary = generate(
        args.out, households=args.households, visits=args.visits, seed=args.seed, until=args.until
    )
    print(json.dumps(summary, ensure_ascii=False))
    print(f"generated in {time.perf_counter() - started:.0f}s into {args.out}")


if __name__ == "__main__":
    main()
