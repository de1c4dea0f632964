"""Demo data: households, residents, their digital services and a year of visits in a few of
Bình Dương's former communes, on top of the demo roster (cnsc.team.demo).

Where: the three former wards that became Phường Thủ Dầu Một (25747, where the demo official
works) and the two former communes of Xã Minh Thạnh (25780), so the back office shows both
urban quarters and rural hamlets. Every hamlet there that has a team gets households.

How: the households and residents go through the household import (cnsc.outreach.imports),
as a commune's list would, with their services as of a year ago; the visits of the year since
go one by one through the visit service (cnsc.outreach.services.visit_record), by members of
the team covering each household, moving the residents' services forward as the bot would.

Deterministic: one seeded random stream, the same households, people and visits on every run of
the same day (visits are dated back from today, so the work looks current). Idempotent: a second
run finds the households and changes nothing. The population model (household sizes, ages,
names, phones, CCCDs, the province's 2023 shares of each service) is shared with the province
benchmark (bench/gen_province.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cnsc.core.bulk import PhoneChecker
from cnsc.core.identity import Sex
from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level
from cnsc.team.demo import CCCD_PROVINCES, GIVEN, MIDDLE, MOBILE_PREFIXES, SURNAMES
from cnsc.team.models import Membership, Team, TeamKind, TeamStatus

from .catalogue import STATES, Result, Service, State
from .imports import COLUMNS, STATE_VALUES, import_households
from .models import Household, Resident, Visit, VisitSource
from .services import OutcomeIn, visit_record

SEED = 2025
WARDS = ("25747", "25780")  # Phường Thủ Dầu Một; Xã Minh Thạnh
HOUSEHOLDS_PER_HAMLET = (20, 32)
VISITS_PER_HOUSEHOLD = 0.9
DAYS = 365
CHANGE_REASON = "Demo data (seed_demo)"

# --- The population model (shared with bench/gen_province.py) -------------------------------

# Household sizes: mean 3.0 (2.7 million people in 900,000 households).
SIZES = ((1, 15), (2, 25), (3, 25), (4, 20), (5, 10), (6, 5))
# Shares at the baseline among residents aged 14+ (VNeID) or 15+ (the rest): the province's
# figures of November 2023 (1.2 million level-2 VNeID of 2.7 million people, 82% of adults with a
# payment account, 18,369 signatures, 46,000 installs of the province app).
BASELINE_SHARES = {
    Service.VNEID: ((State.LEVEL2, 0.55), (State.LEVEL1, 0.12), (State.REGISTERED, 0.05)),
    Service.PAYMENT: ((State.OPENED, 0.70),),
    Service.PUBLIC_SERVICES: ((State.ACCOUNT, 0.22), (State.FILED, 0.08)),
    Service.PROVINCE_APP: ((State.INSTALLED, 0.012), (State.VNEID_LOGIN, 0.006)),
    Service.SIGNATURE: ((State.ISSUED, 0.009),),
}
WELFARE_SHARE = 0.016  # 30,674 paid through an account were 70% of the beneficiaries
WELFARE_PAID_SHARE = 0.7
SMARTPHONE_SHARE = 0.82
PHONE_SHARE = 0.85
CCCD_SHARE = 0.7
# What members try during a visit, and how it ends.
VISIT_SERVICES = (
    (Service.VNEID, 45), (Service.PAYMENT, 20), (Service.PROVINCE_APP, 12),
    (Service.DIGITAL_SKILLS, 10), (Service.PUBLIC_SERVICES, 8), (Service.SIGNATURE, 3),
    (Service.WELFARE_ACCOUNT, 2),
)  # fmt: skip
RESULTS = ((Result.DONE, 68), (Result.STARTED, 12), (Result.REFUSED, 12), (Result.NOT_ELIGIBLE, 8))
# The digital-skills programme (Bình dân học vụ số) started in March 2025.
SKILLS_FROM = dt.date(2025, 3, 1)
NOTES = (
    "",
    "",
    "",
    "Hướng dẫn kích hoạt VNeID mức 2 trên điện thoại.",
    "Hẹn quay lại khi người dân mang CCCD gắn chip.",
    "Cài ứng dụng Bình Dương Số, đăng nhập bằng VNeID.",
    "Hướng dẫn mở tài khoản ngân hàng trên điện thoại.",
    "Nhà vắng người, để lại tờ rơi.",
)


def cumulative(table: Any) -> tuple[list[Any], list[float]]:
    """Values and cumulative weights, for random.choices without re-adding weights per draw."""
    values, weights, total = [], [], 0.0
    for value, weight in table:
        total += weight
        values.append(value)
        weights.append(total)
    return values, weights


@dataclass
class Person:
    name: str
    sex: str
    birth_year: int
    relation: str  # as the import template writes it
    phone: str = ""
    cccd: str = ""
    smartphone: bool | None = None
    welfare: bool = False
    states: dict[str, str] = field(default_factory=dict)


class Population:
    """Households of people with names, phones and CCCDs from the demo roster's pools, drawn from
    one random stream. CCCDs are unique without remembering them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames = cumulative(SURNAMES)
        self.prefixes = cumulative(MOBILE_PREFIXES)
        self.provinces = cumulative(CCCD_PROVINCES)
        self.sizes = cumulative(SIZES)
        self.services = cumulative(VISIT_SERVICES)
        self.results = cumulative(RESULTS)
        self.serials: Counter[str] = Counter()
        self.valid_phone = PhoneChecker()

    def _pick(self, table: tuple[list[Any], list[float]]) -> Any:
        return self.rng.choices(table[0], cum_weights=table[1])[0]

    def name(self, surname: str, sex: str) -> str:
        middle = self.rng.choice(MIDDLE[Sex(sex)])
        return f"{surname} {middle} {self.rng.choice(GIVEN[Sex(sex)])}"

    def phone(self) -> str:
        """A valid mobile number, written the ways officials write them."""
        while True:
            digits = f"{self._pick(self.prefixes)}{self.rng.randrange(10**7):07d}"
            try:
                self.valid_phone(digits)
            except ValidationError:
                continue  # ranges not assigned, such as parts of 089
            style = self.rng.random()
            if style < 0.5:
                return digits
            if style < 0.8:
                return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
            return f"+84 {digits[1:]}"

    def cccd(self, sex: str, birth_year: int) -> str:
        century = (0 if birth_year < 2000 else 2) + (1 if sex == Sex.FEMALE else 0)
        prefix = f"{self._pick(self.provinces)}{century}{birth_year % 100:02d}"
        self.serials[prefix] += 1
        # A bijection of 0..999,999 (7,919 is prime to 10): unique serials that look random.
        return f"{prefix}{(self.serials[prefix] * 7919 + 104_729) % 1_000_000:06d}"

    def household(self, this_year: int) -> list[Person]:
        rng = self.rng
        size = self._pick(self.sizes)
        head_sex = Sex.MALE if rng.random() < 0.7 else Sex.FEMALE
        head_year = rng.randint(this_year - 82, this_year - 22)
        surname = self._pick(self.surnames)
        people = [Person(self.name(surname, head_sex), head_sex, head_year, "Chủ hộ")]
        if size >= 2:
            sex = Sex.FEMALE if head_sex == Sex.MALE else Sex.MALE
            year = max(this_year - 95, min(this_year - 18, head_year + rng.randint(-6, 6)))
            people.append(Person(self.name(self._pick(self.surnames), sex), sex, year, "Vợ/Chồng"))
        while len(people) < size:
            if head_year < this_year - 55 and rng.random() < 0.3:
                relation = "Cháu"
                year = rng.randint(max(head_year + 40, this_year - 20), this_year)
            elif head_year > this_year - 45 and rng.random() < 0.25:
                relation = "Bố/Mẹ"
                year = rng.randint(max(this_year - 95, head_year - 38), head_year - 19)
            else:
                relation = "Con"
                year = rng.randint(head_year + 19, min(this_year, head_year + 42))
            sex = rng.choice((Sex.MALE, Sex.FEMALE))
            family = surname if relation in ("Con", "Cháu") else self._pick(self.surnames)
            people.append(Person(self.name(family, sex), sex, year, relation))
        seen: set[tuple[str, int]] = set()
        for person in people:
            # Name and year tell a household's residents apart: never twice the same.
            while (person.name, person.birth_year) in seen:
                person.name = self.name(person.name.split()[0], person.sex)
            seen.add((person.name, person.birth_year))
        for person in people:
            self.baseline(person, this_year)
        return people

    def baseline(self, person: Person, this_year: int) -> None:
        rng = self.rng
        age = this_year - person.birth_year
        if age >= 15 and rng.random() < PHONE_SHARE:
            person.phone = self.phone()
        if age >= 14 and rng.random() < CCCD_SHARE:
            person.cccd = self.cccd(person.sex, person.birth_year)
        if age >= 12:
            person.smartphone = rng.random() < (SMARTPHONE_SHARE if age < 70 else 0.4)
        person.welfare = rng.random() < WELFARE_SHARE * (3 if age >= 70 else 1)
        if person.welfare and age >= 15 and rng.random() < WELFARE_PAID_SHARE:
            person.states[Service.WELFARE_ACCOUNT] = State.PAID_VIA_ACCOUNT
        if age < 14:
            return
        older = 0.6 if age >= 70 else 1.0
        for service, shares in BASELINE_SHARES.items():
            if service != Service.VNEID and age < 15:
                continue
            draw = rng.random()
            for state, share in shares:
                draw -= share * older
                if draw < 0:
                    person.states[service] = state
                    break

    def outcomes(self, people: list[Person], day: dt.date) -> list[tuple[int, str, str, str, str]]:
        """What one visit does: (place in the household, service, result, state before, state
        after or ""), moving the people's states as it goes."""
        rng = self.rng
        adults = [i for i, p in enumerate(people) if day.year - p.birth_year >= 14]
        if not adults:
            return []
        found: list[tuple[int, str, str, str, str]] = []
        for i in rng.sample(adults, min(len(adults), rng.choice((1, 1, 1, 2, 2, 3)))):
            person = people[i]
            open_services = [
                (s, w)
                for s, w in VISIT_SERVICES
                if person.states.get(s, State.NONE) != STATES[s][-1]
                and (s != Service.DIGITAL_SKILLS or day >= SKILLS_FROM)
                and (s != Service.WELFARE_ACCOUNT or person.welfare)
            ]
            if not open_services:
                continue
            service = rng.choices([s for s, _ in open_services], [w for _, w in open_services])[0]
            result = self._pick(self.results)
            before = person.states.get(service, State.NONE)
            after = ""
            if result == Result.DONE:
                after = STATES[service][-1]
            elif result == Result.STARTED and service == Service.VNEID and before == State.NONE:
                after = State.REGISTERED
            if after:
                person.states[service] = after
            found.append((i, service, result, before, after))
        return found


def template_row(
    person: Person, *, code: str, hamlet: str, house: str, street: str, phone: str, on: str
) -> list[Any]:
    """One resident as a row of the household import's template."""
    values: dict[str, Any] = {
        "household_code": code,
        "hamlet": hamlet,
        "house_number": house,
        "street": street,
        "household_phone": phone,
        "full_name": person.name,
        "relation": person.relation,
        "sex": "Nam" if person.sex == Sex.MALE else "Nữ",
        "birth_year": person.birth_year,
        "phone": person.phone,
        "cccd": person.cccd,
        "smartphone": "" if person.smartphone is None else "Có" if person.smartphone else "Không",
        "welfare": "Có" if person.welfare else "Không",
        "states_on": on if person.states else "",
    }
    for service, state in person.states.items():
        values[f"state_{service}"] = STATE_VALUES[service][state]
    return [values.get(c.key, "") for c in COLUMNS]


STREETS = (
    "Đường Yersin", "Đường Cách Mạng Tháng Tám", "Đường Bạch Đằng", "Đường Phú Lợi",
    "Đường Huỳnh Văn Lũy", "Đường Lê Hồng Phong", "Đường Nguyễn Văn Tiết", "Đường ĐT 744",
    "Đường Hùng Vương", "Đường Ngô Quyền", "Đường Trần Văn Ơn", "Đường Võ Minh Đức",
)  # fmt: skip


# --- The demo -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    communes: int
    households: int
    residents: int
    visits: int
    seconds: float = 0.0

    def __str__(self) -> str:
        what = f"created in {self.seconds:.1f}s" if self.created else "already there, unchanged"
        return (
            f"Outreach demo: {self.households:,} households, {self.residents:,} residents and "
            f"{self.visits:,} visits in {self.communes} communes ({what})"
        )


@dataclass
class _Plan:
    """A household to visit: its team's members and its people as generated."""

    ward: AdminUnit
    code: str
    members: list[Any]
    people: list[Person]


def _hamlets(ward: AdminUnit) -> list[tuple[Hamlet, list[Any]]]:
    """The ward's demo hamlets, each with the members (active memberships, with the day each
    joined) of the team that covers its households: the import gives a new household its
    hamlet's team when the hamlet has exactly one that is not dissolved."""
    hamlets = list(
        Hamlet.objects.filter(
            commune=ward, former_commune__isnull=False, retired_on__isnull=True
        ).order_by("name")
    )
    teams: dict[int, list[Team]] = {}
    for team in (
        Team.objects.filter(hamlet__in=hamlets, kind=TeamKind.HAMLET)
        .exclude(status=TeamStatus.DISSOLVED)
        .order_by("code")
    ):
        teams.setdefault(team.hamlet_id or 0, []).append(team)
    covering = {
        hamlet_id: found[0]
        for hamlet_id, found in teams.items()
        if len(found) == 1 and found[0].status == TeamStatus.ACTIVE
    }
    members: dict[int, list[Any]] = {}
    for membership in (
        Membership.objects.filter(team__in=covering.values(), left_on__isnull=True)
        .select_related("member")
        .order_by("team__code", "role", "member__phone")
    ):
        members.setdefault(membership.team_id, []).append(membership)
    return [
        (hamlet, members.get(covering[hamlet.pk].pk, []) if hamlet.pk in covering else [])
        for hamlet in hamlets
    ]


def seed_outreach() -> DemoSummary:
    """Build the demo once; later runs find it and change nothing."""
    started = time.perf_counter()
    wards = list(
        AdminUnit.objects.filter(
            hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, code__in=WARDS
        ).order_by("code")
    )
    households = Household.objects.filter(commune__in=wards)
    created = bool(wards) and not households.exists()
    if created:
        with transaction.atomic():
            _build(wards, random.Random(SEED))  # noqa: S311 (demo content, not secrets)
    residents = Resident.objects.filter(household__in=households)
    return DemoSummary(
        created=created,
        communes=len(wards),
        households=households.count(),
        residents=residents.count(),
        visits=Visit.objects.filter(commune__in=wards).count(),
        seconds=time.perf_counter() - started,
    )


def _build(wards: list[AdminUnit], rng: random.Random) -> None:
    population = Population(rng)
    today = timezone.localdate()
    first_day = today - dt.timedelta(days=DAYS)
    baseline_day = first_day - dt.timedelta(days=1)
    this_year = baseline_day.year
    plans: list[_Plan] = []
    for ward in wards:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([c.header for c in COLUMNS])
        serial = 0
        for hamlet_index, (hamlet, members) in enumerate(_hamlets(ward), start=1):
            streets = rng.sample(STREETS, 3)
            for n in range(rng.randint(*HOUSEHOLDS_PER_HAMLET)):
                serial += 1
                code = f"{ward.code}-{serial:04d}"
                people = population.household(this_year)
                phone = next((p.phone for p in people if p.phone), "")
                for person in people:
                    writer.writerow(
                        template_row(
                            person,
                            code=code,
                            hamlet=hamlet.name,
                            house=f"{hamlet_index}/{n + 1}",
                            street=streets[n % 3],
                            phone=phone,
                            on=baseline_day.strftime("%d/%m/%Y"),
                        )
                    )
                plans.append(_Plan(ward, code, members, people))
        data = out.getvalue().encode()
        result = import_households(
            upload=io.BytesIO(data),
            size=len(data),
            commune=ward,
            user=None,
            apply=True,
            file_name=CHANGE_REASON,
        )
        if not result.applied:
            raise RuntimeError(f"demo households of {ward.code} refused: {result.errors[:3]}")
    # The list is as of the day before the year of visits: so are the households and residents
    # on it, or a year of visits would reach households that the figures do not yet count.
    listed = dt.datetime.combine(baseline_day, dt.time(8), timezone.get_current_timezone())
    Household.objects.filter(commune__in=wards).update(created_at=listed)
    Resident.objects.filter(household__commune__in=wards).update(created_at=listed)
    _visits(plans, population, first_day, today)


def _visits(plans: list[_Plan], population: Population, first_day: dt.date, today: dt.date) -> None:
    rng = population.rng
    tz = timezone.get_current_timezone()
    recent = today - dt.timedelta(days=25)
    households = {
        (h.commune_id, h.code): h
        for h in Household.objects.filter(commune__in={p.ward for p in plans})
    }
    residents: dict[tuple[int, str, int | None], Resident] = {
        (r.household_id, r.full_name, r.birth_year): r
        for r in Resident.objects.filter(household__in=households.values())
    }
    number = 0
    for plan in plans:
        if not plan.members:
            continue
        household = households[(plan.ward.pk, plan.code)]
        count = int(VISITS_PER_HOUSEHOLD) + (rng.random() < VISITS_PER_HOUSEHOLD % 1)
        days = sorted(first_day + dt.timedelta(days=rng.randrange(DAYS)) for _ in range(count))
        for day in days:
            membership = rng.choice(plan.members)
            if membership.joined_on > day:
                continue
            outcomes = [
                OutcomeIn(
                    resident=residents[
                        (household.pk, plan.people[i].name, plan.people[i].birth_year)
                    ],
                    service=service,
                    result=result,
                    new_state=after or None,
                )
                for i, service, result, _before, after in population.outcomes(plan.people, day)
            ]
            moment = dt.datetime.combine(day, dt.time(rng.randint(7, 18), rng.randrange(60)), tz)
            point = None
            hamlet = household.hamlet
            if hamlet.latitude is not None and hamlet.longitude is not None and rng.random() < 0.8:
                point = (
                    hamlet.latitude + rng.uniform(-0.003, 0.003),
                    hamlet.longitude + rng.uniform(-0.003, 0.003),
                )
            number += 1
            visit_record(
                member=membership.member,
                household=household,
                happened_at=moment,
                outcomes=outcomes,
                idempotency_key=f"demo:{plan.code}:{number}",
                # Visits older than the bot accepts are entered by the commune.
                source=VisitSource.BOT if day >= recent else VisitSource.IMPORT,
                point=point,
                accuracy_m=rng.choice((6, 10, 15, 25, 40)) if point else None,
                notes=rng.choice(NOTES),
            )
