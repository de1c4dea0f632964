"""Back-office forms. Each runs the same checks as the service that would make the change
(``household_check``, ``resident_check``, ``field_report_check_assignee``), so the official sees
every problem on the form instead of an error page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cnsc.core.identity import normalize_phone

from .models import FieldReport, Household, Resident
from .services import clean_point, field_report_check_assignee, household_check, resident_check


def _phone(value: str) -> str:
    return normalize_phone(value) if (value or "").strip() else ""


class HouseholdForm(forms.ModelForm):
    class Meta:
        model = Household
        fields = (
            "code",
            "hamlet",
            "house_number",
            "street",
            "latitude",
            "longitude",
            "phone",
            "team",
            "assigned_member",
        )

    def clean_phone(self) -> str:
        return _phone(self.cleaned_data.get("phone", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lat, lon = data.get("latitude"), data.get("longitude")
        if (lat is None) != (lon is None):
            self.add_error("latitude", _("Give both latitude and longitude, or neither."))
        elif lat is not None and lon is not None:
            try:
                clean_point((lat, lon), field_name="latitude")
            except ValidationError as exc:
                self.add_error(None, exc)
        return data

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        household = self.instance
        if self.errors or household.hamlet_id is None:
            return
        household.commune_id = household.hamlet.commune_id
        try:
            household_check(household, hamlet_changed="hamlet" in self.changed_data)
        except ValidationError as exc:
            self.add_error(None, exc)


class BlankTextInput(forms.TextInput):
    """Never sends its value back to the browser: a CCCD typed in must not reappear in the page
    when the form is shown again with errors."""

    def format_value(self, value: Any) -> None:
        return None


class ResidentForm(forms.ModelForm):
    cccd = forms.CharField(
        label=_("CCCD number"),
        required=False,
        max_length=20,
        widget=BlankTextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text=_(
            "12 digits. Stored only as a keyed hash with its last four digits; leave empty to "
            "keep what is stored. Never upload a photo of the card."
        ),
    )
    remove_cccd = forms.BooleanField(label=_("Remove the stored CCCD"), required=False)

    class Meta:
        model = Resident
        fields = (
            "household",
            "full_name",
            "sex",
            "birth_year",
            "relation_to_head",
            "phone",
            "owns_smartphone",
            "welfare_beneficiary",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            del self.fields["remove_cccd"]

    def clean_phone(self) -> str:
        return _phone(self.cleaned_data.get("phone", ""))

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors or self.instance.household_id is None:
            return
        cccd: str | None = (self.cleaned_data.get("cccd") or "").strip() or None
        if self.cleaned_data.get("remove_cccd"):
            cccd = ""
        try:
            resident_check(self.instance, cccd=cccd)
        except ValidationError as exc:
            self.add_error(None, exc)


class FieldReportForm(forms.ModelForm):
    close = forms.BooleanField(
        label=_("Close the report with this answer"), required=False, initial=True
    )

    class Meta:
        model = FieldReport
        fields = ("assigned_to", "answer")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        assignee = data.get("assigned_to")
        if "assigned_to" in self.changed_data and assignee is not None:
            try:
                field_report_check_assignee(report=self.instance, assignee=assignee)
            except ValidationError as exc:
                self.add_error(None, exc)
        if "answer" in self.changed_data and not (data.get("answer") or "").strip():
            self.add_error("answer", _("Write the answer for the member."))
        return data
