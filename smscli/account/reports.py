"""Delivery reports: ask the provider about the messages of a selection that reached it, and
store what it says."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smscli.account import SIMULATED, Source, is_simulated, now
from smscli.account.selection import Selection
from smscli.errors import ProviderError, RateLimited, SmscliError, UnsupportedOperation
from smscli.store import ReportUpdate

if TYPE_CHECKING:
    from smscli.providers.base import Delivery, Provider
    from smscli.ratelimit import Gate
    from smscli.store import MessageRecord, Permits, Store

ASKABLE = ("accepted", "delivered", "undelivered", "unknown")
"""Ledger states of messages that may have reached the provider, so a report can tell.
``unknown`` is included: masgsm's code 3 leaves messages in doubt that only a report resolves."""
REPORT_CHUNK = 100
"""Most numbers asked about in one driver call: the granularity of progress and of storing."""
NO_ID = "no id to ask the provider about (the provider answered the send without one)"


@dataclass
class ReportLine:
    message: int
    """The message's row id in the ledger."""
    run_id: str
    seq: int
    to: str | None
    raw: str | None
    message_id: str | None
    state: str
    """The ledger state, after this report."""
    reported: str | None = None
    """What the provider said now: delivered, undelivered, pending, unknown; None if not asked."""
    detail: str | None = None
    """The provider's own word (this report's), else the last stored report detail."""
    reported_at: str | None = None
    note: str | None = None
    """Why the message was not asked about, or an error from sending."""


@dataclass
class DeliveryReport:
    provider: str
    source: Source
    label: str
    runs: list[str]
    lines: list[ReportLine]
    not_found: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: SmscliError | None = None
    """The error that stopped the report; what was reported before it is stored."""

    def counts(self) -> dict[str, int]:
        """Messages per ledger state, after this report."""
        return _count(line.state for line in self.lines)

    def reported(self) -> dict[str, int]:
        """Messages per status the provider reported now (those asked about)."""
        return _count(line.reported for line in self.lines if line.reported)


def _count(keys: Iterable[str]) -> dict[str, int]:
    return dict(Counter(keys))


def pacer(permits: Permits, gate: Gate) -> Callable[[], None]:
    """Called before every HTTP request of a report: takes a permit, waiting through the
    gate (a report is not time-critical)."""
    return lambda: gate.take_one(permits)


def targets(selection: Selection) -> int:
    """How many messages of ``selection`` a report asks the provider about."""
    return sum(1 for r in selection.messages if _askable(r) and _ask_id(r))


def report(
    driver: Provider,
    store: Store,
    selection: Selection,
    *,
    limits: tuple[Gate, Permits] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DeliveryReport:
    """Ask the provider about every message of ``selection`` that reached it and store the
    answers in the store. A provider without a report call gets what the ledger knows."""
    name = driver.name
    lines = {m.id: _line(m) for m in selection.messages}
    result = DeliveryReport(
        name,
        "simulated" if is_simulated(driver) else "provider",
        SIMULATED if is_simulated(driver) else f"{name} delivery report",
        selection.runs,
        list(lines.values()),
        selection.not_found,
        list(selection.warnings),
    )
    if not driver.capabilities.report:
        result.source, result.label = (
            "ledger",
            f"from the ledger: {name} offers no delivery reports",
        )
        return result
    chunks = _chunks(selection, lines)
    try:
        while chunks:
            key, chunk = chunks.popleft()
            try:
                deliveries = _ask(driver, key, [m.recipient or "" for m in chunk])
            except RateLimited as exc:
                if limits is None:
                    raise
                # Wait it out, then ask again in halves: the provider may allow fewer requests
                # per window than a whole chunk takes (vairosms asks once per number).
                limits[0].rate_limited(limits[1], exc.retry_after)
                half = (len(chunk) + 1) // 2
                parts = [chunk[:half], chunk[half:]] if len(chunk) > 1 else [chunk]
                chunks.extendleft((key, part) for part in reversed(parts))
                continue
            for row, delivery, state in apply_report(store, chunk, deliveries):
                line = lines[row.id]
                line.state, line.reported = state, delivery.status
                line.detail, line.reported_at = delivery.detail, now()
            if on_progress:
                on_progress(len(chunk))
    except UnsupportedOperation:
        raise
    except SmscliError as exc:
        result.error = exc
    return result


def _chunks(
    selection: Selection, lines: dict[int, ReportLine]
) -> deque[tuple[str, list[MessageRecord]]]:
    """The messages to ask about, by the id the provider's report takes, in chunks; a message
    without one gets a note on its line instead."""
    groups: dict[str, list[MessageRecord]] = {}
    for m in selection.messages:
        if not _askable(m):
            continue
        key = _ask_id(m)
        if key is None:
            if m.state != "unknown":  # an unknown one keeps its own story (its error)
                lines[m.id].note = NO_ID
            continue
        groups.setdefault(key, []).append(m)
    return deque(
        (key, rows[start : start + REPORT_CHUNK])
        for key, rows in groups.items()
        for start in range(0, len(rows), REPORT_CHUNK)
    )


def _askable(m: MessageRecord) -> bool:
    return m.state in ASKABLE and bool(m.recipient)


def _ask_id(m: MessageRecord) -> str | None:
    """The id the provider's report call takes: the request's id (vairosms, masgsm), else the
    message's own (the sandbox)."""
    return m.batch_id or m.provider_message_id


def _line(m: MessageRecord) -> ReportLine:
    note = m.error if m.state in ("failed", "invalid", "skipped", "unknown") else None
    return ReportLine(
        m.id, m.run_id, m.seq, m.recipient, m.raw, m.provider_message_id, m.state, None,
        m.report_detail, m.reported_at, note,
    )  # fmt: skip


def _ask(driver: Provider, key: str, numbers: list[str]) -> list[Delivery]:
    deliveries = driver.report(key, numbers)
    if len(deliveries) != len(numbers):
        by_number = {d.to: d for d in deliveries}
        missing = [n for n in numbers if n not in by_number]
        if missing:
            raise ProviderError(
                f"{driver.name}: the report of id {key!r} says nothing about {missing[0]}"
            )
        deliveries = [by_number[n] for n in numbers]
    return deliveries


def apply_report(
    store: Store, rows: Sequence[MessageRecord], deliveries: Sequence[Delivery]
) -> list[tuple[MessageRecord, Delivery, str]]:
    """Store deliveries (matched to ``rows`` by position) in one transaction; return each
    message's new state.

    ``delivered``/``undelivered`` become the state. ``pending`` keeps ``accepted`` (and settles
    an ``unknown`` message as ``accepted``: the provider has it). ``unknown`` changes no state.
    ``report_detail`` is ``"<status>: <provider's word>"``, ``reported_at`` the time asked.
    """
    stamp = now()
    out = []
    for row, delivery in zip(rows, deliveries, strict=True):
        state = row.state
        if delivery.status in ("delivered", "undelivered"):
            state = delivery.status
        elif delivery.status == "pending" and state == "unknown":
            state = "accepted"
        out.append((row, delivery, state))
    store.apply_report(
        [
            ReportUpdate(row.id, state, f"{d.status}: {d.detail}" if d.detail else d.status, stamp)
            for row, d, state in out
        ]
    )
    return out
