"""The built-in sandbox: a provider with no network, for trying smscli and rehearsing scripts.

It behaves like the real providers in what a script meets, so that a script rehearsed on it
meets every state it will meet for real (a documented feature; keep it stable):

- Sender header (başlık), checked as vairosms and masgsm check theirs: the sandbox knows
  ``SMSCLI`` and ``SANDBOX`` (``headers()``, simulated) and sends with ``SMSCLI`` when none is
  configured (``Capabilities.default_sender``). Any other header refuses the whole request as
  vairosms's ``INVALID_SOURCE_ADDRESS`` and masgsm's code 402 do: a :class:`SenderError`
  (exit 4), nothing sent, the run's messages kept to send with a header it knows.
- One id per request, as vairosms and masgsm give: every accepted message of a batch has the
  batch's id (``sbx-`` and 12 hex digits), which is also the batch id the report takes.
- Reports in two steps, as a real send is first on its way and later final: the first report
  of a request calls every number ``pending`` (the ledger keeps ``accepted``); every later one
  gives the final state. Which report is the first is account state in the store (the key
  ``reported:<id>``, set through ``State.set`` by the first report), so it holds across
  processes with no clock; one driver (one command) answers every chunk of a request alike.
- Simulated credits: 1,000 to start with, one per SMS part of an accepted message; read
  through ``state`` and handed back with each result, which the engine stores with the
  outcomes, like every other driver's.

Magic numbers let scripts rehearse failures deterministically:

- a number ending in ``0000`` is rejected by the "provider" when sending (``failed``, no id), and
  a report calls it ``undelivered``;
- a number ending in ``0001`` is accepted but ends ``undelivered`` in reports;
- every other number ends ``delivered`` in reports.

The final state is computed from the number alone, so it is the same on every run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from smscli.encoding import analyse
from smscli.errors import CreditError, SenderError
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
)

if TYPE_CHECKING:
    import httpx

START_CREDITS = 1000.0
REJECTED_SUFFIX = "0000"
UNDELIVERED_SUFFIX = "0001"
SOURCE = "sandbox (simulated)"
HEADERS = ("SMSCLI", "SANDBOX")
REPORTED = "reported:"
"""Prefix of the account state key that says a request's first report was given."""
PENDING = "sandbox: sending (a later report gives the final state)"


class Sandbox:
    name: ClassVar[str] = "sandbox"
    default_base_url: ClassVar[str] = "sandbox:"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=1000,
        per_recipient_text=True,
        turkish_mode=True,
        turkish_numbers_only=False,
        sender=True,
        balance=True,
        report=True,
        headers=True,
        network=False,
        default_sender=HEADERS[0],
    )

    def __init__(self, account: Account, client: httpx.Client | None, state: State) -> None:
        self.account = account
        self.state = state
        self._left: float | None = None
        """Credits left after this driver's last send (the store has them once recorded)."""
        self._first: dict[str, bool] = {}
        """Per request id asked about: whether this driver gives its first report."""

    def check_recipient(self, e164: str) -> str | None:
        return None

    def _credits(self) -> float:
        if self._left is not None:
            return self._left
        raw = self.state.get("credits")
        return START_CREDITS if raw is None else float(raw)

    def send(self, batch: Batch) -> BatchResult:
        check_header(batch.sender or HEADERS[0])
        send_id = "sbx-" + os.urandom(6).hex()
        cost = 0
        outcomes = []
        for m in batch.messages:
            if m.to.endswith(REJECTED_SUFFIX):
                outcomes.append(
                    Outcome(m.key, "failed", None, "sandbox: rejected (numbers ending in 0000)")
                )
                continue
            cost += analyse(m.text, batch.turkish).parts
            outcomes.append(Outcome(m.key, "accepted", send_id))
        credits = self._credits()
        if cost > credits:
            raise CreditError(
                f"sandbox: insufficient credit ({credits:g} left, {cost} needed); nothing sent"
            )
        self._left = credits - cost
        return BatchResult(
            tuple(outcomes),
            credits_remaining=self._left,
            batch_id=send_id if cost else None,
            state=(("credits", repr(self._left)),),
        )

    def balance(self) -> Balance:
        credits = self._credits()
        return Balance(credits, f"{credits:g}")

    def report(self, batch_id: str, numbers: Sequence[str]) -> list[Delivery]:
        if not numbers:
            return []
        if self._first_report(batch_id):
            return [Delivery(number, "pending", PENDING) for number in numbers]
        return [final(number) for number in numbers]

    def headers(self) -> list[Header]:
        return [Header(name, SOURCE) for name in HEADERS]

    def _first_report(self, batch_id: str) -> bool:
        """Whether this is the first report of request ``batch_id``: decided once per driver,
        so that the chunks of one command's report agree, and recorded for later ones."""
        first = self._first.get(batch_id)
        if first is None:
            key = REPORTED + batch_id
            first = self._first[batch_id] = self.state.get(key) is None
            if first:
                self.state.set(key, "1")
        return first


def check_header(sender: str) -> None:
    """Refuse a header the sandbox does not know, as a real provider refuses one that is not
    approved for the account."""
    if sender not in HEADERS:
        known = " and ".join(HEADERS)
        raise SenderError(
            f"sandbox rejected the sender header (başlık) {sender!r}: it knows only {known} "
            "(simulated, as a real provider refuses a header not approved for the account); "
            "nothing sent",
            hint=f"send with --sender {HEADERS[0]} or --sender {HEADERS[1]}, or set no sender "
            f"(the sandbox then uses {HEADERS[0]}); `smscli headers --provider sandbox` lists them",
        )


def final(number: str) -> Delivery:
    """The state a report gives ``number`` once the request is no longer pending."""
    if number.endswith(UNDELIVERED_SUFFIX):
        return Delivery(number, "undelivered", "sandbox: magic number ...0001")
    if number.endswith(REJECTED_SUFFIX):
        return Delivery(number, "undelivered", "sandbox: rejected (numbers ending in 0000)")
    return Delivery(number, "delivered", "sandbox: delivered")
