"""Forms: the public attendance form a QR code opens, and the back office's small forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from cnsc.core.identity import normalize_phone
from cnsc.team.models import Member
from cnsc.training.models import Course, ResidentAttendee, Topic


class Who(TextChoices):
    RESIDENT = "resident", _("A resident")
    MEMBER = "member", _("A team member")


class CheckInForm(forms.Form):
    """Marking oneself present. A member is recognised by phone and year of birth; a resident
    gives a name and year of birth (phone optional) and consents to their keeping."""

    who = forms.ChoiceField(
        label=_("I am"),
        choices=Who.choices,
        widget=forms.RadioSelect,
        initial=Who.RESIDENT,
    )
    full_name = forms.CharField(label=_("Full name"), max_length=150, required=False)
    birth_year = forms.IntegerField(
        label=_("Year of birth"),
        min_value=1900,
        max_value=2100,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "1968"}),
        error_messages={"invalid": _("Write the year of birth with four digits, e.g. 1968.")},
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        help_text=_("Team members: the number on the roster. Residents: optional."),
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that my name, year of birth and phone number (if given) are kept to record "
            "this training and issue my certificate."
        ),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("who") == Who.RESIDENT and not (data.get("full_name") or "").strip():
            self.add_error("full_name", _("Write your full name as it should be printed."))
        if data.get("who") == Who.MEMBER and not (data.get("phone") or "").strip():
            self.add_error("phone", _("Team members: write the phone number on the roster."))
        return data


class ResidentForm(forms.Form):
    """A resident put on a session's list in the back office (from a paper sheet)."""

    full_name = forms.CharField(label=_("Full name"), max_length=150)
    birth_year = forms.IntegerField(label=_("Year of birth"), min_value=1900, max_value=2100)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    attended = forms.BooleanField(label=_("Present"), required=False)
    consent = forms.BooleanField(
        label=_("The resident agreed that their name, year of birth and phone are kept."),
        required=False,
    )


class MemberChoiceForm(forms.Form):
    member: forms.ModelChoiceField[Member] = forms.ModelChoiceField(
        label=_("Member"), queryset=Member.objects.none()
    )
    attended = forms.BooleanField(label=_("Present"), required=False)

    def __init__(self, *args: Any, members: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = members  # type: ignore[attr-defined]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=250,
        help_text=_("Kept in the back office; the public verify page shows only “revoked”."),
    )


class NewVersionForm(forms.Form):
    change_note = forms.CharField(
        label=_("What will change"),
        max_length=300,
        help_text=_("Shown in the new version, for those who read this one."),
    )


class CourseAdminForm(forms.ModelForm[Course]):
    topics = forms.MultipleChoiceField(
        label=_("topics"), choices=Topic.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Course
        fields = ["unit", "title", "topics", "hours", "pass_rule", "pass_score"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["topics"].initial = self.instance.topic_values


class ResidentAttendeeForm(forms.ModelForm[ResidentAttendee]):
    """Correcting a resident's record: the phone is stored as +84…, or removed."""

    class Meta:
        model = ResidentAttendee
        fields = ["full_name", "birth_year", "phone"]

    def clean_phone(self) -> str:
        raw = self.cleaned_data.get("phone") or ""
        return normalize_phone(raw) if raw.strip() else ""
