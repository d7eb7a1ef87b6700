"""vairosms.com Panel API v1: one JSON POST per batch, a text per number, one id per batch.

Follows ``shared/providers/vairosms-sms-gonder.txt`` (Toplu SMS Gönderim API) and the error page
(vairosms.com/api-destegi/hata-mesajlari) as summarised in ``shared/providers/NOTES.md``.

Request: ``POST {base_url}/SmsGonder?api_key=K`` with JSON
``{"baslik": sender, "tr_char": true, "mesajlar": [{"msg": text, "dest": number}, ...]}``;
``tr_char`` is sent only when the batch needs Turkish characters (the page shows it only in its
"Türkçe Karakterli" variant). The body is encoded by us (compact JSON, UTF-8) so the bytes on the
wire do not depend on the httpx version. The key always travels in the query string, so every URL
that is shown must be redacted (``smscli.http`` does that for transport errors).

Reply: ``{"durum": bool, "aciklama": ...}``. Success is ``durum: true`` with the send id in
``aciklama``; it becomes the batch id and every message's id (the report calls take it).

Decisions where the docs are silent or disagree:

- Number format: the samples write ``5399999999`` but the error page says
  ``INVALID_DESTINATION_ADDRESS`` means the number should look like ``905399999999``; we send the
  12-digit ``90…`` form. Only Turkish mobile numbers are accepted.
- Errors: HTTP 401 (``"Gönderilen api_key bilgisi hatalı, ..."``) is an authentication error
  whatever the body says, as is a ``durum: false`` that talks about the ``api_key``. The 400 codes
  in ``aciklama`` map to: ``INVALID_SOURCE_ADDRESS`` → the sender header was refused;
  ``MISSING_MESSAGE`` / ``MESSAGE_TOO_LONG`` → bad input; ``MISSING_DESTINATION_ADDRESS`` /
  ``INVALID_DESTINATION_ADDRESS`` → the numbers were refused. Any other ``aciklama`` is quoted.
- Apart from a 401, the body decides, not the status: a ``durum: true`` is success even if the
  status is odd, because calling accepted messages failed could make them be sent twice.
  Anything that is not the documented shape is an unreadable reply (in doubt after a 2xx).
- No balance call is documented (``balance()`` is unsupported); rate limits and the largest
  batch are undocumented: we send at most 1000 numbers per request.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

from smscli.errors import (
    AuthError,
    ConfigError,
    InputError,
    ProviderError,
    RecipientError,
    SenderError,
    UnsupportedOperation,
)
from smscli.http import json_body, request, unreadable
from smscli.providers.base import (
    Account,
    Balance,
    Batch,
    BatchResult,
    Capabilities,
    Outcome,
    check_turkish_mobile,
    turkish_mobile,
)
from smscli.redact import Redactor, excerpt

if TYPE_CHECKING:
    import httpx

SEND_PATH = "/SmsGonder"
_SHOWN_NUMBERS = 10


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
    )

    def __init__(self, account: Account, client: httpx.Client) -> None:
        self._account = account
        self._client = client
        self._redact = Redactor(account.secrets())

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
            self._account.base_url.rstrip("/") + SEND_PATH,
            provider=self.name,
            redactor=self._redact,
            params={"api_key": self._account.api_key},
            content=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code == 401:
            raise self._auth_error(response)
        reply = json_body(response)
        if not isinstance(reply, dict) or not isinstance(reply.get("durum"), bool):
            raise unreadable(self.name, response, self._redact)
        aciklama = reply.get("aciklama")
        if reply["durum"]:
            if isinstance(aciklama, bool) or not isinstance(aciklama, str | int) or aciklama == "":
                raise unreadable(self.name, response, self._redact)
            send_id = str(aciklama)
            return BatchResult(
                outcomes=tuple(
                    Outcome(m.key, "accepted", message_id=send_id) for m in batch.messages
                ),
                batch_id=send_id,
            )
        raise self._refusal(batch, response, aciklama)

    def balance(self) -> Balance:
        raise UnsupportedOperation(
            "vairosms offers no balance call; check the balance in the vairosms panel"
        )

    def _auth_error(self, response: httpx.Response) -> AuthError:
        reply = json_body(response)
        said = reply.get("aciklama") if isinstance(reply, dict) else None
        quoted = said if isinstance(said, str) and said.strip() else response.text
        return AuthError(
            f"vairosms rejected the API key: {excerpt(quoted, self._redact)}",
            hint="check api_key in the profile or SMSCLI_API_KEY",
        )

    def _refusal(self, batch: Batch, response: httpx.Response, aciklama: object) -> Exception:
        """The error for a ``durum: false`` reply."""
        said = aciklama.strip() if isinstance(aciklama, str) else ""
        code = said.upper()
        if "API_KEY" in code:
            return self._auth_error(response)
        if "INVALID_SOURCE_ADDRESS" in code:
            return SenderError(
                f"vairosms rejected the sender header (başlık) {batch.sender!r} "
                "(INVALID_SOURCE_ADDRESS)",
                hint="use a header approved for your vairosms account",
            )
        if "MISSING_MESSAGE" in code:
            return InputError("vairosms: the message text is empty (MISSING_MESSAGE)")
        if "MESSAGE_TOO_LONG" in code:
            return InputError("vairosms: the message is too long (MESSAGE_TOO_LONG)")
        for refused in ("MISSING_DESTINATION_ADDRESS", "INVALID_DESTINATION_ADDRESS"):
            if refused in code:
                return RecipientError(
                    f"vairosms rejected the numbers of the request ({refused}): {_numbers(batch)}"
                )
        quoted = excerpt(said or response.text, self._redact)
        return ProviderError(f"vairosms refused the request: {quoted}")


def _numbers(batch: Batch) -> str:
    shown = ", ".join(m.to for m in batch.messages[:_SHOWN_NUMBERS])
    more = len(batch.messages) - _SHOWN_NUMBERS
    return shown + (f" and {more} more" if more > 0 else "")
