"""The typed records of the store: one shape for a run, one for a message, and the rows and
outcomes that go in. No SQL here: every backend reads into and writes from these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

STATES = (
    "pending",
    "sending",
    "accepted",
    "failed",
    "unknown",
    "delivered",
    "undelivered",
    "invalid",
    "skipped",
)
"""Message states (``shared/spec/cli.md``). ``invalid``: the input was rejected (bad number),
never sent. ``skipped``: a duplicate or excluded row, never sent."""

CREDITED = ("accepted", "delivered", "undelivered")
"""States whose parts the provider charged."""
NOT_SENT = ("invalid", "skipped")

OutcomeRow = tuple[int, str, str | None, str | None]
"""``(message id, state, provider's message id, error)``."""
StateItem = tuple[str, str, str]
"""``(account, key, value)``: provider state kept for an account (credits, sandbox state)."""


class Recorded(NamedTuple):
    """The outcome of one request, as the engine hands it to the store."""

    outcomes: Sequence[OutcomeRow]
    batch_id: str | None = None
    state: tuple[StateItem, ...] = ()


MessageRow = tuple[int, str, str, str | None, str, str, int, str, str | None, int, int]
"""A message as a plan writes it: the fields of :class:`NewMessage`, as a plain tuple (a plan
makes one per row of a campaign of millions)."""


Window = list[Any]
"""A pending message as the engine reads it: ``(id, to, text, turkish, text key)``, ``turkish``
0 or 1 by the default rule of :func:`smscli.senders.turkish_flag` (a list decoded from JSON,
as it comes: one window holds thousands)."""


class NewMessage(NamedTuple):
    """A message as a plan writes it (``seq`` is its place in the input)."""

    seq: int
    source: str
    raw: str
    recipient: str | None
    text: str
    encoding: str
    segments: int
    state: str = "pending"
    error: str | None = None
    text_key: int | None = None
    """:func:`smscli.store.keys.text_key` of ``text`` (what the repeat guard compares)."""
    checksum: int | None = None
    """:func:`smscli.store.keys.row_checksum` of the message (compared in the claim)."""


class RunRecord(NamedTuple):
    id: str
    created_at: str
    finished_at: str | None
    command: str
    provider: str
    profile: str | None
    account: str
    sender: str | None
    source: str | None
    fingerprint: str | None
    state: str
    """``preparing``, ``ready`` or ``complete``."""
    options: str | None
    """JSON: what the run was told that its messages do not show (``ignore_optout``)."""
    credits_remaining: float | None
    exit_code: int | None = None
    """The exit code the run earned (a replayed ``send`` exits with it)."""


class MessageRecord(NamedTuple):
    id: int
    run_id: str
    seq: int
    source: str | None
    raw: str | None
    recipient: str | None
    text: str | None
    encoding: str | None
    segments: int | None
    state: str
    provider_message_id: str | None
    batch_id: str | None
    error: str | None
    report_detail: str | None
    reported_at: str | None
    created_at: str
    updated_at: str


class Claim(NamedTuple):
    """What :meth:`Store.claim` did."""

    claimed: int
    """How many of the requests were claimed (the leading ones)."""
    permits: list[int | None]
    """The permit of every claimed request (None without rates)."""
    wait: float
    """Seconds until the next permit, when not every request was claimed; else 0.0."""
    skipped: dict[int, str]
    """Messages of the batches that the claim's guard skipped instead (id → why), of every
    batch it screened: a request leaves without them, and a batch left empty not at all."""


GuardRow = tuple[int, str, int, int | None]
"""A message as the claim's guard checks it: ``(id, recipient, text key, checksum)``, as the
engine is about to send it (the checksum None for a row planned before checksums)."""


class Guard(NamedTuple):
    """Who must not get a message, checked by :meth:`smscli.store.Store.claim` in the
    transaction that claims it: the last moment before it leaves."""

    run_id: str
    rows: Sequence[GuardRow]
    """Every message of the claim's batches, in their order (a row whose checksum differs is
    not sent)."""
    repeats_since: float | None
    """The same text key claimed for the number since then (Unix time) by another message is
    a repeat; None: repeats are allowed (the claim is still recorded)."""
    optouts: bool = True
    """The opt-out list is checked (not for ``send --ignore-optout``)."""
    record: bool = True
    """The claim counts for later repeats (not a provider's that sends nothing anywhere)."""


class ReportUpdate(NamedTuple):
    message: int
    state: str
    detail: str
    at: str


@dataclass
class Totals:
    """A run's messages counted by state (skipped ones split by why)."""

    rows: int = 0
    pending: int = 0
    sending: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    invalid: int = 0
    duplicate: int = 0
    excluded: int = 0
    opted_out: int = 0
    repeat: int = 0
    delivered: int = 0
    undelivered: int = 0
    parts_pending: int = 0
    parts_total: int = 0

    @property
    def messages(self) -> int:
        """Messages to send or sent: every row that is not invalid or skipped."""
        return self.rows - self.invalid - self.skipped

    @property
    def skipped(self) -> int:
        return self.duplicate + self.excluded + self.opted_out + self.repeat

    @property
    def sent_ok(self) -> int:
        return self.accepted + self.delivered + self.undelivered


SKIPPED_BECAUSE = {
    "duplicate": "duplicate",
    "excluded ": "excluded",
    "opted out": "opted_out",
    "same text": "repeat",
}
"""The first 9 characters of a skipped message's error → the :class:`Totals` field counting
it (the errors are written by the plan: "duplicate of …", "excluded (…)", "opted out on …",
"same text sent in run …")."""


class OptOut(NamedTuple):
    number: str
    """E.164."""
    added_at: str
    reason: str | None
    source: str | None
    """Where it came from: ``optout add``, the file imported (and its line)."""


class StateCount(NamedTuple):
    messages: int
    segments: int
