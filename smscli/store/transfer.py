"""``smscli ledger copy`` and ``smscli ledger info``: a ledger moved whole from one backend to
another, and what a ledger holds. A copy reads the source in one snapshot (PostgreSQL: ``REPEATABLE
READ``, through server-side cursors) and writes the destination in one transaction, a chunk at a
time: all or nothing, in flat memory. Runs keep their ids, fingerprints and states (exactly-once
survives the move); messages get the destination's ids, in the source's order. Rate-limit
permits are not copied (they expire within the rate windows), nor run leases.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from itertools import count, islice
from pathlib import Path
from typing import Any

from smscli.errors import InputError, Unfinished, UsageError
from smscli.store import Store, is_postgres, open_store, shown
from smscli.store.backfill import backfill_guard
from smscli.words import plural

CHUNK = 5000
NOT_COPIED = ("rate_events", "rate_blocks")
"""Tables left behind: rate-limit permits, which expire within the rate windows."""

RUN_COLUMNS = (
    "id, created_at, finished_at, command, provider, profile, account, sender, source,"
    " fingerprint, credits_remaining, state, options, exit_code, offline"
)
MESSAGE_COLUMNS = (
    "run_id, seq, source, raw, recipient, text, encoding, segments, state,"
    " provider_message_id, batch_id, error, report_detail, reported_at, created_at,"
    " updated_at, sent_at, text_key, checksum"
)
_OTHERS = (
    ("optouts", "number, added_at, reason, source", "added_at, number", "(number) DO NOTHING"),
    (
        "idempotency_keys",
        "account, key, request, run_id, created_at",
        "created_at, account, key",
        "(account, key) DO NOTHING",
    ),
    (
        "provider_state",
        "account, key, value, updated_at",
        "account, key",
        "(account, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
        " WHERE excluded.updated_at > provider_state.updated_at",
    ),
)
"""The other tables copied: ``(table, columns, order, ON CONFLICT …)``: opt-outs and keys
the destination has are kept; of two provider states, the newer one."""
COPIED = ("runs", "messages", *(t[0] for t in _OTHERS))
COUNTED = ("runs", "optouts", "idempotency_keys", "provider_state")

Location = str | Path
Read = Callable[[str], Iterator[tuple[Any, ...]]]
"""Rows of a query on the source, streamed, all from one snapshot."""


@dataclass
class Copied:
    """What a copy wrote, by table, and which of the source's runs the destination had."""

    source: str
    destination: str
    merge: bool
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COPIED, 0))
    skipped_runs: list[str] = field(default_factory=list)


@dataclass
class LedgerInfo:
    """Where a ledger is and what it holds."""

    backend: str
    location: str
    exists: bool
    schema: int | None = None
    size: int | None = None
    """Bytes: the SQLite file, or the ledger's tables on the PostgreSQL server."""
    messages: dict[str, int] = field(default_factory=dict)
    """Messages by state."""
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    """Rows of the other tables."""


def location(text: str) -> Location:
    """A ``SRC``/``DST`` argument: a PostgreSQL URL as it is, else a path."""
    return text if is_postgres(text) else Path(text).expanduser().absolute()


def exists(where: Location) -> bool:
    """Whether there is a ledger at ``where``, without creating one. A PostgreSQL server that
    cannot be asked counts as one: opening it says why it cannot be used."""
    if not is_postgres(where):
        return Path(where).expanduser().is_file()
    try:
        import psycopg

        with psycopg.connect(str(where), autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT to_regclass('smscli_schema') IS NOT NULL").fetchone()
    except Exception:  # no driver, or a server that cannot be asked
        return True
    return bool(row and row[0])


def same_place(a: Location, b: Location) -> bool:
    """Whether two locations name one ledger as written (a file by any path to it; a database
    by the same connection parameters, whatever the password)."""
    if isinstance(a, Path) and isinstance(b, Path):
        a, b = a.expanduser().resolve(), b.expanduser().resolve()
        if a == b:
            return True
        with suppress(OSError):
            return a.exists() and b.exists() and os.path.samefile(a, b)
        return False
    if isinstance(a, str) and isinstance(b, str):
        try:
            from psycopg.conninfo import conninfo_to_dict

            one, two = ({**conninfo_to_dict(u), "password": None} for u in (a, b))
        except Exception:  # no driver, or a URL libpq cannot read: opening it says so
            return a == b
        return one == two
    return False


def copy_ledger(source: Location, destination: Location, *, merge: bool = False) -> Copied:
    """Every run, message, opt-out, idempotency key and provider state of ``source`` into
    ``destination`` (created as needed), in one transaction. A destination that holds runs or
    opt-outs is refused unless ``merge``: then the runs it has already are skipped with their
    messages, its opt-outs and idempotency keys are kept, and of two provider states the newer
    one is."""
    src_shown, dst_shown = shown(source), shown(destination)
    if same_place(source, destination):
        raise UsageError(
            f"the source and the destination are the same ledger ({src_shown}); nothing copied",
            hint="name another file or database as DST",
        )
    if not exists(source):
        raise InputError(
            f"there is no ledger at {src_shown}; nothing copied",
            hint="name the ledger to copy as SRC (`smscli ledger info` shows where yours is)",
        )
    if isinstance(destination, Path):
        destination = destination.expanduser()
    created = isinstance(destination, Path) and not destination.exists()
    try:
        with open_store(source) as src:
            _refuse_in_flight(src, src_shown)
            with open_store(destination) as dst:
                if _same_server_ledger(src, dst):
                    raise UsageError(
                        f"the source {src_shown} and the destination {dst_shown} are the same "
                        "ledger; nothing copied",
                        hint="name another database or schema as DST",
                    )
                copied = Copied(src_shown, dst_shown, merge)
                try:
                    _copy(src, dst, copied)
                except Exception as exc:
                    _refuse_unstorable(exc, copied)
                    raise
                return copied
    except BaseException:
        if created:
            _remove_new(Path(destination))
        raise


def _copy(src: Store, dst: Store, copied: Copied) -> None:
    pg, rows = not _is_sqlite(dst), copied.rows
    with dst.transaction() as db:  # type: ignore[attr-defined]
        if pg:  # no other writer meanwhile: what is checked here is what is merged into
            db.execute(f"LOCK TABLE {', '.join(COPIED)} IN EXCLUSIVE MODE")
        _refuse_non_empty(db, copied)
        existing = {row[0] for row in db.execute("SELECT id FROM runs")}
        with _snapshot(src) as read:
            skipped = copied.skipped_runs
            runs = read(f"SELECT {RUN_COLUMNS} FROM runs ORDER BY rowid")
            rows["runs"] = _insert(db, pg, "runs", RUN_COLUMNS, _without(runs, existing, skipped))
            messages = read(f"SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY id")
            if skipped:
                left_out = set(skipped)
                messages = (m for m in messages if m[0] not in left_out)
            rows["messages"] = _copy_messages(db, pg, messages)
            for table, columns, order, conflict in _OTHERS:
                found = read(f"SELECT {columns} FROM {table} ORDER BY {order}")
                rows[table] = _insert(db, pg, table, columns, found, f" ON CONFLICT {conflict}")
        # The repeat guard names messages by id, which the destination gave anew.
        backfill_guard(db, "%s" if pg else "?")


def _refuse_unstorable(exc: Exception, copied: Copied) -> None:
    """A value of the source the destination cannot hold (PostgreSQL's text holds no NUL
    character, which SQLite's does) is the source's data, said as such: nothing was copied."""
    import sys

    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.DataError):
        detail = " ".join(str(exc).split())
        raise InputError(
            f"the destination {copied.destination} cannot store a value of the source "
            f"{copied.source} ({detail}); nothing copied",
            hint="correct that value in the source (`smscli ledger check` reads it), or copy "
            "into an SQLite ledger",
        ) from None


def _refuse_non_empty(db: Any, copied: Copied) -> None:
    runs, optouts = _count(db, "runs"), _count(db, "optouts")
    if (runs or optouts) and not copied.merge:
        raise UsageError(
            f"the destination {copied.destination} already holds {plural(runs, 'run')} and "
            f"{plural(optouts, 'opt-out')}; nothing copied",
            hint="add the source's runs to it with --merge (runs it has already are skipped, "
            "its opt-outs kept), or copy into an empty destination (a new file, database or "
            "schema)",
        )


def _without(
    rows: Iterator[tuple[Any, ...]], ids: set[str], skipped: list[str]
) -> Iterator[tuple[Any, ...]]:
    """The runs whose id is not in ``ids``; the others' ids go to ``skipped``."""
    for row in rows:
        if row[0] in ids:
            skipped.append(row[0])
        else:
            yield row


def _insert(
    db: Any, pg: bool, table: str, columns: str, rows: Iterable[tuple[Any, ...]], tail: str = ""
) -> int:
    """``rows`` into ``table``, a chunk at a time; returns how many were written."""
    mark = "%s" if pg else "?"
    marks = ", ".join([mark] * (columns.count(",") + 1))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}){tail}"
    written, it = 0, iter(rows)
    with closing(db.cursor()) as cur:
        for chunk in iter(lambda: list(islice(it, CHUNK)), []):
            cur.executemany(sql, chunk)
            written += max(cur.rowcount, 0)
    return written


def _copy_messages(db: Any, pg: bool, rows: Iterator[tuple[Any, ...]]) -> int:
    """Messages, their ids given by the destination in the order they come: PostgreSQL's
    ``COPY``, SQLite's ``executemany``."""
    if not pg:
        return _insert(db, pg, "messages", MESSAGE_COLUMNS, rows)
    written = 0
    with db.cursor() as cur, cur.copy(f"COPY messages ({MESSAGE_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    from smscli.store.pg import PROVIDER_IDS_OF_MESSAGES

    db.execute(PROVIDER_IDS_OF_MESSAGES)
    return written


@contextmanager
def _snapshot(store: Store) -> Iterator[Read]:
    """Reads of ``store`` that all see it as it was at the first one."""
    conn: Any = store.conn  # type: ignore[attr-defined]
    if _is_sqlite(store):
        conn.execute("BEGIN")
        try:
            yield lambda sql: iter(conn.execute(sql))
        finally:
            if conn.in_transaction:  # read only: nothing to keep
                conn.execute("ROLLBACK")
        return
    names = count()

    def read(sql: str) -> Iterator[tuple[Any, ...]]:
        with conn.cursor(name=f"smscli_copy_{next(names)}") as cur:
            cur.itersize = CHUNK
            cur.execute(sql)
            yield from cur

    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield read


def _refuse_in_flight(store: Store, where: str) -> None:
    """A source with a run in flight is not copied: what it sends meanwhile would be pending
    in the copy, and sent again from there."""
    conn: Any = store.conn  # type: ignore[attr-defined]
    sql = "SELECT DISTINCT run_id FROM messages WHERE state = 'sending' LIMIT 1"
    row = conn.execute(sql).fetchone()
    if row is not None:
        what = f"run {row[0]} has messages in state sending"
    else:
        holder = _holder(store)
        if holder is None:
            return
        what = f"run {holder[0]} is being sent by another smscli process ({holder[1]})"
    raise Unfinished(
        f"{what} in the ledger {where}: a run is in flight; nothing copied",
        hint="stop every smscli process using it first, then copy again (a run interrupted "
        "by a crash: run its command again, which settles its in-doubt messages)",
    )


def _holder(store: Store) -> tuple[str, str] | None:
    """A run of ``store`` that a live smscli process holds: ``(run id, who)``."""
    conn: Any = store.conn  # type: ignore[attr-defined]
    rows = conn.execute(
        "SELECT id, lease_owner, lease_until FROM runs WHERE lease_owner IS NOT NULL"
        " AND state != 'complete'"
    ).fetchall()
    if _is_sqlite(store):
        from smscli.store.sqlite_holds import alive

        return next(((r[0], r[1]) for r in rows if alive(r[1], r[2])), None)
    from smscli.store.pg_db import lock_holder, lock_key

    for run_id, owner, _ in rows:
        if lock_holder(conn, lock_key(conn, "run", run_id)) is not None:
            return run_id, owner
    return None


def _same_server_ledger(src: Store, dst: Store) -> bool:
    """Whether two PostgreSQL stores are one ledger (one server, database and schema, however
    their URLs reach it): a lock the source takes, keyed by its schema, is seen from the
    destination under the key of the destination's schema."""
    if _is_sqlite(src) or _is_sqlite(dst):
        return False
    from smscli.store.pg_db import lock_holder, lock_key

    token = os.urandom(8).hex()
    a, b = src.conn, dst.conn  # type: ignore[attr-defined]
    a.execute("SELECT pg_advisory_lock(%s)", (lock_key(a, "copy", token),))
    try:
        return lock_holder(b, lock_key(b, "copy", token)) is not None
    finally:
        a.execute("SELECT pg_advisory_unlock(%s)", (lock_key(a, "copy", token),))


def _remove_new(path: Path) -> None:
    """A destination file this copy created, which holds nothing since it failed."""
    for suffix in ("", "-wal", "-shm"):
        with suppress(OSError):
            path.with_name(path.name + suffix).unlink()


def _is_sqlite(store: Store) -> bool:
    from smscli.store.sqlite import SqliteStore

    return isinstance(store, SqliteStore)


def _count(conn: Any, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def ledger_info(where: Location) -> LedgerInfo:
    """What the ledger at ``where`` holds; a ledger not there yet is said so, not created."""
    backend = "postgres" if is_postgres(where) else "sqlite"
    if backend == "sqlite":
        where = Path(where).expanduser().resolve()
    info = LedgerInfo(backend, shown(where), exists(where))
    if not info.exists:
        return info
    with open_store(where) as store:
        conn: Any = store.conn  # type: ignore[attr-defined]
        if _is_sqlite(store):
            info.schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
            info.size = Path(store.location).stat().st_size
        else:
            from smscli.store.pg_db import schema_version, size

            info.schema = schema_version(conn)
            info.size = size(conn)
        info.rows = {table: _count(conn, table) for table in COUNTED}
        info.messages = {
            str(state): int(n)
            for state, n in conn.execute(
                "SELECT state, count(*) FROM messages GROUP BY state ORDER BY state"
            )
        }
    return info
