"""vairosms.com Panel API v1: one JSON POST per batch, a text per number, one id per batch.

Follows ``shared/providers/vairosms-sms-gonder.txt`` (Toplu SMS Gönderim API) and the error page
(vairosms.com/api-destegi/hata-mesajlari) as summarised in ``shared/providers/NOTES.md``.

Request: ``POST {base_url}/SmsGonder?api_key=K`` with JSON
``{"baslik": sender, "tr_char": true, "mesajlar": [{"msg": text, "dest": number}, ...]}``;
``tr_char: true`` is sent when the batch goes in Turkish mode (``Batch.turkish``; the page shows
it only in its "Türkçe Karakterli" variant): always with ``--tr``, never with ``--no-tr``, and by
default for any text with a letter only the Turkish table carries (``ç ğ Ğ ı İ ş Ş``), a UCS-2
one too (an emoji beside them); the parts stay those of the text's encoding class. The body is
encoded by us (compact JSON, UTF-8) so the bytes on the wire do not depend on the httpx version.
The key always travels in the query string, so every URL that is shown must be redacted
(``smscli.http`` does that for transport errors).

Reply: ``{"durum": bool, "aciklama": ...}``. Success is ``durum: true`` with the send id in
``aciklama``; it becomes the batch id and every message's id (the report calls take it).

Decisions where the docs are silent or disagree:

- Number format: the samples write ``5399999999`` but the error page says
  ``INVALID_DESTINATION_ADDRESS`` means the number should look like ``905399999999``; we send the
  12-digit ``90…`` form. Only Turkish mobile numbers are accepted.
- Errors: HTTP 401 with ``durum: false`` (``"Gönderilen api_key bilgisi hatalı, ..."``) is an
  authentication error whatever its wording, as is a ``durum: false`` that talks about the
  ``api_key``. The 400 codes in ``aciklama`` map to: ``INVALID_SOURCE_ADDRESS`` → the sender
  header was refused; ``MISSING_MESSAGE`` / ``MESSAGE_TOO_LONG`` → bad input;
  ``MISSING_DESTINATION_ADDRESS`` / ``INVALID_DESTINATION_ADDRESS`` → the numbers were refused.
  Any other ``aciklama`` of a send ("Sistem hatası") is quoted, and leaves it in doubt.
- Wordings are compared with :func:`smscli.providers.base.fold` (dotted and dotless i, Turkish
  letters and case all alike), never with ``casefold()`` alone, for which ``"YETERSİZ BAKİYE"``
  does not contain ``"bakiye"``.
- A credit refusal has no documented code: a ``durum: false`` whose ``aciklama`` names
  ``kredi``, ``bakiye``, ``kontör``, ``credit`` or ``balance`` in any case form (``Yetersiz
  kredi``, ``YETERSİZ BAKİYE``, ``YETERSIZ BAKIYE``) is a credit error: nothing sent, the run
  stops with exit 5 and keeps its messages to send once topped up. One that says part of the
  request went out (masgsm's wording "Parça gönderim sağlandı ... bakiyesi kadar gönderim")
  leaves every message ``unknown``.
- Unknown versus failed: a message is ``failed`` only where vairosms refused the request with
  one of its documented codes, or the request never left. The body decides, not the status: a
  ``durum: true`` is success even if the status is odd, because calling accepted messages
  failed could make them be sent twice, and a ``durum: true`` without a send id is ``unknown``
  whatever the status. Any other reply (a redirect, an HTML page of any status, a 401 that is
  not ``durum: false``) is an unreadable reply, in doubt: it may come after the request was
  processed (``smscli.http.unreadable``). What a send's reply makes of its messages:

  =========================================  ========  =====================================
  reply to a send                            state     why
  =========================================  ========  =====================================
  ``durum: true`` with a send id             accepted  documented success
  ``durum: true`` without an id              unknown   it says it took them
  MISSING_MESSAGE, MESSAGE_TOO_LONG,         failed    documented codes: nothing sent
  MISSING_/INVALID_DESTINATION_ADDRESS
  401 ``durum: false``, api_key wording,     not sent  documented refusal of the request
  INVALID_SOURCE_ADDRESS, credit wording
  "bakiyesi kadar gönderim" (partly sent)    unknown   part of it went out
  any other ``durum: false`` wording         unknown   undocumented: may have been processed
  3xx; HTML or other body; any status        unknown   may come after processing
  5xx, timeout, drop, undecodable body       unknown   the request left; no readable answer
  429; 503 with a usable Retry-After         (again)   not processed: waited for, sent again
  connection refused, connect timeout        not sent  the request never left
  =========================================  ========  =====================================

  "not sent": ``bulk`` keeps the messages ``pending`` to resume, ``send`` records them
  ``failed``; ``unknown`` is never sent again automatically, not even by ``--retry-failed``.
- No balance call is documented (``balance()`` is unsupported); rate limits and the largest
  batch are undocumented: we send at most 1000 numbers per request.
- No call lists the account's sender headers (``headers()`` is unsupported; the CLI shows the
  profile's ``senders``).

Delivery report (``report``), in two steps:

1. ``GET {base_url}/GonderimBilgisi/<id>?api_key=K``: the package. The page's PHP sample POSTs;
   NOTES says to accept either. We use GET: the call only reads.
   ``aciklama.paket_durum``: -1 the package failed and no credit was charged, so every number is
   ``undelivered`` ("package failed (paket_durum -1)") and no per-number call is made; 0 still
   sending; 1 finished. Any other value is an unreadable reply.
2. For each number, ``POST {base_url}/NumaraRaporu/<id>?api_key=K`` with JSON
   ``{"numara": "5399999999"}``: the 10-digit form of the page's sample (we send ``90…`` but
   follow the sample here; the provider is expected to match either). ``aciklama.durum_gonderim``
   maps: DELIVERED, SENT → delivered; SENDING, WAITING → pending; the failure words of Verimor's
   list, whose error names vairosms shares (NOT_DELIVERED, UNDELIVERED, EXPIRED,
   INVALID_DESTINATION_ADDRESS, REJECTED, FAILED, BLACKLISTED, DUPLICATE) → undelivered; anything
   else → unknown. ``detail`` is always the raw value.

- A number with no report yet (``durum: false`` with "Kayıt bulunamadı" or HTTP 404, or an empty
  ``durum_gonderim``) is ``pending`` while ``paket_durum`` is 0, and ``unknown`` once the package
  has finished. A number that is not a Turkish mobile cannot have gone through vairosms: it is
  ``unknown`` and not asked about.
- Errors: HTTP 401 or an ``api_key`` complaint is an authentication error; "Kayıt bulunamadı"
  (or a 404 with ``durum: false``) for the package names the id as unknown to vairosms (marked
  with ``base.no_such_send``: the one answer ``profiles add --test`` takes as "credentials not
  rejected"); any other ``durum: false`` is quoted; a reply of another shape is an unreadable
  reply. A report changes nothing at the provider, so all of these, and a 5xx or a lost reply,
  are plain provider errors (safe to ask again), never the "outcome unknown" of a send. The
  first error stops the report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from smscli.errors import (
    ConfigError,
    InputError,
    OutcomeUnknown,
    ProviderError,
    UnsupportedOperation,
)
from smscli.http import json_body, request, unreadable
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
    need_client,
    no_such_send,
    turkish_mobile,
)
from smscli.providers.vairosms_replies import (
    PACKAGE_FAILED,
    PACKAGE_SENDING,
    about_api_key,
    auth_error,
    delivery_status,
    not_found,
    paket_durum,
    send_refusal,
)
from smscli.redact import Redactor, excerpt

if TYPE_CHECKING:
    import httpx

SEND_PATH = "/SmsGonder"
PACKAGE_PATH = "/GonderimBilgisi/"
NUMBER_PATH = "/NumaraRaporu/"


class VairoSms:
    name: ClassVar[str] = "vairosms"
    default_base_url: ClassVar[str] = "https://vairosms.com/Panel/api/v1"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=1000,
        per_recipient_text=True,
        turkish_mode=True,
        turkish_numbers_only=True,
        sender=True,
        balance=False,
        report=True,
        headers=False,
        rate_limits=(),
        credentials=("api_key",),
    )

    def __init__(self, account: Account, client: httpx.Client | None, state: State) -> None:
        self._account = account
        self._client = need_client(self.name, client)
        self._redact = Redactor(account.secrets())
        self._urls: dict[str, httpx.URL] = {}

    def _url(self, path: str) -> httpx.URL:
        """``path`` under the base URL, with the key in the query string: built once per path,
        for httpx's merging of ``params=`` into a URL is ~0.2 ms of CPU on every request."""
        url = self._urls.get(path)
        if url is None:
            import httpx

            base = self._account.base_url.rstrip("/") + path
            url = self._urls[path] = httpx.URL(base, params={"api_key": self._account.api_key})
        return url

    def check_recipient(self, e164: str) -> str | None:
        return check_turkish_mobile(self.name, e164)

    def send(self, batch: Batch) -> BatchResult:
        if not batch.messages:
            raise ValueError("vairosms: empty batch")
        if not self._account.api_key:
            raise ConfigError(
                "vairosms needs an API key", hint="set api_key in the profile or SMSCLI_API_KEY"
            )
        if not batch.sender:
            raise ConfigError(
                "vairosms needs a sender header (başlık): set sender in the profile, "
                "SMSCLI_SENDER or --sender"
            )
        mesajlar = []
        for message in batch.messages:
            national = turkish_mobile(message.to)
            if national is None:
                raise InputError(f"{check_turkish_mobile(self.name, message.to)}: {message.to}")
            mesajlar.append({"msg": message.text, "dest": "90" + national})
        body: dict[str, object] = {"baslik": batch.sender}
        if batch.turkish:
            body["tr_char"] = True
        body["mesajlar"] = mesajlar
        response = request(
            self._client,
            "POST",
            self._url(SEND_PATH),
            provider=self.name,
            redactor=self._redact,
            content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json"},
        )
        reply = json_body(response)
        if not isinstance(reply, dict) or not isinstance(reply.get("durum"), bool):
            raise unreadable(self.name, response)
        if response.status_code == 401 and reply["durum"] is False:
            raise auth_error(response)
        aciklama = reply.get("aciklama")
        if reply["durum"]:
            if isinstance(aciklama, bool) or not isinstance(aciklama, str | int) or aciklama == "":
                # It says it took the messages, without the id: in doubt whatever the status.
                raise OutcomeUnknown(
                    f"vairosms: unexpected reply (HTTP {response.status_code}): "
                    f"{excerpt(response.text)}; durum true says the provider "
                    "took the messages, but there is no send id"
                )
            send_id = str(aciklama)
            return BatchResult(
                outcomes=tuple(
                    Outcome(m.key, "accepted", message_id=send_id) for m in batch.messages
                ),
                batch_id=send_id,
            )
        raise send_refusal(batch, response, aciklama)

    def balance(self) -> Balance:
        raise UnsupportedOperation(
            "vairosms offers no balance call; check the balance in the vairosms panel"
        )

    def report(self, batch_id: str, numbers: Sequence[str]) -> list[Delivery]:
        if not batch_id:
            raise ValueError("vairosms: a report needs the id of the send")
        if not self._account.api_key:
            raise ConfigError(
                "vairosms needs an API key", hint="set api_key in the profile or SMSCLI_API_KEY"
            )
        if not numbers:
            return []
        path_id = quote(batch_id, safe="")
        what = f"the package report of id {batch_id!r}"
        response = self._ask("GET", PACKAGE_PATH + path_id)
        aciklama = self._aciklama(response, what)
        if aciklama is None:
            if not_found(response):
                raise no_such_send(
                    ProviderError(
                        f"vairosms has no send with id {batch_id!r}: {self._said(response)}"
                    )
                )
            raise ProviderError(f"vairosms refused {what}: {self._said(response)}")
        package = paket_durum(aciklama)
        if package is None:
            raise self._unexpected(response, what)
        if package == PACKAGE_FAILED:
            return [Delivery(n, "undelivered", "package failed (paket_durum -1)") for n in numbers]
        return [self._number_report(path_id, batch_id, n, package) for n in numbers]

    def headers(self) -> list[Header]:
        raise UnsupportedOperation(
            "vairosms offers no call to list sender headers; list the headers approved in the "
            "vairosms panel under senders in the profile"
        )

    def _number_report(
        self, path_id: str, batch_id: str, number: str, paket_durum: int
    ) -> Delivery:
        national = turkish_mobile(number)
        if national is None:
            return Delivery(
                number, "unknown", "not a Turkish mobile number: vairosms cannot have sent it"
            )
        what = f"the report of {number} in id {batch_id!r}"
        body = json.dumps({"numara": national}, separators=(",", ":")).encode()
        response = self._ask("POST", NUMBER_PATH + path_id, body)
        aciklama = self._aciklama(response, what)
        if aciklama is None:
            if not not_found(response):
                raise ProviderError(f"vairosms refused {what}: {self._said(response)}")
            durum = None
        else:
            durum = aciklama.get("durum_gonderim")
            if durum is not None and not isinstance(durum, str):
                raise self._unexpected(response, what)
        word = (durum or "").strip()
        if not word:
            if paket_durum == PACKAGE_SENDING:
                return Delivery(number, "pending", "no report yet (paket_durum 0)")
            return Delivery(number, "unknown", "vairosms has no report for this number")
        return Delivery(number, delivery_status(word), excerpt(word, limit=60))

    def _ask(self, method: str, path: str, body: bytes | None = None) -> httpx.Response:
        """One report call. It changes nothing at vairosms, so a 5xx or a lost reply leaves
        nothing in doubt: a plain provider error instead of an unknown outcome."""
        extra: dict[str, Any] = {}
        if body is not None:
            extra = {"content": body, "headers": {"Content-Type": "application/json"}}
        return request(
            self._client,
            method,
            self._url(path),
            provider=self.name,
            redactor=self._redact,
            read_only=True,
            **extra,
        )

    def _aciklama(self, response: httpx.Response, what: str) -> dict[str, Any] | None:
        """The ``aciklama`` object of a ``durum: true`` reply, or None for ``durum: false``.

        Raises for a rejected key and for a reply of another shape.
        """
        if response.status_code == 401:
            raise auth_error(response)
        reply = json_body(response)
        if not isinstance(reply, dict) or not isinstance(reply.get("durum"), bool):
            raise self._unexpected(response, what)
        aciklama = reply.get("aciklama")
        if reply["durum"]:
            if not isinstance(aciklama, dict):
                raise self._unexpected(response, what)
            return aciklama
        if about_api_key(aciklama):
            raise auth_error(response)
        return None

    def _said(self, response: httpx.Response) -> str:
        """The ``aciklama`` text of an error reply (else the body), quoted without secrets."""
        reply = json_body(response)
        said = reply.get("aciklama") if isinstance(reply, dict) else None
        text = said.strip() if isinstance(said, str) and said.strip() else response.text
        return f"{excerpt(text)} (HTTP {response.status_code})"

    def _unexpected(self, response: httpx.Response, what: str) -> ProviderError:
        return ProviderError(
            f"vairosms: unexpected reply to {what} (HTTP {response.status_code}): "
            f"{excerpt(response.text)}"
        )
