"""The one engine: every message of every command leaves through here.

1. Pending messages are read from the store a window at a time, in input order, and grouped
   into requests as the provider allows (one text per request where it takes one).
2. Every free slot's request (up to ``concurrency`` in flight) is claimed in one durable
   commit, each with a rate-limit permit taken in the same transaction (no claim without a
   permit, no permit without a claim), and the outcomes that arrived meanwhile are written with
   it. All store writes come from the main thread; worker threads only do HTTP. A claim that
   finds a message taken by another process claims nothing and stops the run.
3. A 429 puts its batch back to ``pending`` (it was not processed) and blocks the account for
   every process until ``Retry-After``; :class:`smscli.ratelimit.Gate` is where any wait
   happens. Credentials, credit or a connection that never opened stop the run with the rest
   ``pending``; three requests in doubt in a row stop it too.
4. After an interrupt, in-flight requests get a moment to finish; whatever is still
   ``sending`` then is settled ``unknown`` (the request may have left), never re-sent by itself.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from smscli.errors import (
    AuthError,
    ConfigError,
    CreditError,
    NotSent,
    OutcomeUnknown,
    RateLimited,
    SmscliError,
    Unfinished,
)
from smscli.http import on_wire
from smscli.providers.base import Batch, BatchResult, Message
from smscli.ratelimit import RateWait
from smscli.sendstats import SendStats, Stop, exit_code
from smscli.store import Guard, GuardRow, Recorded
from smscli.store.keys import row_checksum, text_key
from smscli.store.problems import LedgerDamaged
from smscli.workers import Inline, Workers

__all__ = ["Engine", "SendStats", "Stop", "exit_code"]

if TYPE_CHECKING:
    from smscli.providers.base import Provider
    from smscli.ratelimit import Gate
    from smscli.store import Permits, Store

LEASE_RENEWAL = 30.0
MAX_UNKNOWN_IN_A_ROW = 3
IN_DOUBT = "interrupted while the request was on the wire"


@dataclass
class _InFlight:
    keys: dict[str, int]
    """Message key → store id."""
    guard: list[GuardRow] = field(default_factory=list)
    """What the claim's guard checks of each message (in the order of ``keys``)."""

    @property
    def ids(self) -> list[int]:
        return list(self.keys.values())


Request = tuple[list[Message], bool, _InFlight]
"""A request's messages, its Turkish flag, and their ids."""


@dataclass
class Engine:
    driver: Provider
    store: Store
    permits: Permits
    gate: Gate
    account: str
    batch_size: int
    concurrency: int = 4
    limit: int | None = None
    sender: str | None = None
    turkish: bool | None = None
    """``--tr``/``--no-tr`` for every message (a provider with a Turkish mode only); None:
    each message's own, by :func:`smscli.senders.turkish_flag`'s default rule."""
    clock: Callable[[], float] = time.time
    progress: Callable[[int], None] | None = None
    """Called with the number of messages whose outcome was just recorded."""
    grace: float = 5.0
    """After an interrupt, how long in-flight requests may still finish and be recorded."""
    repeat_window: float | None = None
    """Seconds within which the same text to the same number is a repeat, skipped in the
    claim; None: repeats are allowed (the claims still count for other runs)."""
    optouts: bool = True
    """The opt-out list is checked in the claim (not for ``send --ignore-optout``)."""
    _last_lease: float = field(default=0.0, init=False, repr=False)
    _rewind: bool = field(default=False, init=False, repr=False)
    """Messages were put back to ``pending``: the next window is read from the run's start."""
    _unsaved: list[Recorded] = field(default_factory=list, init=False, repr=False)
    """Outcomes collected but not yet written: they go with the next claim's commit (or
    :meth:`_flush`), one transaction instead of two per request. Until then their messages
    stay ``sending``; they count against the requests in flight, so no more messages are
    ever in doubt after a crash than ``concurrency`` requests."""

    def run(self, run_id: str) -> SendStats:
        self.store.keep_holding(run_id)
        self._last_lease = self.clock()
        # A driver without network reads the outcomes back from the store: nothing may lag.
        with self.store.sending(overlap=self.driver.capabilities.network):
            return self._run(run_id)

    def _run(self, run_id: str) -> SendStats:
        stats = SendStats()
        inflight: dict[Future[BatchResult], _InFlight] = {}
        pool: Executor = (
            Workers(max(1, self.concurrency))
            if self.driver.capabilities.network
            else Inline()  # a driver without network reads its state from the store: one thread
        )
        slots = max(1, self.concurrency)
        queue: deque[Request] = deque()
        windows = self._windows(run_id, stats)
        try:
            while not stats.stop:
                if not queue:
                    queue.extend(next(windows, ()))
                if not queue:
                    if not inflight:
                        break
                    # Their replies may put messages back to pending (a 429): read again after.
                    while inflight:
                        self._collect(inflight, stats)
                    windows = self._windows(run_id, stats)
                    continue
                if self.gate.not_after is not None and self.clock() >= self.gate.not_after:
                    stats.stop = Stop(
                        Unfinished(f"stopped at {self.gate.deadline}; the rest was not sent")
                    )
                    break
                ahead = list(islice(queue, slots - len(inflight)))
                claimed = self._claim(run_id, ahead, stats, inflight)
                for request, permit in zip(ahead, claimed, strict=False):
                    queue.popleft()
                    if request[0]:  # not emptied by the claim's guard
                        self._submit(pool, inflight, request, permit, stats)
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
            # Whatever is still ``sending`` was claimed by this process (it holds the run),
            # possibly just before the interrupt: its request may have left.
            stats.reached += self.store.settle(run_id, ["sending"], "unknown", IN_DOUBT)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            self._flush()
            self.permits.flush()
        return stats

    def _submit(
        self,
        pool: Executor,
        inflight: dict[Future[BatchResult], _InFlight],
        request: Request,
        permit: int | None,
        stats: SendStats,
    ) -> None:
        messages, turkish, flight = request
        stats.claimed += len(messages)
        stats.requests += 1
        batch = Batch(tuple(messages), sender=self.sender, turkish=bool(turkish))
        inflight[pool.submit(self._send, batch, permit)] = flight

    def _windows(self, run_id: str, stats: SendStats) -> Iterator[list[Request]]:
        """Pending messages in input order, a window at a time, grouped into requests. The
        next window is read only when the caller asks for it, after every request of this one
        was claimed; each is read from where the last one ended, or from the run's start once
        messages were put back to ``pending`` (after a 429), so that they are picked up again
        and none is read twice. A message's key is its store id."""
        caps = self.driver.capabilities
        size = max(1, min(self.batch_size, caps.max_batch))
        window = max(size * self.concurrency * 2, 1000)
        shared_text = not caps.per_recipient_text
        after = 0
        while not stats.stop:
            budget = None if self.limit is None else self.limit - stats.claimed
            if budget is not None and budget <= 0:
                return
            size_now = window if budget is None else min(window, budget)
            if self._rewind:
                after, self._rewind = 0, False
            rows = self.store.pending_window(run_id, size_now, after)
            if not rows:
                return
            after = rows[-1][0]
            requests: list[Request] = []
            groups: dict[tuple[str, bool], tuple[list[Message], _InFlight]] = {}
            forced = self.turkish
            for i, to, text, turkish, tkey in rows:
                if forced is not None:
                    turkish = forced
                key = ("" if not shared_text else text, turkish)
                if (group := groups.get(key)) is None:
                    group = groups[key] = ([], _InFlight({}))
                group[0].append(Message(k := str(i), to, text))
                group[1].keys[k] = i
                # The row's text key, its checksum proving it (a row planned before checksums:
                # its key computed here, nothing to prove it with).
                group[1].guard.append(
                    (i, to, text_key(text), None)
                    if tkey is None
                    else (i, to, tkey, row_checksum(run_id, to, text, tkey))
                )
                if len(group[0]) == size:
                    requests.append((group[0], turkish, group[1]))
                    groups[key] = ([], _InFlight({}))
            requests += [(m, turkish, f) for (_, turkish), (m, f) in groups.items() if m]
            yield requests

    def _claim(
        self,
        run_id: str,
        ahead: list[Request],
        stats: SendStats,
        inflight: dict[Future[BatchResult], _InFlight],
    ) -> list[int | None]:
        """Claim the leading requests of ``ahead``, each with a permit, in one durable commit
        that also writes the outcomes collected so far and decides, message by message, who
        must not get it (the store's guard: those are dropped from their requests, and a
        request left empty does not leave); while no permit is free, collect replies. Returns
        the permit of every request claimed; none when the wait would be too long, another
        process claimed some of the messages first, or the ledger is damaged."""
        claimed: list[int | None] = []

        def take() -> float:
            if self.clock() - self._last_lease > LEASE_RENEWAL:
                self.store.keep_holding(run_id)
                self._last_lease = self.clock()
            claim = self.store.claim(
                [f.ids for *_, f in ahead], recorded=self._unsaved, permits=self.permits,
                guard=self._guard(run_id, ahead),
            )  # fmt: skip
            self._unsaved.clear()
            if claim.skipped:
                self._drop(ahead, claim.skipped, stats)
            claimed.extend(claim.permits)
            return 0.0 if claim.claimed else claim.wait

        def idle(pause: float) -> bool:
            # No claim before the permit is due (a refused claim is a durable commit); the
            # replies that come meanwhile are written at once, without an fsync of their own.
            due, left = self.clock() + pause, pause
            while inflight and left > 0:
                self._collect(inflight, stats, timeout=left)
                if stats.stop:
                    return False
                self._flush()
                left = due - self.clock()
            if left > 0:
                self.gate.sleep(min(left, 5.0))
            return True

        try:
            self.gate.until_permitted(take, idle)
        except RateWait as exc:
            stats.stop = Stop(exc, exc.resume_at)
        except (Unfinished, LedgerDamaged) as exc:  # another process claimed; a damaged row
            stats.stop = Stop(exc)
        return claimed

    def _guard(self, run_id: str, ahead: list[Request]) -> Guard:
        window = self.repeat_window
        return Guard(
            run_id,
            [row for *_, f in ahead for row in f.guard],
            None if window is None else self.clock() - window,
            optouts=self.optouts,
            record=self.driver.capabilities.network,
        )

    def _drop(self, ahead: list[Request], skipped: dict[int, str], stats: SendStats) -> None:
        """The messages the claim's guard skipped leave their requests (in place: the queue
        holds the same requests)."""
        for messages, _, flight in ahead:
            gone = {k for k, i in flight.keys.items() if i in skipped}
            if gone:
                messages[:] = [m for m in messages if m.key not in gone]
                flight.guard[:] = [row for row in flight.guard if row[0] not in skipped]
                for k in gone:
                    del flight.keys[k]
        stats.screened += len(skipped)
        if self.progress:
            self.progress(len(skipped))

    def _send(self, batch: Batch, permit: int | None) -> BatchResult:
        """In a worker thread: one request, its permit moved to when it was written (and on by
        any delay its reply shows)."""
        if permit is None:  # no rate limit to keep
            return self.driver.send(batch)
        token = on_wire.set(self.permits.departure(permit))
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
        """Keep a request's outcome for the next commit. Returns 1 when it ended in doubt."""
        try:
            result = future.result()
        except RateLimited as exc:
            stats.rate_limited += 1
            stats.claimed -= len(flight.ids)
            self._requeue(flight.ids)
            self.gate.rate_limited(self.permits, exc.retry_after)
            return 0
        except (AuthError, ConfigError, CreditError, NotSent) as exc:
            # Nothing was processed, and every later request would fail the same way:
            # keep the messages pending and stop the run.
            stats.claimed -= len(flight.ids)
            self._requeue(flight.ids)
            if not stats.stop:
                stats.stop = Stop(exc)
            return 0
        except OutcomeUnknown as exc:
            stats.errors.append(exc)
            self._store(flight, "unknown", exc.message, stats)
            return 1
        except SmscliError as exc:
            stats.errors.append(exc)
            self._store(flight, "failed", exc.message, stats)
            return 0
        except Exception as exc:  # a bug in a driver: the request may have left
            self._store(flight, "unknown", f"internal error: {type(exc).__name__}", stats)
            return 1
        stats.reached += len(flight.ids)
        credits = result.credits_remaining
        state = tuple((self.account, k, v) for k, v in result.state)
        if credits is not None:
            stats.credits_remaining = credits
            state += ((self.account, "credits_remaining", repr(credits)),)
        self._unsaved.append(Recorded(result.ledger_rows(flight.keys), result.batch_id, state))
        if self.progress:
            self.progress(len(flight.ids))
        return int(any(o.status == "unknown" for o in result.outcomes))

    def _store(self, flight: _InFlight, state: str, error: str, stats: SendStats) -> None:
        stats.reached += len(flight.ids)
        self._unsaved.append(Recorded([(i, state, None, error) for i in flight.ids]))
        if self.progress:
            self.progress(len(flight.ids))

    def _flush(self) -> None:
        """Write the collected outcomes now (not durable on its own: the next claim's commit,
        or the run's last one, fsyncs them)."""
        if self._unsaved:
            self.store.record(self._unsaved, durable=False)
            self._unsaved.clear()

    def _requeue(self, ids: list[int]) -> None:
        self._flush()
        self.store.put_back(ids)
        self._rewind = True
