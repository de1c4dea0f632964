from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cnsc.core.identity import normalize_phone
from cnsc.core.types import Viewer
from cnsc.geo.models import AdminUnit, Hierarchy, Level
from cnsc.team.models import Member, Team, TeamKind
from cnsc.team.services import default_consent_purpose, member_set_cccd


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = (
            "kind",
            "commune",
            "hamlet",
            "organisation_name",
            "code",
            "name",
            "decision_number",
            "decision_date",
            "status",
            "status_since",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "commune" in self.fields:
            self.fields["commune"].required = False
            self.fields["commune"].help_text = _("For a hamlet team, the hamlet's commune.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        hamlet = data.get("hamlet")
        if data.get("kind") == TeamKind.HAMLET and hamlet is not None:
            data["commune"] = hamlet.commune
        if data.get("commune") is None and "commune" in self.fields:
            self.add_error("commune", _("Choose the commune of the team."))
        # The instance still holds the stored values here (the form's are copied in later):
        # a new status with the old date takes effect today.
        if (
            self.instance.pk
            and data.get("status") != self.instance.status
            and data.get("status_since") == self.instance.status_since
        ):
            data["status_since"] = timezone.localdate()
        return data


class BlankTextInput(forms.TextInput):
    """A text box that never sends its value back to the browser, even when the form is shown
    again with errors: a CCCD typed in must not reappear in the page."""

    def format_value(self, value: Any) -> None:
        return None


class MemberForm(forms.ModelForm):
    """The CCCD is typed in, hashed on save and never shown back (only its last four digits).
    Consent is a box that starts unticked."""

    cccd = forms.CharField(
        label=_("CCCD number"),
        required=False,
        max_length=20,
        strip=True,
        widget=BlankTextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text=_(
            "12 digits. Stored only as a keyed hash with its last four digits; leave empty to "
            "keep what is stored."
        ),
    )
    remove_cccd = forms.BooleanField(label=_("Remove the stored CCCD"), required=False)
    consent_given = forms.BooleanField(
        label=_("The member has consented to the processing of their personal data"),
        required=False,
        initial=False,
    )

    class Meta:
        model = Member
        fields = (
            "commune",
            "full_name",
            "sex",
            "birth_year",
            "phone",
            "email",
            "organisation",
            "skills",
            "consent_purpose",
            "user",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Never pre-ticked for a new member; for an existing one, it shows what is recorded.
        self.fields["consent_given"].initial = bool(self.instance.consent_given_at)
        if not self.instance.pk:
            self.fields["consent_purpose"].initial = default_consent_purpose()
            del self.fields["remove_cccd"]

    def clean_phone(self) -> str:
        return normalize_phone(self.cleaned_data.get("phone", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # consent_given_at is not a form field: set here, so the model's checks see it.
        if data.get("consent_given"):
            if not data.get("consent_purpose"):
                data["consent_purpose"] = default_consent_purpose()
            if self.instance.consent_given_at is None:
                self.instance.consent_given_at = timezone.now()
        else:
            self.instance.consent_given_at = None
        return data

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        member = self.instance
        raw = self.cleaned_data.get("cccd", "")
        if self.cleaned_data.get("remove_cccd"):
            raw = ""
        elif not raw:
            return
        try:
            member_set_cccd(member=member, cccd=raw)
        except ValidationError as exc:
            self.add_error("cccd", exc.message_dict.get("cccd", exc.messages))


def visible_communes(user: Viewer) -> Any:
    return AdminUnit.objects.visible_to(user).filter(
        hierarchy=Hierarchy.CURRENT, level=Level.COMMUNE
    )


class ImportForm(forms.Form):
    commune = forms.ModelChoiceField(
        label=_("Commune"), queryset=AdminUnit.objects.none(), empty_label=None
    )
    file = forms.FileField(
        label=_("File (.xlsx or .csv)"),
        help_text=_("Fill in the template; the first row holds the column names."),
    )

    def __init__(self, *args: Any, user: Viewer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["commune"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = visible_communes(user).order_by("name")
