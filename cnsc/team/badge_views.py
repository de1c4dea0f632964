"""Downloading badges from the back office: one member's card, or a team's print sheet.

Both issue a badge where none is current (a write), so they answer POST only, and need the
permission to change members (or teams): a read-only account gets 403, another commune's member
or team 404. The admin actions at the bottom do the same from the change lists.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cnsc.core.pdf import pdf_response
from cnsc.geo.models import Hierarchy, Level
from cnsc.team.badges import (
    Badge,
    badge_cards_pdf,
    badge_ensure,
    badge_sheets_pdf,
    roster_order,
    team_badges_ensure,
)
from cnsc.team.models import Member, Team


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _refused(request: HttpRequest, error: ValidationError, back: str) -> HttpResponseRedirect:
    for message in error.messages:
        messages.error(request, message)
    return redirect(back)


@login_required
@require_POST
def member_badge(request: HttpRequest, code: str) -> HttpResponse:
    """The member's badge as a card-size PDF (for a card printer, or to print and cut)."""
    _require(request, "team.change_member")
    member = get_object_or_404(Member.objects.visible_to(request.user), code=code)
    back = reverse("admin:team_member_change", args=[member.pk])
    try:
        badge = badge_ensure(member=member)
    except ValidationError as error:
        return _refused(request, error, back)
    title = _("Member badge — %(name)s") % {"name": member.full_name}
    return pdf_response(badge_cards_pdf([badge], title=title), filename=f"badge {member.full_name}")


@login_required
@require_POST
def team_badges(request: HttpRequest, commune: str, code: str) -> HttpResponse:
    """Every current member's badge, ten to an A4 sheet with cut marks."""
    _require(request, "team.change_team")
    team = get_object_or_404(
        Team.objects.visible_to(request.user).select_related("commune"),
        commune__hierarchy=Hierarchy.CURRENT,
        commune__level=Level.COMMUNE,
        commune__code=commune,
        code=code,
    )
    back = reverse("admin:team_team_change", args=[team.pk])
    try:
        badges = team_badges_ensure(team=team)
    except ValidationError as error:
        return _refused(request, error, back)
    if not badges:
        messages.warning(request, _("The team has no current members: there is nothing to print."))
        return redirect(back)
    return pdf_response(
        badge_sheets_pdf(badges, title=_team_sheet_title(team)),
        filename=f"badges {team.name} {team.commune.name}",
    )


def _team_sheet_title(team: Team) -> str:
    return f"{team.name} — {team.commune.name}"


# --- Admin actions (register with ``actions = [...]`` on MemberAdmin and TeamAdmin) -----------


@admin.action(description=_("Download badges (PDF)"), permissions=["change"])
def download_member_badges(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Member]
) -> HttpResponse | None:
    """The selected members' badges on A4 sheets. Members in no active team are skipped and
    named in a message."""
    badges: list[Badge] = []
    skipped: list[str] = []
    for member in queryset:
        try:
            badges.append(badge_ensure(member=member))
        except ValidationError as error:
            skipped.extend(error.messages)
    badges.sort(key=lambda badge: roster_order(badge.membership))
    for message in skipped:
        messages.warning(request, message)
    if not badges:
        return None
    return pdf_response(
        badge_sheets_pdf(badges, title=_("Member badges")), filename="member badges"
    )


@admin.action(description=_("Download badges of all current members (PDF)"), permissions=["change"])
def download_team_badges(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet[Team]
) -> HttpResponse | None:
    """The selected teams' current members, team after team on the same sheets (they are cut
    up anyway)."""
    badges: list[Badge] = []
    for team in queryset.select_related("commune").order_by("commune__name", "name"):
        try:
            badges.extend(team_badges_ensure(team=team))
        except ValidationError as error:
            for message in error.messages:
                messages.warning(request, message)
    if not badges:
        messages.warning(request, _("The teams chosen have no current members to print."))
        return None
    return pdf_response(badge_sheets_pdf(badges, title=_("Team badges")), filename="team badges")
