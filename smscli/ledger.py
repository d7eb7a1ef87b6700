"""The SQLite ledger: every run and every message, so that nothing is sent twice and
everything can be found again.

A message is written before its request leaves (``sending``, committed) and its outcome as soon
as the reply arrives. The database runs in WAL mode with ``synchronous=FULL`` so a committed
state survives a crash or ``kill -9``, and a power cut too. Writes that need not survive a power
cut on their own (a bulk run's outcomes and its rows while it is being prepared) are committed
with ``durable=False``: they survive a crash of the process at once, and a power cut from the
next durable commit on, which fsyncs the whole write-ahead log, theirs included. A claim
(``sending``) is always durable before its request leaves, which is what makes a double send
impossible; an outcome lost to a power cut leaves its message ``sending``, which a resumed run
settles as ``unknown`` and never re-sends by itself.

Schema migrations are the ordered list below, applied by :meth:`Ledger.open` through
``PRAGMA user_version``. No secret is ever stored.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from smscli.errors import ConfigError

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        command TEXT NOT NULL,
        provider TEXT NOT NULL,
        profile TEXT,
        account TEXT NOT NULL,
        sender TEXT,
        source TEXT,
        fingerprint TEXT,
        credits_remaining REAL
    );
    CREATE INDEX runs_fingerprint ON runs(fingerprint);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        source TEXT,
        raw TEXT,
        recipient TEXT,
        text TEXT,
        encoding TEXT,
        segments INTEGER,
        state TEXT NOT NULL,
        provider_message_id TEXT,
        batch_id TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX messages_run_state ON messages(run_id, state);
    CREATE INDEX messages_provider_id ON messages(provider_message_id);
    CREATE TABLE provider_state (
        account TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, key)
    );
    """,
    # 2: bulk runs (preparation state, options, lease), delivery reports, rate limiting.
    """
    ALTER TABLE runs ADD COLUMN state TEXT NOT NULL DEFAULT 'complete';
    ALTER TABLE runs ADD COLUMN options TEXT;
    ALTER TABLE runs ADD COLUMN lease_owner TEXT;
    ALTER TABLE runs ADD COLUMN lease_until REAL;
    ALTER TABLE messages ADD COLUMN report_detail TEXT;
    ALTER TABLE messages ADD COLUMN reported_at TEXT;
    CREATE INDEX messages_run_recipient ON messages(run_id, recipient);
    CREATE TABLE rate_events (account TEXT NOT NULL, at REAL NOT NULL);
    CREATE INDEX rate_events_account_at ON rate_events(account, at);
    CREATE TABLE rate_blocks (account TEXT PRIMARY KEY, until REAL NOT NULL);
    """,
    # 3: the next pending window of a run, in input order, without sorting the whole run.
    """
    CREATE INDEX messages_run_state_seq ON messages(run_id, state, seq);
    DROP INDEX messages_run_state;
    """,
    # 4: only pending messages need finding in order; a partial index is not rewritten when a
    # message moves from sending to its outcome, which halves the index work of every batch.
    """
    CREATE INDEX messages_pending ON messages(run_id, seq) WHERE state = 'pending';
    DROP INDEX messages_run_state_seq;
    """,
    # 5: provider ids are only looked up by value (reports), never as NULL: a partial index
    # is not written when a message is prepared, nor rewritten when it gets its id.
    """
    DROP INDEX messages_provider_id;
    CREATE INDEX messages_provider_id ON messages(provider_message_id)
        WHERE provider_message_id IS NOT NULL;
    """,
)

OutcomeRow = tuple[int, str, str | None, str | None]
"""``(message id, state, provider's message id, error)``."""
Recorded = tuple[Iterable[OutcomeRow], str | None, tuple[str, str, str] | None]
"""What :meth:`Ledger.record` takes: outcomes, the batch id, provider state to store."""

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
"""Message states. ``invalid``: the input was rejected (bad number), never sent.
``skipped``: a duplicate or excluded row of a bulk run, never sent."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + os.urandom(3).hex()


class NewMessage(NamedTuple):
    seq: int
    source: str
    raw: str
    recipient: str | None
    text: str
    encoding: str
    segments: int
    state: str = "pending"
    error: str | None = None


class Run(NamedTuple):
    id: str
    created_at: str
    finished_at: str | None
    command: str
    provider: str
    profile: str | None
    account: str
    sender: str | None
    source: str | None
    credits_remaining: float | None


class Ledger:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Ledger:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the ledger {path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        ledger = cls(conn, path)
        deadline = time.monotonic() + 30.0
        while True:
            try:
                # Switching a new database to WAL takes an exclusive lock without waiting for
                # the busy timeout, so two processes starting at once retry here.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                ledger._migrate()
                return ledger
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                conn.close()
                raise ConfigError(f"the ledger {path} is not usable: {exc}") from None
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise ConfigError(f"the ledger {path} is not usable: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """A short ``BEGIN IMMEDIATE`` transaction: writers queue here, not mid-way.

        ``durable=False`` commits without an fsync of its own (see the module's docstring)."""
        return write_transaction(self.conn, durable=durable)

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise ConfigError(
                    f"the ledger {self.path} was written by a newer smscli "
                    f"(schema {version}); upgrade smscli"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def background_checkpoints(self, every: float = 0.25) -> Iterator[None]:
        """While inside, commits on this connection never stop to checkpoint the WAL (copy it
        into the database file and fsync that: tens of milliseconds every 1,000 pages, in the
        middle of a bulk send and of its rate windows). A helper thread with a connection of
        its own checkpoints every ``every`` seconds instead, without the GIL, and ``PASSIVE``:
        it never waits for a writer, nor makes one wait. Durability is unchanged: a commit is
        durable once in the WAL."""
        (pages,) = self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        self.conn.execute("PRAGMA wal_autocheckpoint = 0")
        stop = threading.Event()

        def checkpoint() -> None:
            try:
                with closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as c:
                    while not stop.wait(every):
                        c.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:
                pass  # the WAL grows until the block ends; the first commit after checkpoints

        thread = threading.Thread(target=checkpoint, name="smscli-checkpoint", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    # runs -------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        command: str,
        provider: str,
        profile: str | None,
        account: str,
        sender: str | None,
        source: str | None,
        messages: Iterable[NewMessage],
        fingerprint: str | None = None,
    ) -> str:
        """A run and all its messages, in one transaction."""
        run_id = new_run_id()
        stamp = now()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (id, created_at, command, provider, profile, account, sender,"
                " source, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, stamp, command, provider, profile, account, sender, source, fingerprint),
            )
            db.executemany(
                "INSERT INTO messages (run_id, seq, source, raw, recipient, text, encoding,"
                " segments, state, error, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        run_id, m.seq, m.source, m.raw, m.recipient, m.text, m.encoding,
                        m.segments, m.state, m.error, stamp, stamp,
                    )
                    for m in messages
                ),
            )  # fmt: skip
        return run_id

    def finish_run(self, run_id: str, credits_remaining: float | None) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, credits_remaining = ? WHERE id = ?",
                (now(), credits_remaining, run_id),
            )

    def run(self, run_id: str) -> Run | None:
        row = self.conn.execute(
            "SELECT id, created_at, finished_at, command, provider, profile, account, sender,"
            " source, credits_remaining FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        return Run(*row) if row else None

    def messages(self, run_id: str, states: Sequence[str] | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM messages WHERE run_id = ?"
        args: list[Any] = [run_id]
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            args += list(states)
        return self.conn.execute(sql + " ORDER BY seq", args).fetchall()

    # message states ---------------------------------------------------------------------

    def claim(
        self,
        batches: Sequence[Sequence[int]],
        *,
        recorded: Sequence[Recorded] = (),
        permits: Callable[[sqlite3.Connection, int], tuple[int, float]] | None = None,
    ) -> tuple[int, float]:
        """Claim the messages of requests just before they leave: one commit, durable on
        return, for every batch of ``batches`` (one request each) and the ``recorded``
        outcomes collected since the last commit, whose own commits this saves.

        ``permits`` (a rate limiter's, asked for one permit per batch) is called once, inside
        the same transaction, and says how many it gave and the wait the next would need, so
        a claim never exists without its permit: the batches it gave permits for are claimed,
        in order, the rest are not. Returns how many batches were claimed and that wait (0.0
        when every batch was claimed)."""
        count, wait = len(batches), 0.0
        with self.transaction() as db:
            self._write_outcomes(db, recorded)
            if permits is not None:
                count, wait = permits(db, count)
            if count:
                self._move(db, [i for ids in batches[:count] for i in ids], "sending")
        return count, wait

    def put_back(self, ids: Sequence[int]) -> None:
        """Return claimed messages to ``pending``: their request was not processed."""
        with self.transaction() as db:
            self._move(db, ids, "pending")

    @staticmethod
    def _move(db: sqlite3.Connection, ids: Sequence[int], state: str) -> None:
        """Every message of ``ids`` to ``state``, in one statement (one trip without the GIL)."""
        db.execute(
            "UPDATE messages SET state = ?, updated_at = ?"
            " WHERE id IN (SELECT value FROM json_each(?))",
            (state, now(), json.dumps(list(ids))),
        )

    def record(
        self,
        outcomes: Iterable[OutcomeRow],
        batch_id: str | None,
        *,
        account_state: tuple[str, str, str] | None = None,
    ) -> None:
        """Store ``(id, state, provider_message_id, error)`` outcomes, and an optional
        ``(account, key, value)`` of provider state with them. Committed on return."""
        self.record_all([(outcomes, batch_id, account_state)])

    def record_all(self, recorded: Sequence[Recorded], *, durable: bool = True) -> None:
        """Several :meth:`record` calls in one transaction."""
        with self.transaction(durable=durable) as db:
            self._write_outcomes(db, recorded)

    def _write_outcomes(self, db: sqlite3.Connection, recorded: Sequence[Recorded]) -> None:
        """Every outcome of every request in one statement, passed as one JSON array: the main
        thread gives up the GIL once for all of them (``executemany`` gives it up for every
        row, and then waits behind the HTTP threads to get it back). Of the provider states
        only the last one written for a key is kept."""
        rows: list[tuple[int, str, str | None, str | None, str | None]] = []
        states: dict[tuple[str, str], str] = {}
        for outcomes, batch_id, account_state in recorded:
            if account_state is not None:
                account, key, value = account_state
                states[account, key] = value
            rows += [(i, state, pid, err, batch_id) for i, state, pid, err in outcomes]
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

    # provider state (simulated credits, last reported balance) ---------------------------

    def get_state(self, account: str, key: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            "SELECT value, updated_at FROM provider_state WHERE account = ? AND key = ?",
            (account, key),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def set_state(self, account: str, key: str, value: str) -> None:
        with self.transaction() as db:
            self._set_state(db, account, key, value)

    @staticmethod
    def _set_state(db: sqlite3.Connection, account: str, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO provider_state (account, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (account, key, value, now()),
        )


@contextmanager
def write_transaction(
    conn: sqlite3.Connection, *, durable: bool = True
) -> Iterator[sqlite3.Connection]:
    """:meth:`Ledger.transaction` on any connection to a ledger (which runs with
    ``synchronous=FULL``, restored after a ``durable=False`` commit)."""
    with nullcontext() if durable else without_fsync(conn):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


@contextmanager
def without_fsync(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Commits on ``conn`` that are not durable on their own (``synchronous=NORMAL``: the next
    durable commit makes them so); ``synchronous=FULL`` is restored after."""
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield conn
    finally:
        conn.execute("PRAGMA synchronous=FULL")


def credits_state(account: str, credits: float | None) -> tuple[str, str, str] | None:
    """The provider state that records a reported balance (for :meth:`Ledger.record`)."""
    return None if credits is None else (account, "credits_remaining", repr(credits))


class AccountState:
    """Key-value state of one provider account, kept in the ledger (e.g. sandbox credits)."""

    def __init__(self, ledger: Ledger, account: str) -> None:
        self.ledger = ledger
        self.account = account

    def get(self, key: str) -> str | None:
        found = self.ledger.get_state(self.account, key)
        return found[0] if found else None

    def set(self, key: str, value: str) -> None:
        self.ledger.set_state(self.account, key, value)
