"""The history of runs in the store, with their counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from smscli.account.selection import find_run
from smscli.store.records import CREDITED, NOT_SENT

if TYPE_CHECKING:
    from smscli.store import MessageRecord, RunRecord, Store


class RunSummary(NamedTuple):
    run: RunRecord
    counts: dict[str, int]
    """Messages per ledger state."""
    parts: int
    """SMS parts of every message meant to be sent (not invalid or skipped ones)."""
    credits_used: int
    """Parts of the messages the provider took (accepted, delivered, undelivered); ``unknown``
    ones may have been charged too and are not counted."""

    @property
    def messages(self) -> int:
        return sum(self.counts.values())


def history(
    store: Store,
    *,
    limit: int | None = 20,
    provider: str | None = None,
    profile: str | None = None,
) -> list[RunSummary]:
    """The most recent runs first, optionally only one provider's or profile's."""
    return [_summary(store, r) for r in store.runs(limit=limit, provider=provider, profile=profile)]


def run_messages(store: Store, run_id: str) -> tuple[RunSummary, list[MessageRecord]]:
    """One run (an id or an unambiguous prefix) and its messages in order."""
    run = store.run(find_run(store, run_id))
    assert run is not None
    return _summary(store, run), list(store.messages(run.id))


def _summary(store: Store, run: RunRecord) -> RunSummary:
    counts: dict[str, int] = {}
    parts = credits = 0
    for state, (count, segments) in store.state_counts(run.id).items():
        counts[state] = count
        if state not in NOT_SENT:
            parts += segments
        if state in CREDITED:
            credits += segments
    return RunSummary(run, counts, parts, credits)
