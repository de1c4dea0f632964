"""Writes to the roster. The admin, the import and the bot call these and nothing else.

Every function is atomic and raises ValidationError (with field names where one field is at
fault) with a message a commune official can act on. The services do not check who is asking:
callers pass objects they fetched through ``visible_to(user)``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cnsc.core.identity import cccd_protect, normalize_phone
from cnsc.geo.models import AdminUnit, Hamlet
from cnsc.team.badges import badges_revoke_for_member
from cnsc.team.models import (
    Member,
    MemberRole,
    Membership,
    Organisation,
    Team,
    TeamKind,
    TeamStatus,
)

TEAM_FIELDS = frozenset(
    {
        "hamlet",
        "kind",
        "organisation_name",
        "code",
        "name",
        "decision_number",
        "decision_date",
        "status",
        "status_since",
    }
)
MEMBER_FIELDS = frozenset(
    {
        "commune",
        "full_name",
        "sex",
        "birth_year",
        "phone",
        "email",
        "cccd",
        "organisation",
        "skills",
        "consent_purpose",
        "consent_given",
        "user",
    }
)


def default_consent_purpose() -> str:
    return _(
        "Keeping the roster of community digital technology teams and contacting the member "
        "about the team's work."
    )


# --- Teams ----------------------------------------------------------------------------------


def _team_save(team: Team) -> Team:
    team.full_clean()
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        # Lost a race with another official saving the same code.
        raise ValidationError(
            {"code": _("Another team of this commune already has this code.")}
        ) from None
    return team


@transaction.atomic
def team_create(
    *,
    name: str,
    hamlet: Hamlet | None = None,
    commune: AdminUnit | None = None,
    kind: str = TeamKind.HAMLET,
    organisation_name: str = "",
    code: str = "",
    decision_number: str = "",
    decision_date: dt.date | None = None,
    status: str = TeamStatus.ACTIVE,
    status_since: dt.date | None = None,
) -> Team:
    """A new team. A hamlet team's commune is its hamlet's; an organisation team names its
    commune (and may name a hamlet)."""
    if commune is None and hamlet is not None:
        commune = hamlet.commune
    if commune is None:
        raise ValidationError({"commune": _("Choose the commune of the team.")})
    team = Team(
        commune=commune,
        hamlet=hamlet,
        kind=kind,
        organisation_name=organisation_name,
        name=name,
        decision_number=decision_number.strip(),
        decision_date=decision_date,
        status=status,
        status_since=status_since or timezone.localdate(),
    )
    if code.strip():
        team.code = code.strip()
    return _team_save(team)


@transaction.atomic
def team_update(*, team: Team, **changes: Any) -> Team:
    """Change some of a team's fields (see TEAM_FIELDS). A status change without a date takes
    effect today; the history keeps the earlier status and its date."""
    unknown = set(changes) - TEAM_FIELDS
    if unknown:
        raise TypeError(f"team_update() cannot change {sorted(unknown)}")
    status_changed = "status" in changes and changes["status"] != team.status
    for field, value in changes.items():
        setattr(team, field, value)
    if team.hamlet is not None and team.kind == TeamKind.HAMLET:
        # The commune follows the hamlet; a team cannot end up in two communes.
        team.commune_id = team.hamlet.commune_id
    if status_changed and "status_since" not in changes:
        team.status_since = timezone.localdate()
    return _team_save(team)


# --- Members --------------------------------------------------------------------------------


def _cccd_taken(hashes: frozenset[str], *, exclude: int | None) -> bool:
    qs = Member.objects.filter(cccd_hash__in=hashes)
    if exclude:
        qs = qs.exclude(pk=exclude)
    return qs.exists()


def member_set_cccd(*, member: Member, cccd: str) -> None:
    """Hash ``cccd`` into the member (not saved), or clear the member's CCCD when empty.
    Validates it against the member's sex and year of birth and against other members."""
    raw = cccd
    if not raw.strip():
        member.cccd_hash = member.cccd_last4 = member.cccd_key_id = ""
        return
    try:
        protected = cccd_protect(raw, sex=member.sex or None, birth_year=member.birth_year)
    except ValidationError as exc:
        raise ValidationError({"cccd": exc.messages}) from None
    if _cccd_taken(protected.matches, exclude=member.pk):
        raise ValidationError({"cccd": _("A member with this CCCD is already on a roster.")})
    member.cccd_hash = protected.hash
    member.cccd_last4 = protected.last4
    member.cccd_key_id = protected.key_id


def _member_save(member: Member, *, cccd: str | None) -> Member:
    """Validate everything at once (so the official sees every problem), then save."""
    errors: dict[str, Any] = {}
    if cccd is not None:
        try:
            member_set_cccd(member=member, cccd=cccd)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    try:
        member.full_clean()
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError as exc:
        # Another official enrolled the same person a moment ago.
        if "cccd" in str(exc):
            raise ValidationError(
                {"cccd": _("A member with this CCCD is already on a roster.")}
            ) from None
        raise ValidationError(
            {"phone": _("A member with this phone number is already on a roster.")}
        ) from None
    return member


def _normalized_phone(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None


@transaction.atomic
def member_create(
    *,
    commune: AdminUnit,
    full_name: str,
    sex: str,
    birth_year: int,
    phone: str,
    email: str = "",
    cccd: str = "",
    organisation: str = Organisation.OTHER,
    skills: str = "",
    consent_given: bool = False,
    consent_purpose: str = "",
    user: Any = None,
) -> Member:
    """Enrol a person. The phone is normalised; the CCCD, if given, is validated against sex and
    year of birth and kept only as a hash and its last four digits. Consent is recorded only
    when ``consent_given`` is true (never assumed)."""
    member = Member(
        commune=commune,
        full_name=full_name,
        sex=sex,
        birth_year=birth_year,
        phone=_normalized_phone(phone),
        email=email.strip(),
        organisation=organisation,
        skills=skills.strip(),
        user=user,
    )
    if consent_given:
        member.consent_purpose = consent_purpose.strip() or default_consent_purpose()
        member.consent_given_at = timezone.now()
    return _member_save(member, cccd=cccd)


@transaction.atomic
def member_update(*, member: Member, **changes: Any) -> Member:
    """Change some of a member's fields (see MEMBER_FIELDS). ``cccd``: a new number replaces the
    stored hash, an empty string removes it, leaving it out keeps it. ``consent_given`` false
    withdraws consent (the purpose stays, for the record)."""
    unknown = set(changes) - MEMBER_FIELDS
    if unknown:
        raise TypeError(f"member_update() cannot change {sorted(unknown)}")
    cccd = changes.pop("cccd", None)
    consent_given = changes.pop("consent_given", None)
    if "phone" in changes:
        changes["phone"] = _normalized_phone(changes["phone"])
    for field, value in changes.items():
        setattr(member, field, value.strip() if isinstance(value, str) else value)
    if consent_given is True and member.consent_given_at is None:
        member.consent_purpose = member.consent_purpose or default_consent_purpose()
        member.consent_given_at = timezone.now()
    elif consent_given is False:
        member.consent_given_at = None
    return _member_save(member, cccd=cccd)


# --- Memberships ----------------------------------------------------------------------------


def _membership_save(membership: Membership) -> Membership:
    membership.full_clean()
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError as exc:
        # Two officials at once: the database constraint decides, the message stays the same.
        text = str(exc)
        # PostgreSQL names the constraint; SQLite names the column of the partial index.
        if "one_active_leader" in text or "team_membership.team_id" in text:
            raise ValidationError({"role": _leader_message()}) from None
        if "one_active_per_member" in text or "team_membership.member_id" in text:
            raise ValidationError(
                {"member": _("This person is already in a team: move them instead.")}
            ) from None
        raise
    return membership


def _leader_message() -> str:
    return _(
        "This team already has a leader. End the current leader's membership (or make them a "
        "member) first."
    )


@transaction.atomic
def membership_start(
    *,
    member: Member,
    team: Team,
    role: str = MemberRole.MEMBER,
    joined_on: dt.date | None = None,
) -> Membership:
    """Put a person who is in no team into ``team``. The member's commune follows the team, so
    the roster that holds them is the one of the team they serve in."""
    started = _membership_save(
        Membership(member=member, team=team, role=role, joined_on=joined_on or timezone.localdate())
    )
    if member.commune_id != team.commune_id:
        member.commune_id = team.commune_id
        member.save(update_fields=["commune"])
    return started


@transaction.atomic
def membership_end(*, membership: Membership, left_on: dt.date | None = None) -> Membership:
    """End a running membership; it stays in the member's history."""
    if membership.left_on is not None:
        raise ValidationError({"left_on": _("This membership has already ended.")})
    membership.left_on = left_on or timezone.localdate()
    saved = _membership_save(membership)
    # A badge vouches for a running membership: the verify page must say so from the next scan.
    badges_revoke_for_member(member=membership.member, reason=_("Left the team."))
    return saved


@transaction.atomic
def member_move(
    *,
    member: Member,
    team: Team,
    role: str = MemberRole.MEMBER,
    on: dt.date | None = None,
) -> Membership:
    """End the member's running membership (if any) on ``on`` and start one in ``team`` the
    same day. Also a change of role within one team."""
    on = on or timezone.localdate()
    current = (
        Membership.objects.select_for_update().filter(member=member, left_on__isnull=True).first()
    )
    if current is not None:
        if current.team_id == team.pk and current.role == role:
            raise ValidationError({"team": _("The member is already in this team in this role.")})
        membership_end(membership=current, left_on=on)
    return membership_start(member=member, team=team, role=role, joined_on=on)
