"""Recording visits: states and their history move together, or nothing is stored."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from PIL import Image

from cnsc.outreach import services
from cnsc.outreach.catalogue import PaymentKind, Result, Service, State
from cnsc.outreach.models import (
    Household,
    ServiceEvent,
    ServiceState,
    Source,
    Visit,
    VisitOutcome,
    VisitPhoto,
    VisitSource,
)
from cnsc.outreach.services import OutcomeIn, service_state_set, visit_edit, visit_record
from cnsc.outreach.tests.factories import (
    done,
    image_bytes,
    key,
    make_household,
    make_resident,
    record,
)
from cnsc.team.models import MemberRole
from cnsc.team.services import membership_end
from cnsc.team.tests.factories import enrol, make_team

pytestmark = pytest.mark.django_db

NOW = timezone.now


def states(resident) -> dict[str, str]:
    return dict(ServiceState.objects.filter(resident=resident).values_list("service", "state"))


def nothing_stored() -> bool:
    return not (
        Visit.objects.exists()
        or VisitOutcome.objects.exists()
        or ServiceEvent.objects.exists()
        or ServiceState.objects.exclude(state=State.NONE).exists()
    )


def test_a_visit_moves_states_and_records_each_change_with_its_evidence(
    member, household, resident
):
    spouse = make_resident(household, full_name="Trần Thị Mai", sex="female", birth_year=1983)
    when = NOW() - dt.timedelta(hours=2)
    visit = record(
        member,
        household,
        [
            done(resident, Service.VNEID),
            done(
                spouse, Service.PAYMENT, details={"kind": PaymentKind.E_WALLET, "provider": "MoMo"}
            ),
            OutcomeIn(
                resident=spouse.code,
                service=Service.VNEID,
                result=Result.STARTED,
                new_state=State.REGISTERED,
            ),
            OutcomeIn(resident=resident, service=Service.SIGNATURE, result=Result.REFUSED),
        ],
        happened_at=when,
        point=(10.98, 106.65),
        accuracy_m=12.4,
        notes="  Cả nhà đều ở nhà  ",
    )
    assert states(resident) == {Service.VNEID: State.LEVEL2, Service.SIGNATURE: State.NONE}
    assert states(spouse) == {Service.PAYMENT: State.OPENED, Service.VNEID: State.REGISTERED}
    payment = ServiceState.objects.get(resident=spouse, service=Service.PAYMENT)
    assert payment.details == {"kind": "e_wallet", "provider": "MoMo"}
    assert (
        ServiceState.objects.get(resident=resident, service=Service.SIGNATURE).last_result
        == "refused"
    )

    events = ServiceEvent.objects.filter(visit=visit)
    assert events.count() == 3  # the refusal changes no state
    vneid = events.get(resident=resident)
    assert (vneid.from_state, vneid.to_state, vneid.backward) == ("none", "level2", False)
    assert (vneid.member, vneid.source, vneid.happened_at) == (member, Source.VISIT, when)
    assert visit.outcomes.count() == 4
    assert (visit.team, visit.commune, visit.accuracy_m, visit.notes) == (
        household.team,
        household.commune,
        12,
        "Cả nhà đều ở nhà",
    )
    household.refresh_from_db()
    assert household.last_visited_at == when


def test_an_invalid_outcome_after_valid_ones_leaves_nothing(member, household, resident):
    with pytest.raises(ValidationError) as error:
        record(
            member,
            household,
            [
                done(resident, Service.VNEID),
                OutcomeIn(
                    resident=resident,
                    service=Service.PAYMENT,
                    result=Result.DONE,
                    new_state=State.LEVEL2,
                ),
            ],
        )
    assert "is not a state of" in error.value.messages[0]
    assert nothing_stored()


def test_a_failure_found_in_the_database_half_way_leaves_nothing(member, household, resident):
    """The step back is only found once the current states are read, after the visit row and
    the first outcomes were written: the whole visit is rolled back."""
    service_state_set(
        resident=resident,
        service=Service.SIGNATURE,
        state=State.ISSUED,
        by=None,
        happened_at=NOW() - dt.timedelta(days=1),
    )
    before = ServiceEvent.objects.count()
    with pytest.raises(ValidationError, match="Going back"):
        record(
            member,
            household,
            [
                done(resident, Service.VNEID),
                OutcomeIn(
                    resident=resident,
                    service=Service.SIGNATURE,
                    result=Result.DONE,
                    new_state=State.NONE,
                ),
            ],
        )
    assert not Visit.objects.exists()
    assert not VisitOutcome.objects.exists()
    assert ServiceEvent.objects.count() == before
    assert states(resident) == {Service.SIGNATURE: State.ISSUED}
    household.refresh_from_db()
    assert household.last_visited_at is None


def test_the_same_key_twice_stores_one_visit(member, household, resident):
    first, created = visit_record(
        member=member,
        household=household,
        happened_at=NOW(),
        outcomes=[done(resident)],
        idempotency_key="bot:42:1001",
        source=VisitSource.BOT,
    )
    again, created_again = visit_record(
        member=member,
        household=household,
        happened_at=NOW(),
        outcomes=[done(resident, Service.PAYMENT)],
        idempotency_key="bot:42:1001",
        source=VisitSource.BOT,
    )
    assert (created, created_again) == (True, False)
    assert again == first
    assert Visit.objects.count() == 1
    assert ServiceEvent.objects.count() == 1
    assert states(resident) == {Service.VNEID: State.LEVEL2}


def test_a_key_that_arrives_twice_at_the_same_moment_stores_one_visit(
    member, household, resident, monkeypatch
):
    """The second request checks for the key before the first has stored it, then loses the
    race on the unique index: it returns the first visit."""
    first = record(member, household, [done(resident)], idempotency_key="bot:42:7")
    real = services._stored_earlier
    calls = []

    def not_yet_stored(*args, **kwargs):
        calls.append(1)
        return None if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(services, "_stored_earlier", not_yet_stored)
    again, created = visit_record(
        member=member,
        household=household,
        happened_at=NOW(),
        outcomes=[done(resident, Service.PAYMENT)],
        idempotency_key="bot:42:7",
        source=VisitSource.BOT,
    )
    assert (again, created) == (first, False)
    assert Visit.objects.count() == 1
    assert states(resident) == {Service.VNEID: State.LEVEL2}


def test_someone_elses_key_is_refused(member, team, household, resident):
    record(member, household, [done(resident)], idempotency_key="web:abc")
    colleague = enrol(team, full_name="Võ Văn Kiệt").member
    with pytest.raises(ValidationError, match="already used"):
        record(colleague, household, [done(resident)], idempotency_key="web:abc")


def test_a_member_of_another_team_is_refused(member, household, resident, neighbour_commune):
    from cnsc.geo.models import Hamlet, HamletKind

    elsewhere = Hamlet.objects.create(
        commune=neighbour_commune, name="Khu phố 9", kind=HamletKind.QUARTER
    )
    stranger = enrol(make_team(elsewhere), full_name="Đỗ Văn Lạ").member
    with pytest.raises(ValidationError) as error:
        record(stranger, household, [done(resident)])
    assert error.value.error_dict["household"][0].code == "other_team"
    assert nothing_stored()


def test_a_member_who_left_the_team_is_refused(member, household, resident):
    membership = member.memberships.get()
    membership_end(membership=membership, left_on=membership.joined_on)
    with pytest.raises(ValidationError, match="another team"):
        record(member, household, [done(resident)])


def test_a_household_without_a_team_is_refused(member, hamlet):
    from cnsc.outreach.services import household_create

    loose = household_create(hamlet=hamlet)
    with pytest.raises(ValidationError, match="not covered by any team"):
        record(member, loose, [])


def test_a_resident_of_another_household_is_refused(member, team, household, resident):
    other = make_household(team, house_number="14")
    neighbour = make_resident(other, full_name="Hồ Thị Lan", sex="female")
    with pytest.raises(ValidationError, match="does not live in this household"):
        record(member, household, [done(resident), done(neighbour)])
    with pytest.raises(ValidationError, match="does not live in this household"):
        record(
            member,
            household,
            [OutcomeIn(resident="NOSUCHCODE", service=Service.VNEID, result=Result.DONE)],
        )
    assert nothing_stored()


@pytest.mark.parametrize(
    ("service", "result", "new_state", "message"),
    [
        ("zalo", Result.DONE, None, "no service called"),
        (Service.VNEID, Result.DONE, "level3", "not a state of"),
        (Service.VNEID, "maybe", None, "not a visit result"),
        (Service.VNEID, Result.REFUSED, State.LEVEL2, "cannot change the state"),
    ],
)
def test_unknown_services_states_and_results_are_refused(
    member, household, resident, service, result, new_state, message
):
    with pytest.raises(ValidationError, match=message) as error:
        record(
            member,
            household,
            [OutcomeIn(resident=resident, service=service, result=result, new_state=new_state)],
        )
    assert "outcomes" in error.value.error_dict
    assert nothing_stored()


def test_unknown_details_are_refused(member, household, resident):
    with pytest.raises(ValidationError, match="takes no detail"):
        record(member, household, [done(resident, Service.PAYMENT, details={"pin": "1234"})])
    with pytest.raises(ValidationError, match="bank account, an e-wallet or Mobile Money"):
        record(member, household, [done(resident, Service.PAYMENT, details={"kind": "gold"})])


def test_the_same_resident_and_service_twice_is_refused(member, household, resident):
    with pytest.raises(ValidationError, match="appear twice"):
        record(
            member,
            household,
            [
                done(resident),
                OutcomeIn(resident=resident.code, service=Service.VNEID, result=Result.STARTED),
            ],
        )
    assert nothing_stored()


def test_welfare_through_an_account_only_for_beneficiaries(member, household, resident):
    with pytest.raises(ValidationError, match="beneficiaries"):
        record(member, household, [done(resident, Service.WELFARE_ACCOUNT)])
    beneficiary = make_resident(
        household, full_name="Bà Sáu", sex="female", birth_year=1940, welfare_beneficiary=True
    )
    record(member, household, [done(beneficiary, Service.WELFARE_ACCOUNT)])
    assert states(beneficiary) == {Service.WELFARE_ACCOUNT: State.PAID_VIA_ACCOUNT}


@pytest.mark.parametrize(
    ("when", "source", "code"),
    [
        (dt.timedelta(hours=1), VisitSource.BOT, "future"),
        (-dt.timedelta(days=60), VisitSource.BOT, "too_old"),
        (-dt.timedelta(days=365 * 10), VisitSource.IMPORT, "too_old"),
    ],
)
def test_times_in_the_future_or_long_ago_are_refused(
    member, household, resident, when, source, code
):
    with pytest.raises(ValidationError) as error:
        record(member, household, [done(resident)], happened_at=NOW() + when, source=source)
    assert error.value.error_dict["happened_at"][0].code == code
    assert nothing_stored()


def test_a_little_clock_skew_and_an_imported_old_visit_are_accepted(member, household, resident):
    record(member, household, [], happened_at=NOW() + dt.timedelta(minutes=2))
    record(
        member,
        household,
        [done(resident)],
        happened_at=NOW() - dt.timedelta(days=200),
        source=VisitSource.IMPORT,
    )
    assert Visit.objects.count() == 2


@pytest.mark.parametrize(
    "point",
    [(1.29, 103.85), (5.0, 110.0), (0.0, 0.0), (float("nan"), 106.0), (10.9, 200.0)],
    ids=["singapore", "open-sea-south", "null-island", "nan", "bad-longitude"],
)
def test_a_point_outside_vietnam_is_refused(member, household, resident, point):
    with pytest.raises(ValidationError) as error:
        record(member, household, [done(resident)], point=point)
    assert error.value.error_dict["point"][0].code == "point_outside"
    assert nothing_stored()


def test_going_back_needs_confirmation_and_is_recorded(member, household, resident):
    record(
        member,
        household,
        [
            done(
                resident,
                Service.SIGNATURE,
                details={"provider": "VNPT SmartCA", "date": "2025-09-01"},
            )
        ],
    )
    with pytest.raises(ValidationError, match="must be confirmed"):
        record(
            member,
            household,
            [
                OutcomeIn(
                    resident=resident,
                    service=Service.SIGNATURE,
                    result=Result.DONE,
                    new_state=State.NONE,
                )
            ],
        )
    revoked = record(
        member,
        household,
        [
            OutcomeIn(
                resident=resident,
                service=Service.SIGNATURE,
                result=Result.DONE,
                new_state=State.NONE,
                allow_backward=True,
            )
        ],
    )
    event = ServiceEvent.objects.get(visit=revoked)
    assert (event.from_state, event.to_state, event.backward) == ("issued", "none", True)
    history = list(
        ServiceEvent.objects.filter(resident=resident)
        .order_by("recorded_at", "pk")
        .values_list("to_state", flat=True)
    )
    assert history == ["issued", "none"]
    assert states(resident) == {Service.SIGNATURE: State.NONE}


def test_an_official_records_a_state_and_a_revocation(official, resident):
    event = service_state_set(
        resident=resident,
        service=Service.SIGNATURE,
        state=State.ISSUED,
        by=official,
        details={"provider": "Viettel MySign"},
    )
    assert (event.source, event.user, event.visit) == (Source.OFFICIAL, official, None)
    assert (
        service_state_set(
            resident=resident, service=Service.SIGNATURE, state=State.ISSUED, by=official
        )
        is None
    )
    with pytest.raises(ValidationError, match="must be confirmed"):
        service_state_set(
            resident=resident, service=Service.SIGNATURE, state=State.NONE, by=official
        )
    revoked = service_state_set(
        resident=resident,
        service=Service.SIGNATURE,
        state=State.NONE,
        by=official,
        allow_backward=True,
    )
    assert revoked.backward
    assert ServiceEvent.objects.filter(resident=resident).count() == 2


def test_a_late_offline_visit_does_not_undo_a_newer_state(member, household, resident):
    record(member, household, [done(resident)], happened_at=NOW() - dt.timedelta(hours=1))
    late = record(
        member,
        household,
        [
            OutcomeIn(
                resident=resident,
                service=Service.VNEID,
                result=Result.STARTED,
                new_state=State.REGISTERED,
            )
        ],
        happened_at=NOW() - dt.timedelta(days=2),
    )
    assert states(resident) == {Service.VNEID: State.LEVEL2}
    assert not ServiceEvent.objects.filter(visit=late).exists()
    assert late.outcomes.get().new_state == State.REGISTERED  # what the member reported stays
    household.refresh_from_db()
    assert household.last_visited_at > late.happened_at


def test_recording_a_visit_takes_few_queries(
    member, household, resident, django_assert_max_num_queries
):
    spouse = make_resident(household, full_name="Trần Thị Mai", sex="female", birth_year=1983)
    record(member, household, [done(resident, Service.PAYMENT)])
    outcomes = [
        done(resident),
        done(resident, Service.PAYMENT),
        done(spouse),
        done(spouse, Service.PROVINCE_APP),
    ]
    # The key looked up; inside a savepoint: the residents with the member's team, the visit
    # and its history row, the outcomes, the states read under lock, the new and the changed
    # states, the events, the household's last visit. Four outcomes cost what one does.
    with django_assert_max_num_queries(12):
        record(member, household, outcomes)


# --- Photos -----------------------------------------------------------------------------------


def test_photos_are_stored_reencoded_without_metadata(member, household, resident, media_root):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {2: (10.0, 58.0, 0.0)}  # GPS latitude
    jpeg = image_bytes("JPEG", exif=exif.tobytes())
    png = image_bytes("PNG", size=(3000, 1000))
    visit = record(member, household, [done(resident)], photos=[jpeg, png])
    photos = list(VisitPhoto.objects.filter(visit=visit).order_by("pk"))
    assert len(photos) == 2
    today = timezone.now()
    for photo in photos:
        assert photo.file.name.startswith(f"visits/{today:%Y}/{today:%m}/")
        with photo.file.open("rb") as stored, Image.open(stored) as image:
            assert not image.getexif()
            assert "exif" not in image.info
            assert (image.width, image.height) == (photo.width, photo.height)
    assert (photos[1].width, photos[1].height) == (2048, 683)  # scaled down
    assert photos[0].file.name.endswith(".jpg")
    assert photos[1].file.name.endswith(".png")


@pytest.mark.parametrize(
    "payload",
    [b"%PDF-1.4 not a photo", b"GIF89a" + b"\0" * 20, "gif"],
    ids=["pdf", "broken-gif", "real-gif"],
)
def test_a_file_that_is_not_a_jpeg_png_or_webp_is_refused(
    member, household, resident, media_root, payload
):
    if payload == "gif":
        payload = image_bytes("GIF")
    with pytest.raises(ValidationError) as error:
        record(member, household, [done(resident)], photos=[image_bytes(), payload])
    assert error.value.error_dict["photos"][0].code == "photo_type"
    assert nothing_stored()
    assert not VisitPhoto.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_a_photo_that_is_too_large_is_refused(member, household, resident, settings):
    settings.VISIT_PHOTO_MAX_BYTES = 1000
    big = io.BytesIO(image_bytes("PNG", size=(400, 400)) + b"\0" * 2000)
    with pytest.raises(ValidationError, match="too large"):
        record(member, household, [done(resident)], photos=[big])
    assert nothing_stored()


def test_photo_files_of_a_refused_visit_are_removed(member, household, resident, media_root):
    other_team_household = Household.objects.create(
        commune=household.commune, hamlet=household.hamlet, team=None, code="X1"
    )
    with pytest.raises(ValidationError):
        record(member, other_team_household, [], photos=[image_bytes()])
    with pytest.raises(ValidationError, match="does not live"):
        record(
            member,
            household,
            [done(make_resident(other_team_household, full_name="A B"))],
            photos=[image_bytes()],
        )
    assert not VisitPhoto.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


# --- Corrections ------------------------------------------------------------------------------


def test_the_member_corrects_their_visit_within_the_window(
    member, team, household, resident, settings
):
    visit = record(member, household, [done(resident)], happened_at=NOW() - dt.timedelta(hours=3))
    earlier = NOW() - dt.timedelta(hours=5)
    visit_edit(
        visit=visit, member=member, notes="Sửa lại", happened_at=earlier, point=(10.97, 106.66)
    )
    visit.refresh_from_db()
    assert (visit.notes, visit.happened_at, visit.latitude) == ("Sửa lại", earlier, 10.97)
    assert visit.edited_at is not None
    assert ServiceEvent.objects.get(visit=visit).happened_at == earlier
    assert ServiceState.objects.get(resident=resident).changed_at == earlier
    household.refresh_from_db()
    assert household.last_visited_at == earlier
    assert visit.history.count() == 2

    colleague = enrol(team, full_name="Võ Văn Kiệt", role=MemberRole.DEPUTY).member
    with pytest.raises(ValidationError, match="Only the member"):
        visit_edit(visit=visit, member=colleague, notes="x")
    Visit.objects.filter(pk=visit.pk).update(recorded_at=NOW() - dt.timedelta(minutes=31))
    with pytest.raises(ValidationError, match="within 30 minutes"):
        visit_edit(visit=visit, member=member, notes="x")
    settings.VISIT_EDIT_WINDOW_MINUTES = 60
    with pytest.raises(ValidationError, match="future"):
        visit_edit(visit=visit, member=member, happened_at=NOW() + dt.timedelta(days=1))


def test_keys_are_required():
    with pytest.raises(ValueError, match="idempotency key"):
        services._clean_key("  ")
    assert key() != key()
