"""Training: handbooks, courses, sessions of a course, who attended and their results.

Handbooks and courses belong to a unit: a province (written by province staff, for every commune
of the province) or one commune (its own). A session is held in one commune. Attendees are team
members or residents; of a resident only what a certificate and an attendance list need is kept
(``ResidentAttendee``), apart from the households the outreach app keeps.

A certificate is a core ``Credential`` whose subject is the ``Attendance``; the attendance points
at its current certificate, and the database refuses a certificate for an attendance that did not
pass. Writes go through ``cnsc.training.services`` and ``cnsc.training.certificates``.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cnsc.core import pdf
from cnsc.core.codes import random_code
from cnsc.core.models import Credential
from cnsc.core.text import nfc, search_key
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hamlet, Hierarchy, Level
from cnsc.team.models import CURRENT_COMMUNE, Member
from cnsc.training.files import validate_image_file, validate_pdf_file

PROVINCE_OR_COMMUNE = Q(hierarchy=Hierarchy.CURRENT, level__in=[Level.PROVINCE, Level.COMMUNE])


class Topic(models.TextChoices):
    VNEID = "vneid", _("VNeID electronic identity")
    DIGITAL_SIGNATURE = "digital_signature", _("Digital signature")
    PAYMENTS = "payments", _("Payment accounts and e-wallets")
    PUBLIC_SERVICES = "public_services", _("Online public services")
    SECURITY = "security", _("Information security and scams")
    PROVINCE_APP = "province_app", _("The province app")
    DIGITAL_SKILLS = "digital_skills", _("General digital skills")


class Audience(models.TextChoices):
    MEMBERS = "members", _("Team members")
    RESIDENTS = "residents", _("Residents")


class Language(models.TextChoices):
    VIETNAMESE = "vi", _("Vietnamese")
    ENGLISH = "en", _("English")
    KHMER = "km", _("Khmer")
    HMONG = "hmn", _("Hmong")


# --- Scoping --------------------------------------------------------------------------------


def _unit_visible(user: Viewer, field: str = "unit") -> Q | None:
    """Rows of a province or commune unit that ``user`` may read: their communes' own, and the
    provinces those communes belong to. None: everything."""
    from cnsc.access.scope import scope_for

    scope = scope_for(user)
    if scope.everything:
        return None
    communes = scope.commune_ids()
    provinces = AdminUnit.objects.filter(id__in=communes).values("province_id")
    return (
        Q(**{f"{field}_id__in": communes})
        | Q(**{f"{field}_id__in": provinces})
        | Q(**{f"{field}_id__in": scope.province_ids()})
    )


def _unit_editable(user: Viewer, field: str = "unit") -> Q | None:
    """Rows ``user`` may change: a commune official their communes' own, province staff also
    their province's. A commune reads its province's handbooks and courses but cannot change
    them. None: everything."""
    from cnsc.access.scope import scope_for

    scope = scope_for(user)
    if scope.everything:
        return None
    return Q(**{f"{field}_id__in": scope.commune_ids()}) | Q(
        **{f"{field}_id__in": scope.province_ids()}
    )


def editable_units(user: Viewer) -> models.QuerySet[AdminUnit]:
    """The provinces and communes ``user`` may write a handbook or course for."""
    from cnsc.access.scope import scope_for

    scope = scope_for(user)
    units = AdminUnit.objects.filter(PROVINCE_OR_COMMUNE)
    if scope.everything:
        return units
    return units.filter(Q(id__in=scope.commune_ids()) | Q(id__in=scope.province_ids()))


def _commune_visible(user: Viewer, path: str) -> Q | None:
    from cnsc.access.scope import scope_for

    scope = scope_for(user)
    if scope.everything:
        return None
    return Q(**{f"{path}_id__in": scope.commune_ids()})


class UnitScopedQuerySet(models.QuerySet[Any]):
    def visible_to(self, user: Viewer) -> Any:
        condition = _unit_visible(user)
        return self.all() if condition is None else self.filter(condition)

    def editable_by(self, user: Viewer) -> Any:
        condition = _unit_editable(user)
        return self.all() if condition is None else self.filter(condition)

    def for_commune(self, commune: AdminUnit) -> Any:
        """What the commune uses: its own, and its province's."""
        return self.filter(Q(unit=commune) | Q(unit_id=commune.province_id))


def unprintable(text: str) -> str | None:
    """A message naming the characters of ``text`` that a handbook printed by CNSC cannot show
    (its typeface has no glyph for them: they would print as empty boxes); None when it can
    print them all."""
    missing = pdf.missing_glyphs(text)
    if not missing:
        return None
    return _(
        "The handbook's typeface cannot print these characters: %(characters)s. Write them "
        "another way (for example “>” for an arrow), or upload the handbook as a PDF."
    ) % {"characters": " ".join(missing)}


def _unit_is_province_or_commune(unit: AdminUnit | None) -> bool:
    return unit is not None and (
        unit.hierarchy == Hierarchy.CURRENT and unit.level in (Level.PROVINCE, Level.COMMUNE)
    )


# --- Handbooks ------------------------------------------------------------------------------


class HandbookStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class HandbookSource(models.TextChoices):
    WRITTEN = "written", _("Written in CNSC")
    UPLOAD = "upload", _("Uploaded PDF")


def _upload_path(handbook_code: str, suffix: str) -> str:
    # A random name: the uploader's file name may carry personal data, and guessing the next
    # file's address must not work.
    return f"training/handbooks/{handbook_code}/{uuid.uuid4().hex}{suffix}"


def handbook_pdf_path(instance: Handbook, filename: str) -> str:
    return _upload_path(instance.code, ".pdf")


def handbook_image_path(instance: HandbookBlock, filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()
    return _upload_path(
        instance.handbook.code, suffix if suffix in {".jpg", ".jpeg", ".png"} else ""
    )


class HandbookQuerySet(UnitScopedQuerySet):
    def published(self) -> HandbookQuerySet:
        return self.filter(status=HandbookStatus.PUBLISHED)


class Handbook(models.Model):
    """A handbook (cẩm nang) in one version. A new version is a new row that ``replaces`` the
    previous one; publishing it retires the previous, so the public list holds one version."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    unit = models.ForeignKey(
        AdminUnit,
        verbose_name=_("for"),
        on_delete=models.PROTECT,
        related_name="handbooks",
        limit_choices_to=PROVINCE_OR_COMMUNE,
        help_text=_("A province: for every commune of the province. A commune: its own."),
    )
    title = models.CharField(_("title"), max_length=200)
    search_name = models.CharField(max_length=200, editable=False, db_index=True)
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)
    audience = models.CharField(_("audience"), max_length=10, choices=Audience.choices)
    language = models.CharField(
        _("language"), max_length=4, choices=Language.choices, default=Language.VIETNAMESE
    )
    source = models.CharField(
        _("content"),
        max_length=8,
        choices=HandbookSource.choices,
        default=HandbookSource.WRITTEN,
        help_text=_("Write the content here (CNSC prints it as an A5 booklet) or upload a PDF."),
    )
    pdf = models.FileField(
        _("PDF"),
        upload_to=handbook_pdf_path,
        blank=True,
        max_length=200,
        validators=[validate_pdf_file],
    )
    pages = models.PositiveSmallIntegerField(_("pages"), null=True, blank=True, editable=False)
    version = models.PositiveSmallIntegerField(_("version"), default=1, editable=False)
    change_note = models.CharField(
        _("what changed"),
        max_length=300,
        blank=True,
        help_text=_("What is new in this version, for those who read the previous one."),
    )
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("replaces"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="replaced_by",
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=HandbookStatus.choices,
        default=HandbookStatus.DRAFT,
        editable=False,
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True, editable=False)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = HandbookQuerySet.as_manager()

    class Meta:
        verbose_name = _("handbook")
        verbose_name_plural = _("handbooks")
        ordering = ["topic", "search_name", "-version"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=HandbookStatus.PUBLISHED) | ~Q(pdf=""),
                name="training_handbook_published_has_pdf",
                violation_error_message=_("A published handbook needs its PDF."),
            ),
            models.CheckConstraint(
                condition=Q(status=HandbookStatus.DRAFT, published_at__isnull=True)
                | Q(status=HandbookStatus.PUBLISHED, published_at__isnull=False)
                | Q(status=HandbookStatus.RETIRED, retired_at__isnull=False),
                name="training_handbook_status_dates",
            ),
            models.CheckConstraint(
                condition=Q(version=1, replaces__isnull=True)
                | Q(version__gt=1, replaces__isnull=False),
                name="training_handbook_version_chain",
            ),
            models.CheckConstraint(
                condition=Q(version=1) | ~Q(change_note=""),
                name="training_handbook_version_says_what_changed",
                violation_error_message=_("Say what changed in this version."),
            ),
        ]
        indexes = [models.Index(fields=["status", "audience", "unit"])]

    def __str__(self) -> str:
        return _("%(title)s (version %(version)d)") % {"title": self.title, "version": self.version}

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.title = nfc(self.title)
        self.change_note = nfc(self.change_note)
        self.search_name = search_key(self.title)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not nfc(self.title):
            errors["title"] = _("Give the handbook a title.")
        if self.unit_id and not _unit_is_province_or_commune(self.unit):
            errors["unit"] = _("Choose a current province or commune.")
        if self.version > 1 and not nfc(self.change_note):
            errors["change_note"] = _("Say what changed in this version.")
        uploading = bool(self.pdf) and not getattr(self.pdf, "_committed", True)
        if self.source == HandbookSource.WRITTEN:
            for field in ("title", "change_note"):
                problem = unprintable(getattr(self, field))
                if problem:
                    errors[field] = problem
        if uploading and self.source == HandbookSource.WRITTEN:
            errors["pdf"] = _(
                "This handbook is written in CNSC, which makes its PDF when it is published. "
                "To upload a PDF instead, choose “Uploaded PDF” as its content."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def is_province_wide(self) -> bool:
        return self.unit.level == Level.PROVINCE

    @property
    def is_editable(self) -> bool:
        return self.status == HandbookStatus.DRAFT


class BlockKind(models.TextChoices):
    HEADING = "heading", _("Heading")
    PARAGRAPH = "paragraph", _("Paragraph")
    STEPS = "steps", _("Numbered steps (one per line)")
    IMAGE = "image", _("Picture (the text is its caption)")


class HandbookBlockQuerySet(models.QuerySet["HandbookBlock"]):
    def visible_to(self, user: Viewer) -> HandbookBlockQuerySet:
        return self.filter(handbook__in=Handbook.objects.visible_to(user))


def block_text(text: str) -> str:
    """NFC per line, keeping the line breaks (steps are one per line; paragraphs keep theirs)."""
    lines = [nfc(line) for line in (text or "").replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


class HandbookBlock(models.Model):
    """One piece of a handbook written in CNSC, in reading order."""

    handbook = models.ForeignKey(
        Handbook, verbose_name=_("handbook"), on_delete=models.CASCADE, related_name="blocks"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=10, choices=BlockKind.choices)
    text = models.TextField(_("text"), blank=True)
    image = models.FileField(
        _("picture"),
        upload_to=handbook_image_path,
        blank=True,
        max_length=200,
        validators=[validate_image_file],
        help_text=_("JPEG or PNG."),
    )

    history = HistoricalRecords()
    objects = HandbookBlockQuerySet.as_manager()

    class Meta:
        verbose_name = _("content block")
        verbose_name_plural = _("content blocks")
        ordering = ["handbook", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["handbook", "position"],
                name="training_block_unique_position",
                violation_error_message=_("Two blocks of this handbook have the same position."),
            ),
            models.CheckConstraint(
                condition=Q(kind=BlockKind.IMAGE) & ~Q(image="")
                | ~Q(kind=BlockKind.IMAGE) & ~Q(text="") & Q(image=""),
                name="training_block_content_by_kind",
                violation_error_message=_(
                    "A picture block needs its picture; any other block needs text and no picture."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.text = block_text(self.text)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        text = block_text(self.text)
        if self.kind == BlockKind.IMAGE and not self.image:
            raise ValidationError({"image": _("Choose the picture.")})
        if self.kind != BlockKind.IMAGE and self.image:
            raise ValidationError({"image": _("Only a picture block has a picture.")})
        if self.kind != BlockKind.IMAGE and not text:
            raise ValidationError({"text": _("Write the text of this block.")})
        problem = unprintable(text)
        if problem:
            raise ValidationError({"text": problem})

    @property
    def steps(self) -> list[str]:
        return [line for line in self.text.split("\n") if line.strip()]


# --- Courses --------------------------------------------------------------------------------


class PassRule(models.TextChoices):
    ATTENDANCE = "attendance", _("Attendance only")
    SCORE = "score", _("Test score of at least")


class CourseQuerySet(UnitScopedQuerySet):
    pass


class Course(models.Model):
    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    unit = models.ForeignKey(
        AdminUnit,
        verbose_name=_("for"),
        on_delete=models.PROTECT,
        related_name="courses",
        limit_choices_to=PROVINCE_OR_COMMUNE,
        help_text=_("A province: every commune of the province may hold it. A commune: its own."),
    )
    title = models.CharField(_("title"), max_length=200)
    search_name = models.CharField(max_length=200, editable=False, db_index=True)
    hours = models.DecimalField(
        _("length (hours)"),
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(0.5), MaxValueValidator(200)],
    )
    pass_rule = models.CharField(
        _("passing rule"), max_length=10, choices=PassRule.choices, default=PassRule.ATTENDANCE
    )
    pass_score = models.PositiveSmallIntegerField(
        _("passing score"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Out of 100; only when the course has a test."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = CourseQuerySet.as_manager()

    class Meta:
        verbose_name = _("course")
        verbose_name_plural = _("courses")
        ordering = ["search_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pass_rule=PassRule.ATTENDANCE, pass_score__isnull=True)
                | Q(pass_rule=PassRule.SCORE, pass_score__gte=1, pass_score__lte=100),
                name="training_course_pass_rule",
                violation_error_message=_(
                    "A course passed on a test needs a passing score from 1 to 100; a course "
                    "passed on attendance has none."
                ),
            ),
            models.CheckConstraint(
                condition=Q(hours__gt=0), name="training_course_positive_length"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.title = nfc(self.title)
        self.search_name = search_key(self.title)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not nfc(self.title):
            errors["title"] = _("Give the course a title.")
        if self.unit_id and not _unit_is_province_or_commune(self.unit):
            errors["unit"] = _("Choose a current province or commune.")
        if self.pass_rule == PassRule.SCORE and self.pass_score is None:
            errors["pass_score"] = _("Give the score needed to pass (out of 100).")
        if self.pass_rule == PassRule.ATTENDANCE and self.pass_score is not None:
            errors["pass_score"] = _("A course passed on attendance has no passing score.")
        if self.pk and not errors:
            errors.update(self._changes_refused())
        if errors:
            raise ValidationError(errors)

    def _changes_refused(self) -> dict[str, Any]:
        """Rules a course keeps once it is in use: results were judged by its passing rule, and
        its sessions are held where it may be held."""
        errors: dict[str, Any] = {}
        before = Course.objects.filter(pk=self.pk).values("pass_rule", "pass_score", "unit").first()
        if before is None:
            return errors
        rule_changed = (before["pass_rule"], before["pass_score"]) != (
            self.pass_rule,
            self.pass_score,
        )
        if (
            rule_changed
            and Attendance.objects.filter(session__course_id=self.pk)
            .filter(Q(passed=True) | Q(score__isnull=False))
            .exists()
        ):
            errors["pass_rule"] = _(
                "Results have been recorded under this course's passing rule, so the rule can no "
                "longer change. Create a new course instead."
            )
        if before["unit"] != self.unit_id and self.unit_id:
            sessions = TrainingSession.objects.filter(course_id=self.pk)
            outside = sessions.exclude(commune_id=self.unit_id).exclude(
                commune__province_id=self.unit_id
            )
            if outside.exists():
                errors["unit"] = _(
                    "Sessions of this course are held in communes outside this unit."
                )
        return errors

    @property
    def topic_values(self) -> list[str]:
        return sorted(
            (t.topic for t in self.topics.all()), key=lambda value: Topic.values.index(value)
        )

    def passes(self, *, attended: bool, score: int | None) -> bool:
        if not attended:
            return False
        if self.pass_rule == PassRule.SCORE:
            return score is not None and self.pass_score is not None and score >= self.pass_score
        return True


class CourseTopicQuerySet(models.QuerySet["CourseTopic"]):
    def visible_to(self, user: Viewer) -> CourseTopicQuerySet:
        return self.filter(course__in=Course.objects.visible_to(user))


class CourseTopic(models.Model):
    """A topic a course covers; figures count members trained per topic through these rows."""

    course = models.ForeignKey(
        Course, verbose_name=_("course"), on_delete=models.CASCADE, related_name="topics"
    )
    topic = models.CharField(_("topic"), max_length=20, choices=Topic.choices)

    history = HistoricalRecords()
    objects = CourseTopicQuerySet.as_manager()

    class Meta:
        verbose_name = _("course topic")
        verbose_name_plural = _("course topics")
        constraints = [
            models.UniqueConstraint(fields=["course", "topic"], name="training_course_topic_once")
        ]

    def __str__(self) -> str:
        return self.get_topic_display()


# --- Sessions -------------------------------------------------------------------------------


class TrainingSessionQuerySet(models.QuerySet["TrainingSession"]):
    def visible_to(self, user: Viewer) -> TrainingSessionQuerySet:
        condition = _commune_visible(user, "commune")
        return self.all() if condition is None else self.filter(condition)


class TrainingSession(models.Model):
    """A course held at a place and time in a commune."""

    code = models.CharField(
        _("code"), max_length=12, unique=True, default=random_code, editable=False
    )
    course = models.ForeignKey(
        Course, verbose_name=_("course"), on_delete=models.PROTECT, related_name="sessions"
    )
    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="training_sessions",
        limit_choices_to=CURRENT_COMMUNE,
    )
    hamlet = models.ForeignKey(
        Hamlet,
        verbose_name=_("hamlet or quarter"),
        on_delete=models.PROTECT,
        related_name="training_sessions",
        null=True,
        blank=True,
    )
    place = models.CharField(
        _("place"), max_length=200, help_text=_("e.g. the hall of the ward's People's Committee")
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveSmallIntegerField(
        _("places"), validators=[MinValueValidator(1), MaxValueValidator(2000)]
    )
    trainers = models.ManyToManyField(
        Member,
        verbose_name=_("trainers"),
        related_name="training_sessions_given",
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords(m2m_fields=[trainers])
    objects = TrainingSessionQuerySet.as_manager()

    class Meta:
        verbose_name = _("training session")
        verbose_name_plural = _("training sessions")
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="training_session_ends_after_start",
                violation_error_message=_("A session ends after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1), name="training_session_has_places"
            ),
        ]
        indexes = [models.Index(fields=["commune", "starts_at"])]

    def __str__(self) -> str:
        when = timezone.localtime(self.starts_at) if self.starts_at else None
        return f"{self.course} — {when:%d/%m/%Y}" if when else str(self.course)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.place = nfc(self.place)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = _("A session ends after it starts.")
        if self._state.adding and self.starts_at and self.starts_at < timezone.now():
            errors["starts_at"] = _("A new session cannot start in the past.")
        commune: AdminUnit | None = self.commune if self.commune_id else None
        if commune is not None and not (
            commune.hierarchy == Hierarchy.CURRENT and commune.level == Level.COMMUNE
        ):
            errors["commune"] = _("Choose a current commune or ward.")
        hamlet: Hamlet | None = self.hamlet if self.hamlet_id else None
        if commune is not None and hamlet is not None and hamlet.commune_id != commune.pk:
            errors["hamlet"] = _("This hamlet belongs to another commune.")
        if commune is not None and self.course_id:
            course_unit = self.course.unit_id
            if course_unit not in (commune.pk, commune.province_id):
                errors["course"] = _("This course belongs to another commune or province.")
        if not nfc(self.place):
            errors["place"] = _("Say where the session is held.")
        if self.pk and self.capacity:
            listed = Attendance.objects.filter(session_id=self.pk).count()
            if listed > self.capacity:
                errors["capacity"] = _(
                    "%(count)d people are already on the list: the session needs at least "
                    "%(count)d places."
                ) % {"count": listed}
        if errors:
            raise ValidationError(errors)


# --- Attendees ------------------------------------------------------------------------------


class ResidentAttendeeQuerySet(models.QuerySet["ResidentAttendee"]):
    def visible_to(self, user: Viewer) -> ResidentAttendeeQuerySet:
        condition = _commune_visible(user, "commune")
        return self.all() if condition is None else self.filter(condition)


class ResidentAttendee(models.Model):
    """A resident who attended training without being a team member: their name (printed on a
    certificate), year of birth (to tell namesakes apart) and, if they gave it, a phone number.
    Nothing else. The same person is found again by name and year of birth."""

    commune = models.ForeignKey(
        AdminUnit,
        verbose_name=_("commune"),
        on_delete=models.PROTECT,
        related_name="training_residents",
        limit_choices_to=CURRENT_COMMUNE,
    )
    full_name = models.CharField(_("full name"), max_length=150)
    search_name = models.CharField(max_length=150, editable=False, db_index=True)
    birth_year = models.PositiveSmallIntegerField(_("year of birth"))
    phone = models.CharField(_("phone"), max_length=16, blank=True, help_text=_("Stored as +84…"))
    consent_purpose = models.CharField(_("purpose of consent"), max_length=300)
    consent_given_at = models.DateTimeField(_("consent given at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = ResidentAttendeeQuerySet.as_manager()

    class Meta:
        verbose_name = _("resident attendee")
        verbose_name_plural = _("resident attendees")
        ordering = ["search_name", "birth_year"]
        constraints = [
            # A household often shares one phone, so the phone cannot tell people apart: name and
            # year of birth do (two namesakes born the same year in one commune are one record).
            models.UniqueConstraint(
                fields=["commune", "search_name", "birth_year"],
                name="training_resident_unique_name_year",
                violation_error_message=_(
                    "A resident with this name and year of birth is already listed."
                ),
            ),
            models.CheckConstraint(
                condition=Q(birth_year__gte=1900, birth_year__lte=2100),
                name="training_resident_birth_year_range",
            ),
            models.CheckConstraint(
                condition=~Q(consent_purpose=""), name="training_resident_consent_has_purpose"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.birth_year})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.full_name = nfc(self.full_name)
        self.search_name = search_key(self.full_name)
        super().save(*args, **kwargs)


class CheckInMethod(models.TextChoices):
    BACK_OFFICE = "back_office", _("Marked by the trainer")
    QR = "qr", _("Scanned the session's QR code")


class AttendanceQuerySet(models.QuerySet["Attendance"]):
    def visible_to(self, user: Viewer) -> AttendanceQuerySet:
        condition = _commune_visible(user, "session__commune")
        return self.all() if condition is None else self.filter(condition)


class Attendance(models.Model):
    """One person at one session: registered, present or not, and the result."""

    session = models.ForeignKey(
        TrainingSession,
        verbose_name=_("session"),
        on_delete=models.PROTECT,
        related_name="attendances",
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        related_name="training_attendances",
        null=True,
        blank=True,
    )
    resident = models.ForeignKey(
        ResidentAttendee,
        verbose_name=_("resident"),
        on_delete=models.PROTECT,
        related_name="attendances",
        null=True,
        blank=True,
    )
    attended = models.BooleanField(_("attended"), default=False)
    marked_at = models.DateTimeField(_("marked present at"), null=True, blank=True)
    method = models.CharField(
        _("marked by"), max_length=12, choices=CheckInMethod.choices, blank=True
    )
    score = models.PositiveSmallIntegerField(
        _("score"), null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    passed = models.BooleanField(_("passed"), default=False)
    # The current certificate; a revoked one stays here (and in core) until a new one is issued.
    certificate = models.OneToOneField(
        Credential,
        verbose_name=_("certificate"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    history = HistoricalRecords()
    objects = AttendanceQuerySet.as_manager()

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        ordering = ["session", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(member__isnull=False, resident__isnull=True)
                | Q(member__isnull=True, resident__isnull=False),
                name="training_attendance_one_person",
            ),
            # One mark per person and session, whoever marks it and however often they scan.
            models.UniqueConstraint(
                fields=["session", "member"],
                name="training_attendance_member_once",
                violation_error_message=_("This member is already on the list of this session."),
            ),
            models.UniqueConstraint(
                fields=["session", "resident"],
                name="training_attendance_resident_once",
                violation_error_message=_("This resident is already on the list of this session."),
            ),
            models.CheckConstraint(
                condition=Q(attended=False, marked_at__isnull=True, method="")
                | Q(attended=True, marked_at__isnull=False) & ~Q(method=""),
                name="training_attendance_marked_when_present",
            ),
            models.CheckConstraint(
                condition=Q(passed=False) | Q(attended=True),
                name="training_attendance_pass_needs_presence",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=100, attended=True),
                name="training_attendance_score_range",
            ),
            # Certificates are issued only on a pass: the database refuses any other.
            models.CheckConstraint(
                condition=Q(certificate__isnull=True) | Q(passed=True),
                name="training_attendance_certificate_needs_pass",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_name} — {self.session}"

    @property
    def person_name(self) -> str:
        person = self.member if self.member_id else self.resident if self.resident_id else None
        return person.full_name if person is not None else ""

    @property
    def is_member(self) -> bool:
        return self.member_id is not None

    @property
    def has_valid_certificate(self) -> bool:
        return self.certificate is not None and self.certificate.revoked_at is None
