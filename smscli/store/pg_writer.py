"""Outcomes written beside the claims, on PostgreSQL.

On SQLite a request's outcomes go with the next claim's commit: one writer, one fsync. On
PostgreSQL writing them is the larger half of the server's work per message (a new version of
every row, with an entry in each index), and the engine's thread waited for it before every
claim. Here a thread of its own writes them, on a second connection, while the engine's
connection claims the next requests: the server does both at once.

What a crash leaves in doubt stays bounded: a claim first waits until the outcomes handed
over before the previous claim are committed, so besides the requests in flight, only the
replies that came since the previous claim may still be unwritten (their messages stay
``sending`` and are settled ``unknown`` on resume, never re-sent). The outcomes commit
without waiting for the WAL flush; the claim's durable commit, which follows theirs, flushes
them too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from smscli.store.records import Recorded

if TYPE_CHECKING:
    import psycopg

Write = Callable[[Any, Sequence[Recorded]], None]


class OutcomeWriter:
    """A thread writing outcomes on ``conn`` with ``write(db, recorded)``, in the order they
    were handed over, everything waiting at once in one transaction."""

    def __init__(self, conn: psycopg.Connection[Any], write: Write) -> None:
        self._conn, self._write = conn, write
        # Every commit of this session is one that need not wait for the WAL flush.
        conn.execute("SET synchronous_commit = off")
        self._cond = threading.Condition()
        self._waiting: list[Recorded] = []
        self.handed = 0
        """Hand-overs so far; :meth:`wait` takes one of these counts."""
        self._written = 0
        self._error: BaseException | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._work, name="smscli-outcomes", daemon=True)
        self._thread.start()

    def put(self, recorded: Sequence[Recorded]) -> None:
        """Hands ``recorded`` over (raises the error the thread met, if any)."""
        with self._cond:
            self._check()
            if recorded:
                self._waiting.extend(recorded)
                self.handed += 1
                self._cond.notify_all()

    def wait(self, handed: int | None = None) -> None:
        """Returns once the first ``handed`` hand-overs (all: None) are committed."""
        with self._cond:
            target = self.handed if handed is None else handed
            while self._written < target:
                self._check()
                self._cond.wait()
            self._check()

    def close(self) -> None:
        """Writes what is waiting, then closes the connection (raises the thread's error)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        self._conn.close()
        self._check()

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closing:
                    self._cond.wait()
                if not self._waiting:
                    return
                batch, self._waiting, upto = self._waiting, [], self.handed
            try:
                with self._conn.transaction():
                    self._write(self._conn, batch)
            except BaseException as exc:  # the engine's thread raises it at its next call
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._written = upto
                self._cond.notify_all()
