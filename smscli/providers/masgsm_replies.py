"""What masgsm's replies say: the reply codes and the bodies the :mod:`smscli.providers.masgsm`
driver reads.

Follows ``shared/providers/masgsm-api-destegi.txt`` ("APİ CEVAP KODLARI", and the ``CEVAP``
samples of "GÖNDERİM RAPORU" and the ``type=4`` balance call). The shapes read where the docs
show none (the send reply, a coded report reply, the legacy header list) are the decisions
listed in the driver's docstring. Every body is read after its leading byte order marks and
whitespace (a PHP file saved "UTF-8 with BOM" prints its BOM before the reply, once per file).
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from smscli.errors import (
    AuthError,
    CreditError,
    ProviderError,
    RecipientError,
    SenderError,
    SmscliError,
)
from smscli.providers.base import (
    Batch,
    Delivery,
    DeliveryStatus,
    OutcomeStatus,
    numbers_in,
)
from smscli.redact import excerpt

if TYPE_CHECKING:
    import httpx

_PLAIN_REPLY = re.compile(r"(\d{1,4})(?:[\s|:,;]+([\w.-]+))?")
_BOM = b"\xef\xbb\xbf"
_HEADER_HINT = "use a header approved for your masgsm account (see `smscli headers`)"
_AUTH_HINT = (
    "check username and password in the profile, or SMSCLI_USERNAME and SMSCLI_PASSWORD; "
    "the username is the phone number registered with masgsm"
)
# The codes that refuse a whole request: error, text, hint. ``{header}`` is the sender header
# of a send, ``{numbers}`` its numbers, ``{id}`` the batch id of a report.
_REFUSALS: dict[int, tuple[type[SmscliError], str, str | None]] = {
    2: (CreditError, "insufficient balance; nothing sent (code 2)", None),
    400: (
        ProviderError,
        "missing parameter (user, password, message, header or numbers) (code 400)",
        None,
    ),
    401: (AuthError, "wrong username or password (code 401)", _AUTH_HINT),
    402: (SenderError, "invalid sender header (başlık){header} (code 402)", _HEADER_HINT),
    403: (SenderError, "forbidden sender header (başlık){header} (code 403)", _HEADER_HINT),
    405: (
        RecipientError,
        "invalid number format; masgsm expects 5xxxxxxxxx (code 405){numbers}",
        None,
    ),
}
# A report sends nothing: its wording names the id and never says "nothing sent".
_REPORT_REFUSALS: dict[int, tuple[type[SmscliError], str, str | None]] = {
    2: (
        CreditError,
        "insufficient balance (code 2) in reply to the report request for id {id!r}",
        None,
    ),
    400: (ProviderError, "missing parameter in the report request for id {id!r} (code 400)", None),
}
_REPORT_LISTS: tuple[tuple[str, DeliveryStatus], ...] = (
    ("Iletilen", "delivered"),
    ("Hatali", "undelivered"),
    ("Bekleyen", "pending"),
)


class Reply(NamedTuple):
    code: int
    message: str
    id: str | None
    balance: str | None = None


def read_reply(response: httpx.Response) -> Reply | None:
    """The code, message and id of a reply, or None when it has neither documented form."""
    plain = _PLAIN_REPLY.fullmatch(_text(response).strip())
    if plain:
        return Reply(code=int(plain[1]), message="", id=plain[2])
    body = _json(response)
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        return None
    message = body.get("message")
    return Reply(
        code=code,
        message=message if isinstance(message, str) else "",
        id=_scalar(body.get("id")),
        balance=_scalar(body.get("balance")),
    )


def send_outcome(reply: Reply, batch: Batch) -> tuple[OutcomeStatus, str | None]:
    """The state of every message of ``batch`` from the code of its send reply, and the error
    shown with it; a code that refuses the whole request is raised (see :func:`refusal`).

    ``failed`` only where masgsm says it sent nothing (code 0); a code its docs do not list
    may mean the request was processed: ``unknown``, never sent again automatically."""
    if reply.code == 1:
        return "accepted", None
    if reply.code == 0:
        return "failed", said("sending error (code 0)", reply)
    if reply.code == 3:
        return "unknown", (
            "masgsm: insufficient balance (code 3); it sent only as far as the balance "
            "allowed and does not say to which numbers; `smscli report` can tell"
        )
    if reply.code in _REFUSALS:
        raise refusal(reply, batch=batch)
    what = f"reply code {reply.code}, which is not in masgsm's list of reply codes"
    return "unknown", (
        said(what, reply) + "; the request may have been processed, so its messages "
        "are in doubt and never sent again automatically; `smscli report` can tell"
    )


def said(what: str, reply: Reply) -> str:
    """``what`` happened, followed by the reply's own words if it had any."""
    text = f"masgsm: {what}"
    if reply.message:
        text += f": {excerpt(reply.message)}"
    return text


def refusal(reply: Reply, batch: Batch | None = None, report_id: str | None = None) -> Exception:
    """The error for a code that refuses the whole request: of the send of ``batch``, of the
    report on ``report_id``, or (neither given) of another call."""
    table = _REFUSALS if report_id is None else {**_REFUSALS, **_REPORT_REFUSALS}
    if reply.code not in table:
        return ProviderError(said(f"unexpected reply code {reply.code}", reply))
    error, text, hint = table[reply.code]
    header = f" {batch.sender!r}" if batch is not None else ""
    numbers = f": {numbers_in(batch)}" if batch is not None else ""
    return error("masgsm: " + text.format(header=header, numbers=numbers, id=report_id), hint=hint)


def report_lists(response: httpx.Response) -> dict[str, list[str]] | None:
    """The three lists of a ``type=2`` reply (a missing one empty), or None for another shape."""
    body = _json(response)
    if not isinstance(body, dict) or not any(name in body for name, _ in _REPORT_LISTS):
        return None
    lists: dict[str, list[str]] = {}
    for name, _ in _REPORT_LISTS:
        entries = body.get(name, [])
        if not isinstance(entries, list):
            return None
        if not all(isinstance(e, str | int) and not isinstance(e, bool) for e in entries):
            return None
        lists[name] = [str(e).strip() for e in entries if str(e).strip()]
    return lists


def delivery(e164: str, lists: dict[str, list[str]]) -> Delivery:
    """The state of ``e164`` in a report's lists: the first list naming it, else unknown."""
    for name, status in _REPORT_LISTS:
        if any(_same_number(e164, theirs) for theirs in lists[name]):
            return Delivery(e164, status, name)
    return Delivery(e164, "unknown", "not in masgsm's report")


def header_names(response: httpx.Response) -> list[str] | None:
    """The names in a legacy ``apiNo=3`` reply (a JSON array of strings), blank and repeated
    ones dropped, or None for another shape."""
    body = _json(response)
    if not isinstance(body, list) or not all(isinstance(h, str) for h in body):
        return None
    return [name for name in dict.fromkeys(h.strip() for h in body) if name]


def _same_number(e164: str, theirs: str) -> bool:
    """Whether ``theirs`` is the number ``e164``. masgsm writes Turkish numbers, usually
    ``5xxxxxxxxx``; ``05…``, ``905…``, ``+905…`` and ``00905…`` are read as the same number."""
    digits = "".join(c for c in theirs if c.isdigit()).lstrip("0")
    if len(digits) == 10 and digits.startswith("5"):
        digits = "90" + digits
    return e164 == "+" + digits


def _text(response: httpx.Response) -> str:
    """The body as UTF-8 text (as PHP writes it) after its leading BOMs and whitespace."""
    body = response.content
    while (rest := body.lstrip(b" \t\r\n").removeprefix(_BOM)) != body:
        body = rest
    return body.decode("utf-8", "replace")


def _json(response: httpx.Response) -> Any:
    """The body as JSON (after any BOM), or None when it is not JSON."""
    try:
        return json.loads(_text(response))
    except ValueError:
        return None


def _scalar(value: object) -> str | None:
    """A JSON scalar as text; None for none, a bool, a container or a non-finite number (JSON
    has none: Python reads ``NaN`` and ``1e999`` into one)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return json.dumps(value)
    return None
