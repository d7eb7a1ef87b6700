"""The store: where runs, messages, rate-limit permits and account state live. Every SQL
statement of smscli is behind this interface; the engine, the use cases and the CLI only call
it. SQLite (:mod:`smscli.store.sqlite`) is the default backend; PostgreSQL (:mod:`smscli.store.pg`,
a ``postgresql://`` location) is the ledger a team shares across hosts.

What a backend must guarantee, whatever its storage:

- **Durable before it leaves.** :meth:`Store.claim` commits its messages as ``sending`` before
  it returns, durably (a crash or power cut after it returns cannot lose the claim), so a
  request never leaves for a message the ledger does not know is in flight.
- **Atomic claim.** A claim moves only messages that are still ``pending``, in one
  transaction with the rate-limit permits it takes: a permit never exists without its claim,
  nor a claim without its permit, and a claim that finds any of its messages taken by another
  process claims nothing and raises :class:`smscli.errors.Unfinished` (no message is ever
  claimed twice).
- **Never twice, decided in the claim.** With a :class:`Guard`, the claim's transaction skips
  (``skipped``, with why) every message whose number is on the opt-out list now, or whose text
  (by :func:`smscli.store.keys.text_key`) was claimed for that number by another message of
  any run and account within the repeat window (the ``repeat_guard`` table: one row per number
  and text, its primary key making two claims of one slot wait for each other; a refused or
  put-back message frees its slot). So a resumed run, two runs at once on any hosts, and an
  opt-out added mid-run are all judged at the last moment before a message leaves. A row
  whose checksum no longer matches what the engine would send is never claimed.
- **Outcomes before the next claim.** The outcomes handed to :meth:`Store.claim` and
  :meth:`Store.record` are written in that transaction; those written with ``durable=False``
  become durable with the next durable commit at the latest.
- **One holder per run.** :meth:`Store.hold` admits one process at a time per campaign,
  whichever path, symlink or host leads to the ledger, and a holder that dies (``kill -9``
  included) releases it; a live holder is never taken over.
- **Shared permits.** :meth:`Store.permits` counts every request of an account made by any
  process using the same ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from smscli.store.records import (
    Claim,
    Guard,
    GuardRow,
    MessageRecord,
    MessageRow,
    NewMessage,
    OptOut,
    Recorded,
    ReportUpdate,
    RunRecord,
    StateCount,
    Totals,
    Window,
)

if TYPE_CHECKING:
    from smscli.ratelimit import Rate

__all__ = [
    "Claim",
    "Guard",
    "GuardRow",
    "MessageRecord",
    "MessageRow",
    "NewMessage",
    "OptOut",
    "Permits",
    "Recorded",
    "ReportUpdate",
    "RunRecord",
    "StateCount",
    "Store",
    "Totals",
    "open_store",
]


class Permits(Protocol):
    """Rate-limit permits of one account, shared by every process of the store."""

    def acquire(self, wanted: int) -> tuple[list[int | None], float]:
        """Up to ``wanted`` permits now, in a transaction of their own: the permits taken
        (events, or None each without rates) and, when fewer than ``wanted``, the wait until
        the next one could be taken."""
        ...

    def take_some(self, tx: Any, wanted: int) -> tuple[list[int | None], float]:
        """:meth:`acquire` inside the store's open write transaction ``tx`` (a claim's)."""
        ...

    def block_until(self, until: float) -> None:
        """No permit for anybody on this account before ``until`` (a 429's Retry-After)."""
        ...

    def flush(self) -> None:
        """Write where the permits of requests that have left now stand (before exiting)."""
        ...

    def departure(self, event: int) -> Any:
        """The HTTP edge's hooks (:data:`smscli.http.on_wire`) for the request of a permit."""
        ...


class Store(Protocol):
    """See the module docstring for what every implementation guarantees."""

    location: str
    """Where the ledger is, for messages (a path; never a password)."""

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        """Closes the store; an error of the disk under it (full, read-only, locked, damaged)
        is raised as the user's error naming the ledger (:mod:`smscli.store.problems`)."""

    def verify(self) -> Callable[[], None]:
        """Starts checking that the ledger's file is sound, as it is before this process
        writes; the returned call waits for the verdict and raises unless it is sound.
        Nothing is sent from a ledger before its verdict."""

    # --- runs ---------------------------------------------------------------------------

    def hold(self, key: str | None) -> AbstractContextManager[None]:
        """Be the one process working on the campaign ``key`` (a bulk run's fingerprint);
        raises :class:`smscli.errors.Unfinished` naming the holder when another has it. With
        ``None`` (a new ``send`` run, which no other command can find) only the leases taken
        meanwhile are released at the end."""
        ...

    def keep_holding(self, run_id: str) -> None:
        """Renew this process's lease on a run it holds (every minute or so while sending)."""
        ...

    def create_run(
        self,
        *,
        command: str,
        provider: str,
        profile: str | None,
        account: str,
        sender: str | None,
        source: str | None,
        fingerprint: str | None,
        options: str | None,
        offline: bool = False,
    ) -> str:
        """A new run in state ``preparing``, with no messages; returns its id. An ``offline``
        run's provider sends nothing anywhere (the sandbox): no repeat guard counts it."""
        ...

    def insert_chunk_size(self) -> int:
        """How many messages :meth:`add_messages` takes at once."""
        ...

    def add_messages(self, run_id: str, chunks: Iterable[Sequence[MessageRow]]) -> None:
        """Messages of a run being prepared, a chunk (at most :meth:`insert_chunk_size`) at a
        time as ``chunks`` yields them (not durable on their own: the run stays ``preparing``
        until :meth:`mark_ready`)."""
        ...

    def mark_ready(self, run_id: str) -> None:
        """Skip later occurrences of a number as duplicates of the first and make the run
        ``ready``, durably."""
        ...

    def delete_run(self, run_id: str) -> None: ...

    def find_run(self, fingerprint: str) -> RunRecord | None:
        """The newest run with this fingerprint."""
        ...

    def run(self, run_id: str) -> RunRecord | None: ...

    def runs_like(self, prefix: str, limit: int) -> list[str]:
        """Ids of runs starting with ``prefix``, newest first."""
        ...

    def runs(
        self, *, limit: int | None, provider: str | None, profile: str | None
    ) -> list[RunRecord]:
        """The newest runs first."""
        ...

    def last_run(self, account: str) -> str | None: ...

    def finish(
        self, run_id: str, credits_remaining: float | None, exit_code: int | None = None
    ) -> bool:
        """Mark the run complete if nothing is left ``pending`` or ``sending`` (and record the
        last credits reported and the exit code earned); returns whether it is complete."""
        ...

    def requeue(self, run_id: str, states: Sequence[str]) -> int:
        """Messages in ``states`` back to ``pending`` (``--retry-*``); returns how many."""
        ...

    def settle(self, run_id: str, states: Sequence[str], to: str, error: str) -> int:
        """Every message of the run in ``states`` to state ``to`` with ``error``: the one
        place in-doubt (``sending`` → ``unknown``) and abandoned messages are settled."""
        ...

    # --- messages -----------------------------------------------------------------------

    def totals(self, run_id: str) -> Totals: ...

    def state_counts(self, run_id: str) -> dict[str, StateCount]: ...

    def pending_parts(self, run_id: str, limit: int | None) -> int:
        """SMS parts of the next ``limit`` pending messages (all without a limit)."""
        ...

    def pending_window(self, run_id: str, limit: int, after: int = 0) -> list[Window]:
        """The next ``limit`` pending messages in input order: ``(id, to, text, turkish, key)``,
        of those whose id is above ``after`` (ids are in input order within a run)."""
        ...

    def messages(
        self, run_id: str, states: Sequence[str] = (), limit: int | None = None
    ) -> Iterator[MessageRecord]:
        """A run's messages (in ``states``, if given) in input order, streamed."""
        ...

    def messages_by_provider_id(self, ids: Sequence[str]) -> list[MessageRecord]: ...

    # --- sending ------------------------------------------------------------------------

    def permits(
        self, account: str, rates: Sequence[Rate], *, covered_delay: float = 0.0
    ) -> Permits: ...

    def claim(
        self,
        batches: Sequence[Sequence[int]],
        *,
        recorded: Sequence[Recorded] = (),
        permits: Permits | None = None,
        guard: Guard | None = None,
    ) -> Claim:
        """Claim the messages of requests about to leave (one request per batch), with a
        permit each from ``permits``, and write ``recorded`` outcomes, in one durable
        transaction; raises :class:`smscli.errors.Unfinished` with nothing claimed when another
        process took any of the messages. With a ``guard``, who must not get a message is
        decided here (see the module docstring): those skipped are in :attr:`Claim.skipped`,
        and a row that no longer matches its checksum raises
        :class:`smscli.store.problems.LedgerDamaged` with nothing claimed."""
        ...

    def record(self, recorded: Sequence[Recorded], *, durable: bool = True) -> None: ...

    def put_back(self, ids: Iterable[int]) -> None:
        """Claimed messages back to ``pending``: their request was not processed."""
        ...

    def sending(self, *, overlap: bool = False) -> AbstractContextManager[None]:
        """Around a run's sending: the backend may defer housekeeping (SQLite checkpoints its
        write-ahead log in a thread of its own meanwhile). ``overlap``: the claims need not
        wait for the outcomes recorded just before them (PostgreSQL then writes these on a
        connection of their own: :mod:`smscli.store.pg_writer`); every other call waits."""
        ...

    # --- who never gets a message ---------------------------------------------------------

    def optouts(self) -> dict[str, str]:
        """Every opted-out number (E.164) → the day it was added (``YYYY-MM-DD``)."""
        ...

    def list_optouts(self) -> list[OptOut]:
        """The opt-out list, oldest first."""
        ...

    def add_optouts(self, entries: Iterable[tuple[str, str | None, str | None]]) -> list[str]:
        """``(number, reason, source)`` onto the list, in one transaction; returns the numbers
        that were not on it already."""
        ...

    def remove_optouts(self, numbers: Iterable[str]) -> list[str]:
        """Returns the numbers that were on the list."""
        ...

    def skip_optouts(self, run_id: str) -> int:
        """The run's ``pending`` messages to numbers on the opt-out list become ``skipped``
        ("opted out on DATE"), as the plan would have made them; returns how many."""
        ...

    def sent_since(self, since: float) -> bool:
        """Whether any message may have been claimed at or after ``since`` (when not, the
        repeat guard has nothing to look up)."""
        ...

    def skip_repeats(self, run_id: str, since: float) -> int:
        """The plan's forecast of the claim's repeat guard: the run's ``pending`` messages
        whose recipient may have got the same text (key) since ``since`` (Unix time), from
        any other run of any account, become ``skipped`` ("same text sent in run RUN at
        TIME"): a message claimed then, not refused nor put back since, not of an ``offline``
        run (its provider sends nothing anywhere). Returns how many."""
        ...

    def repeats(self, messages: Sequence[tuple[str, int]], since: float) -> list[str | None]:
        """For each ``(recipient, text key)``, why it would repeat a message sent since ``since``
        (as :meth:`skip_repeats` says it), or None: a dry run's lookup in its ledger when the
        dry run's own store is of another backend."""
        ...

    def find_key(self, account: str, key: str) -> tuple[str, str] | None:
        """``(request digest, run id)`` of an idempotency key of the account."""
        ...

    def keep_key(self, account: str, key: str, request: str, run_id: str) -> None:
        """Remember an idempotency key for the run (deleted with the run)."""
        ...

    def forget_key(self, account: str, key: str) -> None:
        """An idempotency key whose run sent nothing is free again."""
        ...

    # --- reports and account state ------------------------------------------------------

    def apply_report(self, updates: Sequence[ReportUpdate]) -> None: ...

    def get_state(self, account: str, key: str) -> tuple[str, str] | None:
        """``(value, updated_at)`` of an account's provider state."""
        ...

    def set_state(self, account: str, key: str, value: str) -> None: ...


class AccountState:
    """One account's provider state in a store (the sandbox's simulated credits)."""

    def __init__(self, store: Store, account: str) -> None:
        self._store, self._account = store, account

    def get(self, key: str) -> str | None:
        found = self._store.get_state(self._account, key)
        return found[0] if found else None

    def set(self, key: str, value: str) -> None:
        self._store.set_state(self._account, key, value)


def is_postgres(location: str | Path) -> bool:
    """Whether ``location`` names a PostgreSQL ledger (``postgresql://`` or ``postgres://``)."""
    return isinstance(location, str) and location.lower().startswith(
        ("postgresql://", "postgres://")
    )


def shown(location: str | Path) -> str:
    """``location`` as messages show it: a PostgreSQL URL without its password."""
    if is_postgres(location):
        from smscli.store.pg_db import masked

        return masked(str(location))
    return str(location)


def open_existing(location: str | Path) -> Store | None:
    """The store at ``location`` if there is one (a dry run reads it, never creates it; a
    PostgreSQL ledger always exists once its server does)."""
    if not is_postgres(location) and not Path(location).expanduser().exists():
        return None
    return open_store(location)


def open_store(location: str | Path) -> Store:
    """The store at ``location``: a PostgreSQL URL, else an SQLite file; created and migrated
    as needed."""
    if is_postgres(location):
        from smscli.store.pg import PgStore

        return PgStore.open(str(location))
    from smscli.store.sqlite import SqliteStore

    return SqliteStore.open(Path(location))
