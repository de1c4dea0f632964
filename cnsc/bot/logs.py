"""Keeps the bot token out of the logs.

Every Bot API address contains the token (``https://api.telegram.org/bot<token>/sendMessage``),
and HTTP clients and error messages repeat addresses freely. The filter sits on the handler, so
it sees every line whoever logs it, and rewrites the line with the token cut out.
"""

from __future__ import annotations

import logging

REDACTED = "[bot-token]"


def _secrets() -> list[str]:
    from django.conf import settings

    if not settings.configured:
        return []
    found = [
        getattr(settings, "TELEGRAM_BOT_TOKEN", ""),
        getattr(settings, "TELEGRAM_WEBHOOK_SECRET", ""),
    ]
    return [s for s in found if s]


def redact(text: str, secrets: list[str] | None = None) -> str:
    for secret in _secrets() if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Formats the message once, removes the token and the webhook secret, and passes the line
    on; also the traceback and any extra string field."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets()
        if not secrets:
            return True
        message = record.getMessage()
        record.msg = redact(message, secrets)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, secrets)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        for key, value in list(vars(record).items()):
            if isinstance(value, str) and key not in ("msg", "exc_text"):
                setattr(record, key, redact(value, secrets))
        return True
