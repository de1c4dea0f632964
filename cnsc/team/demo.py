"""Demo data: Bình Dương's teams as a news report of 29 November 2023 describes them.

586 teams with 3,329 members in the 91 former communes of former province 74, a member target of
4,500, under the current wards of Hồ Chí Minh City those communes went into. Hamlets are not in
the official lists, so they are made up here: "Khu phố N" in wards (numbered through the
merged ward, as wards number their quarters), "Ấp <name>" in communes (Bình Dương says ấp,
not thôn). Each hamlet records its former commune and sits near that commune's centre.

Everything comes from one seeded ``random.Random``, so two runs on empty databases give the same
names, phones, sizes and dates. Public codes (``Hamlet.code``, ``Member.code``) stay random: they
are unguessable identifiers, not demo content. Every membership starts on or before the report
date, so the roster on that day is the report's.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from cnsc.access.demo import DEMO_ACCOUNTS
from cnsc.access.models import User
from cnsc.access.roles import Role
from cnsc.core.identity import Sex, cccd_protect, try_normalize_phone
from cnsc.core.text import nfc, search_key
from cnsc.geo.models import AdminUnit, Hamlet, HamletKind, Hierarchy, Level, UnitKind, UnitMapping
from cnsc.team.models import (
    Member,
    MemberRole,
    Membership,
    Organisation,
    Target,
    Team,
    TeamStatus,
)
from cnsc.team.services import default_consent_purpose, member_update

FORMER_PROVINCE = "74"  # Bình Dương until 30 June 2025
CURRENT_PROVINCE = "79"  # Hồ Chí Minh City
REPORT_DATE = dt.date(2023, 11, 29)
FORMER_COMMUNES = 91
TEAMS = 586
MEMBERS = 3_329
MEMBER_TARGET = 4_500
# A few more hamlets than teams, so "hamlets with an active team" is not trivially 100%.
HAMLETS = 610
SEED = 20231129
CHANGE_REASON = "Demo data (seed_demo)"

FIRST_DECISIONS = (dt.date(2022, 3, 15), dt.date(2022, 12, 20))
LATER_DECISIONS = (dt.date(2023, 2, 1), dt.date(2023, 9, 30))
# Hamlets predate the first teams (guideline 793/BTTTT-THH, March 2022).
HAMLETS_CREATED_ON = dt.date(2022, 1, 1)
# About 1.3 km: hamlets spread around their former commune's centre.
JITTER_DEGREES = 0.012

T = TypeVar("T")


def _weighted(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


# --- Names ------------------------------------------------------------------------------------

# Southern frequencies: Huỳnh and Võ where the north says Hoàng and Vũ.
SURNAMES = (
    ("Nguyễn", 31), ("Trần", 11), ("Lê", 10), ("Phạm", 6), ("Huỳnh", 5), ("Võ", 5),
    ("Phan", 4), ("Trương", 2), ("Bùi", 2), ("Đặng", 2), ("Đỗ", 2), ("Ngô", 2), ("Hồ", 2),
    ("Dương", 1.5), ("Hoàng", 1.5), ("Vũ", 1.5), ("Đinh", 1), ("Lâm", 1), ("Lý", 1),
    ("Mai", 1), ("Cao", 1), ("Đoàn", 1), ("Tô", 0.5), ("Châu", 0.5), ("Thái", 0.5),
    ("Lương", 0.5), ("Tạ", 0.5), ("Hà", 0.5), ("La", 0.3), ("Kiều", 0.3),
)  # fmt: skip
MIDDLE = {
    Sex.MALE: ("Văn", "Minh", "Hoàng", "Quốc", "Thanh", "Hữu", "Đức", "Công", "Tấn", "Thành",
               "Ngọc", "Trọng", "Duy", "Nhật", "Gia", "Anh", "Bảo", "Chí"),
    Sex.FEMALE: ("Thị", "Ngọc", "Thanh", "Thu", "Kim", "Mỹ", "Hồng", "Bích", "Thùy", "Phương",
                 "Minh", "Hoài", "Yến", "Khánh", "Diễm", "Cẩm", "Tường", "Bảo"),
}  # fmt: skip
GIVEN = {
    Sex.MALE: ("An", "Bình", "Cường", "Dũng", "Đạt", "Định", "Đông", "Giang", "Hải", "Hào",
               "Hậu", "Hiếu", "Hòa", "Hùng", "Huy", "Khang", "Khoa", "Kiên", "Lâm", "Lộc",
               "Long", "Luân", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong", "Phúc", "Quân",
               "Quang", "Sang", "Sơn", "Tài", "Tâm", "Tân", "Thắng", "Thành", "Thịnh", "Thông",
               "Tiến", "Toàn", "Trí", "Trung", "Tuấn", "Tùng", "Vinh", "Vũ", "Khải", "Lợi"),
    Sex.FEMALE: ("Anh", "Châu", "Diễm", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền",
                 "Hoa", "Hồng", "Huệ", "Hương", "Lan", "Liên", "Linh", "Loan", "Mai", "My",
                 "Nga", "Ngân", "Ngọc", "Nhi", "Nhung", "Oanh", "Phượng", "Phương", "Quyên",
                 "Tâm", "Thảo", "Thắm", "Thanh", "Thư", "Thủy", "Tiên", "Trang", "Trâm",
                 "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến", "Hậu", "Lệ", "Ly"),
}  # fmt: skip

# Southern hamlet names; the pool is shuffled per commune and falls back to numbers.
AP_NAMES = (
    "Bàu Khai", "Bến Súc", "Bến Tượng", "Bố Lá", "Bưng Thuốc", "Cầu Sắt", "Cây Sắn",
    "Cây Trường", "Chánh Hưng", "Đất Đỏ", "Đồng Chèo", "Đồng Sến", "Hòa Lộc", "Kiến An",
    "Lò Gạch", "Long Điền", "Long Thọ", "Phước Hưng", "Rạch Kiến", "Suối Ông", "Suối Tre",
    "Tân Lập", "Tân Thịnh", "Tân Hòa", "Bình Mỹ", "Vĩnh Hòa", "Xóm Mới", "Xóm Bưng",
    "Bà Phái", "Bàu Lòng", "Bàu Bàng", "Cầu Đò", "Hố Cạn", "Lai Khê", "Mương Đào",
    "Bình Thuận", "Đồng Tâm", "Hòa Thạnh", "An Hòa", "An Thành", "Phú Thứ", "Tân Phú",
    "Tân Bình", "Bình Phước", "Đồng Trầu", "Cổng Xanh", "Bà Tứ", "Rạch Bắp", "Căm Xe",
    "Bến Trám", "Sóc Tràm", "Vườn Điều", "Suối Cát", "Bình Hưng", "Tân Thành", "Phú Bình",
    "Chòi Dầu", "Bình Hòa", "Tân Định", "Hưng Lộc", "Bàu Sao", "Bến Đình", "Giáp Lạc",
    "Hòa Cường", "Phú Hữu", "Tân Lợi", "Trảng Sắn", "Vĩnh Lợi", "Xóm Đồng", "Bà Khiêm",
)  # fmt: skip

# --- Who the members are ----------------------------------------------------------------------

ORGANISATIONS = {
    # The hamlet head (trưởng ấp / trưởng khu phố) usually leads the team.
    MemberRole.LEADER: (
        (Organisation.HAMLET_LEADERSHIP, 60), (Organisation.YOUTH_UNION, 15),
        (Organisation.COMMUNE_POLICE, 10), (Organisation.WOMENS_UNION, 8),
        (Organisation.VETERANS, 4), (Organisation.OTHER, 3),
    ),
    MemberRole.DEPUTY: (
        (Organisation.YOUTH_UNION, 35), (Organisation.COMMUNE_POLICE, 25),
        (Organisation.WOMENS_UNION, 20), (Organisation.HAMLET_LEADERSHIP, 10),
        (Organisation.VETERANS, 5), (Organisation.TELECOM, 5),
    ),
    MemberRole.MEMBER: (
        (Organisation.YOUTH_UNION, 25), (Organisation.WOMENS_UNION, 16),
        (Organisation.HAMLET_LEADERSHIP, 12), (Organisation.COMMUNE_POLICE, 9),
        (Organisation.VETERANS, 8), (Organisation.TELECOM, 7), (Organisation.SCHOOL, 7),
        (Organisation.POST_OFFICE, 4), (Organisation.HEALTH_STATION, 4),
        (Organisation.OTHER, 8),
    ),
}  # fmt: skip
BIRTH_YEARS = {
    Organisation.YOUTH_UNION: (1988, 2005),
    Organisation.VETERANS: (1950, 1972),
    Organisation.HAMLET_LEADERSHIP: (1958, 1985),
}
DEFAULT_BIRTH_YEARS = (1965, 2000)
FEMALE_SHARE = {
    Organisation.WOMENS_UNION: 1.0,
    Organisation.VETERANS: 0.05,
    Organisation.COMMUNE_POLICE: 0.15,
    Organisation.HAMLET_LEADERSHIP: 0.3,
}
SKILLS = {
    Organisation.COMMUNE_POLICE: "Kích hoạt tài khoản định danh điện tử VNeID mức 2",
    Organisation.YOUTH_UNION: "Cài đặt ứng dụng Bình Dương Số, nộp hồ sơ dịch vụ công trực tuyến",
    Organisation.WOMENS_UNION: "Thanh toán không dùng tiền mặt, mở tài khoản ngân hàng",
    Organisation.TELECOM: "Mobile Money, chữ ký số từ xa, cài đặt điện thoại thông minh",
    Organisation.POST_OFFICE: "Chi trả an sinh xã hội qua tài khoản, dịch vụ công",
    Organisation.SCHOOL: "Kỹ năng số cơ bản, Bình dân học vụ số",
    Organisation.HEALTH_STATION: "Sổ sức khỏe điện tử, đặt lịch khám trực tuyến",
    Organisation.VETERANS: "Hướng dẫn người cao tuổi dùng điện thoại thông minh",
    Organisation.HAMLET_LEADERSHIP: "Nắm danh sách hộ dân, vận động người dân",
}
# Mobile prefixes in use since 2018, weighted roughly by market share (Viettel first).
MOBILE_PREFIXES = (
    ("086", 3), ("096", 4), ("097", 4), ("098", 4), ("032", 2), ("033", 2), ("034", 2),
    ("035", 2), ("036", 2), ("037", 2), ("038", 2), ("039", 2), ("088", 2), ("091", 3),
    ("094", 3), ("081", 1), ("082", 1), ("083", 1), ("084", 1), ("085", 1), ("089", 2),
    ("090", 3), ("093", 3), ("070", 1), ("076", 1), ("077", 1), ("078", 1), ("079", 1),
    ("056", 0.5), ("058", 0.5), ("092", 0.5), ("059", 0.3), ("099", 0.3),
)  # fmt: skip
# Where members' births were registered: mostly Bình Dương, then the provinces people moved from.
CCCD_PROVINCES = (
    ("074", 55), ("079", 8), ("070", 5), ("072", 3), ("075", 3), ("038", 4), ("040", 4),
    ("042", 2), ("052", 2), ("054", 2), ("080", 2), ("082", 2), ("083", 2), ("086", 2),
    ("087", 1), ("089", 1), ("091", 1), ("096", 1), ("036", 1), ("034", 1),
)  # fmt: skip
CCCD_SHARE = 0.4
EMAIL_SHARE = 0.1
SKILLS_SHARE = 0.35


@dataclass(frozen=True)
class DemoSummary:
    created: bool
    former_communes: int
    hamlets: int
    teams: int
    members: int
    seconds: float = 0.0

    def __str__(self) -> str:
        what = f"created in {self.seconds:.1f}s" if self.created else "already there, unchanged"
        return (
            f"Bình Dương demo: {self.former_communes} former communes, {self.hamlets:,} hamlets, "
            f"{self.teams:,} teams, {self.members:,} members ({what})"
        )


def seed_binh_duong() -> DemoSummary:
    """Build the demo once; later runs find it and change nothing (only a demo team leader
    account created since is linked to its member)."""
    started = time.perf_counter()
    province = AdminUnit.objects.get(
        hierarchy=Hierarchy.FORMER, level=Level.PROVINCE, code=FORMER_PROVINCE
    )
    demo_hamlets = Hamlet.objects.filter(former_commune__province=province)
    created = not demo_hamlets.exists()
    if created:
        with transaction.atomic():
            _build(province, random.Random(SEED))  # noqa: S311 (demo content, not secrets)
    _link_demo_team_leader(province)
    teams = Team.objects.filter(hamlet__in=demo_hamlets)
    return DemoSummary(
        created=created,
        former_communes=demo_hamlets.values("former_commune").distinct().count(),
        hamlets=demo_hamlets.count(),
        teams=teams.count(),
        members=Member.objects.filter(
            memberships__team__in=teams, memberships__left_on__isnull=True
        ).count(),
        seconds=time.perf_counter() - started,
    )


# --- The plan ---------------------------------------------------------------------------------


@dataclass
class _Person:
    role: str
    joined_on: dt.date
    # Earlier memberships, ended: (team index, role, joined_on, left_on).
    before: list[tuple[int, str, dt.date, dt.date]] = field(default_factory=list)


def _spread(rng: random.Random, sizes: list[int], total: int, low: int, high: int) -> None:
    """Nudge ``sizes`` one at a time, at random places within [low, high], until they sum to
    ``total``."""
    while (gap := total - sum(sizes)) != 0:
        i = rng.randrange(len(sizes))
        if gap > 0 and sizes[i] < high:
            sizes[i] += 1
        elif gap < 0 and sizes[i] > low:
            sizes[i] -= 1


def _date_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, max(0, (last - first).days)))


def _build(province: AdminUnit, rng: random.Random) -> None:
    formers = list(
        AdminUnit.objects.filter(
            province=province, hierarchy=Hierarchy.FORMER, level=Level.COMMUNE
        ).order_by("code")
    )
    successor = dict(
        UnitMapping.objects.filter(former__in=formers, is_main=True).values_list(
            "former_id", "current_id"
        )
    )
    currents = AdminUnit.objects.in_bulk(set(successor.values()))
    hamlets = _hamlets(rng, formers, successor, currents)
    teams = _teams(rng, hamlets)
    people = _people(rng, teams)
    _members(rng, teams, people)
    _targets(province, hamlets=len(hamlets))


def _hamlets(
    rng: random.Random,
    formers: list[AdminUnit],
    successor: dict[int, int],
    currents: dict[int, AdminUnit],
) -> list[Hamlet]:
    size_range = {UnitKind.WARD: (5, 10), UnitKind.TOWNSHIP: (5, 9)}
    counts = [rng.randint(*size_range.get(UnitKind(f.kind), (4, 9))) for f in formers]
    _spread(rng, counts, HAMLETS, 2, 14)

    quarter_numbers: Counter[int] = Counter()
    ap_pools: dict[int, list[str]] = {}
    hamlets: list[Hamlet] = []
    for former, count in zip(formers, counts, strict=True):
        current = currents[successor[former.pk]]
        base_lat = former.latitude or current.latitude
        base_lon = former.longitude or current.longitude
        for _ in range(count):
            if current.kind == UnitKind.WARD:
                quarter_numbers[current.pk] += 1
                name, kind = f"Khu phố {quarter_numbers[current.pk]}", HamletKind.QUARTER
            else:
                pool = ap_pools.setdefault(current.pk, rng.sample(AP_NAMES, len(AP_NAMES)))
                name, kind = f"Ấp {pool.pop()}", HamletKind.HAMLET
            hamlet = Hamlet(
                commune=current,
                former_commune=former,
                name=nfc(name),
                kind=kind,
                created_on=HAMLETS_CREATED_ON,
            )
            if base_lat is not None and base_lon is not None:
                hamlet.latitude = round(base_lat + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES), 6)
                hamlet.longitude = round(base_lon + rng.uniform(-JITTER_DEGREES, JITTER_DEGREES), 6)
            # What Hamlet.save() would store (bulk_create does not call save()).
            hamlet.search_name = search_key(hamlet.name)
            hamlets.append(hamlet)
    return bulk_create_with_history(
        hamlets, Hamlet, batch_size=500, default_change_reason=CHANGE_REASON
    )


def _teams(rng: random.Random, hamlets: list[Hamlet]) -> list[Team]:
    per_former = Counter(h.former_commune_id for h in hamlets)
    without_team: set[int] = set()
    for i in rng.sample(range(len(hamlets)), len(hamlets)):
        if len(without_team) == len(hamlets) - TEAMS:
            break
        former = hamlets[i].former_commune_id
        if per_former[former] > 2:
            per_former[former] -= 1
            without_team.add(i)

    decisions: dict[tuple[int | None, bool], tuple[str, dt.date]] = {}
    codes: Counter[int] = Counter()
    teams: list[Team] = []
    for i, hamlet in enumerate(hamlets):
        if i in without_team:
            continue
        later = rng.random() < 0.12
        key = (hamlet.former_commune_id, later)
        if key not in decisions:
            first, last = LATER_DECISIONS if later else FIRST_DECISIONS
            decisions[key] = (f"{rng.randint(40, 480)}/QĐ-UBND", _date_between(rng, first, last))
        number, day = decisions[key]
        codes[hamlet.commune_id] += 1
        team = Team(
            commune_id=hamlet.commune_id,
            hamlet=hamlet,
            code=f"T{codes[hamlet.commune_id]:02d}",
            name=nfc(f"Tổ CNSC {hamlet.name}"),
            decision_number=number,
            decision_date=day,
            status=TeamStatus.ACTIVE,
            status_since=day,
        )
        # What Team.save() would store.
        team.search_name = search_key(f"{team.name} {team.organisation_name} {team.code}")
        teams.append(team)
    return bulk_create_with_history(
        teams, Team, batch_size=500, default_change_reason=CHANGE_REASON
    )


def _people(rng: random.Random, teams: list[Team]) -> list[list[_Person]]:
    """Who is in each team, in which role, since when, and what came before: a few teams
    changed leader, a few members moved from another team of the same commune."""
    sizes = [rng.randint(4, 8) for _ in teams]
    _spread(rng, sizes, MEMBERS, 3, 12)
    by_commune: defaultdict[int, list[int]] = defaultdict(list)
    for i, team in enumerate(teams):
        by_commune[team.commune_id].append(i)

    roster: list[list[_Person]] = []
    for i, (team, size) in enumerate(zip(teams, sizes, strict=True)):
        founded = team.decision_date or REPORT_DATE
        deputies = _weighted(rng, ((0, 20), (1, 65), (2, 15))) if size >= 4 else 0
        roles = [MemberRole.LEADER] + [MemberRole.DEPUTY] * deputies
        roles += [MemberRole.MEMBER] * (size - len(roles))
        people = [
            _Person(
                role=role,
                joined_on=founded
                if role != MemberRole.MEMBER or rng.random() < 0.75
                else _date_between(rng, founded + dt.timedelta(days=30), REPORT_DATE),
            )
            for role in roles
        ]
        last_change = REPORT_DATE - dt.timedelta(days=10)
        if founded.year == 2022 and size >= 4 and rng.random() < 0.06:
            # The first leader handed over and stayed on as a member; a founding member took over.
            day = _date_between(rng, founded + dt.timedelta(days=90), last_change)
            leader, successor = people[0], people[-1]
            leader.role, successor.role = MemberRole.MEMBER, MemberRole.LEADER
            leader.before.append((i, MemberRole.LEADER, founded, day))
            successor.before.append((i, MemberRole.MEMBER, founded, day))
            leader.joined_on = successor.joined_on = day
            people[0], people[-1] = successor, leader
        neighbours = [j for j in by_commune[team.commune_id] if j != i]
        for person in people:
            if (
                person.role == MemberRole.MEMBER
                and not person.before
                and neighbours
                and rng.random() < 0.015
            ):
                j = rng.choice(neighbours)
                came_from = teams[j].decision_date or founded
                day = _date_between(
                    rng, max(founded, came_from) + dt.timedelta(days=60), last_change
                )
                person.before.append((j, MemberRole.MEMBER, came_from, day))
                person.joined_on = day
        roster.append(people)
    return roster


class _Identities:
    """Names, unique phones and unique CCCDs, drawn from the demo's random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Numbers already on a roster (a developer's own test rows) are skipped, not clashed.
        self.phones = set(Member.objects.values_list("phone", flat=True))
        self.cccd_hashes = set(
            Member.objects.exclude(cccd_hash="").values_list("cccd_hash", flat=True)
        )
        self.cccds: set[str] = set()

    def full_name(self, sex: str, birth_year: int) -> str:
        rng = self.rng
        middles = MIDDLE[Sex(sex)]
        # "Văn" and "Thị" are commoner among older people.
        first_weight = 40 if birth_year < 1985 else 12
        weights = [first_weight] + [60 / (len(middles) - 1)] * (len(middles) - 1)
        middle = rng.choices(middles, weights=weights)[0]
        given = rng.choice(GIVEN[Sex(sex)])
        return nfc(f"{_weighted(rng, SURNAMES)} {middle} {given}")

    def phone(self) -> str:
        while True:
            raw = _weighted(self.rng, MOBILE_PREFIXES) + f"{self.rng.randrange(10**7):07d}"
            # What the services store; None for ranges not (yet) assigned, such as parts of 089.
            e164 = try_normalize_phone(raw)
            if e164 is not None and e164 not in self.phones:
                self.phones.add(e164)
                return e164

    def cccd(self, sex: str, birth_year: int) -> str:
        century = (0 if birth_year < 2000 else 2) + (1 if sex == Sex.FEMALE else 0)
        while True:
            digits = (
                f"{_weighted(self.rng, CCCD_PROVINCES)}{century}{birth_year % 100:02d}"
                f"{self.rng.randrange(10**6):06d}"
            )
            if digits not in self.cccds:
                self.cccds.add(digits)
                return digits


def _members(rng: random.Random, teams: list[Team], roster: list[list[_Person]]) -> None:
    ids = _Identities(rng)
    purpose = default_consent_purpose()
    tz = timezone.get_current_timezone()
    members: list[Member] = []
    placements: list[_Person] = []
    placed_in: list[int] = []
    for i, (team, people) in enumerate(zip(teams, roster, strict=True)):
        for person in people:
            first_role = person.before[0][1] if person.before else person.role
            organisation = _weighted(rng, ORGANISATIONS[MemberRole(first_role)])
            low, high = BIRTH_YEARS.get(organisation, DEFAULT_BIRTH_YEARS)
            birth_year = rng.randint(low, high)
            female = rng.random() < FEMALE_SHARE.get(organisation, 0.45)
            sex = Sex.FEMALE if female else Sex.MALE
            full_name = ids.full_name(sex, birth_year)
            member = Member(
                commune_id=team.commune_id,
                full_name=full_name,
                search_name=search_key(full_name),  # what Member.save() would store
                sex=sex,
                birth_year=birth_year,
                phone=ids.phone(),
                organisation=organisation,
                consent_purpose=purpose,
            )
            first_day = person.before[0][2] if person.before else person.joined_on
            member.consent_given_at = dt.datetime.combine(
                first_day, dt.time(8 + rng.randrange(9), rng.randrange(60)), tzinfo=tz
            )
            if rng.random() < CCCD_SHARE:
                # The same validation and keyed hash as member_create; the digits go no further.
                protected = cccd_protect(ids.cccd(sex, birth_year), sex=sex, birth_year=birth_year)
                if protected.hash not in ids.cccd_hashes:
                    member.cccd_hash = protected.hash
                    member.cccd_last4 = protected.last4
                    member.cccd_key_id = protected.key_id
            if rng.random() < EMAIL_SHARE:
                # example.com: generated people must not get mail at someone's real address.
                local = search_key(full_name).replace(" ", ".")
                member.email = f"{local}{birth_year % 100:02d}@example.com"
            if organisation in SKILLS and rng.random() < SKILLS_SHARE:
                member.skills = SKILLS[organisation]
            members.append(member)
            placements.append(person)
            placed_in.append(i)

    # Bulk writes keep the demo under a few seconds; the rows carry exactly what the services
    # store (NFC names, search keys, E.164 phones, keyed CCCD hashes), and their history records
    # are written in bulk too, marked with CHANGE_REASON.
    members = bulk_create_with_history(
        members, Member, batch_size=500, default_change_reason=CHANGE_REASON
    )
    memberships: list[Membership] = []
    for member, person, i in zip(members, placements, placed_in, strict=True):
        for team_index, role, joined_on, left_on in person.before:
            memberships.append(
                Membership(
                    member=member,
                    team=teams[team_index],
                    role=role,
                    joined_on=joined_on,
                    left_on=left_on,
                )
            )
        memberships.append(
            Membership(member=member, team=teams[i], role=person.role, joined_on=person.joined_on)
        )
    bulk_create_with_history(
        memberships, Membership, batch_size=500, default_change_reason=CHANGE_REASON
    )


def _targets(former: AdminUnit, *, hamlets: int) -> None:
    """The province's 2023 plan (4,500 members, a team per hamlet), and the same plan carried
    forward for this year on the city's side: the demo holds only Bình Dương's former land."""
    city = AdminUnit.objects.get(
        hierarchy=Hierarchy.CURRENT, level=Level.PROVINCE, code=CURRENT_PROVINCE
    )
    for unit, year in ((former, REPORT_DATE.year), (city, timezone.localdate().year)):
        Target.objects.get_or_create(
            unit=unit, year=year, defaults={"members": MEMBER_TARGET, "teams": hamlets}
        )


def _link_demo_team_leader(province: AdminUnit) -> None:
    """Give the demo team leader account the member record of a leader in its ward, so the
    leader sees their own team."""
    spec = next(a for a in DEMO_ACCOUNTS if a.role == Role.TEAM_LEADER)
    user = User.objects.filter(username=spec.username).first()
    if user is None or Member.objects.filter(user=user).exists():
        return
    leader: Any = (
        Member.objects.filter(
            user__isnull=True,
            memberships__role=MemberRole.LEADER,
            memberships__left_on__isnull=True,
            memberships__team__commune__hierarchy=Hierarchy.CURRENT,
            memberships__team__commune__code=spec.unit_code,
            memberships__team__hamlet__former_commune__province=province,
        )
        .order_by("memberships__team__code")
        .first()
    )
    if leader is not None:
        member_update(member=leader, user=user)
