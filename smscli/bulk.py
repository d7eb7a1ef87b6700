"""Bulk campaigns: a CSV and a template, each person sent exactly their own message, once.

A run is identified by its fingerprint: the provider account, the input's content, the
template, the sender and every option that changes what is sent. Running the same command
again finds the run and resumes it.

1. Preparation streams the CSV once: every row is validated and rendered and written to the
   ledger (``pending``, or ``invalid``); duplicates and excluded numbers become ``skipped`` in
   SQL. Any template error (unknown placeholder, empty value) deletes the half-prepared run and
   stops before anything is sent. A helper thread reads and renders the next chunk of rows
   while SQLite (without the GIL) writes the last one; no more of the file than that is held
   in memory.
2. Sending claims the next request for every free slot (up to ``--concurrency`` in flight):
   their messages are committed (durably, one commit for all of them) as ``sending`` before
   the requests leave, and the outcomes that arrived meanwhile are written in the same
   transaction (all ledger writes from the main thread; worker threads only do HTTP).
   Messages found ``sending`` when a run is resumed were on the wire when a process died:
   they become ``unknown`` and are only re-sent with ``--retry-unknown``.
3. One process per run: an OS file lock (released by the OS on ``kill -9``) plus a lease in the
   ledger (for ledgers shared between machines). A second process exits 8.
4. Every request takes a permit from the cross-process rate limiter in its claim's transaction
   (no claim without a permit, no permit without a claim); a 429 puts its batch back to
   ``pending`` (it was not processed) and blocks the account until ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import socket
import sqlite3
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from contextlib import closing, suppress
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from smscli.encoding import encoding_and_parts, transliterate
from smscli.errors import (
    AuthError,
    ConfigError,
    CreditError,
    ExitCode,
    InputError,
    NotSent,
    OutcomeUnknown,
    RateLimited,
    SmscliError,
    Unfinished,
)
from smscli.http import on_wire
from smscli.ledger import Ledger, Recorded, credits_state, now, without_fsync
from smscli.providers.base import Batch, BatchResult, Capabilities, Message, turkish_mobile
from smscli.recipients import normalise

if TYPE_CHECKING:
    from smscli.csvfile import Table
    from smscli.providers.base import Provider
    from smscli.ratelimit import RateLimiter

T = TypeVar("T")

CHUNK = 5000
LEASE_SECONDS = 120.0
STALE_AFTER = 24 * 3600
MAX_UNKNOWN_IN_A_ROW = 3
SHOWN_PROBLEMS = 10


class Spec(NamedTuple):
    """What identifies a run, besides the account: everything that changes what is sent."""

    input_sha256: str
    encoding: str
    delimiter: str | None
    phone_column: str | None
    template: str | None
    message_column: str | None
    sender: str | None
    turkish: bool | None
    ascii_only: bool
    exclude_sha256: str | None
    region: str

    def fingerprint(self, account: str) -> str:
        blob = json.dumps([account, self._asdict()], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class Totals:
    rows: int = 0
    pending: int = 0
    sending: int = 0
    accepted: int = 0
    failed: int = 0
    unknown: int = 0
    invalid: int = 0
    duplicate: int = 0
    excluded: int = 0
    delivered: int = 0
    undelivered: int = 0
    parts_pending: int = 0
    parts_total: int = 0

    @property
    def messages(self) -> int:
        """Messages to send or sent: every row that is not invalid or skipped."""
        return self.rows - self.invalid - self.duplicate - self.excluded

    @property
    def sent_ok(self) -> int:
        return self.accepted + self.delivered + self.undelivered


def totals(ledger: Ledger, run_id: str) -> Totals:
    t = Totals()
    for state, error, count, parts in ledger.conn.execute(
        "SELECT state, CASE WHEN state = 'skipped' THEN substr(error, 1, 9) END,"
        " COUNT(*), COALESCE(SUM(segments), 0) FROM messages WHERE run_id = ? GROUP BY 1, 2",
        (run_id,),
    ):
        t.rows += count
        if state == "skipped":
            if error == "duplicate":
                t.duplicate += count
            else:
                t.excluded += count
            continue
        setattr(t, state, getattr(t, state) + count)
        if state != "invalid":
            t.parts_total += parts
        if state == "pending":
            t.parts_pending += parts
    return t


# --- preparation --------------------------------------------------------------------------


class Source(NamedTuple):
    """How to read messages out of a CSV table."""

    phone: int
    render: Callable[[Sequence[str]], tuple[str | None, str | None]]
    """A row → ``(text, None)`` or ``(None, name of an empty column)``."""


def prepare(
    ledger: Ledger,
    table: Table,
    source: Source,
    *,
    spec: Spec,
    fingerprint: str,
    account: str,
    provider: str,
    profile: str | None,
    capabilities: Capabilities,
    exclude: frozenset[str],
    options: dict[str, Any],
) -> str:
    """Validate and render every row into a new run; raise before anything could be sent."""
    run_id = ledger.create_run(
        command="bulk",
        provider=provider,
        profile=profile,
        account=account,
        sender=spec.sender,
        source=table.name,
        messages=(),
        fingerprint=fingerprint,
    )
    with ledger.transaction() as db:
        db.execute(
            "UPDATE runs SET state = 'preparing', options = ? WHERE id = ?",
            (json.dumps(options, ensure_ascii=False), run_id),
        )
    problems: list[str] = []
    problem_count = 0
    stamp = now()
    turkish = spec.turkish if capabilities.turkish_mode else False
    turkish_only = capabilities.turkish_numbers_only
    region, ascii_only, name, phone, render = (
        spec.region, spec.ascii_only, table.name, source.phone, source.render
    )  # fmt: skip
    nfc = unicodedata.normalize

    def rows() -> Iterator[tuple[Any, ...]]:
        # Once per row of a campaign of up to millions: locals only, no call that can be saved.
        nonlocal problem_count
        for line, row in table.rows:
            where = f"{name} line {line}"
            text, empty = render(row)
            if text is None:
                problem_count += 1
                if len(problems) < SHOWN_PROBLEMS:
                    problems.append(f"{where}: {{{empty}}} is empty")
                continue
            if not text.isascii():
                text = nfc("NFC", text)
                if ascii_only:
                    text = transliterate(text)
            encoding, parts = encoding_and_parts(text, turkish)
            raw = row[phone].strip()
            e164, error = normalise(raw, region)
            if error is None:
                if turkish_only and not turkish_mobile(e164):  # type: ignore[arg-type]
                    state, error = (
                        "invalid",
                        f"invalid number: {provider} sends only to Turkish mobile numbers",
                    )
                elif e164 in exclude:
                    state, error = "skipped", "excluded (listed in --exclude)"
                else:
                    state = "pending"
            else:
                state, error = "invalid", f"invalid number: {error}"
            yield (
                run_id,
                line,
                where,
                raw,
                e164,
                text,
                encoding,
                parts,
                state,
                error,
                stamp,
                stamp,
            )

    # One statement inserts a chunk (as many rows as SQLite takes parameters for) in a
    # transaction of its own: one call into SQLite, which writes the rows without the GIL
    # while the helper thread of `_drawn_ahead` renders the next chunk. Not durable on its
    # own: the run stays 'preparing' (redone from the start if it is found so) until the
    # durable commit that makes it 'ready'.
    size = max(
        1, min(CHUNK, ledger.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _PER_ROW)
    )
    statements: dict[int, str] = {}
    try:
        with closing(_drawn_ahead(rows(), size)) as chunks, without_fsync(ledger.conn) as db:
            for chunk in chunks:
                if problem_count:  # set by the helper thread; then nothing needs writing
                    continue
                n = len(chunk)
                if n not in statements:
                    statements[n] = _INSERT + ", ".join([_VALUES] * n)
                db.execute(statements[n], list(chain.from_iterable(chunk)))
        if problem_count:
            more = problem_count - len(problems)
            raise InputError(
                f"{problem_count} row{'s' * (problem_count > 1)} cannot be rendered; "
                "nothing sent:\n  "
                + "\n  ".join(problems)
                + (f"\n  … and {more} more" if more > 0 else ""),
                hint="fill the empty values or change the template",
            )
    except BaseException:
        delete_run(ledger, run_id)
        raise
    with ledger.transaction() as db:
        # Later occurrences of a number are skipped; the first one is sent.
        # Only numbers written more than once are looked at (found in the run's recipient
        # index alone, without reading a row).
        db.execute(
            "UPDATE messages SET state = 'skipped', error = 'duplicate of ' || d.first"
            " FROM (SELECT id, FIRST_VALUE(source) OVER w AS first, ROW_NUMBER() OVER w AS n"
            "  FROM messages WHERE run_id = ?1 AND state IN ('pending', 'skipped')"
            "  AND recipient IN (SELECT recipient FROM messages WHERE run_id = ?1"
            "   AND recipient IS NOT NULL GROUP BY recipient HAVING COUNT(*) > 1)"
            "  WINDOW w AS (PARTITION BY recipient ORDER BY seq)) AS d"
            " WHERE messages.id = d.id AND d.n > 1",
            (run_id,),
        )
        db.execute("UPDATE runs SET state = 'ready' WHERE id = ?", (run_id,))
    return run_id


_COLUMNS = (
    "run_id, seq, source, raw, recipient, text, encoding, segments, state, error, created_at,"
    " updated_at"
)
_PER_ROW = _COLUMNS.count(",") + 1
"""Parameters of a row in `_INSERT`: the fields of a tuple of `prepare`'s rows."""
_INSERT = f"INSERT INTO messages ({_COLUMNS}) VALUES "
_VALUES = "(" + ", ".join("?" * _PER_ROW) + ")"


def _drawn_ahead(items: Iterator[T], size: int, depth: int = 2) -> Generator[list[T]]:
    """``items`` in lists of ``size``, drawn by a helper thread up to ``depth`` lists ahead of
    the caller. What ``items`` raises is raised here; closing this generator stops the thread
    (after the list it is drawing)."""
    ahead: queue.Queue[list[T] | BaseException] = queue.Queue(depth)
    stop = threading.Event()

    def draw() -> None:
        try:
            while not stop.is_set():
                chunk = list(islice(items, size))
                ahead.put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the caller's thread, raised there
            ahead.put(exc)

    thread = threading.Thread(target=draw, name="smscli-prepare", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        with suppress(queue.Empty):  # a put blocked on a full queue goes through, then stops
            while True:
                ahead.get_nowait()
        thread.join()


def delete_run(ledger: Ledger, run_id: str) -> None:
    with ledger.transaction() as db:
        db.execute("DELETE FROM messages WHERE run_id = ?", (run_id,))
        db.execute("DELETE FROM runs WHERE id = ?", (run_id,))


def find_run(ledger: Ledger, fingerprint: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = ledger.conn.execute(
        "SELECT * FROM runs WHERE fingerprint = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (fingerprint,),
    ).fetchone()
    return row


def requeue(ledger: Ledger, run_id: str, *, unknown: bool, failed: bool) -> int:
    """``--retry-unknown`` / ``--retry-failed``: back to ``pending``. Returns how many."""
    states = [s for s, on in (("unknown", unknown), ("failed", failed)) if on]
    if not states:
        return 0
    with ledger.transaction() as db:
        cur = db.execute(
            f"UPDATE messages SET state = 'pending', error = NULL, updated_at = ?"
            f" WHERE run_id = ? AND state IN ({','.join('?' * len(states))})",
            (now(), run_id, *states),
        )
        if cur.rowcount:
            db.execute(
                "UPDATE runs SET state = 'ready', finished_at = NULL WHERE id = ?", (run_id,)
            )
        return cur.rowcount


def complete_if_done(ledger: Ledger, run_id: str) -> bool:
    """Mark the run complete once nothing is left to send (also when the process that sent
    the last batch died before it could say so)."""
    if ledger.conn.execute(
        "SELECT 1 FROM messages WHERE run_id = ? AND state IN ('pending', 'sending') LIMIT 1",
        (run_id,),
    ).fetchone():
        return False
    with ledger.transaction() as db:
        db.execute(
            "UPDATE runs SET state = 'complete', finished_at = COALESCE(finished_at, ?)"
            " WHERE id = ? AND state != 'complete'",
            (now(), run_id),
        )
    return True


def settle_crashed(ledger: Ledger, run_id: str) -> int:
    """Messages left ``sending`` by a process that died: their request may have left."""
    with ledger.transaction() as db:
        cur = db.execute(
            "UPDATE messages SET state = 'unknown', updated_at = ?,"
            " error = 'the sending process ended while the request was on the wire'"
            " WHERE run_id = ? AND state = 'sending'",
            (now(), run_id),
        )
        return cur.rowcount


# --- one process per run ------------------------------------------------------------------


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(ledger: Ledger, run_id: str, clock: Callable[[], float] = time.time) -> None:
    """Hold the run's lease. We already hold the OS lock, so a lease left by a process on this
    host is stale; one held by another host is respected until it expires."""
    me = owner()
    host = me.rsplit(":", 1)[0]
    with ledger.transaction() as db:
        row = db.execute(
            "SELECT lease_owner, lease_until FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        holder, until = row[0], row[1]
        if holder and holder.rsplit(":", 1)[0] != host and until and until > clock():
            raise Unfinished(
                f"run {run_id} is being sent by {holder} (lease until "
                f"{time.strftime('%H:%M:%S', time.localtime(until))}); nothing done",
                hint="run the same command again once it has finished",
            )
        db.execute(
            "UPDATE runs SET lease_owner = ?, lease_until = ? WHERE id = ?",
            (me, clock() + LEASE_SECONDS, run_id),
        )


def release_lease(ledger: Ledger, run_id: str) -> None:
    with ledger.transaction() as db:
        db.execute(
            "UPDATE runs SET lease_owner = NULL, lease_until = NULL"
            " WHERE id = ? AND lease_owner = ?",
            (run_id, owner()),
        )


# --- sending ------------------------------------------------------------------------------


@dataclass
class Stop:
    """Why a run stopped before every message was sent."""

    error: SmscliError
    resume_at: float | None = None


@dataclass
class SendStats:
    claimed: int = 0
    requests: int = 0
    rate_limited: int = 0
    stop: Stop | None = None
    interrupted: bool = False
    credits_remaining: float | None = None
    unknown_in_a_row: int = 0


@dataclass
class _InFlight:
    keys: dict[str, int]
    """Message key → ledger id."""

    @property
    def ids(self) -> list[int]:
        return list(self.keys.values())


@dataclass
class BulkEngine:
    driver: Provider
    ledger: Ledger
    limiter: RateLimiter
    account: str
    batch_size: int
    concurrency: int = 4
    max_wait: float = 600.0
    not_after: float | None = None
    limit: int | None = None
    sender: str | None = None
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    progress: Callable[[int], None] | None = None
    """Called with the number of messages whose outcome was just recorded."""
    grace: float = 5.0
    """After Ctrl-C, how long in-flight requests may still finish and be recorded."""
    _last_lease: float = field(default=0.0, init=False, repr=False)
    _unsaved: list[Recorded] = field(default_factory=list, init=False, repr=False)
    """Outcomes collected but not yet written: they go with the next claim's commit (or
    :meth:`_flush`), one transaction instead of two per request. Until then their messages
    stay ``sending``; they count against the requests in flight, so no more messages are
    ever in doubt after a crash than ``concurrency`` requests."""

    def run(self, run_id: str) -> SendStats:
        # No commit of the send stops to copy the WAL into the database (a 20 ms stall every
        # few hundred requests, which the rate windows after it inherit): a thread does it.
        with self.ledger.background_checkpoints():
            return self._run(run_id)

    def _run(self, run_id: str) -> SendStats:
        stats = SendStats()
        caps = self.driver.capabilities
        size = max(1, min(self.batch_size, caps.max_batch))
        inflight: dict[Future[BatchResult], _InFlight] = {}
        pool: Executor = (
            ThreadPoolExecutor(max_workers=max(1, self.concurrency), thread_name_prefix="smscli")
            if getattr(self.driver, "network", True)
            else _Inline()  # the sandbox keeps its state in the ledger: same thread only
        )
        self._last_lease = self.clock()
        slots = max(1, self.concurrency)
        queue: deque[tuple[list[Message], bool, _InFlight]] = deque()
        windows = self._windows(run_id, size, caps, stats)
        try:
            while not stats.stop:
                if not queue:
                    queue.extend(next(windows, ()))
                    if not queue:
                        break
                if self.not_after is not None and self.clock() >= self.not_after:
                    stats.stop = Stop(
                        Unfinished("stopped at --not-after; the rest of the run was not sent")
                    )
                    break
                # Every free slot's request is claimed in one commit (one fsync).
                ahead = list(islice(queue, slots - len(inflight)))
                permits = self._claim(run_id, [f.ids for *_, f in ahead], stats, inflight)
                for (messages, turkish, flight), permit in zip(ahead, permits, strict=False):
                    queue.popleft()
                    stats.claimed += len(messages)
                    stats.requests += 1
                    batch = Batch(tuple(messages), sender=self.sender, turkish=turkish)
                    inflight[pool.submit(self._send, batch, permit)] = flight
                while len(inflight) >= slots:
                    self._collect(inflight, stats)
            while inflight:
                self._collect(inflight, stats)
            self._flush()
        except KeyboardInterrupt:
            stats.interrupted = True
            done, _ = wait(list(inflight), timeout=self.grace)
            for future in done:
                self._record(future, inflight.pop(future), stats)
            inflight.clear()
            self._flush()
            # Whatever is still ``sending`` was claimed by this process (it holds the run's
            # lock), possibly just before the interrupt: its request may have left.
            with self.ledger.transaction() as db:
                db.execute(
                    "UPDATE messages SET state = 'unknown', updated_at = ?,"
                    " error = 'interrupted while the request was on the wire'"
                    " WHERE run_id = ? AND state = 'sending'",
                    (now(), run_id),
                )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            try:
                self._flush()
            finally:
                release_lease(self.ledger, run_id)  # durable: fsyncs every commit before it
        complete_if_done(self.ledger, run_id)
        if stats.credits_remaining is not None:
            with self.ledger.transaction() as db:
                db.execute(
                    "UPDATE runs SET credits_remaining = ? WHERE id = ?",
                    (stats.credits_remaining, run_id),
                )
        return stats

    def _windows(
        self, run_id: str, size: int, caps: Capabilities, stats: SendStats
    ) -> Iterator[list[tuple[list[Message], bool, _InFlight]]]:
        """Pending messages in input order, a window at a time, grouped into requests (with
        the Turkish flag of each, and their keys and ledger ids). The next window is read from
        the ledger only when the caller asks for it, after every request of this one was
        claimed, so messages put back to ``pending`` (after a 429) are picked up again and none
        is read twice. A message's key is its ledger id."""
        window = max(size * self.concurrency * 2, 1000)
        shared_text = not caps.per_recipient_text
        while not stats.stop:
            budget = None if self.limit is None else self.limit - stats.claimed
            if budget is not None and budget <= 0:
                return
            # One row of JSON, not a row per message: sqlite3 gives up the GIL for every row
            # it steps to, and waits behind the HTTP threads to get it back each time.
            (found,) = self.ledger.conn.execute(
                "SELECT json_group_array(json_array(id, recipient, text,"
                " encoding = 'GSM-7+TR')) FROM (SELECT * FROM messages"
                " WHERE run_id = ? AND state = 'pending' ORDER BY seq LIMIT ?)",
                (run_id, window if budget is None else min(window, budget)),
            ).fetchone()
            rows: list[tuple[int, str, str, int]] = json.loads(found)
            rows.sort()  # by id, which is input order (a run's rows are inserted in order)
            if not rows:
                return
            batches: list[tuple[list[Message], bool, _InFlight]] = []
            groups: dict[tuple[str, bool], tuple[list[Message], _InFlight]] = {}
            for i, to, text, turkish in rows:
                key = ("" if not shared_text else text, bool(turkish))
                if (group := groups.get(key)) is None:
                    group = groups[key] = ([], _InFlight({}))
                group[0].append(Message(k := str(i), to, text))
                group[1].keys[k] = i
                if len(group[0]) == size:
                    batches.append((group[0], key[1], group[1]))
                    groups[key] = ([], _InFlight({}))
            batches += [(m, turkish, f) for (_, turkish), (m, f) in groups.items() if m]
            yield batches

    def _claim(
        self,
        run_id: str,
        batches: list[list[int]],
        stats: SendStats,
        inflight: dict[Future[BatchResult], _InFlight],
    ) -> list[int | None]:
        """Claim the leading requests of ``batches`` (message ids), each with a rate-limit
        permit, in one durable commit (which also writes the outcomes collected so far),
        waiting for a permit while collecting replies. Returns the permit of every request
        claimed (None without a rate limit); none, with nothing claimed, when the wait would
        be too long or the run must stop."""
        started = self.clock()
        permits: list[int | None] = []

        def take(db: sqlite3.Connection, wanted: int) -> tuple[int, float]:
            taken, wait = self.limiter.take_some(db, wanted)
            permits.extend(taken)
            return len(taken), wait

        while True:
            if self.clock() - self._last_lease > LEASE_SECONDS / 4:
                take_lease(self.ledger, run_id, self.clock)
                self._last_lease = self.clock()
            count, pause = self.ledger.claim(batches, recorded=self._unsaved, permits=take)
            self._unsaved.clear()
            if count:
                return permits
            waited = self.clock() - started
            if self.not_after is not None and self.clock() + pause >= self.not_after:
                stats.stop = Stop(
                    Unfinished(
                        "the rate limit allows no more requests before --not-after; "
                        "the rest of the run was not sent"
                    )
                )
                return []
            if waited + pause > self.max_wait:
                resume = self.clock() + pause
                stats.stop = Stop(
                    Unfinished(
                        f"the rate limit would make this run wait {pause:.0f}s more "
                        f"(--max-wait {self.max_wait:.0f}s); run the same command again after "
                        f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(resume))} "
                        "to continue"
                    ),
                    resume_at=resume,
                )
                return []
            # No claim before the permit is due (a refused claim is a durable commit, and the
            # main thread busy with one when the permit falls due sends late); the replies
            # that come meanwhile are written at once, without an fsync of their own.
            due, left = self.clock() + pause, pause
            while inflight and left > 0:
                self._collect(inflight, stats, timeout=left)
                if stats.stop:
                    return []
                self._flush()
                left = due - self.clock()
            if left > 0:
                self.sleep(min(left, 5.0))

    def _send(self, batch: Batch, permit: int | None) -> BatchResult:
        """In a worker thread: one request, its permit moved to when it was written (and on by
        any delay its reply shows)."""
        if permit is None:  # no rate limit to keep
            return self.driver.send(batch)
        token = on_wire.set(self.limiter.departure(permit))
        try:
            return self.driver.send(batch)
        finally:
            on_wire.reset(token)

    def _collect(
        self,
        inflight: dict[Future[BatchResult], _InFlight],
        stats: SendStats,
        timeout: float | None = None,
    ) -> None:
        """Record the replies that have arrived (waiting for at least one, up to ``timeout``)."""
        done, _ = wait(list(inflight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            doubtful = self._record(future, inflight.pop(future), stats)
            stats.unknown_in_a_row = stats.unknown_in_a_row + 1 if doubtful else 0
            if stats.unknown_in_a_row >= MAX_UNKNOWN_IN_A_ROW and not stats.stop:
                stats.stop = Stop(
                    OutcomeUnknown(
                        f"{MAX_UNKNOWN_IN_A_ROW} requests in a row ended in doubt; stopped so "
                        "as not to send more into a failing provider"
                    )
                )

    def _record(self, future: Future[BatchResult], flight: _InFlight, stats: SendStats) -> int:
        """Commit a request's outcome. Returns 1 when it ended in doubt, else 0."""
        try:
            result = future.result()
        except RateLimited as exc:
            stats.rate_limited += 1
            self._requeue(flight.ids)
            if exc.retry_after:
                self.limiter.block_until(self.clock() + exc.retry_after)
            return 0
        except (AuthError, ConfigError, CreditError, NotSent) as exc:
            # Nothing was processed, and every later request would fail the same way:
            # keep the messages pending and stop the run.
            self._requeue(flight.ids)
            if not stats.stop:
                stats.stop = Stop(exc)
            return 0
        except OutcomeUnknown as exc:
            self._store(flight, "unknown", exc.message)
            return 1
        except SmscliError as exc:
            self._store(flight, "failed", exc.message)
            return 0
        except Exception as exc:  # a bug in a driver: the request may have left
            self._store(flight, "unknown", f"internal error: {type(exc).__name__}")
            return 1
        credits = result.credits_remaining
        if credits is not None:
            stats.credits_remaining = credits
        self._unsaved.append(
            (
                result.ledger_rows(flight.keys),
                result.batch_id,
                credits_state(self.account, credits),
            )
        )
        if self.progress:
            self.progress(len(flight.ids))
        return int(any(o.status == "unknown" for o in result.outcomes))

    def _store(self, flight: _InFlight, state: str, error: str) -> None:
        self._unsaved.append(([(i, state, None, error) for i in flight.ids], None, None))
        if self.progress:
            self.progress(len(flight.ids))

    def _flush(self) -> None:
        """Write the collected outcomes now (not durable on its own: the next claim's commit,
        or the run's last one, fsyncs them)."""
        if self._unsaved:
            self.ledger.record_all(self._unsaved, durable=False)
            self._unsaved.clear()

    def _requeue(self, ids: list[int]) -> None:
        self._flush()
        self.ledger.put_back(ids)


class _Inline(Executor):
    """Runs each task at once in the calling thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def exit_code(t: Totals, stats: SendStats | None) -> ExitCode:
    """The contract's exit code for a bulk run, over the whole run (earlier sessions too)."""
    if stats is not None and stats.stop is not None:
        code = stats.stop.error.exit_code
        if code != ExitCode.UNFINISHED and t.unknown:
            return ExitCode.UNKNOWN
        return code
    if t.unknown:
        return ExitCode.UNKNOWN
    if stats is not None and stats.interrupted and t.pending:
        return ExitCode.UNFINISHED
    bad = t.failed + t.invalid
    if not bad:
        return ExitCode.OK
    if t.sent_ok:
        return ExitCode.PARTIAL
    return ExitCode.PROVIDER if t.failed else ExitCode.BAD_INPUT


def stale(run: sqlite3.Row, clock: Callable[[], float] = time.time) -> bool:
    from datetime import datetime

    started = datetime.fromisoformat(run["created_at"]).timestamp()
    return clock() - started > STALE_AFTER


def read_exclusions(path: Path, region: str) -> tuple[frozenset[str], str]:
    """Numbers never to message (a CSV with a phone column, or one per line) and the file's
    digest (part of the run's identity)."""
    from smscli.csvfile import read_numbers

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    numbers = set()
    for raw, _ in read_numbers(data, str(path)):
        e164, _error = normalise(raw, region)
        if e164:
            numbers.add(e164)
    return frozenset(numbers), hashlib.sha256(data).hexdigest()


def write_failed_csv(
    ledger: Ledger,
    run_id: str,
    path: Path,
    name: str,
    encoding: str,
    spec: Spec,
    out: Path,
) -> int:
    """The input rows that were invalid, skipped or failed, with an error column, in the
    input's encoding and delimiter. Streams the input and the ledger side by side."""
    import csv

    from smscli.csvfile import open_table

    problems = ledger.conn.execute(
        "SELECT seq, state, error FROM messages WHERE run_id = ?"
        " AND state IN ('invalid', 'skipped', 'failed') ORDER BY seq",
        (run_id,),
    )
    count = 0
    nxt = problems.fetchone()
    try:
        with (
            open_table(path, name, encoding, spec.delimiter) as table,
            out.open("w", encoding=encoding, errors="replace", newline="") as f,
        ):
            writer = csv.writer(f, delimiter=table.delimiter)
            column = "error" if "error" not in table.headers else "smscli_error"
            writer.writerow([*table.headers, column])
            for line, row in table.rows:
                while nxt is not None and nxt["seq"] < line:
                    nxt = problems.fetchone()
                if nxt is not None and nxt["seq"] == line:
                    writer.writerow([*row, f"{nxt['state']}: {nxt['error']}"])
                    count += 1
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    return count
