"""The built-in sandbox: a provider with no network, for trying smscli and rehearsing scripts.

It accepts every valid number, gives each message an id, and keeps simulated credits as
account state in the store (1,000 to start with; one credit per SMS part): it reads them
through ``state`` and hands the new value back with each result, which the engine stores with
the outcomes, like every other driver's. Magic numbers let scripts rehearse
failures deterministically (a documented feature; keep them stable):

- a number ending in ``0000`` is rejected by the "provider" when sending, and a report calls it
  ``undelivered``;
- a number ending in ``0001`` is accepted but stays ``undelivered`` in reports;
- every other number is ``delivered`` in reports.

Reports are computed from the number alone, whatever the batch id, so they are the same on every
run. ``headers()`` lists two simulated sender headers, ``SMSCLI`` and ``SANDBOX``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from smscli.encoding import analyse
from smscli.errors import CreditError
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


class Sandbox:
    name: ClassVar[str] = "sandbox"
    default_base_url: ClassVar[str] = "sandbox:"
    capabilities: ClassVar[Capabilities] = Capabilities(
        max_batch=1000,
        per_recipient_text=True,
        turkish_mode=True,
        turkish_numbers_only=False,
        sender=False,
        balance=True,
        report=True,
        headers=True,
        network=False,
    )

    def __init__(self, account: Account, client: httpx.Client | None, state: State) -> None:
        self.account = account
        self.state = state
        self._left: float | None = None
        """Credits left after this driver's last send (the store has them once recorded)."""

    def check_recipient(self, e164: str) -> str | None:
        return None

    def _credits(self) -> float:
        if self._left is not None:
            return self._left
        raw = self.state.get("credits")
        return START_CREDITS if raw is None else float(raw)

    def send(self, batch: Batch) -> BatchResult:
        cost = 0
        outcomes = []
        for m in batch.messages:
            if m.to.endswith(REJECTED_SUFFIX):
                outcomes.append(
                    Outcome(m.key, "failed", None, "sandbox: rejected (numbers ending in 0000)")
                )
                continue
            cost += analyse(m.text, batch.turkish).parts
            outcomes.append(Outcome(m.key, "accepted", "sbx-" + os.urandom(6).hex()))
        credits = self._credits()
        if cost > credits:
            raise CreditError(
                f"sandbox: insufficient credit ({credits:g} left, {cost} needed); nothing sent"
            )
        self._left = credits - cost
        return BatchResult(
            tuple(outcomes), credits_remaining=self._left, state=(("credits", repr(self._left)),)
        )

    def balance(self) -> Balance:
        credits = self._credits()
        return Balance(credits, f"{credits:g}")

    def report(self, batch_id: str, numbers: Sequence[str]) -> list[Delivery]:
        deliveries = []
        for number in numbers:
            if number.endswith(UNDELIVERED_SUFFIX):
                deliveries.append(Delivery(number, "undelivered", "sandbox: magic number ...0001"))
            elif number.endswith(REJECTED_SUFFIX):
                deliveries.append(
                    Delivery(number, "undelivered", "sandbox: rejected (numbers ending in 0000)")
                )
            else:
                deliveries.append(Delivery(number, "delivered", "sandbox: delivered"))
        return deliveries

    def headers(self) -> list[Header]:
        return [Header(name, SOURCE) for name in HEADERS]
