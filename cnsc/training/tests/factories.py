"""Test data for training, made through the services so every row is one the app could make."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from cnsc.geo.models import AdminUnit
from cnsc.training.models import Course, PassRule, Topic, TrainingSession
from cnsc.training.services import course_create, session_create


def png_upload(name: str = "anh-man-hinh.png", size: tuple[int, int] = (640, 400)) -> Any:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 110, 200)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def pdf_bytes(pages: int = 2) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    for number in range(pages):
        canvas.drawString(72, 720, f"Page {number + 1}")
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def pdf_upload(name: str = "cam-nang.pdf", pages: int = 2) -> Any:
    return SimpleUploadedFile(name, pdf_bytes(pages), content_type="application/pdf")


def make_course(unit: AdminUnit, **kwargs: Any) -> Course:
    kwargs.setdefault("title", "Hỗ trợ người dân kích hoạt VNeID mức 2")
    kwargs.setdefault("topics", [Topic.VNEID])
    kwargs.setdefault("hours", 3)
    return course_create(unit=unit, **kwargs)


def make_score_course(unit: AdminUnit, pass_score: int = 70, **kwargs: Any) -> Course:
    kwargs.setdefault("title", "Nhận diện lừa đảo trực tuyến")
    kwargs.setdefault("topics", [Topic.SECURITY])
    return make_course(unit, pass_rule=PassRule.SCORE, pass_score=pass_score, **kwargs)


def make_session(
    course: Course,
    commune: AdminUnit,
    *,
    starts_in: dt.timedelta = dt.timedelta(minutes=10),
    hours: float = 2,
    **kwargs: Any,
) -> TrainingSession:
    """A session starting soon (so attendance is open now) unless told otherwise."""
    starts_at = timezone.now() + starts_in
    kwargs.setdefault("place", "Hội trường UBND phường")
    kwargs.setdefault("capacity", 30)
    return session_create(
        course=course,
        commune=commune,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=hours),
        **kwargs,
    )


def move_session(session: TrainingSession, *, starts_ago: dt.timedelta, hours: float = 2) -> None:
    """Put a session in the past (the services refuse to create one there)."""
    starts_at = timezone.now() - starts_ago
    TrainingSession.objects.filter(pk=session.pk).update(
        starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=hours)
    )
    session.refresh_from_db()
