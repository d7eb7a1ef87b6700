"""``smscli ledger check``: SQLite's full integrity check of a ledger file, and which of its
runs can still be read. Opens the file read-only and never migrates it: a damaged ledger is
examined as it is."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
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

    @property
    def intact(self) -> bool:
        return self.exists and not self.problems and self.runs_error is None


def check_ledger(path: Path) -> LedgerHealth:
    """The health of the ledger at ``path`` (a missing file is reported, not created)."""
    path = path.expanduser().resolve()
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
    health.runs = [_run(conn, run_id) for run_id in ids]


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
