"""masgsm.com.tr MasApiV2: a PHP form POST per batch, answered with a numeric code.

Follows ``shared/providers/masgsm-api-destegi.txt`` ("MASGSM ApiV2 POST Metodu" and "APİ CEVAP
KODLARI") and ``shared/providers/NOTES.md``.

Request: ``POST {base_url}/api_post.php``, ``application/x-www-form-urlencoded``, fields in the
order of the samples: ``type``, ``u`` (the user code: the phone number registered with masgsm),
``p`` (password), ``message``, ``title`` (sender header), ``numbers`` (comma-separated), and
``lang=tr`` only when the batch needs Turkish characters. The samples build the body with PHP's
``http_build_query``; we write the same (UTF-8, percent-encoded, ``+`` for a space) with
``urllib.parse.urlencode`` and send those exact bytes (the one difference, ``~`` left as it is
where PHP writes ``%7E``, decodes to the same text).

- ``type=0`` sends one text to every number. ``type=1`` sends a text per number: ``message`` is
  a PHP array matched to ``numbers`` by position. PHP reads an array only from
  ``message[0]=..&message[1]=..`` (what ``http_build_query`` writes, brackets percent-encoded);
  a repeated ``message=..`` would be read as one string, the last one. We use ``type=0`` whenever
  the texts of a batch are identical.
- Numbers go as 10 digits ``5xxxxxxxxx`` (code 405 names that format), so only Turkish mobile
  numbers can be sent to; the engine is told so before sending through ``check_recipient``.
- ``type=4`` is the balance call: ``{"code":1,"message":"Hesap Bakiyesi","balance":"000000"}``.
- We do not use ``api_get.php``: it puts the credentials in the URL. The documented root is plain
  ``http``; the engine warns that credentials then travel unencrypted.

Decisions where the docs are silent:

- The send reply body is not shown. By analogy with the balance reply we read JSON
  ``{"code", "message", "id"?}`` (``code`` an int or a string of digits), and also a bare code in
  plain text, optionally followed by whitespace, ``|``, ``:``, ``,`` or ``;`` and an id
  (``1``, ``1 12345``, ``1|12345``). The id becomes the batch id and every message's id (the
  report call ``type=2`` takes it). Anything else is an unreadable reply (in doubt after a 2xx).
- Codes: 1 accepted; 0 every message failed; 2 insufficient balance, nothing sent (credit error);
  3 "sent as far as the balance allowed" without saying to which numbers: every message is
  ``unknown`` (never ``failed``, so never re-sent automatically; ``smscli report`` can tell);
  400 missing parameter; 401 wrong username or password; 402 invalid and 403 forbidden sender
  header; 405 invalid number format. Any other code is quoted as a provider error.
- The body decides, not the HTTP status.
- A balance reply we cannot read (or a code 1 without a readable ``balance``) is a plain
  provider error: the call sends nothing, so nothing is in doubt.
- Rate limits and the largest batch are undocumented: we send at most 500 numbers per request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlencode

from smscli.errors import (
    AuthError,
    ConfigError,
    CreditError,
    InputError,
    ProviderError,
    RecipientError,
    SenderError,
)
from smscli.http import json_body, request, unreadable
from smscli.providers.base import (
    Account,
    Balance,
    Batch,
    BatchResult,
    Capabilities,
    Outcome,
    OutcomeStatus,
    check_turkish_mobile,
    turkish_mobile,
)
from smscli.redact import Redactor, excerpt

if TYPE_CHECKING:
    import httpx

PATH = "/api_post.php"
FORM = "application/x-www-form-urlencoded"
_PLAIN_REPLY = re.compile(r"(\d{1,4})(?:[\s|:,;]+([\w.-]+))?")
_SHOWN_NUMBERS = 10


@dataclass(frozen=True)
class _Reply:
    code: int
    message: str
    id: str | None
    balance: str | None = None


class MasGsm:
    name: ClassVar[str] = "masgsm"
    default_base_url: ClassVar[str] = "http://masgsm.com.tr/MasApiV2"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=500,
        per_recipient_text=True,
        turkish_mode=True,
        turkish_numbers_only=True,
        sender=True,
        balance=True,
        report=True,
        headers=True,
        rate_limits=(),
    )

    def __init__(self, account: Account, client: httpx.Client) -> None:
        self._account = account
        self._client = client
        self._redact = Redactor(account.secrets())

    def check_recipient(self, e164: str) -> str | None:
        return check_turkish_mobile(self.name, e164)

    def send(self, batch: Batch) -> BatchResult:
        if not batch.messages:
            raise ValueError("masgsm: empty batch")
        credentials = self._credentials()
        if not batch.sender:
            raise ConfigError(
                "masgsm needs a sender header (başlık, field title): set sender in the profile, "
                "SMSCLI_SENDER or --sender"
            )
        numbers = []
        for message in batch.messages:
            national = turkish_mobile(message.to)
            if national is None:
                raise InputError(f"{check_turkish_mobile(self.name, message.to)}: {message.to}")
            numbers.append(national)
        texts = [m.text for m in batch.messages]
        if len(set(texts)) == 1:
            fields = [("type", "0"), *credentials, ("message", texts[0])]
        else:
            fields = [
                ("type", "1"),
                *credentials,
                *((f"message[{i}]", text) for i, text in enumerate(texts)),
            ]
        fields += [("title", batch.sender), ("numbers", ",".join(numbers))]
        if batch.turkish:
            fields.append(("lang", "tr"))
        response = self._post(fields)
        reply = _read(response)
        if reply is None:
            raise unreadable(self.name, response, self._redact)
        status: OutcomeStatus
        if reply.code == 1:
            status, error = "accepted", None
        elif reply.code == 0:
            status, error = "failed", self._said("sending error (code 0)", reply)
        elif reply.code == 3:
            status = "unknown"
            error = (
                "masgsm: insufficient balance (code 3); it sent only as far as the balance "
                "allowed and does not say to which numbers; `smscli report` can tell"
            )
        else:
            raise self._error(reply, batch)
        message_id = reply.id if status != "failed" else None
        return BatchResult(
            outcomes=tuple(
                Outcome(m.key, status, message_id=message_id, error=error) for m in batch.messages
            ),
            batch_id=reply.id,
        )

    def balance(self) -> Balance:
        response = self._post([("type", "4"), *self._credentials()])
        reply = _read(response)
        if reply is not None and reply.code != 1:
            raise self._error(reply, None)
        raw = reply.balance if reply is not None else None
        credits = _float(raw)
        if raw is None or credits is None:
            # A balance call sends nothing, so a reply we cannot read leaves nothing in doubt.
            raise ProviderError(
                f"masgsm: unexpected balance reply (HTTP {response.status_code}): "
                f"{excerpt(response.text, self._redact)}"
            )
        return Balance(credits=credits, raw=raw)

    def _credentials(self) -> list[tuple[str, str]]:
        if not self._account.username or not self._account.password:
            raise ConfigError(
                "masgsm needs a username (the phone number registered with masgsm) and a password",
                hint="set username and password in the profile, or SMSCLI_USERNAME and "
                "SMSCLI_PASSWORD",
            )
        return [("u", self._account.username), ("p", self._account.password)]

    def _post(self, fields: list[tuple[str, str]]) -> httpx.Response:
        return request(
            self._client,
            "POST",
            self._account.base_url.rstrip("/") + PATH,
            provider=self.name,
            redactor=self._redact,
            content=urlencode(fields).encode("ascii"),
            headers={"Content-Type": FORM},
        )

    def _said(self, what: str, reply: _Reply) -> str:
        """``what`` happened, followed by the reply's own words if it had any."""
        text = f"masgsm: {what}"
        if reply.message:
            text += f": {excerpt(reply.message, self._redact)}"
        return text

    def _error(self, reply: _Reply, batch: Batch | None) -> Exception:
        """The error for a code that refuses the whole request."""
        header = f" {batch.sender!r}" if batch is not None else ""
        code = reply.code
        if code == 2:
            return CreditError("masgsm: insufficient balance; nothing sent (code 2)")
        if code == 400:
            return ProviderError(
                "masgsm: missing parameter (user, password, message, header or numbers) (code 400)"
            )
        if code == 401:
            return AuthError(
                "masgsm: wrong username or password (code 401)",
                hint="check username and password in the profile, or SMSCLI_USERNAME and "
                "SMSCLI_PASSWORD; the username is the phone number registered with masgsm",
            )
        if code == 402:
            return SenderError(
                f"masgsm: invalid sender header (başlık){header} (code 402)",
                hint="use a header approved for your masgsm account (see `smscli headers`)",
            )
        if code == 403:
            return SenderError(
                f"masgsm: forbidden sender header (başlık){header} (code 403)",
                hint="use a header approved for your masgsm account (see `smscli headers`)",
            )
        if code == 405:
            return RecipientError(
                "masgsm: invalid number format; masgsm expects 5xxxxxxxxx (code 405)"
                + (f": {_numbers(batch)}" if batch is not None else "")
            )
        return ProviderError(self._said(f"unexpected reply code {code}", reply))


def _read(response: httpx.Response) -> _Reply | None:
    """The code, message and id of a reply, or None when it has neither documented form."""
    plain = _PLAIN_REPLY.fullmatch(response.text.strip())
    if plain:
        return _Reply(code=int(plain[1]), message="", id=plain[2])
    body = json_body(response)
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, str) and code.strip().isdigit():
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        return None
    message = body.get("message")
    return _Reply(
        code=code,
        message=message if isinstance(message, str) else "",
        id=_scalar(body.get("id")),
        balance=_scalar(body.get("balance")),
    )


def _scalar(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float):
        return json.dumps(value)
    return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _numbers(batch: Batch) -> str:
    shown = ", ".join(m.to for m in batch.messages[:_SHOWN_NUMBERS])
    more = len(batch.messages) - _SHOWN_NUMBERS
    return shown + (f" and {more} more" if more > 0 else "")
