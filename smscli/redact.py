"""Keep secrets out of everything a user or a log can see."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    import logging

MASK = "***"
_QUERY_SECRET = re.compile(r"(?i)(?<=[?&])(api_key|apikey|key|password|pass|p|token)=([^&\s\"']+)")


def _forms(secret: str) -> set[str]:
    """The ways a secret can be written on the wire or echoed back: raw, URL-encoded (either
    case of hex), JSON-escaped (PHP's ``json_encode`` also escapes ``/``), HTML-escaped."""
    import html  # here, not at start-up: only commands with a secret get this far
    import json

    forms = {secret, html.escape(secret), html.escape(secret, quote=False)}
    for encoded in (quote(secret, safe=""), quote_plus(secret), quote(secret)):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    for escaped in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms |= {escaped, escaped.replace("/", "\\/")}
    return forms


class Redactor:
    """Replaces every known secret (in all its encodings) and secret-looking query values."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for s in secrets:
            if s and len(s) >= 3:
                forms |= _forms(s)
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)


def mask(secret: str | None) -> str:
    """How a configured secret is shown in ``profiles show``."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return MASK
    return f"{secret[:2]}{MASK}{secret[-2:]}"


def excerpt(text: str, redactor: Redactor, limit: int = 120) -> str:
    """A short, single-line, secret-free quote of a reply body."""
    flat = " ".join(redactor(text).split())
    if not flat:
        return "(empty body)"
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class RedactingFilter:
    """Redacts every record that passes through a handler (httpx logs full URLs). A handler
    takes any object with a ``filter`` method, so this module need not import logging."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        return True
