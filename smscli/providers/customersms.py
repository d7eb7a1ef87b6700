"""customersms.pro: one JSON POST per text, with a result per number in the reply.

Follows ``shared/providers/customersms-api.tr.txt`` (the Arabic copy says the same) and
``shared/providers/NOTES.md``.

Request: ``POST {base_url}/sms_system/api.php``, ``Content-Type: application/json``, body
``{"api_key", "phone", "message"}``. The page's quick-start curl says ``/api.php``, but the
endpoint section and every code sample say ``/sms_system/api.php``; we follow the majority.
``phone`` may be a string, a comma-separated string or an array; we send an array of E.164
strings (``+12125551234``), the form of every example. The body is encoded by us (compact JSON,
UTF-8, non-ASCII letters as they are) so the bytes on the wire do not depend on the httpx version.
The API has no sender field and no Turkish-character flag, so ``Batch.sender`` and
``Batch.turkish`` are ignored, and one request carries one text: the engine groups identical
texts, and a batch mixing texts is a programming error (``ValueError``).

Reply fields read: ``success``, ``remaining_credits`` (becomes ``credits_remaining``; the API has
no balance call, so ``balance()`` is unsupported and the ledger shows the last value), and
``results[{phone, success, message_id}]``. Where the docs are silent we decided:

- A failed entry's reason is undocumented: we read its ``error`` or ``message`` if present.
- Numbers in ``results`` are matched back to our messages by their digits, tolerant of ``+``,
  ``00`` and national forms. A number of ours missing from ``results`` is ``unknown`` (it may
  have been sent), never ``failed``: a retry could send it twice.
- The HTTP status of an error reply is undocumented: 200 and 4xx are read alike, and the body
  decides. The documented error is ``{"success": false, "error", "code": "INVALID_API_KEY"}``
  (an authentication error, as is any HTTP 401 with a ``success: false`` body). A
  ``success: false`` reply that still lists ``results`` is read number by number, because some
  numbers may have been accepted and must not be sent again. Otherwise a code or text about
  credit or balance (``INSUFFICIENT_CREDITS`` is a guess, undocumented; also ``Insufficient
  credits``, ``Yetersiz kredi``, ``YETERSİZ BAKİYE``: the words of ``base.CREDIT_WORDS``) is a
  credit error. Any other code or text is not documented as a refusal: the request may have
  been processed, so every message is ``unknown`` (quoting it), never ``failed``. Codes and
  wordings are compared with :func:`smscli.providers.base.fold`, in any case form, Turkish
  dotted and dotless i alike.
- Unknown versus failed: a message is ``failed`` only where customersms said so (its result
  entry has ``success: false``) or the request never left. A ``success: true`` reply whose
  ``results`` are missing or of another shape, or any reply with an unreadable result entry,
  leaves every message ``unknown`` whatever the HTTP status: the provider may have taken them.
- Anything else (a redirect, HTML, an empty body, JSON of another shape) is an unreadable
  reply, in doubt whatever the HTTP status: a redirect or an HTML 4xx page may come after the
  request was processed (``smscli.http.unreadable``). What a reply makes of its messages:

  =========================================  ========  =====================================
  reply to a send                            state     why
  =========================================  ========  =====================================
  a result entry ``success: true``           accepted  documented success
  a result entry ``success: false``          failed    documented: that number refused
  a number missing from ``results``          unknown   it may have been sent
  INVALID_API_KEY, 401 ``success: false``,   not sent  documented refusal of the request
  a credit wording
  another ``success: false`` code or text    unknown   undocumented: may have been processed
  ``success: true`` without ``results``      unknown   it says it took them
  3xx; HTML or other body; any status        unknown   may come after processing
  5xx, timeout, drop, undecodable body       unknown   the request left; no readable answer
  429; 503 with a usable Retry-After         (again)   not processed: waited for, sent again
  connection refused, connect timeout        not sent  the request never left
  =========================================  ========  =====================================

  "not sent": ``bulk`` keeps the messages ``pending`` to resume, ``send`` records them
  ``failed``; ``unknown`` is never sent again automatically, not even by ``--retry-failed``.
- ``remaining_credits`` that is not a finite number (``"nan"``, ``"inf"``, ``1e999``) is read as
  not given (None): the messages' outcomes stand, and no NaN reaches the ledger or ``--json``.
- Max recipients per request is undocumented; we send at most 100. Rate limits are documented:
  100/minute, 5,000/hour, 50,000/day per API key.
- No delivery report call and no sender header list are documented: ``report()`` and
  ``headers()`` are unsupported (the API has no sender field at all).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from smscli.errors import (
    AuthError,
    ConfigError,
    CreditError,
    OutcomeUnknown,
    UnsupportedOperation,
)
from smscli.http import json_body, request, unreadable
from smscli.providers.base import (
    CREDIT_WORDS,
    Account,
    Balance,
    Batch,
    BatchResult,
    Capabilities,
    Delivery,
    Header,
    Message,
    Outcome,
    State,
    finite_number,
    fold,
    mentions,
    need_client,
    undocumented_refusal,
)
from smscli.redact import Redactor, excerpt

if TYPE_CHECKING:
    import httpx

PATH = "/sms_system/api.php"


class CustomerSms:
    name: ClassVar[str] = "customersms"
    default_base_url: ClassVar[str] = "https://customersms.pro"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=100,
        per_recipient_text=False,
        turkish_mode=False,
        turkish_numbers_only=False,
        sender=False,
        balance=False,
        report=False,
        headers=False,
        rate_limits=("100/minute", "5000/hour", "50000/day"),
        credentials=("api_key",),
    )

    def __init__(self, account: Account, client: httpx.Client | None, state: State) -> None:
        self._account = account
        self._client = need_client(self.name, client)
        self._redact = Redactor(account.secrets())

    def check_recipient(self, e164: str) -> str | None:
        return None

    def send(self, batch: Batch) -> BatchResult:
        if not batch.messages:
            raise ValueError("customersms: empty batch")
        texts = {m.text for m in batch.messages}
        if len(texts) > 1:
            raise ValueError("customersms sends one text per request; group messages by text")
        if not self._account.api_key:
            raise ConfigError(
                "customersms needs an API key",
                hint="set api_key in the profile or SMSCLI_API_KEY",
            )
        body = {
            "api_key": self._account.api_key,
            "phone": [m.to for m in batch.messages],
            "message": batch.messages[0].text,
        }
        response = request(
            self._client,
            "POST",
            self._account.base_url.rstrip("/") + PATH,
            provider=self.name,
            redactor=self._redact,
            content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json"},
        )
        reply = json_body(response)
        if not isinstance(reply, dict) or not isinstance(reply.get("success"), bool):
            raise unreadable(self.name, response)
        results = reply.get("results")
        if reply["success"]:
            if not isinstance(results, list):
                raise self._in_doubt(response, "success true without a list of results")
            return self._read_results(batch, reply, results, response)
        said = self._said(reply, response)
        if fold(_text(reply.get("code"))) == "invalid_api_key" or response.status_code == 401:
            raise AuthError(
                f"customersms rejected the API key: {said}",
                hint="check api_key in the profile or SMSCLI_API_KEY",
            )
        if isinstance(results, list):
            return self._read_results(batch, reply, results, response)
        if mentions(said, CREDIT_WORDS):
            raise CreditError(f"customersms: insufficient credit; nothing sent ({said})")
        raise undocumented_refusal(self.name, f"success false, HTTP {response.status_code}", said)

    def balance(self) -> Balance:
        raise UnsupportedOperation(
            "customersms offers no balance call; `smscli balance` shows the remaining credits "
            "customersms reported after the last send"
        )

    def report(self, batch_id: str, numbers: Sequence[str]) -> list[Delivery]:
        raise UnsupportedOperation(
            "customersms offers no delivery report call; `smscli report` shows what the ledger "
            "knows (accepted or failed at sending)"
        )

    def headers(self) -> list[Header]:
        raise UnsupportedOperation(
            "customersms offers no call to list sender headers (its API has no sender field)"
        )

    def _said(self, reply: dict[str, Any], response: httpx.Response) -> str:
        """The code and error text of an error reply, quoted without secrets."""
        said = " ".join(p for p in (_text(reply.get("code")), _text(reply.get("error"))) if p)
        return excerpt(said or response.text)

    def _in_doubt(self, response: httpx.Response, why: str) -> OutcomeUnknown:
        """A reply that says the provider took messages but cannot be read: in doubt, whatever
        the HTTP status."""
        return OutcomeUnknown(
            f"customersms: unexpected reply (HTTP {response.status_code}): "
            f"{excerpt(response.text)}; {why}: the provider may have taken the "
            "messages"
        )

    def _read_results(
        self,
        batch: Batch,
        reply: dict[str, Any],
        results: list[Any],
        response: httpx.Response,
    ) -> BatchResult:
        messages = batch.messages
        # The usual reply lists our numbers as we wrote them, in our order: matched by
        # position until an entry is not, then by number among the messages left.
        unmatched: _Unmatched | None = None
        outcomes: dict[str, Outcome] = {}
        for n, entry in enumerate(results):
            if not (
                isinstance(entry, dict)
                and isinstance(entry.get("phone"), str | int)
                and isinstance(entry.get("success"), bool)
            ):
                raise self._in_doubt(response, "a result of another shape")
            if unmatched is None:
                if n < len(messages) and entry["phone"] == messages[n].to:
                    outcomes[messages[n].key] = self._outcome(messages[n], entry)
                    continue
                unmatched = _Unmatched(messages[n:])
            message = unmatched.take(str(entry["phone"]))
            if message is None:
                continue
            outcomes[message.key] = self._outcome(message, entry)
        left = messages[len(results) :] if unmatched is None else unmatched.left.values()
        for message in left:
            outcomes[message.key] = Outcome(
                message.key,
                "unknown",
                error="customersms did not report on this number; it may have been sent",
            )
        return BatchResult(
            outcomes=tuple(outcomes[m.key] for m in batch.messages),
            credits_remaining=finite_number(reply.get("remaining_credits")),
        )

    def _outcome(self, message: Message, entry: dict[str, Any]) -> Outcome:
        if entry["success"]:
            message_id = entry.get("message_id")
            if isinstance(message_id, bool) or not isinstance(message_id, str | int):
                message_id = None
            return Outcome(
                message.key,
                "accepted",
                message_id=None if message_id is None else str(message_id),
            )
        reason = _text(entry.get("error")) or _text(entry.get("message"))
        error = f"customersms: {excerpt(reason)}" if reason else None
        return Outcome(message.key, "failed", error=error or "rejected by customersms")


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


class _Unmatched:
    """The messages of a batch not yet matched to an entry of the reply, found by number."""

    def __init__(self, messages: tuple[Message, ...]) -> None:
        self.left: dict[str, Message] = {m.key: m for m in messages}
        self._by_digits: dict[str, list[str]] = {}
        for m in messages:
            self._by_digits.setdefault(m.to.lstrip("+"), []).append(m.key)

    def take(self, phone: str) -> Message | None:
        """Remove and return the message whose number ``phone`` is, written in any usual form.

        An exact match of the digits wins; else ``phone`` may be our number without its country
        code or with a trunk ``0`` or ``00`` in front."""
        digits = phone.lstrip("+")
        if not digits.isdigit():
            digits = "".join(c for c in phone if c.isdigit())
        theirs = digits.lstrip("0")
        keys = self._by_digits.get(theirs, [])
        while keys:
            message = self.left.pop(keys.pop(0), None)
            if message is not None:
                return message
        if len(theirs) >= 7:
            for key, message in self.left.items():
                if message.to.lstrip("+").endswith(theirs):
                    return self.left.pop(key)
        return None
