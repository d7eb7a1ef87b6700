"""The SQLite store (the default ledger): every run and every message, so that nothing is sent
twice and everything can be found again.

A message is committed ``sending`` before its request leaves and its outcome as soon as the
reply arrives. The database runs in WAL mode with ``synchronous=FULL`` so a committed state
survives a crash or ``kill -9``, and a power cut too. Writes that need not survive a power cut
on their own (a run's outcomes and its rows while it is being prepared) are committed with
``durable=False``: they survive a crash of the process at once, and a power cut from the next
durable commit on, which fsyncs the whole write-ahead log, theirs included. A claim is always
durable before its request leaves, which is what makes a double send impossible; an outcome
lost to a power cut leaves its message ``sending``, which a resumed run settles as ``unknown``.

One holder per campaign: an OS file lock next to the *resolved* ledger file (so every path and
symlink that leads to it meets the same lock; the OS releases it when the process dies), and a
lease in the run's row naming host and pid, which a live holder never loses. Read queries are
in :mod:`smscli.store.sqlite_reads` and :mod:`smscli.store.reads`, the writes both backends
share in :mod:`smscli.store.writes`, permits in :mod:`smscli.store.sqlite_permits`.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from smscli.store.keys import held_since
from smscli.store.problems import LedgerDamaged, storage_error
from smscli.store.records import Guard, MessageRow, Recorded
from smscli.store.sqlite_db import (
    background_checkpoints,
    connect_ledger,
    migrate,
    without_fsync,
    write_transaction,
)
from smscli.store.sqlite_holds import Holds
from smscli.store.sqlite_reads import SqliteReads
from smscli.store.sqlite_screen import SqliteScreens
from smscli.store.writes import Writes, now

if TYPE_CHECKING:
    from smscli.ratelimit import Rate
    from smscli.store import Store
    from smscli.store.sqlite_permits import RateLimiter


UNSENT = 0.5
"""``sent_at`` of a message never claimed: a float, as the claim's time is, so that the claim
rewrites the row in place (same size: ``pending`` → ``sending`` too). A row that grew instead
would be moved within its page, or split it: 20% of a 100k campaign's sending time."""
_COLUMNS = (
    "run_id, seq, source, raw, recipient, text, encoding, segments, state, error, text_key,"
    " checksum, created_at, updated_at"
)
_PER_ROW = _COLUMNS.count(",") + 1
_INSERT = f"INSERT INTO messages ({_COLUMNS}, sent_at) VALUES "
_VALUES = "(" + ", ".join("?" * _PER_ROW) + f", {UNSENT})"
CHUNK = 5000


class SqliteStore(Holds, SqliteReads, SqliteScreens, Writes):
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self.location = str(path)
        self._statements: dict[int, str] = {}
        self._leases: list[str] = []
        """Runs this process took a lease on (released when its hold ends)."""

    @classmethod
    def open(cls, path: Path) -> SqliteStore:
        # The resolved file: every path and symlink to one ledger meets the same locks.
        path = path.expanduser().resolve()
        return cls(connect_ledger(path), path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        """Closes the store; an error of the disk under it becomes the user's error, naming
        the ledger (a dry run's scratch store leaves that to the ledger it reads)."""
        self.close()
        if exc is not None and not (self._scratch and self._history != "main"):
            said = storage_error(exc, self.location)
            if said is not None:
                raise said from None

    def verify(self) -> Callable[[], None]:
        """Starts SQLite's quick check of the ledger as it is now (before this process writes:
        a write can rebuild a damaged page, hiding the damage but not undoing it), in a thread
        of its own, and returns the wait for its verdict, which raises :class:`LedgerDamaged`
        unless the file is sound. ``quick_check`` reads every page, ~0.1 s for 200,000
        messages, meanwhile the run is prepared; the full ``integrity_check`` also compares
        every index with its table, four times slower: that is ``smscli ledger check``."""
        if self._scratch:
            return lambda: None
        snapshot, found = threading.Event(), ["ok"]

        def check() -> None:
            try:
                with closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as c:
                    c.execute("BEGIN")
                    c.execute("SELECT count(*) FROM sqlite_master").fetchall()  # the snapshot
                    snapshot.set()
                    found[:] = [r[0] for r in c.execute("PRAGMA quick_check(10)")]
            except sqlite3.Error as exc:
                found[:] = [str(exc)]
            finally:
                snapshot.set()

        thread = threading.Thread(target=check, name="smscli-quick-check", daemon=True)
        thread.start()
        snapshot.wait()

        def verdict() -> None:
            thread.join()
            if found != ["ok"]:
                raise LedgerDamaged(self.location, "; ".join(found[:3]))

        return verdict

    @classmethod
    def scratch(cls, path: Path | None = None, history: Store | None = None) -> SqliteStore:
        """A store for a dry run: in memory, or in ``path`` (a large input: a file keeps memory
        flat), without journal or fsync: nothing in it needs to survive the process. With the
        ledger as ``history`` (attached read-only), its repeat guard looks in the ledger."""
        conn = sqlite3.connect(":memory:" if path is None else path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        store = cls(conn, path or Path(":memory:"))
        store._scratch = True
        migrate(conn, store.path)
        if isinstance(history, SqliteStore):
            from urllib.parse import quote

            conn.execute(
                "ATTACH DATABASE ? AS history", (f"file:{quote(str(history.path))}?mode=ro",)
            )
            store._history = "history"
        elif history is not None:  # a PostgreSQL ledger: asked, message by message
            store._ledger = history
        return store

    _scratch = False

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A short ``BEGIN IMMEDIATE`` transaction: writers queue here, not mid-way.
        ``durable=False`` commits without an fsync of its own (see the module's docstring)."""
        # A scratch store never fsyncs: a "durable" commit there leaves synchronous OFF alone.
        with write_transaction(self.conn, durable=durable or self._scratch) as db:
            yield db

    # --- runs -------------------------------------------------------------------------------

    def insert_chunk_size(self) -> int:
        return max(
            1, min(CHUNK, self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _PER_ROW)
        )

    def add_messages(self, run_id: str, chunks: Iterable[Sequence[MessageRow]]) -> None:
        # One statement a chunk, committed on its own (autocommit) without an fsync: one call
        # into SQLite, which writes the rows without the GIL while the plan's helper thread
        # renders the next chunk. Every further statement (BEGIN, COMMIT, a PRAGMA) would be
        # one more wait for the GIL behind that thread: five a chunk cost 0.8 s a 100k run.
        stamp = now()
        with without_fsync(self.conn) as db:
            for chunk in chunks:
                n = len(chunk)
                if n not in self._statements:
                    self._statements[n] = _INSERT + ", ".join([_VALUES] * n)
                args = list(chain.from_iterable((run_id, *m, stamp, stamp) for m in chunk))
                db.execute(self._statements[n], args)

    # --- sending ----------------------------------------------------------------------------

    def permits(
        self, account: str, rates: Sequence[Rate], *, covered_delay: float = 0.0
    ) -> RateLimiter:
        from smscli.store.sqlite_permits import RateLimiter

        return RateLimiter(self.conn, account, rates, covered_delay=covered_delay)

    def _to_sending(self, db: sqlite3.Connection, ids: list[int], at: float) -> tuple[int, int]:
        found = db.execute(
            "UPDATE messages SET state = 'sending', updated_at = ?, sent_at = ?"
            " WHERE id IN (SELECT value FROM json_each(?)) AND state = 'pending'"
            " RETURNING checksum",
            (now(), at, json.dumps(ids)),
        ).fetchall()
        return len(found), sum(c for (c,) in found if c is not None)

    def _take_slots(
        self, db: sqlite3.Connection, guard: Guard, rows: list[tuple[int, str, int]]
    ) -> set[int]:
        since = math.inf if guard.repeats_since is None else held_since(guard.repeats_since)
        given = json.dumps(rows)
        if guard.record:
            taken = db.execute(
                "INSERT INTO repeat_guard (recipient, text_key, claimed_at, message_id, run_id)"
                " SELECT j.value ->> 1, j.value ->> 2, ?1, j.value ->> 0, ?2"
                " FROM json_each(?3) AS j WHERE true ON CONFLICT (recipient, text_key)"
                " DO UPDATE SET claimed_at = excluded.claimed_at,"
                " message_id = excluded.message_id, run_id = excluded.run_id"
                " WHERE repeat_guard.claimed_at < ?4"
                " OR repeat_guard.message_id = excluded.message_id",
                (time.time(), guard.run_id, given, since),
            ).rowcount
            if taken == len(rows):
                return set()
            since = -math.inf  # who holds a slot now: each that did not take its own lost
        return {
            int(i)
            for (i,) in db.execute(
                "SELECT j.value ->> 0 FROM json_each(?1) AS j JOIN repeat_guard AS g"
                " ON g.recipient = j.value ->> 1 AND g.text_key = j.value ->> 2"
                " WHERE g.claimed_at >= ?2 AND g.message_id != j.value ->> 0",
                (given, since),
            )
        }

    def _to_pending(self, db: sqlite3.Connection, ids: list[int]) -> None:
        db.execute(
            "UPDATE messages SET state = 'pending', updated_at = ?"
            " WHERE id IN (SELECT value FROM json_each(?)) AND state = 'sending'",
            (now(), json.dumps(ids)),
        )

    def _write_outcomes(self, db: sqlite3.Connection, recorded: Sequence[Recorded]) -> None:
        """Every outcome of every request in one statement, passed as one JSON array: the main
        thread gives up the GIL once for all of them (``executemany`` gives it up for every
        row, and then waits behind the HTTP threads to get it back). Of the provider states
        only the last one written for a key is kept."""
        rows: list[tuple[int, str, str | None, str | None, str | None]] = []
        states: dict[tuple[str, str], str] = {}
        for outcomes, batch_id, state in recorded:
            for account, key, value in state:
                states[account, key] = value
            rows += [(i, st, pid, err, batch_id) for i, st, pid, err in outcomes]
        if rows:
            db.execute(
                "UPDATE messages SET state = json_extract(j.value, '$[1]'),"
                " provider_message_id = json_extract(j.value, '$[2]'),"
                " error = json_extract(j.value, '$[3]'), batch_id = json_extract(j.value, '$[4]'),"
                " updated_at = ? FROM json_each(?) AS j"
                " WHERE messages.id = json_extract(j.value, '$[0]')",
                (now(), json.dumps(rows)),
            )
        for (account, key), value in states.items():
            self._set_state(db, account, key, value)
        self._free_slots(db, [r[0] for r in rows if r[1] == "failed"])

    def sending(self, *, overlap: bool = False) -> AbstractContextManager[None]:
        return background_checkpoints(self.conn, self.path)
