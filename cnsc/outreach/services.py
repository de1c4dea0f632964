"""Writes to households, residents, service states, visits, check-ins and field reports. The
admin, the import, the web forms and the bot call these and nothing else.

Every function takes keyword arguments only, is atomic, and raises ValidationError (keyed by the
argument at fault where there is one, with a code the bot can branch on) whose message a member
or an official can act on. The services do not check who is asking beyond the rules of the work
itself (a member records visits only in the households their team covers): callers pass objects
they fetched through ``visible_to(user)``.

Writes that arrive from the field (visits, check-ins, field reports) carry an idempotency key from
their source; sending the same key again returns what was stored the first time and stores
nothing, also when the two arrive at the same moment (the unique index decides).
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from cnsc.access.roles import Role
from cnsc.core.identity import Sex, cccd_protect, normalize_phone
from cnsc.core.text import nfc
from cnsc.geo.models import MAX_LAT, MAX_LON, MIN_LAT, MIN_LON, Hamlet
from cnsc.team.models import Member, Membership, Team, TeamStatus

from . import catalogue
from .catalogue import Result, State
from .models import (
    CheckIn,
    CheckInWarning,
    FieldReport,
    Household,
    Relation,
    ReportCategory,
    ReportStatus,
    Resident,
    ResidentMove,
    ServiceEvent,
    ServiceState,
    Source,
    Visit,
    VisitOutcome,
    VisitPhoto,
    VisitSource,
)

Point = tuple[float, float]  # (latitude, longitude)

# Phones and the bot's clock drift; a visit "in the future" by less than this is accepted.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The teams were founded from March 2022 (guideline 793/BTTTT-THH): nothing they did is older.
EARLIEST_WORK = dt.datetime(2022, 3, 1, tzinfo=dt.UTC)
MAX_NOTES = 2000
MAX_REPORT_TEXT = 4000
MAX_PHOTOS = 5
# Larger photos are scaled down: enough to see a doorway or a broken device, and storage for
# millions of visits stays affordable.
PHOTO_MAX_SIDE = 2048
# Refuse decompression bombs before decoding: a small file can claim gigapixels.
PHOTO_MAX_PIXELS = 50_000_000
PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# A reported accuracy worse than this makes a check-in's point doubtful.
CHECKIN_MAX_ACCURACY_M = 200
IDEMPOTENCY_KEY_MAX = 100


def _error(field_name: str, message: str, code: str) -> ValidationError:
    return ValidationError({field_name: ValidationError(message, code=code)})


# --- Shared checks --------------------------------------------------------------------------


def clean_point(
    point: Point | None, field_name: str = "point"
) -> tuple[float | None, float | None]:
    """(latitude, longitude) checked to lie in Vietnam, or (None, None)."""
    if point is None:
        return None, None
    try:
        lat, lon = float(point[0]), float(point[1])
    except (TypeError, ValueError, LookupError, OverflowError):
        raise _error(field_name, _("The location could not be read."), "point_invalid") from None
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (
        MIN_LAT <= lat <= MAX_LAT and MIN_LON <= lon <= MAX_LON
    ):
        raise _error(
            field_name,
            _("This location is outside Vietnam. Share your location again from where you are."),
            "point_outside",
        )
    return lat, lon


def _clean_accuracy(accuracy_m: float | None) -> int | None:
    if accuracy_m is None:
        return None
    try:
        value = float(accuracy_m)
    except (TypeError, ValueError, OverflowError):
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise _error("accuracy_m", _("The accuracy must be a number of metres."), "accuracy")
    return round(value)


def _clean_moment(moment: dt.datetime, *, field_name: str, check_age: bool) -> dt.datetime:
    """Not in the future (beyond a little clock skew), not before the teams existed, and, for
    work sent from the field, not older than ``VISIT_MAX_AGE_DAYS``."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    now = timezone.now()
    if moment > now + CLOCK_SKEW:
        raise _error(field_name, _("The time cannot be in the future."), "future")
    if moment < EARLIEST_WORK:
        raise _error(
            field_name, _("The time is before the teams were founded (March 2022)."), "too_old"
        )
    max_age = dt.timedelta(days=settings.VISIT_MAX_AGE_DAYS)
    if check_age and moment < now - max_age:
        raise _error(
            field_name,
            _("This is more than %(days)d days ago: ask the commune to record it.")
            % {"days": settings.VISIT_MAX_AGE_DAYS},
            "too_old",
        )
    return moment


def _clean_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValueError(f"an idempotency key of 1 to {IDEMPOTENCY_KEY_MAX} characters is needed")
    return key


def _clean_phone(raw: str) -> str:
    if not (raw or "").strip():
        return ""
    try:
        return normalize_phone(raw)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.error_list}) from None


def _active_membership(member: Member) -> Membership:
    membership = (
        Membership.objects.select_related("team")
        .filter(member=member, left_on__isnull=True)
        .first()
    )
    if membership is None or membership.team.status != TeamStatus.ACTIVE:
        raise _error("member", _("You are not in an active team at the moment."), "no_team")
    return membership


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); metres are plenty accurate at a hamlet's scale."""
    r = 6_371_000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def _with_history_user(obj: models.Model, user: Any) -> None:
    # Service calls from the bot have no request for simple-history to read the user from.
    if user is not None and getattr(user, "is_authenticated", False):
        obj._history_user = user  # type: ignore[attr-defined]


_M = TypeVar("_M", bound=models.Model)


def _stored_earlier(model: type[_M], key: str, *, owner: str, owner_id: int) -> _M | None:
    """The row stored earlier with idempotency key ``key``, if any. A key belongs to the member
    who first used it: someone else's key is refused rather than showing them another member's
    row."""
    manager: Any = model._default_manager
    existing = manager.filter(idempotency_key=key).first()
    if existing is not None and getattr(existing, f"{owner}_id") != owner_id:
        raise _error("idempotency_key", _("This key was already used for something else."), "key")
    return existing


def _stored_once(
    model: type[_M], key: str, create: Callable[[], _M], *, owner: str, owner_id: int
) -> tuple[_M, bool]:
    """``(create(), True)``, or the row another request stored with the same key at the same
    moment: the unique index lets one of them in, the other gets ``(that row, False)``."""
    for attempt in range(2):
        try:
            return create(), True
        except IntegrityError:
            existing = _stored_earlier(model, key, owner=owner, owner_id=owner_id)
            if existing is not None:
                return existing, False
            # Lost a race on another row (a resident's service state created by a visit to the
            # same household at the same moment): once more, now that the row exists.
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


# --- Photos ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanPhoto:
    content: ContentFile[bytes]
    width: int
    height: int


def photo_clean(upload: Any, *, field_name: str = "photos") -> CleanPhoto:
    """Check that ``upload`` (bytes or a file) is a JPEG, PNG or WebP image within
    ``VISIT_PHOTO_MAX_BYTES``, and re-encode it: the result keeps the pixels (turned upright,
    scaled down if huge) and nothing else, so no EXIF location, device or owner leaves the
    member's phone with it."""
    limit = settings.VISIT_PHOTO_MAX_BYTES
    too_large = _error(
        field_name,
        _("The photo is too large: at most %(mb)s MB.") % {"mb": f"{limit / 1_048_576:g}"},
        "photo_too_large",
    )
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        if getattr(upload, "size", None) is not None and upload.size > limit:
            raise too_large
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_large
    not_an_image = _error(
        field_name, _("This file is not a photo: send a JPEG, PNG or WebP image."), "photo_type"
    )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, pixels = probe.format or "", probe.width * probe.height
            probe.verify()
    except Exception:  # Pillow raises many types for broken or hostile files
        raise not_an_image from None
    if kind not in PHOTO_FORMATS:
        raise not_an_image
    if pixels > PHOTO_MAX_PIXELS:
        raise _error(field_name, _("The photo has too many pixels."), "photo_too_large")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
    except Exception:
        raise not_an_image from None
    if upright.mode not in ("RGB", "RGBA", "L"):
        has_alpha = "A" in upright.getbands() or "transparency" in upright.info
        upright = upright.convert("RGBA" if has_alpha else "RGB")
    if kind == "JPEG" and upright.mode == "RGBA":
        upright = upright.convert("RGB")
    upright.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    # A fresh image from the pixels alone: no EXIF, XMP, ICC profile or text chunks.
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": 85} if kind in ("JPEG", "WEBP") else {"optimize": True}
    clean.save(out, format=kind, **options)
    return CleanPhoto(
        content=ContentFile(out.getvalue(), name=f"photo.{PHOTO_FORMATS[kind]}"),
        width=clean.width,
        height=clean.height,
    )


# --- Households -----------------------------------------------------------------------------

HOUSEHOLD_FIELDS = frozenset(
    {
        "code",
        "hamlet",
        "house_number",
        "street",
        "point",
        "phone",
        "team",
        "assigned_member",
    }
)


def household_check(household: Household, *, hamlet_changed: bool) -> None:
    """Every rule on a household about to be saved, at once (the admin form runs it too). The
    head is not set here: it follows the residents' relation to the head."""
    errors: dict[str, Any] = {}
    hamlet: Hamlet = household.hamlet
    if hamlet.retired_on is not None and hamlet_changed:
        errors["hamlet"] = _("This hamlet has been retired.")
    team: Team | None = household.team if household.team_id else None
    if team is not None:
        if team.commune_id != household.commune_id:
            errors["team"] = _("This team works in another commune.")
        elif team.status == TeamStatus.DISSOLVED:
            errors["team"] = _("This team has been dissolved.")
    if household.assigned_member_id:
        if team is None:
            errors["assigned_member"] = _("Choose the team covering the household first.")
        elif not Membership.objects.filter(
            member_id=household.assigned_member_id, team=team, left_on__isnull=True
        ).exists():
            errors["assigned_member"] = _("This person is not a member of the household's team.")
    if not household.code.strip():
        errors["code"] = _("Enter the household code.")
    elif (
        Household.objects.filter(commune_id=household.commune_id, code=household.code.strip())
        .exclude(pk=household.pk)
        .exists()
    ):
        errors["code"] = _("Another household of this commune has this code.")
    if errors:
        raise ValidationError(errors)


def _household_save(household: Household, *, by: Any, hamlet_changed: bool) -> Household:
    household.commune_id = household.hamlet.commune_id
    household_check(household, hamlet_changed=hamlet_changed)
    _with_history_user(household, by)
    try:
        with transaction.atomic():
            household.save()
    except IntegrityError:
        raise _error(
            "code", _("Another household of this commune has this code."), "code_taken"
        ) from None
    return household


@transaction.atomic
def household_create(
    *,
    hamlet: Hamlet,
    code: str = "",
    house_number: str = "",
    street: str = "",
    point: Point | None = None,
    phone: str = "",
    team: Team | None = None,
    assigned_member: Member | None = None,
    by: Any = None,
) -> Household:
    """A household in ``hamlet`` (its commune follows). ``code``: the commune's own household
    number, or empty for a generated one."""
    lat, lon = clean_point(point)
    household = Household(
        hamlet=hamlet,
        house_number=house_number,
        street=street,
        latitude=lat,
        longitude=lon,
        phone=_clean_phone(phone),
        team=team,
        assigned_member=assigned_member,
    )
    if code.strip():
        household.code = code.strip()
    return _household_save(household, by=by, hamlet_changed=True)


@transaction.atomic
def household_update(*, household: Household, by: Any = None, **changes: Any) -> Household:
    """Change some of a household's fields (HOUSEHOLD_FIELDS; ``point`` None clears it). A new
    team without a new ``assigned_member`` clears the assignment: the member was the old
    team's."""
    unknown = set(changes) - HOUSEHOLD_FIELDS
    if unknown:
        raise TypeError(f"household_update() cannot change {sorted(unknown)}")
    if "point" in changes:
        household.latitude, household.longitude = clean_point(changes.pop("point"))
    if "phone" in changes:
        changes["phone"] = _clean_phone(changes["phone"])
    new_team = changes.get("team", household.team)
    if "team" in changes and getattr(new_team, "pk", None) != household.team_id:
        changes.setdefault("assigned_member", None)
    hamlet_changed = "hamlet" in changes and changes["hamlet"].pk != household.hamlet_id
    for name, value in changes.items():
        setattr(household, name, value)
    return _household_save(household, by=by, hamlet_changed=hamlet_changed)


# --- Residents ------------------------------------------------------------------------------

RESIDENT_FIELDS = frozenset(
    {
        "full_name",
        "sex",
        "birth_year",
        "relation_to_head",
        "phone",
        "cccd",
        "owns_smartphone",
        "welfare_beneficiary",
    }
)
MAX_AGE = 120


def _apply_resident_cccd(resident: Resident, raw: str) -> None:
    if not raw.strip():
        resident.cccd_hash = resident.cccd_last4 = resident.cccd_key_id = ""
        return
    try:
        protected = cccd_protect(
            raw, sex=resident.sex or None, birth_year=resident.birth_year or None
        )
    except ValidationError as exc:
        raise ValidationError({"cccd": exc.error_list}) from None
    taken = Resident.objects.filter(cccd_hash__in=protected.matches)
    if resident.pk:
        taken = taken.exclude(pk=resident.pk)
    if taken.exists():
        raise _error("cccd", _("A resident with this CCCD is already registered."), "cccd_taken")
    resident.cccd_hash, resident.cccd_last4 = protected.hash, protected.last4
    resident.cccd_key_id = protected.key_id


def resident_check(resident: Resident, *, cccd: str | None) -> None:
    """Every rule on a resident about to be saved, at once (the admin form runs it too).
    ``cccd``: a number to hash into the resident, "" to remove the stored one, None to keep it.
    """
    errors: dict[str, Any] = {}
    if not nfc(resident.full_name):
        errors["full_name"] = _("Enter the resident's full name.")
    if resident.sex and resident.sex not in Sex.values:
        errors["sex"] = _("Choose male or female.")
    this_year = timezone.localdate().year
    if resident.birth_year is not None and not (
        this_year - MAX_AGE <= resident.birth_year <= this_year
    ):
        errors["birth_year"] = _("The year of birth must be between %(min)d and %(max)d.") % {
            "min": this_year - MAX_AGE,
            "max": this_year,
        }
    if resident.relation_to_head not in Relation.values:
        errors["relation_to_head"] = _("Choose the relation to the head of household.")
    elif resident.relation_to_head == Relation.HEAD and resident.household.head_id not in (
        None,
        resident.pk,
    ):
        errors["relation_to_head"] = _(
            "This household already has a head. Change the head's relation first."
        )
    if cccd is not None and "birth_year" not in errors:
        try:
            _apply_resident_cccd(resident, cccd)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def resident_sync_head(resident: Resident) -> None:
    """After saving a resident: the household's head follows the resident's relation to the
    head, and the household's search name follows the head's name."""
    household = resident.household
    if resident.relation_to_head == Relation.HEAD:
        household.head = resident
    elif household.head_id == resident.pk:
        household.head = None
    else:
        return
    household.save(update_fields=["head", "updated_at"])


def _resident_save(resident: Resident, *, cccd: str | None, by: Any) -> Resident:
    resident_check(resident, cccd=cccd)
    _with_history_user(resident, by)
    try:
        with transaction.atomic():
            resident.save()
    except IntegrityError:
        # Another official registered the same person a moment ago.
        raise _error(
            "cccd", _("A resident with this CCCD is already registered."), "cccd_taken"
        ) from None
    resident_sync_head(resident)
    return resident


def _check_present(resident: Resident) -> None:
    if resident.erased_at is not None:
        raise _error("resident", _("This resident's personal data has been erased."), "erased")


@transaction.atomic
def resident_create(
    *,
    household: Household,
    full_name: str,
    sex: str = "",
    birth_year: int | None = None,
    relation_to_head: str = Relation.OTHER,
    phone: str = "",
    cccd: str = "",
    owns_smartphone: bool | None = None,
    welfare_beneficiary: bool = False,
    by: Any = None,
) -> Resident:
    """A resident of ``household``. The CCCD, if given, is checked against sex and year of birth
    and kept only as a keyed hash and its last four digits. A resident whose relation is "head"
    becomes the household's head (refused if it has one)."""
    resident = Resident(
        household=household,
        full_name=full_name,
        sex=sex,
        birth_year=birth_year,
        relation_to_head=relation_to_head,
        phone=_clean_phone(phone),
        owns_smartphone=owns_smartphone,
        welfare_beneficiary=welfare_beneficiary,
    )
    return _resident_save(resident, cccd=cccd, by=by)


@transaction.atomic
def resident_update(*, resident: Resident, by: Any = None, **changes: Any) -> Resident:
    """Change some of a resident's fields (RESIDENT_FIELDS). ``cccd``: a new number replaces the
    stored hash, an empty string removes it, leaving it out keeps it."""
    unknown = set(changes) - RESIDENT_FIELDS
    if unknown:
        raise TypeError(f"resident_update() cannot change {sorted(unknown)}")
    _check_present(resident)
    cccd = changes.pop("cccd", None)
    if "phone" in changes:
        changes["phone"] = _clean_phone(changes["phone"])
    for name, value in changes.items():
        setattr(resident, name, value.strip() if isinstance(value, str) else value)
    return _resident_save(resident, cccd=cccd, by=by)


@transaction.atomic
def resident_move(
    *,
    resident: Resident,
    to_household: Household,
    relation_to_head: str = Relation.OTHER,
    moved_at: dt.datetime | None = None,
    by: Any = None,
) -> ResidentMove:
    """Move a resident to another household, keeping the move in their history. The resident's
    services go with them (they are the person's); a head who leaves leaves a household without a
    head."""
    resident = Resident.objects.select_for_update().select_related("household").get(pk=resident.pk)
    _check_present(resident)
    old = resident.household
    if old.pk == to_household.pk:
        raise _error("to_household", _("The resident already lives in this household."), "same")
    moved_at = _clean_moment(moved_at or timezone.now(), field_name="moved_at", check_age=False)
    if old.head_id == resident.pk:
        old.head = None
        _with_history_user(old, by)
        old.save(update_fields=["head", "updated_at"])
    resident.household = to_household
    resident.relation_to_head = relation_to_head
    resident_check(resident, cccd=None)
    _with_history_user(resident, by)
    resident.save(update_fields=["household", "relation_to_head", "updated_at"])
    resident_sync_head(resident)
    return ResidentMove.objects.create(
        resident=resident,
        from_household=old,
        to_household=to_household,
        moved_at=moved_at,
        by=by if getattr(by, "is_authenticated", False) else None,
    )


# --- Service states -------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeIn:
    """One line of a visit: what was done for one resident and one service.

    ``resident``: a Resident or its public code. ``new_state``: the state reached; for a result
    "done" without one, the service's last state (e.g. VNeID level 2). ``allow_backward``: the
    member confirmed a step back (a revoked signature)."""

    resident: Resident | str
    service: str
    result: str
    new_state: str | None = None
    details: Mapping[str, Any] | None = None
    allow_backward: bool = False


@dataclass
class _Change:
    resident_id: int
    service: str
    target: str | None
    details: dict[str, Any]
    allow_backward: bool = False
    result: str = ""


def _check_outcome(outcome: OutcomeIn) -> tuple[str | None, dict[str, Any]]:
    """The target state (None: no change) and details of one outcome, checked without the
    database."""
    if outcome.service not in catalogue.STATES:
        catalogue.check_state(outcome.service, State.NONE)
    if outcome.result not in Result.values:
        raise ValidationError(
            _("“%(result)s” is not a visit result.") % {"result": outcome.result}, code="result"
        )
    if outcome.result in (Result.REFUSED, Result.NOT_ELIGIBLE) and outcome.new_state:
        raise ValidationError(
            _("A refused or not-eligible outcome cannot change the state."), code="result"
        )
    target = outcome.new_state or (
        catalogue.GOAL[outcome.service] if outcome.result == Result.DONE else None
    )
    if target is None:
        return None, catalogue.clean_details(outcome.service, State.NONE, outcome.details)
    catalogue.check_state(outcome.service, target)
    return target, catalogue.clean_details(outcome.service, target, outcome.details)


def _apply_changes(
    changes: Sequence[_Change],
    *,
    beneficiaries: frozenset[int],
    happened_at: dt.datetime,
    source: str,
    visit: Visit | None = None,
    member: Member | None = None,
    user_id: int | None = None,
) -> list[ServiceEvent]:
    """Move residents' service states and record each move, in bulk. Runs inside the caller's
    transaction: the current states are read under a row lock.

    A change with new details but the same state is recorded too (the evidence changed). A
    change older than the state it would replace (a visit written offline that arrives after a
    later one) is applied only if it moves forward; otherwise the newer state stands and nothing
    is recorded for it."""
    for change in changes:
        if (
            change.target is not None
            and change.service in catalogue.WELFARE_ONLY
            and change.resident_id not in beneficiaries
        ):
            raise _error(
                "outcomes",
                _("Only social-welfare beneficiaries can be paid through an account."),
                "not_beneficiary",
            )
    current = {
        (s.resident_id, s.service): s
        for s in ServiceState.objects.select_for_update().filter(
            resident_id__in={c.resident_id for c in changes},
            service__in={c.service for c in changes},
        )
    }
    events: list[ServiceEvent] = []
    to_create: list[ServiceState] = []
    to_update: list[ServiceState] = []
    for change in changes:
        state = current.get((change.resident_id, change.service))
        if state is None:
            state = ServiceState(
                resident_id=change.resident_id,
                service=change.service,
                state=State.NONE,
                changed_at=happened_at,
            )
            to_create.append(state)
        else:
            to_update.append(state)
        old, target = state.state, change.target
        if target is not None and (
            target != old or (change.details and change.details != state.details)
        ):
            if state.pk is not None and state.changed_at > happened_at:
                apply = catalogue.rank(change.service, target) > catalogue.rank(change.service, old)
            else:
                catalogue.check_transition(
                    change.service, old, target, allow_backward=change.allow_backward
                )
                apply = True
            if apply:
                events.append(
                    ServiceEvent(
                        resident_id=change.resident_id,
                        service=change.service,
                        from_state=old,
                        to_state=target,
                        backward=catalogue.is_backward(change.service, old, target),
                        happened_at=happened_at,
                        source=source,
                        visit=visit,
                        member=member,
                        user_id=user_id,
                        details=change.details,
                    )
                )
                state.state, state.details, state.changed_at = target, change.details, happened_at
        if change.result:
            state.last_result = change.result
    if to_create:
        ServiceState.objects.bulk_create(to_create)
    if to_update:
        ServiceState.objects.bulk_update(
            to_update, ["state", "details", "changed_at", "last_result"]
        )
    if events:
        ServiceEvent.objects.bulk_create(events)
    return events


@transaction.atomic
def service_state_set(
    *,
    resident: Resident,
    service: str,
    state: str,
    by: Any,
    happened_at: dt.datetime | None = None,
    details: Mapping[str, Any] | None = None,
    allow_backward: bool = False,
) -> ServiceEvent | None:
    """An official records a resident's state from another source (the police's VNeID list, a
    bank's report). Returns the recorded event, or None when nothing changed."""
    _check_present(resident)
    catalogue.check_state(service, state)
    when = _clean_moment(happened_at or timezone.now(), field_name="happened_at", check_age=False)
    change = _Change(
        resident_id=resident.pk,
        service=service,
        target=state,
        details=catalogue.clean_details(service, state, details),
        allow_backward=allow_backward,
    )
    events = _apply_changes(
        [change],
        beneficiaries=frozenset({resident.pk} if resident.welfare_beneficiary else ()),
        happened_at=when,
        source=Source.OFFICIAL,
        user_id=by.pk if getattr(by, "is_authenticated", False) else None,
    )
    return events[0] if events else None


# --- Visits ---------------------------------------------------------------------------------


def _resident_rows(
    household: Household, outcomes: Sequence[OutcomeIn], in_team: models.QuerySet[Membership]
) -> list[tuple[Any, ...]]:
    """``(pk, code, welfare beneficiary, erased at, member in the team)`` of the residents the
    outcomes name that live in ``household``. Whether the member is in the team comes in the
    same query: one round trip fewer for every visit that helped someone."""
    pks = {o.resident.pk for o in outcomes if isinstance(o.resident, Resident)}
    codes = {o.resident for o in outcomes if isinstance(o.resident, str)}
    return list(
        Resident.objects.filter(household=household)
        .filter(Q(pk__in=pks) | Q(code__in=codes))
        .annotate(member_in_team=Exists(in_team))
        .values_list("pk", "code", "welfare_beneficiary", "erased_at", "member_in_team")
    )


def _resolve_residents(
    outcomes: Sequence[OutcomeIn], rows: Sequence[tuple[Any, ...]]
) -> tuple[list[int], frozenset[int]]:
    """The pk of each outcome's resident, and which of them are welfare beneficiaries. Every
    resident must live in the household and not be erased; the error names nobody else."""
    pks = {o.resident.pk for o in outcomes if isinstance(o.resident, Resident)}
    codes = {o.resident for o in outcomes if isinstance(o.resident, str)}
    found: dict[int | str, int] = {}
    beneficiaries: set[int] = set()
    for pk, code, welfare, erased_at, _in_team in rows:
        if erased_at is not None:
            raise _error("outcomes", _("This resident's personal data has been erased."), "erased")
        found[pk] = found[code] = pk
        if welfare:
            beneficiaries.add(pk)
    if not (pks | codes) <= set(found):
        raise _error(
            "outcomes",
            _("A resident named in the visit does not live in this household."),
            "resident",
        )
    ids = [
        found[o.resident.pk if isinstance(o.resident, Resident) else o.resident] for o in outcomes
    ]
    return ids, frozenset(beneficiaries)


@dataclass(frozen=True)
class _VisitIn:
    member: Member
    household: Household
    team_id: int
    happened_at: dt.datetime
    outcomes: Sequence[tuple[OutcomeIn, str | None, dict[str, Any]]]
    idempotency_key: str
    source: str
    point: tuple[float | None, float | None]
    accuracy_m: int | None
    notes: str
    photos: Sequence[CleanPhoto]


@transaction.atomic
def _visit_store(data: _VisitIn, stored_files: list[str]) -> Visit:
    household, member = data.household, data.member
    # In the team now, or until after the visit (written offline, sent after leaving). The day
    # they joined is not compared: rosters often record the day they were typed in.
    on_day = timezone.localtime(data.happened_at).date()
    in_team = (
        Membership.objects.filter(member=member, team_id=data.team_id)
        .filter(Q(left_on__isnull=True) | Q(left_on__gt=on_day))
        .filter(team__status=TeamStatus.ACTIVE)
    )
    outcomes_in = [o for o, *_ in data.outcomes]
    rows = _resident_rows(household, outcomes_in, in_team)
    if not (rows[0][4] if rows else in_team.exists()):
        raise _error(
            "household",
            _(
                "This household is covered by another team: you can record visits only in your "
                "team's households."
            ),
            "other_team",
        )
    resident_ids, beneficiaries = _resolve_residents(outcomes_in, rows)
    if len(set(zip(resident_ids, (o.service for o, *_ in data.outcomes), strict=True))) != len(
        resident_ids
    ):
        raise _error(
            "outcomes", _("The same resident and service appear twice in the visit."), "duplicate"
        )
    visit = Visit.objects.create(
        idempotency_key=data.idempotency_key,
        member=member,
        household=household,
        team_id=data.team_id,
        commune_id=household.commune_id,
        happened_at=data.happened_at,
        latitude=data.point[0],
        longitude=data.point[1],
        accuracy_m=data.accuracy_m,
        notes=data.notes,
        source=data.source,
    )
    outcomes: list[VisitOutcome] = []
    changes: list[_Change] = []
    for resident_id, (outcome, target, details) in zip(resident_ids, data.outcomes, strict=True):
        outcomes.append(
            VisitOutcome(
                visit=visit,
                resident_id=resident_id,
                service=outcome.service,
                result=outcome.result,
                new_state=target or "",
                details=details,
            )
        )
        changes.append(
            _Change(
                resident_id=resident_id,
                service=outcome.service,
                target=target,
                details=details,
                allow_backward=outcome.allow_backward,
                result=outcome.result,
            )
        )
    if outcomes:
        VisitOutcome.objects.bulk_create(outcomes)
        _apply_changes(
            changes,
            beneficiaries=beneficiaries,
            happened_at=data.happened_at,
            source=Source.VISIT,
            visit=visit,
            member=member,
        )
    Household.objects.filter(pk=household.pk).filter(
        Q(last_visited_at__isnull=True) | Q(last_visited_at__lt=data.happened_at)
    ).update(last_visited_at=data.happened_at)
    for photo in data.photos:
        stored = VisitPhoto(visit=visit, width=photo.width, height=photo.height)
        stored.file.save(photo.content.name or "photo.jpg", photo.content, save=False)
        stored_files.append(stored.file.name)
        stored.size = stored.file.size
        stored.save()
    return visit


def _delete_files(names: Iterable[str]) -> None:
    for name in names:
        default_storage.delete(name)


def visit_record(
    *,
    member: Member,
    household: Household,
    happened_at: dt.datetime,
    outcomes: Sequence[OutcomeIn],
    idempotency_key: str,
    source: str,
    point: Point | None = None,
    accuracy_m: float | None = None,
    notes: str = "",
    photos: Sequence[Any] = (),
) -> tuple[Visit, bool]:
    """Record a visit and what it did, moving the residents' service states, in one transaction.

    Returns ``(visit, created)``. The same ``idempotency_key`` again (``"bot:<chat>:<update>"``,
    a form's UUID) returns the visit stored the first time and stores nothing.

    Refused (ValidationError, nothing stored): a member not in the team covering the household
    (now, or until after the visit); a resident of another household; an unknown service,
    state or result; a step back without ``allow_backward``; a time in the future or (from the
    field) older than ``VISIT_MAX_AGE_DAYS``; a point outside Vietnam; a photo that is not a
    JPEG, PNG or WebP image or is too large. ``photos``: bytes or files, at most MAX_PHOTOS.
    """
    key = _clean_key(idempotency_key)
    existing = _stored_earlier(Visit, key, owner="member", owner_id=member.pk)
    if existing is not None:
        return existing, False
    if source not in VisitSource.values:
        raise ValueError(f"unknown visit source {source!r}")
    team_id = household.team_id
    if team_id is None:
        raise _error("household", _("This household is not covered by any team yet."), "no_team")
    checked = []
    for outcome in outcomes:
        try:
            target, details = _check_outcome(outcome)
        except ValidationError as exc:
            raise ValidationError({"outcomes": exc.error_list}) from None
        checked.append((outcome, target, details))
    if len(photos) > MAX_PHOTOS:
        raise _error(
            "photos", _("At most %(max)d photos per visit.") % {"max": MAX_PHOTOS}, "photo_count"
        )
    data = _VisitIn(
        member=member,
        household=household,
        team_id=team_id,
        happened_at=_clean_moment(
            happened_at, field_name="happened_at", check_age=source != VisitSource.IMPORT
        ),
        outcomes=checked,
        idempotency_key=key,
        source=source,
        point=clean_point(point),
        accuracy_m=_clean_accuracy(accuracy_m),
        notes=_clean_notes(notes),
        photos=[photo_clean(p) for p in photos],
    )
    stored_files: list[str] = []

    def create() -> Visit:
        _delete_files(stored_files)
        stored_files.clear()
        return _visit_store(data, stored_files)

    try:
        return _stored_once(Visit, key, create, owner="member", owner_id=member.pk)
    except BaseException:
        _delete_files(stored_files)
        raise


def _clean_notes(notes: str) -> str:
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise _error(
            "notes",
            _("The notes are too long (at most %(max)d characters).") % {"max": MAX_NOTES},
            "notes",
        )
    return notes


VISIT_EDIT_FIELDS = frozenset({"notes", "happened_at", "point", "accuracy_m"})


@transaction.atomic
def visit_edit(*, visit: Visit, member: Member, **changes: Any) -> Visit:
    """The member who recorded a visit corrects its notes, time or point within
    ``VISIT_EDIT_WINDOW_MINUTES``. A new time moves the visit's service events with it.
    Outcomes are not edited: a wrong state is put right by the next visit or an official, and
    both stay on record."""
    unknown = set(changes) - VISIT_EDIT_FIELDS
    if unknown:
        raise TypeError(f"visit_edit() cannot change {sorted(unknown)}")
    visit = Visit.objects.select_for_update().get(pk=visit.pk)
    if visit.member_id != member.pk:
        raise _error(
            "member", _("Only the member who recorded the visit can correct it."), "not_yours"
        )
    window = dt.timedelta(minutes=settings.VISIT_EDIT_WINDOW_MINUTES)
    if timezone.now() - visit.recorded_at > window:
        raise _error(
            "visit",
            _("A visit can be corrected only within %(minutes)d minutes of recording it.")
            % {"minutes": settings.VISIT_EDIT_WINDOW_MINUTES},
            "edit_window",
        )
    if "notes" in changes:
        visit.notes = _clean_notes(changes["notes"])
    if "point" in changes:
        visit.latitude, visit.longitude = clean_point(changes["point"])
    if "accuracy_m" in changes:
        visit.accuracy_m = _clean_accuracy(changes["accuracy_m"])
    old_time = visit.happened_at
    if "happened_at" in changes:
        visit.happened_at = _clean_moment(
            changes["happened_at"],
            field_name="happened_at",
            check_age=visit.source != VisitSource.IMPORT,
        )
    visit.edited_at = timezone.now()
    _with_history_user(visit, member.user)
    visit.save()
    if visit.happened_at != old_time:
        events = ServiceEvent.objects.filter(visit=visit)
        ServiceState.objects.filter(
            changed_at=old_time,
            resident_id__in=events.values("resident_id"),
            service__in=events.values("service"),
        ).update(changed_at=visit.happened_at)
        events.update(happened_at=visit.happened_at)
        latest = (
            Visit.objects.filter(household_id=visit.household_id)
            .order_by("-happened_at")
            .values_list("happened_at", flat=True)
            .first()
        )
        Household.objects.filter(pk=visit.household_id).update(last_visited_at=latest)
    return visit


# --- Check-ins ------------------------------------------------------------------------------


def checkin_record(
    *,
    member: Member,
    hamlet: Hamlet,
    at: dt.datetime,
    idempotency_key: str,
    point: Point | None = None,
    accuracy_m: float | None = None,
) -> tuple[CheckIn, bool]:
    """A member checks in at a hamlet of their team's commune. Doubtful check-ins are stored with
    warnings (no point, far from the hamlet's centre, inaccurate, another hamlet than the team's)
    for the commune to look at, not refused: signal is weak and phones' locations are rough."""
    key = _clean_key(idempotency_key)
    existing = _stored_earlier(CheckIn, key, owner="member", owner_id=member.pk)
    if existing is not None:
        return existing, False
    when = _clean_moment(at, field_name="at", check_age=True)
    lat, lon = clean_point(point)
    accuracy = _clean_accuracy(accuracy_m)

    @transaction.atomic
    def create() -> CheckIn:
        team = _active_membership(member).team
        if hamlet.commune_id != team.commune_id:
            raise _error("hamlet", _("This hamlet is not in your team's commune."), "other_commune")
        if hamlet.retired_on is not None:
            raise _error("hamlet", _("This hamlet has been retired."), "retired")
        warnings: list[str] = []
        distance: int | None = None
        if lat is None or lon is None:
            warnings.append(CheckInWarning.NO_POINT)
        elif hamlet.latitude is None or hamlet.longitude is None:
            warnings.append(CheckInWarning.NO_CENTRE)
        else:
            distance = round(_distance_m(lat, lon, hamlet.latitude, hamlet.longitude))
            if distance > settings.CHECKIN_MAX_DISTANCE_M:
                warnings.append(CheckInWarning.FAR)
        if accuracy is not None and accuracy > CHECKIN_MAX_ACCURACY_M:
            warnings.append(CheckInWarning.INACCURATE)
        if team.hamlet_id and team.hamlet_id != hamlet.pk:
            warnings.append(CheckInWarning.OTHER_HAMLET)
        return CheckIn.objects.create(
            idempotency_key=key,
            member=member,
            team=team,
            hamlet=hamlet,
            at=when,
            latitude=lat,
            longitude=lon,
            accuracy_m=accuracy,
            distance_m=distance,
            warnings=[str(w) for w in warnings],
        )

    return _stored_once(CheckIn, key, create, owner="member", owner_id=member.pk)


# --- Field reports --------------------------------------------------------------------------


def field_report_create(
    *,
    reporter: Member,
    category: str,
    text: str,
    idempotency_key: str,
    hamlet: Hamlet | None = None,
    point: Point | None = None,
    photo: Any = None,
) -> tuple[FieldReport, bool]:
    """A member reports a problem in their team's commune. Returns ``(report, created)``."""
    key = _clean_key(idempotency_key)
    existing = _stored_earlier(FieldReport, key, owner="reporter", owner_id=reporter.pk)
    if existing is not None:
        return existing, False
    if category not in ReportCategory.values:
        raise _error("category", _("Choose what kind of problem it is."), "category")
    text = nfc(text or "")
    if not text:
        raise _error("text", _("Say what happened."), "text")
    if len(text) > MAX_REPORT_TEXT:
        raise _error(
            "text",
            _("The report is too long (at most %(max)d characters).") % {"max": MAX_REPORT_TEXT},
            "text",
        )
    lat, lon = clean_point(point)
    clean_photo = photo_clean(photo, field_name="photo") if photo is not None else None
    stored_files: list[str] = []

    @transaction.atomic
    def create() -> FieldReport:
        _delete_files(stored_files)
        stored_files.clear()
        team = _active_membership(reporter).team
        if hamlet is not None and hamlet.commune_id != team.commune_id:
            raise _error("hamlet", _("This hamlet is not in your team's commune."), "other_commune")
        report = FieldReport(
            idempotency_key=key,
            reporter=reporter,
            team=team,
            commune_id=team.commune_id,
            hamlet=hamlet,
            category=category,
            text=text,
            latitude=lat,
            longitude=lon,
        )
        if clean_photo is not None:
            report.photo.save(
                clean_photo.content.name or "photo.jpg", clean_photo.content, save=False
            )
            stored_files.append(report.photo.name)
        _with_history_user(report, reporter.user)
        report.save()
        return report

    try:
        return _stored_once(FieldReport, key, create, owner="reporter", owner_id=reporter.pk)
    except BaseException:
        _delete_files(stored_files)
        raise


def _report_open(report: FieldReport) -> FieldReport:
    report = FieldReport.objects.select_for_update().get(pk=report.pk)
    if report.status == ReportStatus.CLOSED:
        raise _error("status", _("This report is already closed."), "closed")
    return report


def field_report_check_assignee(*, report: FieldReport, assignee: Any) -> None:
    """An assignee is an official or province staff member (not read-only) who can see the
    report. The admin form runs this too."""
    may_act = (
        assignee.is_active
        and not assignee.read_only
        and (assignee.is_superuser or assignee.role in (Role.COMMUNE_OFFICIAL, Role.PROVINCE_STAFF))
    )
    if not may_act or not FieldReport.objects.visible_to(assignee).filter(pk=report.pk).exists():
        raise _error(
            "assigned_to",
            _("Choose an official of the report's commune who may act on it."),
            "assignee",
        )


@transaction.atomic
def field_report_assign(*, report: FieldReport, assignee: Any, by: Any) -> FieldReport:
    """Give a report to an official who can see it and may act on it."""
    report = _report_open(report)
    field_report_check_assignee(report=report, assignee=assignee)
    report.assigned_to = assignee
    report.status = ReportStatus.ASSIGNED
    _with_history_user(report, by)
    report.save(update_fields=["assigned_to", "status", "updated_at"])
    return report


@transaction.atomic
def field_report_answer(
    *, report: FieldReport, answer: str, by: Any, close: bool = True
) -> FieldReport:
    """Answer a report (the bot delivers the answer to the reporter) and, by default, close it.
    A new answer is delivered again."""
    report = _report_open(report)
    answer = (answer or "").strip()
    if not answer:
        raise _error("answer", _("Write the answer for the member."), "answer")
    report.answer = answer
    report.answered_at = timezone.now()
    report.reporter_notified_at = None
    if close:
        report.status = ReportStatus.CLOSED
        report.closed_at = report.answered_at
    _with_history_user(report, by)
    report.save()
    return report


@transaction.atomic
def field_report_close(*, report: FieldReport, by: Any) -> FieldReport:
    """Close a report without (another) answer."""
    report = _report_open(report)
    report.status = ReportStatus.CLOSED
    report.closed_at = timezone.now()
    _with_history_user(report, by)
    report.save(update_fields=["status", "closed_at", "updated_at"])
    return report


@transaction.atomic
def field_report_mark_notified(*, report: FieldReport) -> FieldReport:
    """The bot told the reporter of the answer: do not send it again."""
    updated = FieldReport.objects.filter(
        pk=report.pk, answered_at__isnull=False, reporter_notified_at__isnull=True
    ).update(reporter_notified_at=timezone.now())
    if updated:
        report.refresh_from_db(fields=["reporter_notified_at"])
    return report
