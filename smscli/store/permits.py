"""Rate-limit permits, shared through the ledger by every process that sends for the same
provider account, on any host: the logic, the same for every backend; the SQL of each backend
is in :mod:`smscli.store.sqlite_permits` and :mod:`smscli.store.pg_permits`.

Each permit is one row in ``rate_events``; a window ``(now - period, now]`` is full when it holds
``limit`` rows. A 429/503's ``Retry-After`` becomes a row in ``rate_blocks``. Checking and
recording happen in one transaction that no other taker of the account's permits can enter
meanwhile (SQLite's ``BEGIN IMMEDIATE``; PostgreSQL's advisory lock of the account), so two
processes can never both take the last permit (the engine takes its permits in the
transaction that claims the requests' messages: :meth:`smscli.store.Store.claim`). A permit is
taken at the time of asking and moved, once its request has been written to the socket
(:meth:`Limiter.sent`), to that moment: the provider counts arrivals, and a request can leave
well after its permit (a worker's turn, a new connection). When its reply comes
(:meth:`Limiter.replied`), the permit moves once more by how much longer its round trip took
than the fastest one seen, beyond what the rates' margin covers: a request held up on the way (a
queue in front of the provider's counter, a stalled emulator) is counted late by the provider,
and the request a window after it must leave late by as much. Waits are exact in floating point:
after a wait ``w``, a call at ``now + w`` succeeds unless somebody else took the permit, or a
permit moved, meanwhile.

This is our own code rather than a library's: the permit has to join the claim's transaction
(both or neither), which no rate-limiting library offers.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from smscli.ratelimit import Rate

PRUNE_EVERY = 16
"""Permits that have left every window are deleted at every 16th permit a limiter takes: an
account's table holds at most the sum of its limits plus 16 per process."""
MIN_WAIT = 1e-3  # reported when a full window's computed wait rounds to <= 0
LONGEST_BLOCK = 86400.0 + 3600.0
"""A block further ahead than this (a day's ``Retry-After``, the longest honoured, and the
back-off's hour), or not a number at all, was written by a hostile reply before smscli
capped it: it is not honoured (else the account would never send again)."""


def _honoured(block: float | None, now: float) -> float | None:
    """The account's block as it is honoured at ``now``."""
    if block is None or not math.isfinite(block) or block > now + LONGEST_BLOCK:
        return None
    return block


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


class Limiter:
    """Permits for one provider account under every one of ``rates`` at once. A backend
    subclass supplies the SQL: the methods below that raise :class:`NotImplementedError`,
    each one statement (a statement is a trip without the GIL, and the HTTP threads hold it
    meanwhile)."""

    def __init__(
        self,
        conn: Any,
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
        self.taken: int | None = None
        """The event of the last permit :meth:`take` gave (None without rates)."""
        self._moves: deque[tuple[int, float, float]] = deque()
        """``(event, written at, round trip or 0.0)`` from the HTTP threads, for :meth:`take`."""
        self._fastest = math.inf
        """The fastest round trip seen (a lost update between threads only keeps it higher)."""
        self._until_prune = 0
        self._prepare()

    # --- the backend's SQL ----------------------------------------------------------------

    def _prepare(self) -> None:
        """The backend's queries for :attr:`rates`, built once."""

    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction of its own on :attr:`conn`, in which this limiter alone (of
        every process on the account) takes permits; need not be durable on its own."""
        raise NotImplementedError

    def _in_transaction(self, db: Any) -> bool:
        """Whether ``db`` is this limiter's connection, in a write transaction."""
        raise NotImplementedError

    def _free(self, db: Any, now: float) -> tuple[float | None, list[int]]:
        """The account's block, and for every rate the permits inside its window, counted up
        to its limit; the caller's transaction is from now on the only one taking permits."""
        raise NotImplementedError

    def _nth(self, now: float) -> tuple[float | None, list[float | None]]:
        """The account's block, and for every rate the ``limit``-th newest permit."""
        raise NotImplementedError

    def _prune(self, db: Any, before: float) -> None:
        raise NotImplementedError

    def _insert(self, db: Any, count: int, now: float) -> list[int]:
        """``count`` permits at ``now``; their events, in order."""
        raise NotImplementedError

    def _move(self, db: Any, moved: dict[int, float]) -> None:
        """Every permit (event) to its new time, unless it is later already."""
        raise NotImplementedError

    def _block(self, db: Any, until: float) -> None:
        """The account blocked until ``until``, unless it is blocked for longer already."""
        raise NotImplementedError

    # --- the logic ------------------------------------------------------------------------

    def try_acquire(self) -> float:
        """Take one permit and return 0.0, or take nothing and return the seconds to wait."""
        if not self.rates:
            return self.wait_time()  # only a block can stop us, and there is nothing to record
        with self._outside() as db:
            return self.take(db)

    def acquire(self, wanted: int) -> tuple[list[int | None], float]:
        """Up to ``wanted`` permits in a transaction of their own (``Permits.acquire``)."""
        if not self.rates:
            wait = self.wait_time()
            return ([None] * wanted if wait == 0.0 else []), wait
        with self._outside() as db:
            return self.take_some(db, wanted)

    def take(self, db: Any) -> float:
        """:meth:`try_acquire` inside the caller's open write transaction on this limiter's
        connection, so that a permit and the claim of the request it is for are one commit:
        both or neither."""
        taken, wait = self.take_some(db, 1)
        self.taken = taken[0] if taken else None
        return wait

    def take_some(self, db: Any, wanted: int) -> tuple[list[int | None], float]:
        """Up to ``wanted`` permits at once, as :meth:`take` takes one: the permits taken, in
        order (their events, or None each without rates, when nothing is recorded), and the
        wait the next one would need (0.0 when all were taken). Two statements however many
        are taken, a third to find the wait after a refusal, and now and then one to move
        permits (:meth:`sent`, :meth:`replied`) and one to prune old ones."""
        if not self._in_transaction(db):
            raise RuntimeError("RateLimiter.take needs its connection's write transaction")
        self._apply_moves(db)
        now = self.clock()
        if not self.rates:
            wait = self._wait(now)  # only a block can stop us, and there is nothing to record
            return ([None] * wanted if wait == 0.0 else []), wait
        block, counts = self._free(db, now)
        block = _honoured(block, now)
        free = 0 if block is not None and now < block else wanted
        for rate, count in zip(self.rates, counts, strict=True):
            free = min(free, rate.limit - count)
        taken: list[int | None] = []
        if free > 0:
            if self._until_prune <= 0:  # a statement less for most permits
                self._prune(db, now - self._longest)
                self._until_prune = PRUNE_EVERY
            self._until_prune -= free
            taken = list(self._insert(db, free, now))
        return taken, 0.0 if free == wanted else self._wait(now)

    def flush(self) -> None:
        """Write the moves of permits whose requests have left, now: a process that ends
        (a ``send`` of one request) must leave every permit where the provider counted it."""
        if self._moves:
            with self._outside() as db:
                self._apply_moves(db)

    def _apply_moves(self, db: Any) -> None:
        moved: dict[int, float] = {}
        # The fastest so far, however late the reply it came from.
        usual = self._fastest + self.covered_delay
        while self._moves:
            event, at, trip = self._moves.popleft()
            if trip > usual:
                at += trip - usual
            moved[event] = max(at, moved.get(event, at))
        if moved:
            self._move(db, moved)

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
        if self._in_transaction(self.conn):
            raise RuntimeError("RateLimiter needs a connection outside any open transaction")
        return self._wait(self.clock())

    def block_until(self, until: float) -> None:
        """No permit for anybody on this account before ``until`` (the later block wins; one
        beyond :data:`LONGEST_BLOCK` is not written)."""
        if _honoured(until, self.clock()) is None:
            return
        with self._outside() as db:
            self._block(db, until)

    def _outside(self) -> AbstractContextManager[Any]:
        if self._in_transaction(self.conn):
            raise RuntimeError("RateLimiter needs a connection outside any open transaction")
        return self._transaction()

    def _wait(self, now: float) -> float:
        """The account's block, and for every rate the ``limit``-th newest permit; the window
        is full while that permit is inside it."""
        block, nth = self._nth(now)
        block = _honoured(block, now)
        wait = _exact_wait(now, block, 0.0) if block is not None and now < block else 0.0
        for rate, at in zip(self.rates, nth, strict=True):
            if at is not None and at > now - rate.period:
                wait = max(wait, _exact_wait(now, at, rate.period))
        return wait


class Departure:
    """The HTTP edge's hooks (:data:`smscli.http.on_wire`) for one request of a permit."""

    __slots__ = ("_at", "_event", "_limiter")

    def __init__(self, limiter: Limiter, event: int) -> None:
        self._limiter, self._event = limiter, event
        self._at: float | None = None

    def sent(self) -> None:
        self._at = self._limiter.sent(self._event)

    def replied(self) -> None:
        if self._at is not None:
            self._limiter.replied(self._event, self._at)
