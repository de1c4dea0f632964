"""Public pages of training: the handbook library for residents, and the attendance form a
session's QR code opens. Neither needs an account; neither shows anyone's personal data."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from django_ratelimit.decorators import ratelimit

from cnsc.core.text import search_key
from cnsc.geo.models import AdminUnit, Hierarchy, Level
from cnsc.training.forms import CheckInForm, Who
from cnsc.training.models import Audience, Handbook
from cnsc.training.selectors import handbooks_published
from cnsc.training.services import (
    attendance_check_in_member,
    attendance_check_in_resident,
    session_for_code,
)

# A room of people checking in over the venue's Wi-Fi shares one address.
CHECK_IN_RATE = "60/m"
_CODE_STATUS = {"invalid": 404, "expired": 410, "not_open": 403}


@require_safe
def handbook_list(request: HttpRequest) -> HttpResponse:
    """Published handbooks for residents, by topic. ``?xa=<commune code>`` narrows the list to
    what that commune's residents read (its own and its province's)."""
    commune = None
    wanted = request.GET.get("xa", "").strip()
    if wanted:
        commune = AdminUnit.objects.filter(
            hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE, code=wanted
        ).first()
    groups = handbooks_published(commune=commune, audience=Audience.RESIDENTS)
    return render(
        request,
        "training/handbooks.html",
        {"groups": [(topic.label, items) for topic, items in groups.items()], "commune": commune},
    )


@require_safe
def handbook_download(request: HttpRequest, code: str) -> FileResponse:
    """A published residents' handbook's PDF; anything else is not found."""
    handbook = get_object_or_404(
        Handbook.objects.published(), code=code, audience=Audience.RESIDENTS
    )
    if not handbook.pdf:
        raise Http404
    response = FileResponse(handbook.pdf.open("rb"), content_type="application/pdf")
    name = (search_key(handbook.title).replace(" ", "-") or "cam-nang")[:80]
    disposition = content_disposition_header(
        as_attachment=False, filename=f"{name}-v{handbook.version}.pdf"
    )
    if disposition:
        response["Content-Disposition"] = disposition
    return response


def _code_refused(request: HttpRequest, error: ValidationError) -> HttpResponse:
    return render(
        request,
        "training/attend.html",
        {"state": "refused", "message": error.messages[0]},
        status=_CODE_STATUS.get(str(error.code), 400),
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@ratelimit(group="training-attend", key="ip", rate=CHECK_IN_RATE, method="POST", block=False)
def attend(request: HttpRequest, code: str) -> HttpResponse:
    """Mark oneself present at a session. The code in the address is signed and short-lived;
    one mark per person, however often they scan."""
    try:
        session = session_for_code(code)
    except ValidationError as error:
        return _code_refused(request, error)
    if getattr(request, "limited", False):
        return render(request, "training/attend.html", {"state": "limited"}, status=429)
    form = CheckInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["who"] == Who.MEMBER:
                attendance = attendance_check_in_member(
                    code=code, phone=data["phone"], birth_year=data["birth_year"]
                )
            else:
                attendance = attendance_check_in_resident(
                    code=code,
                    full_name=data["full_name"],
                    birth_year=data["birth_year"],
                    phone=data["phone"],
                    consent_given=data["consent"],
                )
        except ValidationError as error:
            if not hasattr(error, "error_dict") and error.code in _CODE_STATUS:
                return _code_refused(request, error)
            if hasattr(error, "error_dict"):
                for field, messages in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, messages)
            else:
                form.add_error(None, error.messages)
        else:
            return render(
                request,
                "training/attend.html",
                {"state": "done", "session": session, "name": attendance.person_name},
            )
    response = render(
        request,
        "training/attend.html",
        {"state": "form", "session": session, "form": form},
        status=400 if request.method == "POST" else 200,
    )
    response["X-Robots-Tag"] = "noindex"
    return response
