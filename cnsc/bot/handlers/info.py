"""Commands that read: help, language, the worklist, my figures, handbooks."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import gettext as _

from cnsc.outreach.selectors import worklist_for_member
from cnsc.training.models import Handbook
from cnsc.training.selectors import handbooks_published

from ..dialog import Button, Turn
from ..models import LANGUAGES
from ..selectors import member_stats
from ..services import account_set_language

TASKS_PAGE = 6


def help_text() -> str:
    return _(
        "What I can do:\n"
        "/visit: log a household visit\n"
        "/tasks: the households still to visit\n"
        "/checkin: check in at your hamlet (or just share your location)\n"
        "/report: report a problem in the field, with a photo and the place\n"
        "/stats: your visits this week and month, and your team's rank\n"
        "/handbook: the handbooks, as PDF\n"
        "/edit: correct your last visit\n"
        "/lang: Tiếng Việt or English\n"
        "/cancel: stop what you are doing"
    )


def show_help(turn: Turn) -> None:
    turn.say(help_text())


def welcome(turn: Turn) -> None:
    assert turn.actor is not None
    turn.say(
        _("Hello, %(name)s! ") % {"name": turn.actor.member.full_name} + help_text(),
        request="remove",
    )


def fallback(turn: Turn) -> None:
    turn.say(_("To log a visit send /visit; /help lists everything I can do."))


# --- Language -------------------------------------------------------------------------------


def choose_language(turn: Turn) -> None:
    turn.say(
        _("Choose your language:"),
        ((*(Button(label=name, data=f"lang:{code}") for code, name in LANGUAGES),),),
    )


def set_language(turn: Turn, code: str) -> None:
    assert turn.actor is not None
    if code not in dict(LANGUAGES):
        turn.notice(_("Unknown language."))
        return
    account_set_language(account=turn.actor.account, language=code)
    with translation.override(code):
        turn.show(_("I will write to you in English from now on."))
        turn.notice(_("Saved."))


# --- Worklist -------------------------------------------------------------------------------


def _page(turn: Turn, page: int) -> None:
    assert turn.actor is not None
    households = worklist_for_member(
        member=turn.actor.member,
        team=turn.actor.team,
        limit=TASKS_PAGE + 1,
        offset=page * TASKS_PAGE,
    )
    more = len(households) > TASKS_PAGE
    households = households[:TASKS_PAGE]
    if not households and page == 0:
        turn.show(_("Nothing left on your worklist. Well done!"))
        return
    lines = [_("Households to visit (page %(page)d):") % {"page": page + 1}]
    keyboard: list[tuple[Button, ...]] = []
    for household in households:
        head = household.head.full_name if household.head else "—"
        address = " ".join(p for p in (household.house_number, household.street) if p)
        never = household.last_visited_at is None
        lines.append(
            _("• %(address)s — %(head)s: %(open)d open, %(when)s")
            % {
                "address": address or household.code,
                "head": head,
                "open": getattr(household, "open_items", 0),
                "when": _("never visited") if never else _("visited before"),
            }
        )
        keyboard.append(
            (
                Button(
                    label=f"{address or household.code} — {head}"[:60], data=f"hh:{household.code}"
                ),
            )
        )
    navigation = []
    if page > 0:
        navigation.append(Button(label=_("◀ Previous"), data=f"tasks:{page - 1}"))
    if more:
        navigation.append(Button(label=_("Next ▶"), data=f"tasks:{page + 1}"))
    if navigation:
        keyboard.append(tuple(navigation))
    lines.append(_("Press a household to log a visit there."))
    turn.show("\n".join(lines), tuple(keyboard))


def tasks(turn: Turn) -> None:
    _page(turn, 0)


def tasks_page(turn: Turn, arg: str) -> None:
    page = int(arg) if arg.isdigit() else 0
    _page(turn, min(page, 500))


# --- Figures --------------------------------------------------------------------------------


def stats(turn: Turn) -> None:
    assert turn.actor is not None
    assert turn.actor.team is not None
    figures = member_stats(member=turn.actor.member, team=turn.actor.team)
    lines = [_("Your work:")]
    for label, period in ((_("This week"), figures.week), (_("This month"), figures.month)):
        lines.append(
            _(
                "%(label)s: %(visits)d visits, %(households)d households; done %(done)d, "
                "started %(started)d, refused %(refused)d, not eligible %(not_eligible)d"
            )
            % {"label": label, **period}
        )
    if figures.rank is not None:
        lines.append(
            _(
                "Your team is number %(rank)d of %(teams)d teams in the commune by visits this "
                "month."
            )
            % {"rank": figures.rank, "teams": figures.teams}
        )
    turn.say("\n".join(lines))


# --- Handbooks ------------------------------------------------------------------------------


def _published(turn: Turn) -> list[Handbook]:
    """What the member's commune reads, topic by topic (its own handbooks, then its
    province's)."""
    assert turn.actor is not None
    assert turn.actor.team is not None
    groups = handbooks_published(commune=turn.actor.team.commune)
    return [handbook for handbooks in groups.values() for handbook in handbooks]


def handbooks(turn: Turn) -> None:
    published = _published(turn)
    if not published:
        turn.say(_("No handbooks are published yet."))
        return
    lines = [_("Handbooks:")]
    keyboard = []
    topic = None
    for handbook in published:
        if handbook.topic != topic:
            topic = handbook.topic
            lines.append(f"\n{handbook.get_topic_display()}")
        lines.append(f"• {handbook.title}")
        keyboard.append((Button(label=handbook.title[:60], data=f"hb:{handbook.code}"),))
    lines.append(_("Press one to get its PDF."))
    turn.say("\n".join(lines), tuple(keyboard))


def send_handbook(turn: Turn, code: str) -> None:
    handbook = next((h for h in _published(turn) if h.code == code), None)
    if handbook is None or not handbook.pdf:
        turn.notice(_("This handbook is no longer available."), alert=True)
        return
    turn.notice(_("Sending the PDF…"))
    turn.send_file(handbook.pdf.name, f"{handbook.code}.pdf", caption=handbook.title)
