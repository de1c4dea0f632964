"""Every user-facing string in the code has a Vietnamese translation in the shipped catalogue."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_python
from babel.messages.pofile import read_po
from django.utils.translation.template import templatize

ROOT = Path(__file__).resolve().parents[2]  # cnsc/
CATALOGUE = ROOT / "locale" / "vi" / "LC_MESSAGES" / "django.po"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}


def _messages(source: str) -> set[str]:
    found = set()
    for _lineno, func, message, _comments in extract_python(
        io.BytesIO(source.encode("utf-8")), KEYWORDS.keys(), [], {}
    ):
        if isinstance(message, tuple):
            # pgettext's first argument is the context, not a message.
            strings = message[1:] if func.startswith(("pgettext", "npgettext")) else message
            found.update(m for m in strings if m)
        elif message:
            found.add(message)
    return found


def code_messages() -> dict[str, str]:
    out: dict[str, str] = {}
    for path in ROOT.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for msg in _messages(path.read_text(encoding="utf-8")):
            out.setdefault(msg, str(path.relative_to(ROOT)))
    for path in ROOT.rglob("templates/**/*.html"):
        source = templatize(path.read_text(encoding="utf-8"), origin=str(path))
        # templatize keeps the template's indentation, which a Python tokenizer rejects.
        source = "\n".join(line.lstrip() for line in source.splitlines())
        for msg in _messages(source):
            out.setdefault(msg, str(path.relative_to(ROOT)))
    return out


def test_every_string_has_a_vietnamese_translation():
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh, locale="vi")
    translated = set()
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if all(strings):
            translated.update(ids)
    missing = {m: where for m, where in code_messages().items() if m not in translated}
    assert not missing, "untranslated: " + "; ".join(
        f"{w}: {m!r}" for m, w in sorted(missing.items())
    )
