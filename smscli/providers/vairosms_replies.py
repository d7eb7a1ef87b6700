"""What vairosms's replies say: the error wordings and report values the
:mod:`smscli.providers.vairosms` driver reads (its docstring holds the decisions).

Every wording is compared with :func:`smscli.providers.base.fold`, so ``YETERSİZ BAKİYE``,
``Yetersiz Bakiye`` and ``YETERSIZ BAKIYE`` read alike, as do ``Kayıt bulunamadı`` and
``KAYIT BULUNAMADI``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smscli.errors import (
    AuthError,
    CreditError,
    InputError,
    OutcomeUnknown,
    RecipientError,
    SenderError,
)
from smscli.http import json_body
from smscli.providers.base import (
    CREDIT_WORDS,
    Batch,
    DeliveryStatus,
    fold,
    mentions,
    numbers_in,
    undocumented_refusal,
)
from smscli.redact import excerpt

if TYPE_CHECKING:
    import httpx

PACKAGE_FAILED, PACKAGE_SENDING, PACKAGE_FINISHED = -1, 0, 1
_UNDELIVERED = (
    "NOT_DELIVERED",
    "UNDELIVERED",
    "EXPIRED",
    "INVALID_DESTINATION_ADDRESS",
    "REJECTED",
    "FAILED",
    "BLACKLISTED",
    "DUPLICATE",
)
_WORDS: dict[str, DeliveryStatus] = {
    "DELIVERED": "delivered",
    "SENT": "delivered",
    "SENDING": "pending",
    "WAITING": "pending",
    **dict.fromkeys(_UNDELIVERED, "undelivered"),
}
DELIVERY_WORDS: dict[str, DeliveryStatus] = {fold(word): s for word, s in _WORDS.items()}
"""``durum_gonderim`` values we know (Verimor's list; see the driver's docstring), folded."""
PARTLY_SENT = ("parça gönderim", "bakiyesi kadar gönderim")
"""Wordings that say some messages went out (masgsm's code 3 text, "Yetersiz Bakiye , Parça
gönderim sağlandı. Hesap bakiyesi kadar gönderim yapıldı."): never a refusal."""
_DESTINATION_CODES = ("MISSING_DESTINATION_ADDRESS", "INVALID_DESTINATION_ADDRESS")


def delivery_status(word: str) -> DeliveryStatus:
    return DELIVERY_WORDS.get(fold(word), "unknown")


def about_api_key(text: object) -> bool:
    """Whether an ``aciklama`` complains about the ``api_key``."""
    return isinstance(text, str) and mentions(text, ("api_key",))


def auth_error(response: httpx.Response) -> AuthError:
    reply = json_body(response)
    said = reply.get("aciklama") if isinstance(reply, dict) else None
    quoted = said if isinstance(said, str) and said.strip() else response.text
    return AuthError(
        f"vairosms rejected the API key: {excerpt(quoted)}",
        hint="check api_key in the profile or SMSCLI_API_KEY",
    )


def send_refusal(batch: Batch, response: httpx.Response, aciklama: object) -> Exception:
    """The error for a ``durum: false`` reply to a send: the documented codes, or a credit
    refusal in any wording and case, refuse it (nothing sent). A wording that says part of the
    request went out, and any wording the docs do not list, is an unknown outcome, never a
    refusal: the request may have been processed."""
    said = aciklama.strip() if isinstance(aciklama, str) else ""
    if about_api_key(said):
        return auth_error(response)
    code = fold(said)
    if fold("INVALID_SOURCE_ADDRESS") in code:
        return SenderError(
            f"vairosms rejected the sender header (başlık) {batch.sender!r} "
            "(INVALID_SOURCE_ADDRESS)",
            hint="use a header approved for your vairosms account",
        )
    if fold("MISSING_MESSAGE") in code:
        return InputError("vairosms: the message text is empty (MISSING_MESSAGE)")
    if fold("MESSAGE_TOO_LONG") in code:
        return InputError("vairosms: the message is too long (MESSAGE_TOO_LONG)")
    for refused in _DESTINATION_CODES:
        if fold(refused) in code:
            return RecipientError(
                f"vairosms rejected the numbers of the request ({refused}): {numbers_in(batch)}"
            )
    quoted = excerpt(said or response.text)
    if mentions(said, PARTLY_SENT):
        return OutcomeUnknown(
            f"vairosms: {quoted} (HTTP {response.status_code}); it says part of the request "
            "went out without saying which numbers: they may have been sent"
        )
    # Undocumented: a credit refusal has no code; its wording names kredi/bakiye/credit.
    if mentions(said, CREDIT_WORDS):
        return CreditError(f"vairosms: insufficient credit; nothing sent ({quoted})")
    return undocumented_refusal("vairosms", f"durum false, HTTP {response.status_code}", quoted)


def paket_durum(aciklama: dict[str, Any]) -> int | None:
    """``paket_durum`` (an int or a string of one) if it is -1, 0 or 1, else None."""
    value = aciklama.get("paket_durum")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value in (PACKAGE_FAILED, PACKAGE_SENDING, PACKAGE_FINISHED) else None


def not_found(response: httpx.Response) -> bool:
    """Whether a ``durum: false`` reply says there is no such record ("Kayıt bulunamadı")."""
    reply = json_body(response)
    said = reply.get("aciklama") if isinstance(reply, dict) else None
    return response.status_code == 404 or (isinstance(said, str) and mentions(said, ("bulunamad",)))
