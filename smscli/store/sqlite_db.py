"""Connection-level helpers of the SQLite store: migrations, write transactions, and WAL
checkpoints in a thread of their own while a run sends."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from pathlib import Path

from smscli.errors import ConfigError
from smscli.store.backfill import backfill_guard
from smscli.store.migrations import GUARDED, scripts
from smscli.store.problems import NOT_UTF8, LedgerDamaged, LedgerEmpty, storage_error


def connect_ledger(path: Path) -> sqlite3.Connection:
    """A connection to the ledger at ``path`` (resolved), migrated; a new ledger is created
    whole. An existing empty file is refused: SQLite would take it for a new database, and
    a ledger that lost its contents must not send again what it had recorded as sent."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            _create(path)
        elif path.stat().st_size == 0:
            raise LedgerEmpty(str(path))
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        said = storage_error(exc, str(path))
        raise (said or ConfigError(f"cannot open the ledger {path}: {exc}")) from None
    deadline = time.monotonic() + 30.0
    while True:
        try:
            # Switching a database to WAL takes an exclusive lock without waiting for the busy
            # timeout, so two processes starting at once retry here (a no-op once it is WAL).
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrate(conn, path)
            return conn
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            conn.close()
            said = storage_error(exc, str(path))
            raise (said or ConfigError(f"the ledger {path} is not usable: {exc}")) from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            said = storage_error(exc, str(path))
            raise (said or ConfigError(f"the ledger {path} is not usable: {exc}")) from None
        except UnicodeDecodeError:  # a text of its header or schema is not what SQLite wrote
            conn.close()
            raise LedgerDamaged(str(path), NOT_UTF8) from None


def _create(path: Path) -> None:
    """A new ledger appears at ``path`` whole (WAL mode, migrated) or not at all: built under
    a temporary name, then linked into place, so that no process ever meets it empty (and
    two processes creating it at once make one ledger)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        with closing(sqlite3.connect(temp, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            migrate(conn, path)
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it first: theirs is the ledger
        except OSError:  # a file system without hard links: same, unless it appeared meanwhile
            if not path.exists():
                os.replace(temp, path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            temp.with_name(temp.name + suffix).unlink(missing_ok=True)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    with write_transaction(conn) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        steps = scripts("sqlite")
        if version > len(steps):
            raise ConfigError(
                f"the ledger {path} was written by a newer smscli "
                f"(schema {version}); upgrade smscli"
            )
        for number, script in enumerate(steps[version:], start=version + 1):
            for statement in statements(script):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        if version < GUARDED <= len(steps):
            backfill_guard(db)


def statements(script: str) -> Iterator[str]:
    """A migration's statements, one at a time (a trigger's body holds ``;`` of its own)."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""


@contextmanager
def write_transaction(
    conn: sqlite3.Connection, *, durable: bool = True
) -> Iterator[sqlite3.Connection]:
    """A ``BEGIN IMMEDIATE`` transaction on any connection to a ledger (which runs with
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


@contextmanager
def background_checkpoints(
    conn: sqlite3.Connection, path: Path, every: float = 0.25
) -> Iterator[None]:
    """While inside, commits on this connection never stop to checkpoint the WAL (copy it
    into the database file and fsync that: tens of milliseconds every 1,000 pages, in the
    middle of a send and of its rate windows). A helper thread with a connection of its
    own checkpoints every ``every`` seconds instead, without the GIL, and ``PASSIVE``: it
    never waits for a writer, nor makes one wait. Durability is unchanged: a commit is
    durable once in the WAL."""
    (pages,) = conn.execute("PRAGMA wal_autocheckpoint").fetchone()
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    stop = threading.Event()

    def checkpoint() -> None:
        try:
            with closing(sqlite3.connect(path, timeout=30.0, isolation_level=None)) as c:
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
        conn.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")
