"""Writes for training: handbooks, courses, sessions, attendance and results.

Every function is atomic and raises ValidationError (with field names where one field is at
fault) carrying a message the official, or the resident at the attendance form, can act on;
when it raises, nothing is written. The services do not check who is asking: callers pass rows
fetched through ``visible_to(user)`` (``editable_by(user)`` for handbooks and courses).
Certificates: ``cnsc.training.certificates``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cnsc.core.identity import normalize_phone
from cnsc.core.text import nfc, search_key
from cnsc.geo.models import AdminUnit, Hamlet
from cnsc.team.models import Member
from cnsc.training.documents import render_handbook
from cnsc.training.files import inspect_pdf
from cnsc.training.models import (
    Attendance,
    CheckInMethod,
    Course,
    CourseTopic,
    Handbook,
    HandbookBlock,
    HandbookSource,
    HandbookStatus,
    Language,
    PassRule,
    ResidentAttendee,
    Topic,
    TrainingSession,
)

# --- Handbooks ------------------------------------------------------------------------------


def _draft_only(handbook: Handbook) -> None:
    if handbook.status != HandbookStatus.DRAFT:
        raise ValidationError(
            _(
                "Only a draft can be changed. To change a published handbook, start a new "
                "version of it."
            )
        )


@transaction.atomic
def handbook_save(*, handbook: Handbook) -> Handbook:
    """Validate and save a draft handbook prepared by a form (new or changed). A newly uploaded
    PDF is checked by its content and its pages are counted."""
    if handbook.pk is not None:
        stored = Handbook.objects.select_for_update().get(pk=handbook.pk)
        _draft_only(stored)
    handbook.full_clean()
    if handbook.pdf and not getattr(handbook.pdf, "_committed", True):
        handbook.pages = inspect_pdf(handbook.pdf)
    handbook.save()
    return handbook


@transaction.atomic
def handbook_create(
    *,
    unit: AdminUnit,
    title: str,
    topic: str,
    audience: str,
    language: str = Language.VIETNAMESE,
    source: str = HandbookSource.WRITTEN,
    pdf: File[Any] | None = None,
) -> Handbook:
    """A new draft. ``pdf`` only for an uploaded handbook; a written one gets its blocks with
    ``handbook_block_add`` and its PDF when published."""
    handbook = Handbook(
        unit=unit, title=title, topic=topic, audience=audience, language=language, source=source
    )
    if pdf is not None:
        handbook.pdf = pdf
    return handbook_save(handbook=handbook)


@transaction.atomic
def handbook_block_add(
    *, handbook: Handbook, kind: str, text: str = "", image: File[Any] | None = None
) -> HandbookBlock:
    """Append a block to a draft written in CNSC."""
    locked = Handbook.objects.select_for_update().get(pk=handbook.pk)
    _draft_only(locked)
    if locked.source != HandbookSource.WRITTEN:
        raise ValidationError(_("This handbook is an uploaded PDF: it has no blocks to write."))
    last = locked.blocks.order_by("-position").values_list("position", flat=True).first()
    block = HandbookBlock(handbook=locked, position=(last or 0) + 1, kind=kind, text=text)
    if image is not None:
        block.image = image
    block.full_clean()
    block.save()
    return block


@transaction.atomic
def handbook_publish(*, handbook: Handbook) -> Handbook:
    """Publish a draft: a written handbook is printed to its A5 PDF now, and the version it
    replaces (if published) is retired in the same step."""
    locked = Handbook.objects.select_for_update().select_related("unit").get(pk=handbook.pk)
    if locked.status != HandbookStatus.DRAFT:
        raise ValidationError(
            _("“%(title)s” is not a draft: only a draft can be published.")
            % {"title": locked.title}
        )
    now = timezone.now()
    locked.published_at = now
    if locked.source == HandbookSource.UPLOAD:
        if not locked.pdf:
            raise ValidationError(_("Upload the handbook's PDF before publishing it."))
    else:
        if not locked.blocks.exists():
            raise ValidationError(_("Write the handbook's content before publishing it."))
        rendered = render_handbook(locked)
        locked.pdf.save(f"{locked.code}.pdf", ContentFile(rendered.content), save=False)
        locked.pages = rendered.pages
    if locked.replaces_id is not None:
        previous = Handbook.objects.select_for_update().get(pk=locked.replaces_id)
        if previous.status == HandbookStatus.PUBLISHED:
            previous.status = HandbookStatus.RETIRED
            previous.retired_at = now
            previous.save()
    locked.status = HandbookStatus.PUBLISHED
    locked.full_clean()
    locked.save()
    handbook.refresh_from_db()
    return locked


@transaction.atomic
def handbook_retire(*, handbook: Handbook) -> Handbook:
    """Take a published handbook off the lists (it stays in the back office)."""
    locked = Handbook.objects.select_for_update().get(pk=handbook.pk)
    if locked.status != HandbookStatus.PUBLISHED:
        raise ValidationError(
            _("“%(title)s” is not published: only a published handbook can be retired.")
            % {"title": locked.title}
        )
    locked.status = HandbookStatus.RETIRED
    locked.retired_at = timezone.now()
    locked.save()
    handbook.refresh_from_db()
    return locked


@transaction.atomic
def handbook_new_version(*, handbook: Handbook, change_note: str) -> Handbook:
    """A draft of the next version, with the same content to start from. The published version
    stays on the lists until the new one is published."""
    locked = Handbook.objects.select_for_update().get(pk=handbook.pk)
    if locked.status == HandbookStatus.DRAFT:
        raise ValidationError(_("This handbook is still a draft: change it directly."))
    if Handbook.objects.filter(replaces=locked).exists():
        raise ValidationError(
            _("A newer version of “%(title)s” already exists.") % {"title": locked.title}
        )
    note = nfc(change_note)
    if not note:
        raise ValidationError({"change_note": _("Say what changed in this version.")})
    draft = Handbook(
        unit=locked.unit,
        title=locked.title,
        topic=locked.topic,
        audience=locked.audience,
        language=locked.language,
        source=locked.source,
        version=locked.version + 1,
        change_note=note,
        replaces=locked,
    )
    if locked.source == HandbookSource.UPLOAD:
        # The same file until a new one is uploaded; files are never overwritten in place.
        draft.pdf.name = locked.pdf.name
        draft.pages = locked.pages
    draft.full_clean()
    draft.save()
    HandbookBlock.objects.bulk_create(
        HandbookBlock(
            handbook=draft,
            position=block.position,
            kind=block.kind,
            text=block.text,
            image=block.image.name,
        )
        for block in locked.blocks.order_by("position")
    )
    return draft


# --- Courses --------------------------------------------------------------------------------


def _clean_topics(topics: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(topics))
    if not chosen:
        raise ValidationError({"topics": _("Choose at least one topic.")})
    unknown = [t for t in chosen if t not in Topic.values]
    if unknown:
        raise ValidationError({"topics": _("Unknown topic: %(topic)s.") % {"topic": unknown[0]}})
    return chosen


@transaction.atomic
def course_save(*, course: Course, topics: Iterable[str] | None = None) -> Course:
    """Validate and save a course prepared by a form; ``topics`` (when given) replaces its
    topics."""
    chosen = _clean_topics(topics) if topics is not None else None
    if course.pk is None and chosen is None:
        raise ValidationError({"topics": _("Choose at least one topic.")})
    course.full_clean()
    course.save()
    if chosen is not None:
        CourseTopic.objects.filter(course=course).exclude(topic__in=chosen).delete()
        have = set(CourseTopic.objects.filter(course=course).values_list("topic", flat=True))
        CourseTopic.objects.bulk_create(
            CourseTopic(course=course, topic=t) for t in chosen if t not in have
        )
    return course


@transaction.atomic
def course_create(
    *,
    unit: AdminUnit,
    title: str,
    topics: Iterable[str],
    hours: Decimal | int | str,
    pass_rule: str = PassRule.ATTENDANCE,
    pass_score: int | None = None,
) -> Course:
    course = Course(
        unit=unit,
        title=title,
        hours=Decimal(str(hours)),
        pass_rule=pass_rule,
        pass_score=pass_score,
    )
    return course_save(course=course, topics=topics)


# --- Sessions -------------------------------------------------------------------------------


@transaction.atomic
def session_save(
    *, session: TrainingSession, trainers: Iterable[Member] | None = None
) -> TrainingSession:
    """Validate and save a session prepared by a form. A new session cannot start in the past;
    the places cannot drop below the people already listed."""
    if session.pk is not None:
        TrainingSession.objects.select_for_update().filter(pk=session.pk).first()
    session.full_clean()
    session.save()
    if trainers is not None:
        session.trainers.set(list(trainers))
    return session


@transaction.atomic
def session_create(
    *,
    course: Course,
    commune: AdminUnit,
    place: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    capacity: int,
    trainers: Iterable[Member] = (),
    hamlet: Hamlet | None = None,
) -> TrainingSession:
    session = TrainingSession(
        course=course,
        commune=commune,
        hamlet=hamlet,
        place=place,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
    )
    return session_save(session=session, trainers=trainers)


# --- Attendees ------------------------------------------------------------------------------

RESIDENT_MIN_AGE, RESIDENT_MAX_AGE = 6, 110


def resident_consent_purpose() -> str:
    return _(
        "Keeping the attendance list of a digital skills training and issuing the "
        "participant's certificate."
    )


def _birth_year(value: Any) -> int:
    this_year = timezone.localdate().year
    try:
        year = int(value)
    except (TypeError, ValueError):
        year = 0
    if not this_year - RESIDENT_MAX_AGE <= year <= this_year - RESIDENT_MIN_AGE:
        raise ValidationError(
            {"birth_year": _("Check the year of birth: write it with four digits, e.g. 1968.")}
        )
    return year


def _optional_phone(raw: str) -> str:
    if not (raw or "").strip():
        return ""
    try:
        return normalize_phone(raw)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None


@transaction.atomic
def resident_attendee_find_or_create(
    *,
    commune: AdminUnit,
    full_name: str,
    birth_year: int | str,
    phone: str = "",
    consent_given: bool,
) -> ResidentAttendee:
    """The resident's record in this commune, found by name and year of birth, or a new one.
    Only with their consent (never assumed); a phone given later is added to the record."""
    name = nfc(full_name)
    errors: dict[str, Any] = {}
    year = number = None
    if not name:
        errors["full_name"] = _("Write the full name.")
    try:
        year = _birth_year(birth_year)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    try:
        number = _optional_phone(phone)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if not consent_given:
        errors["consent"] = _(
            "Your name and year of birth can be kept only with your consent. Tick the box to agree."
        )
    if errors or year is None or number is None:
        raise ValidationError(errors)
    key = search_key(name)
    resident = (
        ResidentAttendee.objects.select_for_update()
        .filter(commune=commune, search_name=key, birth_year=year)
        .first()
    )
    if resident is None:
        try:
            with transaction.atomic():
                return ResidentAttendee.objects.create(
                    commune=commune,
                    full_name=name,
                    birth_year=year,
                    phone=number,
                    consent_purpose=resident_consent_purpose(),
                    consent_given_at=timezone.now(),
                )
        except IntegrityError:
            # The same person checked in from two phones at once.
            resident = ResidentAttendee.objects.get(
                commune=commune, search_name=key, birth_year=year
            )
    if number and not resident.phone:
        resident.phone = number
        resident.save(update_fields=["phone"])
    return resident


# --- Attendance -----------------------------------------------------------------------------

# The attendance form opens a little before the start (people arrive early) and stays open a
# little after the end (the last ones sign out).
CHECK_IN_MARGIN = dt.timedelta(minutes=30)
_CODE_SALT = "cnsc.training.attendance"


def _lock(session: TrainingSession) -> TrainingSession:
    return TrainingSession.objects.select_for_update().select_related("course").get(pk=session.pk)


def _ensure_room(session: TrainingSession) -> None:
    if Attendance.objects.filter(session=session).count() >= session.capacity:
        raise ValidationError(
            _("This session is full: all %(capacity)d places are taken.")
            % {"capacity": session.capacity}
        )


def _name_of(member: Member | None, resident: ResidentAttendee | None) -> str:
    if member is not None:
        return member.full_name
    if resident is not None:
        return resident.full_name
    raise ValueError("an attendance is of a member or a resident")


def _already_listed(attendance_person: str) -> ValidationError:
    return ValidationError(
        _("%(name)s is already on the list of this session.") % {"name": attendance_person}
    )


def check_in_window(session: TrainingSession) -> tuple[dt.datetime, dt.datetime]:
    return session.starts_at - CHECK_IN_MARGIN, session.ends_at + CHECK_IN_MARGIN


def _may_mark_present(session: TrainingSession, now: dt.datetime) -> None:
    opens, _closes = check_in_window(session)
    if now < opens:
        raise ValidationError(
            {
                "attended": _(
                    "The session has not started yet: attendance can be taken from %(time)s."
                )
                % {"time": date_format(timezone.localtime(opens), "d/m/Y H:i")}
            }
        )


@transaction.atomic
def attendance_add(
    *,
    session: TrainingSession,
    member: Member | None = None,
    resident: ResidentAttendee | None = None,
    attended: bool = False,
) -> Attendance:
    """Put a member or a resident on the session's list (in the back office), present or not
    yet. Refused when the session is full or the person is already listed."""
    if member is not None and resident is not None:
        raise ValueError("attendance_add() takes a member or a resident, not both")
    locked = _lock(session)
    person = _name_of(member, resident)
    if Attendance.objects.filter(session=locked, member=member, resident=resident).exists():
        raise _already_listed(person)
    _ensure_room(locked)
    now = timezone.now()
    if attended:
        _may_mark_present(locked, now)
    try:
        with transaction.atomic():
            return Attendance.objects.create(
                session=locked,
                member=member,
                resident=resident,
                attended=attended,
                marked_at=now if attended else None,
                method=CheckInMethod.BACK_OFFICE if attended else "",
                passed=locked.course.passes(attended=attended, score=None),
            )
    except IntegrityError:
        raise _already_listed(person) from None


@transaction.atomic
def attendance_add_resident(
    *,
    session: TrainingSession,
    full_name: str,
    birth_year: int | str,
    phone: str = "",
    consent_given: bool,
    attended: bool = False,
) -> Attendance:
    """A resident from a paper list: their record (with their consent) and their place on the
    session's list in one step, so a full session keeps no record of them."""
    resident = resident_attendee_find_or_create(
        commune=session.commune,
        full_name=full_name,
        birth_year=birth_year,
        phone=phone,
        consent_given=consent_given,
    )
    return attendance_add(session=session, resident=resident, attended=attended)


def _result_errors(
    attendance: Attendance, *, attended: bool, score: int | None, now: dt.datetime
) -> dict[str, Any]:
    course = attendance.session.course
    errors: dict[str, Any] = {}
    if attended and not attendance.attended:
        try:
            _may_mark_present(attendance.session, now)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if score is not None:
        if course.pass_rule != PassRule.SCORE:
            errors["score"] = _("This course has no test: leave the score empty.")
        elif not attended:
            errors["score"] = _("Someone who did not attend has no score.")
        elif not 0 <= score <= 100:
            errors["score"] = _("A score is from 0 to 100.")
    passed = course.passes(attended=attended, score=score)
    if attendance.has_valid_certificate and (not passed or score != attendance.score):
        errors["passed"] = _(
            "%(name)s has a certificate for this session. Revoke it before changing the result."
        ) % {"name": attendance.person_name}
    return errors


@transaction.atomic
def attendance_record(
    *, attendance: Attendance, attended: bool, score: int | None = None
) -> Attendance:
    """The trainer's record for one person: present or not, and the test score where the course
    has a test. Whether they passed follows from the course's passing rule."""
    locked = (
        Attendance.objects.select_for_update(of=("self",))
        .select_related("session__course", "member", "resident", "certificate")
        .get(pk=attendance.pk)
    )
    now = timezone.now()
    errors = _result_errors(locked, attended=attended, score=score, now=now)
    if errors:
        raise ValidationError(errors)
    if attended and not locked.attended:
        locked.marked_at = now
        locked.method = CheckInMethod.BACK_OFFICE
    elif not attended:
        locked.marked_at = None
        locked.method = ""
    locked.attended = attended
    locked.score = score if attended else None
    locked.passed = locked.session.course.passes(attended=attended, score=locked.score)
    locked.save()
    return locked


@transaction.atomic
def attendance_record_many(
    *, session: TrainingSession, results: Mapping[int, tuple[bool, int | None]]
) -> int:
    """Record several people's results at once (the attendance page): all or nothing. Errors
    come back keyed ``"<attendance id>"`` so the page can show each next to its row. Returns how
    many rows changed."""
    rows = {
        a.pk: a
        for a in Attendance.objects.select_for_update(of=("self",))
        .select_related("session__course", "member", "resident", "certificate")
        .filter(session=session, pk__in=list(results))
    }
    now = timezone.now()
    errors: dict[str, Any] = {}
    changed = 0
    for pk, (attended, score) in results.items():
        row = rows.get(pk)
        if row is None:
            continue
        if (row.attended, row.score) == (attended, score if attended else None):
            continue
        problems = _result_errors(row, attended=attended, score=score, now=now)
        if problems:
            errors[str(pk)] = [str(m) for ms in problems.values() for m in _as_list(ms)]
            continue
        attendance_record(attendance=row, attended=attended, score=score)
        changed += 1
    if errors:
        raise ValidationError(errors)
    return changed


def _as_list(messages: Any) -> list[Any]:
    return list(messages) if isinstance(messages, list | tuple) else [messages]


# --- Attendance by QR code ------------------------------------------------------------------


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_CODE_SALT)


def attendance_code(*, session: TrainingSession) -> str:
    """A signed code naming the session, usable for ``ATTENDANCE_CODE_MINUTES`` from now (and
    only while attendance is open)."""
    return _signer().sign(session.code)


def attendance_url(code: str) -> str:
    """The address in the QR code shown at the session."""
    return settings.PUBLIC_BASE_URL + reverse("training:attend", args=[code])


def session_for_code(code: str, *, now: dt.datetime | None = None) -> TrainingSession:
    """The session an attendance code opens; ValidationError when the code is forged, has
    expired, or attendance is not open."""
    invalid = ValidationError(
        _("This attendance code is not valid. Scan the code shown at the session."),
        code="invalid",
    )
    try:
        session_code = _signer().unsign(
            code, max_age=dt.timedelta(minutes=settings.ATTENDANCE_CODE_MINUTES)
        )
    except signing.SignatureExpired:
        raise ValidationError(
            _(
                "This attendance code has expired. Scan the code shown at the session again: "
                "it changes every few minutes."
            ),
            code="expired",
        ) from None
    except signing.BadSignature:
        raise invalid from None
    session = (
        TrainingSession.objects.select_related("course", "commune")
        .filter(code=session_code)
        .first()
    )
    if session is None:
        raise invalid
    now = now or timezone.now()
    opens, closes = check_in_window(session)
    if now < opens:
        raise ValidationError(
            _("Attendance for this session opens at %(time)s.")
            % {"time": date_format(timezone.localtime(opens), "d/m/Y H:i")},
            code="not_open",
        )
    if now > closes:
        raise ValidationError(_("This session has ended: attendance is closed."), code="expired")
    return session


def _check_in(
    session: TrainingSession,
    *,
    member: Member | None = None,
    resident: ResidentAttendee | None = None,
) -> Attendance:
    locked = _lock(session)
    name = _name_of(member, resident)
    already = ValidationError(
        _("%(name)s is already marked present at this session.") % {"name": name},
        code="already_marked",
    )
    existing = (
        Attendance.objects.select_for_update(of=("self",))
        .filter(session=locked, member=member, resident=resident)
        .first()
    )
    now = timezone.now()
    if existing is not None:
        if existing.attended:
            raise already
        existing.attended = True
        existing.marked_at = now
        existing.method = CheckInMethod.QR
        existing.passed = locked.course.passes(attended=True, score=existing.score)
        existing.save()
        return existing
    _ensure_room(locked)
    try:
        with transaction.atomic():
            return Attendance.objects.create(
                session=locked,
                member=member,
                resident=resident,
                attended=True,
                marked_at=now,
                method=CheckInMethod.QR,
                passed=locked.course.passes(attended=True, score=None),
            )
    except IntegrityError:
        raise already from None


@transaction.atomic
def attendance_check_in_member(*, code: str, phone: str, birth_year: int | str) -> Attendance:
    """A team member marks themselves present with the session's QR code: recognised by phone
    number and year of birth together."""
    session = session_for_code(code)
    errors: dict[str, Any] = {}
    number = year = None
    try:
        number = normalize_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    try:
        year = int(birth_year)
    except (TypeError, ValueError):
        errors["birth_year"] = _("Check the year of birth: write it with four digits, e.g. 1968.")
    if errors or number is None or year is None:
        raise ValidationError(errors)
    member = Member.objects.filter(phone=number, birth_year=year).first()
    if member is None:
        raise ValidationError(
            {
                "phone": _(
                    "No team member has this phone number and year of birth. If you are not a "
                    "team member, choose “Resident”."
                )
            }
        )
    return _check_in(session, member=member)


@transaction.atomic
def attendance_check_in_resident(
    *, code: str, full_name: str, birth_year: int | str, phone: str = "", consent_given: bool
) -> Attendance:
    """A resident marks themselves present with the session's QR code."""
    session = session_for_code(code)
    resident = resident_attendee_find_or_create(
        commune=session.commune,
        full_name=full_name,
        birth_year=birth_year,
        phone=phone,
        consent_given=consent_given,
    )
    return _check_in(session, resident=resident)
