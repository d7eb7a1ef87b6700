"""``smscli ledger check``: SQLite's full integrity check of a ledger file, and which of its
runs can still be read. Opens the file read-only and never migrates it: a damaged ledger is
examined as it is."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class RunHealth:
    run_id: str
    readable: bool
    messages: int = 0
    states: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class LedgerHealth:
    location: str
    exists: bool
    size: int = 0
    schema: int | None = None
    problems: list[str] = field(default_factory=list)
    """What SQLite's ``integrity_check`` found (the first :data:`SHOWN_PROBLEMS`)."""
    runs: list[RunHealth] = field(default_factory=list)
    runs_error: str | None = None
    """Why the list of runs could not be read, if it could not."""
    backend: str = "sqlite"

    @property
    def intact(self) -> bool:
        return self.exists and not self.problems and self.runs_error is None


def check_ledger(location: str | Path) -> LedgerHealth:
    """The health of the ledger at ``location`` (a missing file is reported, not created)."""
    if isinstance(location, str):
        return _check_postgres(location)
    path = location.expanduser().resolve()
    health = LedgerHealth(str(path), path.is_file())
    if not health.exists:
        return health
    health.size = path.stat().st_size
    if health.size == 0:
        health.problems.append("the file is empty (0 bytes): whatever it recorded is gone")
        return health
    uri = f"file:{quote(str(path))}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as conn:
            _examine(conn, health)
    except sqlite3.Error as exc:  # not a database at all, or unreadable from the first page
        health.problems.append(str(exc))
    return health


def _examine(conn: sqlite3.Connection, health: LedgerHealth) -> None:
    health.schema = conn.execute("PRAGMA user_version").fetchone()[0]
    try:
        found = [r[0] for r in conn.execute(f"PRAGMA integrity_check({SHOWN_PROBLEMS})")]
    except sqlite3.Error as exc:  # a page the check itself cannot get past
        found = [str(exc)]
    if found != ["ok"]:
        health.problems.extend(found)
    try:
        ids = [r[0] for r in conn.execute("SELECT id FROM runs ORDER BY created_at, rowid")]
    except sqlite3.Error as exc:
        health.runs_error = str(exc)
        return
    for table in _OTHER_TABLES:  # every value of them can be read (as text, where it is)
        try:
            conn.execute(f"SELECT * FROM {table}").fetchall()
        except sqlite3.Error as exc:
            health.problems.append(f"the table {table} cannot be read whole: {_said(exc)}")
    health.runs = [_run(conn, run_id) for run_id in ids]
    _checksums(conn, health)


_OTHER_TABLES = ("runs", "optouts", "idempotency_keys", "provider_state", "repeat_guard")


def _said(exc: sqlite3.Error) -> str:
    """sqlite3's error in words (its quote of undecodable bytes says nothing to a person)."""
    from smscli.store.problems import NOT_UTF8, not_utf8

    return NOT_UTF8 if not_utf8(exc) else str(exc)


_ROWS = (
    "SELECT id, run_id, recipient, text, text_key, checksum FROM messages"
    " WHERE checksum IS NOT NULL"
)


def _checksums(conn: Any, health: LedgerHealth) -> None:
    """Every message that carries a checksum still holds what was planned (its number and
    text: :func:`smscli.store.keys.row_checksum`); the first few that do not are problems."""
    from smscli.store.keys import row_checksum

    bad = 0
    try:
        for i, run_id, to, text, key, checksum in conn.execute(_ROWS):
            if row_checksum(run_id, to, text or "", key) != checksum:
                bad += 1
                if bad <= SHOWN_PROBLEMS:
                    health.problems.append(
                        f"message {i} of run {run_id} no longer holds what was planned "
                        "(its checksum does not match): it is never sent"
                    )
    except Exception as exc:  # a page the rows are on cannot be read: said by the run list
        if not health.problems:
            health.problems.append(str(exc))
    if bad > SHOWN_PROBLEMS:
        health.problems.append(f"… and {bad - SHOWN_PROBLEMS} more messages like these")


def _run(conn: sqlite3.Connection, run_id: str) -> RunHealth:
    """Whether every message of ``run_id`` can be read, every column of it (through the run's
    index, else by a scan of the whole table, which does not need the index)."""
    error = ""
    for table in ("messages", "messages NOT INDEXED"):
        try:
            rows = conn.execute(f"SELECT state, * FROM {table} WHERE run_id = ?", (run_id,))
            states = Counter(str(row[0]) for row in rows)
        except sqlite3.Error as exc:
            error = error or str(exc)
            continue
        return RunHealth(run_id, True, sum(states.values()), dict(states))
    return RunHealth(run_id, False, error=error)


def _check_postgres(url: str) -> LedgerHealth:
    """A PostgreSQL ledger: the server checks its pages as it reads them, so every message of
    every run is read (a damaged page fails the query that meets it); the size is the tables'
    on the server."""
    import psycopg

    from smscli.store.pg_db import connect_ledger, masked, schema_version, scrubbed, size

    health = LedgerHealth(masked(url), True, backend="postgres")
    conn = connect_ledger(url)
    try:
        health.schema = schema_version(conn)
        health.size = size(conn)
        states: dict[str, Counter[str]] = {}
        for run_id, state, count in conn.execute(
            "SELECT r.id, m.state, count(m.*) FROM runs AS r LEFT JOIN messages AS m"
            " ON m.run_id = r.id GROUP BY r.id, m.state, r.rowid ORDER BY r.rowid"
        ):
            found = states.setdefault(run_id, Counter())
            if state is not None:
                found[state] += count
        health.runs = [
            RunHealth(run_id, True, sum(c.values()), dict(c)) for run_id, c in states.items()
        ]
        _checksums(conn, health)
    except psycopg.Error as exc:  # what the server could not read
        health.runs_error = scrubbed(exc, url)
    finally:
        conn.close()
    return health
