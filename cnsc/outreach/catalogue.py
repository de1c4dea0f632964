"""The digital services a team helps residents with, the states each can be in, and their order.

The one place that knows which state comes after which: the visit service, the import, the
official's correction, the worklists and the dashboards all read it from here. A state change is
*forward* when the new state comes later in the service's list; anything else is going back
(a revoked signature, a VNeID level entered by mistake) and must be asked for explicitly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class Service(models.TextChoices):
    VNEID = "vneid", gettext_lazy("VNeID electronic identity")
    SIGNATURE = "signature", gettext_lazy("Digital signature")
    PAYMENT = "payment", gettext_lazy("Payment account or e-wallet")
    PUBLIC_SERVICES = "public_services", gettext_lazy("Online public services")
    PROVINCE_APP = "province_app", gettext_lazy("Province app")
    DIGITAL_SKILLS = "digital_skills", gettext_lazy("Digital skills course")
    WELFARE_ACCOUNT = "welfare_account", gettext_lazy("Social welfare paid through an account")


class State(models.TextChoices):
    """Every state of every service in one list, so one column holds them; which states a
    service allows, and in which order, is ``STATES`` below."""

    NONE = "none", gettext_lazy("Not yet")
    REGISTERED = "registered", gettext_lazy("Registered (pending)")
    LEVEL1 = "level1", gettext_lazy("Level 1")
    LEVEL2 = "level2", gettext_lazy("Level 2 activated")
    ISSUED = "issued", gettext_lazy("Issued")
    OPENED = "opened", gettext_lazy("Opened")
    ACCOUNT = "account", gettext_lazy("Has an account")
    FILED = "filed", gettext_lazy("Filed a dossier online")
    INSTALLED = "installed", gettext_lazy("Installed")
    VNEID_LOGIN = "vneid_login", gettext_lazy("Logs in through VNeID")
    COMPLETED = "completed", gettext_lazy("Completed")
    PAID_VIA_ACCOUNT = "paid_via_account", gettext_lazy("Paid through an account")


class Result(models.TextChoices):
    """What a visit achieved for one resident and one service."""

    DONE = "done", gettext_lazy("Done")
    STARTED = "started", gettext_lazy("Started")
    REFUSED = "refused", gettext_lazy("Refused")
    NOT_ELIGIBLE = "not_eligible", gettext_lazy("Not eligible")


class PaymentKind(models.TextChoices):
    BANK = "bank", gettext_lazy("Bank account")
    E_WALLET = "e_wallet", gettext_lazy("E-wallet")
    MOBILE_MONEY = "mobile_money", gettext_lazy("Mobile Money")


# In order: a later state is further along. The first is always NONE.
STATES: dict[str, tuple[str, ...]] = {
    Service.VNEID: (State.NONE, State.REGISTERED, State.LEVEL1, State.LEVEL2),
    Service.SIGNATURE: (State.NONE, State.ISSUED),
    Service.PAYMENT: (State.NONE, State.OPENED),
    Service.PUBLIC_SERVICES: (State.NONE, State.ACCOUNT, State.FILED),
    Service.PROVINCE_APP: (State.NONE, State.INSTALLED, State.VNEID_LOGIN),
    Service.DIGITAL_SKILLS: (State.NONE, State.COMPLETED),
    Service.WELFARE_ACCOUNT: (State.NONE, State.PAID_VIA_ACCOUNT),
}

# The state an outcome "done" reaches when the member does not name one, and the state the
# indicators count as reached.
GOAL: dict[str, str] = {service: states[-1] for service, states in STATES.items()}

# Services a worklist counts as open work for a resident, with the age from which they count
# (VNeID level 2 from 14 and a payment account from 15, as the province's indicators count them).
WORKLIST_SERVICES: dict[str, int] = {Service.VNEID: 14, Service.PAYMENT: 15}

# Only social-welfare beneficiaries can be paid through an account.
WELFARE_ONLY = frozenset({Service.WELFARE_ACCOUNT})

# Details a state may carry, by service and state (all optional: a member in a doorway may not
# know the provider).
_DETAILS: dict[tuple[str, str], tuple[str, ...]] = {
    (Service.SIGNATURE, State.ISSUED): ("provider", "date"),
    (Service.PAYMENT, State.OPENED): ("kind", "provider"),
}
_MAX_DETAIL_LENGTH = 100


def is_service(service: str) -> bool:
    return service in STATES


def rank(service: str, state: str) -> int:
    """The position of ``state`` in the service's order; ValueError if it does not belong."""
    return STATES[service].index(state)


def check_state(service: str, state: str) -> None:
    """ValidationError unless ``service`` exists and ``state`` is one of its states."""
    if service not in STATES:
        raise ValidationError(
            _("There is no service called “%(service)s”.") % {"service": service},
            code="unknown_service",
        )
    if state not in STATES[service]:
        allowed = ", ".join(str(State(s).label) for s in STATES[service])
        raise ValidationError(
            _("“%(state)s” is not a state of %(service)s. Its states are: %(allowed)s.")
            % {"state": state, "service": Service(service).label, "allowed": allowed},
            code="unknown_state",
        )


def is_backward(service: str, old: str, new: str) -> bool:
    return rank(service, new) < rank(service, old)


def check_transition(service: str, old: str, new: str, *, allow_backward: bool) -> None:
    """Forward is normal; going back needs ``allow_backward``. Both states must be valid."""
    check_state(service, new)
    if is_backward(service, old, new) and not allow_backward:
        raise ValidationError(
            _(
                "%(service)s is already at “%(old)s”. Going back to “%(new)s” must be confirmed "
                "(for example a revoked signature)."
            )
            % {
                "service": Service(service).label,
                "old": State(old).label,
                "new": State(new).label,
            },
            code="backward",
        )


def clean_details(service: str, state: str, details: Mapping[str, Any] | None) -> dict[str, Any]:
    """The details worth keeping for this state, as strings; unknown keys are refused so a typo
    does not pass for evidence."""
    details = dict(details or {})
    allowed = _DETAILS.get((service, state), ())
    unknown = sorted(set(details) - set(allowed))
    if unknown:
        raise ValidationError(
            _("%(service)s in state “%(state)s” takes no detail called %(keys)s.")
            % {
                "service": Service(service).label,
                "state": State(state).label,
                "keys": ", ".join(unknown),
            },
            code="unknown_detail",
        )
    cleaned: dict[str, Any] = {}
    for key in allowed:
        value = details.get(key)
        if value not in (None, ""):
            cleaned[key] = _clean_detail(key, value)
    return cleaned


def _clean_detail(key: str, value: Any) -> str:
    if key == "date":
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValidationError(
                _("The date must be written as YYYY-MM-DD."), code="bad_detail"
            ) from None
    text = str(value).strip()
    if key == "kind" and text not in PaymentKind.values:
        raise ValidationError(
            _("The kind of payment account must be a bank account, an e-wallet or Mobile Money."),
            code="bad_detail",
        )
    if len(text) > _MAX_DETAIL_LENGTH:
        raise ValidationError(
            _("The %(key)s is too long (at most %(max)d characters).")
            % {"key": key, "max": _MAX_DETAIL_LENGTH},
            code="bad_detail",
        )
    return text
