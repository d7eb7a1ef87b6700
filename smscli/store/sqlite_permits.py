"""Rate-limit permits in the SQLite store, shared through the ledger by every process that
sends for the same provider account.

Each permit is one row in ``rate_events``; a window ``(now - period, now]`` is full when it holds
``limit`` rows. A 429/503's ``Retry-After`` becomes a row in ``rate_blocks``. Checking and
recording happen in one ``BEGIN IMMEDIATE`` transaction, so two processes can never both take
the last permit (the engine takes its permits in the transaction that claims the requests'
messages: :meth:`smscli.store.sqlite.SqliteStore.claim`). A permit is taken at the time of
asking and moved, once its request has been written to the socket (:meth:`RateLimiter.sent`),
to that moment: the provider counts arrivals, and a request can leave well after its permit (a
worker's turn, a new connection). When its reply comes (:meth:`RateLimiter.replied`), the
permit moves once more by how much longer its round trip took than the fastest one seen, beyond
what the rates' margin covers: a request held up on the way (a queue in front of the provider's
counter, a stalled emulator) is counted late by the provider, and the request a window after it
must leave late by as much. Waits are exact in floating point: after a wait ``w``, a call at
``now + w`` succeeds unless somebody else took the permit, or a permit moved, meanwhile.

This is our own code rather than a library's: the permit has to join the claim's transaction
(both or neither), which no rate-limiting library offers.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from smscli.ratelimit import Rate
from smscli.store.sqlite_db import write_transaction

PRUNE_EVERY = 16
"""Permits that have left every window are deleted at every 16th permit a limiter takes: an
account's table holds at most the sum of its limits plus 16 per process."""
MIN_WAIT = 1e-3  # reported when a full window's computed wait rounds to <= 0


def _exact_wait(now: float, threshold: float, period: float) -> float:
    """The wait ``w > 0`` after which ``(now + w) - period >= threshold`` holds in floats."""
    wait = threshold + period - now
    if wait <= 0:
        wait = MIN_WAIT
    step = math.ulp(now + wait)
    while (now + wait) - period < threshold:
        wait += step
        step *= 2
    return wait


class RateLimiter:
    """Permits for one provider account under every one of ``rates`` at once."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        account: str,
        rates: Sequence[Rate],
        *,
        clock: Callable[[], float] = time.time,
        covered_delay: float = 0.0,
    ) -> None:
        self.conn = conn
        self.account = account
        self.rates = tuple(rates)
        self.clock = clock
        self.covered_delay = covered_delay
        """A round trip up to this much slower than the fastest moves no permit: the rates'
        own margin (:func:`guarded`) covers that much."""
        self._longest = max((r.period for r in self.rates), default=0.0)
        # The account's block, and for every rate: the ``limit``-th newest permit (_wait) or
        # the permits inside its window, counted up to its limit (take_some).
        self._query = self._select(
            "(SELECT at FROM rate_events WHERE account = ?1"
            " ORDER BY at DESC LIMIT 1 OFFSET {limit_1})"
        )
        self._free_query = self._select(
            "(SELECT count(*) FROM (SELECT 1 FROM rate_events WHERE account = ?1"
            " AND at > ?2 - {period!r} LIMIT {limit}))"
        )
        self.taken: int | None = None
        """The event of the last permit :meth:`take` gave (None without rates)."""
        self._moves: deque[tuple[int, float, float]] = deque()
        """``(event, written at, round trip or 0.0)`` from the HTTP threads, for :meth:`take`."""
        self._fastest = math.inf
        """The fastest round trip seen (a lost update between threads only keeps it higher)."""
        self._until_prune = 0

    def _select(self, per_rate: str) -> str:
        """One query: the account's block, then ``per_rate`` filled in for every rate."""
        return "SELECT " + ", ".join(
            [
                "(SELECT until FROM rate_blocks WHERE account = ?1)",
                *(
                    per_rate.format(limit=r.limit, limit_1=r.limit - 1, period=r.period)
                    for r in self.rates
                ),
            ]
        )

    def try_acquire(self) -> float:
        """Take one permit and return 0.0, or take nothing and return the seconds to wait."""
        if not self.rates:
            return self.wait_time()  # only a block can stop us, and there is nothing to record
        with self._transaction():
            return self.take(self.conn)

    def acquire(self, wanted: int) -> tuple[list[int | None], float]:
        """Up to ``wanted`` permits in a transaction of their own (``Permits.acquire``)."""
        if not self.rates:
            wait = self.wait_time()
            return ([None] * wanted if wait == 0.0 else []), wait
        with self._transaction():
            return self.take_some(self.conn, wanted)

    def take(self, db: sqlite3.Connection) -> float:
        """:meth:`try_acquire` inside the caller's open write transaction on this limiter's
        connection, so that a permit and the claim of the request it is for are one commit:
        both or neither."""
        taken, wait = self.take_some(db, 1)
        self.taken = taken[0] if taken else None
        return wait

    def take_some(self, db: sqlite3.Connection, wanted: int) -> tuple[list[int | None], float]:
        """Up to ``wanted`` permits at once, as :meth:`take` takes one: the permits taken, in
        order (their events, or None each without rates, when nothing is recorded), and the
        wait the next one would need (0.0 when all were taken). Two statements however many
        are taken (a statement is a trip without the GIL, and the HTTP threads hold it
        meanwhile), a third to find the wait after a refusal, and now and then one to move
        permits (:meth:`sent`, :meth:`replied`) and one to prune old ones."""
        if db is not self.conn or not db.in_transaction:
            raise RuntimeError("RateLimiter.take needs its connection's write transaction")
        self._apply_moves(db)
        now = self.clock()
        if not self.rates:
            wait = self._wait(now)  # only a block can stop us, and there is nothing to record
            return ([None] * wanted if wait == 0.0 else []), wait
        # Each window's permits inside it, counted up to its limit: what is left is free.
        block, *counts = db.execute(self._free_query, (self.account, now)).fetchone()
        free = 0 if block is not None and now < block else wanted
        for rate, count in zip(self.rates, counts, strict=True):
            free = min(free, rate.limit - count)
        taken: list[int | None] = []
        if free > 0:
            if self._until_prune <= 0:  # a statement less for most permits
                db.execute(
                    "DELETE FROM rate_events WHERE account = ? AND at <= ?",
                    (self.account, now - self._longest),
                )
                self._until_prune = PRUNE_EVERY
            self._until_prune -= free
            # One statement; the rows of one INSERT get consecutive rowids (each the
            # table's largest plus one), the last of them its lastrowid.
            last = db.execute(
                "INSERT INTO rate_events (account, at) VALUES " + ", ".join(["(?1, ?2)"] * free),
                (self.account, now),
            ).lastrowid
            assert last is not None
            taken = list(range(last - free + 1, last + 1))
        return taken, 0.0 if free == wanted else self._wait(now)

    def flush(self) -> None:
        """Write the moves of permits whose requests have left, now: a process that ends
        (a ``send`` of one request) must leave every permit where the provider counted it."""
        if self._moves:
            with self._transaction() as db:
                self._apply_moves(db)

    def _apply_moves(self, db: sqlite3.Connection) -> None:
        moved: dict[int, float] = {}
        # The fastest so far, however late the reply it came from.
        usual = self._fastest + self.covered_delay
        while self._moves:
            event, at, trip = self._moves.popleft()
            if trip > usual:
                at += trip - usual
            moved[event] = max(at, moved.get(event, at))
        if moved:  # one statement: an UPDATE ... FROM uses one source row per target row
            db.execute(
                "UPDATE rate_events SET at = max(at, j.value) FROM json_each(?) AS j"
                " WHERE rate_events.rowid = j.key",
                (json.dumps(moved),),
            )

    def sent(self, event: int | None) -> float:
        """The request of permit ``event`` has just been written: from any thread. The next
        :meth:`take` moves the permit to this moment, so that however long the request took
        to leave after its permit (a thread's turn, a new connection), the provider, which
        counts arrivals, never sees two permits closer than a window apart. Returns the
        moment, for :meth:`replied`."""
        at = self.clock()
        if event is not None:
            self._moves.append((event, at, 0.0))
        return at

    def replied(self, event: int | None, sent_at: float) -> None:
        """The reply to the request of permit ``event``, written at ``sent_at``, has just come:
        from any thread. The next :meth:`take` moves the permit later by how much longer this
        round trip took than the fastest (then) seen, beyond ``covered_delay``. The provider
        counted the request somewhere between its writing and its reply; a round trip that took
        longer than the fastest was held up somewhere, perhaps before the count, which is as
        late as the provider then counted it."""
        if event is None:
            return
        trip = self.clock() - sent_at
        if trip < self._fastest:
            self._fastest = trip
        self._moves.append((event, sent_at, trip))

    def departure(self, event: int) -> Departure:
        """The HTTP edge's hooks (:data:`smscli.http.on_wire`) for the request of permit
        ``event``: :meth:`sent` and :meth:`replied` as it goes out and its reply comes in."""
        return Departure(self, event)

    def wait_time(self) -> float:
        """Seconds until a permit could be taken (0.0 if now); records nothing.

        Read without a transaction: an estimate for sleeping, which :meth:`try_acquire`
        confirms atomically."""
        if self.conn.in_transaction:
            raise RuntimeError("RateLimiter needs a connection outside any open transaction")
        return self._wait(self.clock())

    def block_until(self, until: float) -> None:
        """No permit for anybody on this account before ``until`` (the later block wins)."""
        with self._transaction():
            self.conn.execute(
                "INSERT INTO rate_blocks (account, until) VALUES (?, ?) ON CONFLICT (account)"
                " DO UPDATE SET until = max(until, excluded.until)",
                (self.account, until),
            )

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        if self.conn.in_transaction:
            raise RuntimeError("RateLimiter needs a connection outside any open transaction")
        # Permits need not survive a power cut, so they are committed without an fsync of
        # their own (the next durable commit of the same WAL covers them); other processes
        # see them at once either way.
        return write_transaction(self.conn, durable=False)

    def _wait(self, now: float) -> float:
        """One query (a statement is a trip without the GIL, and the HTTP threads hold it
        meanwhile): the account's block, and for every rate the ``limit``-th newest permit;
        the window is full while that permit is inside it."""
        block, *nth = self.conn.execute(self._query, (self.account,)).fetchone()
        wait = _exact_wait(now, block, 0.0) if block is not None and now < block else 0.0
        for rate, at in zip(self.rates, nth, strict=True):
            if at is not None and at > now - rate.period:
                wait = max(wait, _exact_wait(now, at, rate.period))
        return wait


class Departure:
    """The HTTP edge's hooks (:data:`smscli.http.on_wire`) for one request of a permit."""

    __slots__ = ("_at", "_event", "_limiter")

    def __init__(self, limiter: RateLimiter, event: int) -> None:
        self._limiter, self._event = limiter, event
        self._at: float | None = None

    def sent(self) -> None:
        self._at = self._limiter.sent(self._event)

    def replied(self) -> None:
        if self._at is not None:
            self._limiter.replied(self._event, self._at)
