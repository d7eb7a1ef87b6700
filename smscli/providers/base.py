"""The one small interface every provider driver implements.

A driver translates between our message model and its provider's wire format. It gets an
injected ``httpx.Client`` and never sleeps, retries, logs secrets or touches the ledger; the
sending engine does those. Whole-request failures are raised from :mod:`smscli.errors`;
per-recipient outcomes are returned as :class:`Outcome` data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Literal, NamedTuple, Protocol

from smscli.errors import OutcomeUnknown

if TYPE_CHECKING:
    import httpx

    from smscli.errors import ProviderError

OutcomeStatus = Literal["accepted", "failed", "unknown"]


class Capabilities(NamedTuple):
    """What a provider can do, declared once per driver."""

    max_batch: int
    """Most recipients we put in one request."""
    per_recipient_text: bool
    """One request may carry a different text for each recipient."""
    turkish_mode: bool
    """The provider has a Turkish-character switch (``tr_char``, ``lang=tr``)."""
    turkish_numbers_only: bool
    """Only Turkish mobile numbers can be sent to."""
    sender: bool
    """The request carries a sender header (başlık)."""
    balance: bool
    report: bool
    headers: bool
    rate_limits: tuple[str, ...] = ()
    """Documented defaults, e.g. ``("100/minute", "5000/hour")``."""
    credentials: tuple[str, ...] = ()
    """Settings of :class:`Account` the driver cannot work without (``api_key``, ...)."""
    network: bool = True
    """The driver talks HTTP: it gets a client, and its requests run in worker threads.
    Without it (the sandbox) it gets no client and runs in the engine's thread."""
    default_sender: str | None = None
    """The header a ``sender`` provider sends with when none is configured (the sandbox's
    ``SMSCLI``); None: one must be set."""


class Account(NamedTuple):
    """Connection settings of one provider account. Secrets never appear in ``repr``."""

    provider: str
    base_url: str
    api_key: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:
        shown = ("provider", "base_url", "username", "timeout")
        return "Account(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in shown) + ")"

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.password) if s)


class Message(NamedTuple):
    """One message of a batch (a named tuple: bulk runs make one per recipient)."""

    key: str
    """Our own id for the message (unique within a batch); outcomes refer to it."""
    to: str
    """E.164, e.g. ``+905321112233``."""
    text: str


class Batch(NamedTuple):
    """Messages that go out in one request."""

    messages: tuple[Message, ...]
    sender: str | None = None
    turkish: bool = False


class Outcome(NamedTuple):
    """What became of one message of a batch."""

    key: str
    status: OutcomeStatus
    message_id: str | None = None
    error: str | None = None


class BatchResult(NamedTuple):
    outcomes: tuple[Outcome, ...]
    credits_remaining: float | None = None
    batch_id: str | None = None
    """The provider's id for the whole request, where it gives one (vairosms, masgsm)."""
    state: tuple[tuple[str, str], ...] = ()
    """``(key, value)`` pairs of account state for the store to keep with the outcomes (read
    back through :class:`State`): a driver never writes to the store itself."""

    def ledger_rows(self, ids: Mapping[str, int]) -> list[tuple[int, str, str | None, str | None]]:
        """``(ledger id, state, message id, error)`` for every message key in ``ids``; a
        message the reply does not mention is ``unknown`` (it may have been sent)."""
        by_key = {o.key: o for o in self.outcomes}
        return [
            (i, o.status, o.message_id, o.error)
            if (o := by_key.get(key))
            else (i, "unknown", None, "no outcome in the provider's reply")
            for key, i in ids.items()
        ]


class Balance(NamedTuple):
    credits: float | None
    raw: str | None = None
    """The value as the provider wrote it."""


DeliveryStatus = Literal["delivered", "undelivered", "pending", "unknown"]


class Delivery(NamedTuple):
    """The delivery state of one message, from a provider's report."""

    to: str
    """E.164."""
    status: DeliveryStatus
    detail: str | None = None
    """The provider's own word for it (``DELIVERED``, ``Hatali``, ...), for the user."""


class Header(NamedTuple):
    """A sender header (başlık) usable with the account."""

    name: str
    source: str
    """Where the list came from, e.g. ``masgsm legacy API (apiNo=3)``."""


class State(Protocol):
    """The account's state as the store keeps it (what earlier results' ``state`` set)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None:
        """Keep ``value`` now, outside any send (the sandbox's count of reports): a send hands
        its state back with its result instead, to be stored with its outcomes."""
        ...


class Provider(Protocol):
    """A provider driver. One module per provider, registered in :mod:`smscli.providers`.

    Every driver is built the same way, ``Driver(account, client, state)``: ``client`` is an
    ``httpx.Client`` when ``capabilities.network`` is true, else None."""

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, account: Account, client: httpx.Client | None, state: State) -> None: ...

    def check_recipient(self, e164: str) -> str | None:
        """Why this number cannot be sent to through this provider, or None if it can."""
        ...

    def send(self, batch: Batch) -> BatchResult: ...

    def balance(self) -> Balance: ...

    def report(self, batch_id: str, numbers: Sequence[str]) -> list[Delivery]:
        """Delivery states of ``numbers`` (E.164) sent in the request ``batch_id``."""
        ...

    def headers(self) -> list[Header]: ...


def need_client(name: str, client: httpx.Client | None) -> httpx.Client:
    """The client a network driver was given (``capabilities.network`` drivers always get one)."""
    if client is None:
        raise TypeError(f"the {name} driver talks HTTP: build it with an httpx.Client")
    return client


def turkish_mobile(e164: str) -> str | None:
    """The 10-digit national form ``5xxxxxxxxx`` of a Turkish mobile number, else None."""
    if e164.startswith("+905") and len(e164) == 13 and e164[1:].isdigit():
        return e164[3:]
    return None


def check_turkish_mobile(provider: str, e164: str) -> str | None:
    if turkish_mobile(e164) is None:
        return f"{provider} sends only to Turkish mobile numbers (+90 5xx xxx xx xx)"
    return None


def numbers_in(batch: Batch, shown: int = 10) -> str:
    """The batch's numbers for an error message: the first ``shown``, then how many more."""
    listed = ", ".join(m.to for m in batch.messages[:shown])
    more = len(batch.messages) - shown
    return listed + (f" and {more} more" if more > 0 else "")


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def finite_number(value: object) -> float | None:
    """A count a provider wrote (a JSON number, or a string of a decimal number such as
    ``"000123"``, ``" 12.5 "``) as a finite float; else None: ``"nan"``, ``"inf"``, ``1e999``
    and ``NaN`` (which Python's JSON reader accepts), a bool, any other text. JSON has no
    NaN or infinity: such a value must never reach ``--json`` or a comparison of credits."""
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def fold(text: str) -> str:
    """``text`` for comparing provider wordings in any case form, Turkish letters included.

    ``casefold()`` alone does not do: ``"İ".casefold()`` is ``i`` plus a combining dot (two code
    points), so ``"YETERSİZ BAKİYE"`` would not contain ``"bakiye"``, and the dotless ``ı`` is
    a letter of its own. Here the text is decomposed (NFKD), its combining marks dropped (``İ``
    → ``I``, ``ş`` → ``s``, ``ğ`` → ``g``, ``ç ö ü`` → ``c o u``), the dotless ``ı`` made ``i``
    and the rest case-folded: ``YETERSİZ BAKİYE``, ``Yetersiz Bakiye``, ``YETERSIZ BAKIYE``
    and ``yetersi̇z baki̇ye`` all fold to ``yetersiz bakiye``. Fold both sides of a comparison.
    """
    import unicodedata

    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return bare.replace("ı", "i").casefold()


def mentions(text: str, words: Sequence[str]) -> bool:
    """Whether ``text`` contains any of ``words``, compared with :func:`fold`."""
    folded = fold(text)
    return any(fold(word) in folded for word in words)


CREDIT_WORDS = ("kredi", "bakiye", "kontör", "credit", "balance")
"""Words of a credit refusal where a provider gives no code for it (vairosms, customersms):
"Yetersiz kredi", "Yetersiz Bakiye", "Insufficient credits", ... (compared with :func:`fold`;
"kontör" is the Turkish word for SMS credit that masgsm's page uses)."""


def undocumented_refusal(provider: str, what: str, quoted: str) -> OutcomeUnknown:
    """The error for a refusal-shaped reply to a send (``durum: false``, ``success: false``) in
    words or a code its provider does not document ("Sistem hatası", a code of its own): only a
    documented refusal says a request was not processed, so its messages are in doubt, never
    ``failed`` (which ``--retry-failed`` would send again)."""
    return OutcomeUnknown(
        f"{provider}: an answer not documented as a refusal ({what}): {quoted}; the request "
        "may have been processed, so its messages are in doubt and never sent again "
        f"automatically; check them in the {provider} panel"
    )


_NO_SUCH_SEND = "no_such_send"


def no_such_send(error: ProviderError) -> ProviderError:
    """Mark ``error``, raised by ``report``, as the provider's clear answer that it has no send
    with the id asked about: the call was read, and the credentials were not rejected (what
    ``profiles add --test`` asks a report call with a made-up id). A mark, not a subclass: to
    everyone else it stays a plain provider error."""
    vars(error)[_NO_SUCH_SEND] = True
    return error


def is_no_such_send(error: BaseException) -> bool:
    """Whether ``error`` is a report's clear "no such send" (see :func:`no_such_send`)."""
    return vars(error).get(_NO_SUCH_SEND) is True
