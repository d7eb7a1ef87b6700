"""masgsm.com.tr MasApiV2: a PHP form POST per batch, answered with a numeric code.

Follows ``shared/providers/masgsm-api-destegi.txt`` ("MASGSM ApiV2 POST Metodu" and "APİ CEVAP
KODLARI") and ``shared/providers/NOTES.md``.

Request: ``POST {base_url}/api_post.php``, ``application/x-www-form-urlencoded``, fields in the
order of the samples: ``type``, ``u`` (the user code: the phone number registered with masgsm),
``p`` (password), ``message``, ``title`` (sender header), ``numbers`` (comma-separated), and
``lang=tr`` when the batch goes in Turkish mode (``Batch.turkish``): always with ``--tr``, never
with ``--no-tr``, and by default for any text with a letter only the Turkish table carries
(``ç ğ Ğ ı İ ş Ş``), a UCS-2 one too: the page calls a send without it "Türkçe karaktersiz"
(without Turkish characters), so a UCS-2 text of Turkish letters and an emoji goes with it
(its parts are those of UCS-2 either way). The samples build the body with PHP's
``http_build_query``; we write the same (UTF-8, percent-encoded, ``+`` for a space) with
``urllib.parse.urlencode`` (``smscli.http.form_encode``, its faster equal) and send those
exact bytes (the one difference, ``~`` left as it is
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
  report call ``type=2`` takes it). Byte order marks and whitespace before a reply are skipped
  (``\ufeff1`` is ``1``, a BOM before JSON too). Anything else is an unreadable reply: in doubt
  (``unknown``) whatever the HTTP status, since a redirect or an HTML 4xx page may come after
  the script did its work (``smscli.http.unreadable``).
- Codes: 1 accepted; 0 every message failed; 2 insufficient balance, nothing sent (credit error);
  3 "sent as far as the balance allowed" without saying to which numbers: every message is
  ``unknown`` (``smscli report`` can tell); 400 missing parameter; 401 wrong username or
  password; 402 invalid and 403 forbidden sender header; 405 invalid number format.
- Unknown versus failed: a message is ``failed`` only where masgsm said it took nothing (codes
  0, 400 and 405; 2, 401, 402 and 403 refuse the request and stop the run, nothing sent) or
  where the request never left. Any code outside the documented list (``5``, ``1234``,
  ``{"code": 7}``, whatever the HTTP status) may mean the request was processed: every message
  is ``unknown``, with the reply's id if it gave one, never sent again automatically (not even
  by ``--retry-failed``). The wording of a reply never decides: code 3's "Yetersiz Bakiye"
  comes with a partial send.
- The body decides, not the HTTP status. What a send's reply makes of its messages:

  ====================================  ========  ==========================================
  reply to a send                       state     why
  ====================================  ========  ==========================================
  code 1 (with an id)                   accepted  documented success
  code 0, 400, 405                      failed    documented: masgsm took nothing
  code 2, 401, 402, 403                 not sent  documented refusal of the request; stop
  code 3                                unknown   documented partial send, numbers unnamed
  any other code                        unknown   undocumented: may have been processed
  3xx; HTML or other body; any status   unknown   may come after the script did its work
  5xx, timeout, drop, undecodable body  unknown   the request left; no readable answer
  429; 503 with a usable Retry-After    (again)   not processed: waited for, sent again
  connection refused, connect timeout   not sent  the request never left
  ====================================  ========  ==========================================

  "not sent": ``bulk`` keeps the messages ``pending`` to resume, ``send`` records them
  ``failed``; ``unknown`` is never sent again automatically, not even by ``--retry-failed``.
- A balance reply we cannot read is a plain provider error (exit 6), as is any code but 1, a
  redirect, or a body that does not decode as its ``Content-Encoding`` says: the call sends
  nothing, so nothing is in doubt (the same for a report and the header list). That includes
  a code 1 whose ``balance`` is not a finite decimal number (``"nan"``, ``"inf"``, ``1e999``,
  ``NaN``): such a value never reaches ``--json`` or a credit check (where NaN would pass every
  comparison), and a send's balance check refuses to send on it (``--force`` skips the check).
- Rate limits and the largest batch are undocumented: we send at most 500 numbers per request.

Delivery report (``report``): ``type=2`` with ``u``, ``p`` and ``id`` (the batch id of the send),
form-encoded like a send. The reply is ``{"Iletilen": [...], "Hatali": [...], "Bekleyen": [...]}``
(delivered, failed, pending); the lists hold 10-digit ``5xxxxxxxxx`` numbers. Decisions:

- Our E.164 numbers are matched to the lists by their digits (``5xxxxxxxxx``, ``05…``, ``90…``,
  ``+90…`` all match). A number in no list is ``unknown`` ("not in masgsm's report"); a number in
  more than one list takes the first of Iletilen, Hatali, Bekleyen. ``detail`` is the list name.
- A missing list is read as empty, but a reply must have at least one of the three and every one
  it has must be a list of numbers. A coded reply (``{"code": 401, ...}`` or a bare ``401``) maps
  like a send (401 authentication, 2 credit, ...), worded for a report (400 and 2 name the id,
  and never say "nothing sent").
- Anything else is a plain provider error quoting an excerpt. A report sends nothing, so nothing
  is in doubt: a 5xx or a read timeout is a provider error too (safe to ask again), never the
  "outcome unknown" of a send.

Sender headers (``headers``): MasApiV2 has no such call; the older numbered API (known from
third-party code only, see NOTES) answers ``POST {base_url}/`` (the root itself, with a trailing
slash: a directory URL without one typically only redirects) with form fields ``user``, ``pass``,
``apiNo=3`` and a JSON array of header strings (blank and repeated names are dropped; ``[]`` is an
account without headers). Every header is labelled ``masgsm legacy API (apiNo=3)``. The body
decides, as everywhere here: a wrong user or password (bare ``401`` or a coded 401) is an
authentication error; anything else is a provider error saying the legacy call failed, and the
CLI falls back to the profile's ``senders``. The
client never follows redirects: a 3xx is a provider error naming the (redacted) ``Location``,
because following it would send the credentials somewhere we did not choose (and a 301/302 turns
the POST into a GET without its form).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from smscli.errors import ConfigError, InputError, ProviderError
from smscli.http import form_encode, request, unreadable
from smscli.providers.base import (
    Account,
    Balance,
    Batch,
    BatchResult,
    Capabilities,
    Delivery,
    Header,
    Outcome,
    State,
    check_turkish_mobile,
    finite_number,
    need_client,
    turkish_mobile,
)
from smscli.providers.masgsm_replies import (
    delivery,
    header_names,
    read_reply,
    refusal,
    report_lists,
    said,
    send_outcome,
)
from smscli.redact import Redactor, excerpt

if TYPE_CHECKING:
    import httpx

PATH = "/api_post.php"
LEGACY_PATH = "/"
FORM = "application/x-www-form-urlencoded"
LEGACY_SOURCE = "masgsm legacy API (apiNo=3)"


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
        credentials=("username", "password"),
    )

    def __init__(self, account: Account, client: httpx.Client | None, state: State) -> None:
        self._account = account
        self._client = need_client(self.name, client)
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
        reply = read_reply(response)
        if reply is None:
            raise unreadable(self.name, response)
        status, error = send_outcome(reply, batch)
        message_id = reply.id if status != "failed" else None
        return BatchResult(
            outcomes=tuple(
                Outcome(m.key, status, message_id=message_id, error=error) for m in batch.messages
            ),
            batch_id=reply.id,
        )

    def balance(self) -> Balance:
        response = self._post([("type", "4"), *self._credentials()], read_only=True)
        reply = read_reply(response)
        if reply is not None and reply.code != 1:
            raise refusal(reply)
        raw = reply.balance if reply is not None else None
        found = finite_number(raw)
        if found is None:
            # A balance call sends nothing, so a reply we cannot read leaves nothing in doubt.
            raise ProviderError(
                f"masgsm: unexpected balance reply (HTTP {response.status_code}): "
                f"{excerpt(response.text)}"
            )
        return Balance(credits=found, raw=raw)

    def report(self, batch_id: str, numbers: Sequence[str]) -> list[Delivery]:
        if not batch_id:
            raise ValueError("masgsm: a report needs the id of the send")
        fields = [("type", "2"), *self._credentials(), ("id", batch_id)]
        if not numbers:
            return []
        response = self._post(fields, read_only=True)
        lists = report_lists(response)
        if lists is not None:
            return [delivery(number, lists) for number in numbers]
        reply = read_reply(response)
        if reply is not None and reply.code != 1:
            raise refusal(reply, report_id=batch_id)
        raise ProviderError(
            f"masgsm: unexpected report reply ({self._status(response)}): {excerpt(response.text)}"
        )

    def headers(self) -> list[Header]:
        (_, user), (_, password) = self._credentials()
        fields = [("user", user), ("pass", password), ("apiNo", "3")]
        failed = "the legacy header list call (apiNo=3) failed"
        response = self._post(
            fields, self._account.base_url.rstrip("/") + LEGACY_PATH, read_only=True
        )
        if 300 <= response.status_code < 400:
            raise ProviderError(f"masgsm: {failed}: {self._status(response)}")
        names = header_names(response)
        if names is not None:
            return [Header(name, LEGACY_SOURCE) for name in names]
        reply = read_reply(response)
        if reply is not None and reply.code == 401:
            raise refusal(reply)
        if reply is not None:
            raise ProviderError(said(f"{failed} (code {reply.code})", reply))
        raise ProviderError(
            f"masgsm: {failed}: unexpected reply ({self._status(response)}): "
            f"{excerpt(response.text)}"
        )

    def _credentials(self) -> list[tuple[str, str]]:
        if not self._account.username or not self._account.password:
            raise ConfigError(
                "masgsm needs a username (the phone number registered with masgsm) and a password",
                hint="set username and password in the profile, or SMSCLI_USERNAME and "
                "SMSCLI_PASSWORD",
            )
        return [("u", self._account.username), ("p", self._account.password)]

    def _post(
        self, fields: list[tuple[str, str]], url: str | None = None, *, read_only: bool = False
    ) -> httpx.Response:
        return request(
            self._client,
            "POST",
            url or self._account.base_url.rstrip("/") + PATH,
            provider=self.name,
            redactor=self._redact,
            read_only=read_only,
            content=form_encode(fields),
            headers={"Content-Type": FORM},
        )

    def _status(self, response: httpx.Response) -> str:
        """``HTTP 200``, or for a redirect ``HTTP 301 to <Location>, not followed``."""
        status = f"HTTP {response.status_code}"
        if 300 <= response.status_code < 400:
            location = response.headers.get("Location")
            target = f" to {excerpt(location)}" if location else ""
            status += f" redirect{target}, not followed"
        return status
