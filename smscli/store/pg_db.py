"""Connection-level helpers of the PostgreSQL store: the connection (psycopg 3, imported only
here and only for a PostgreSQL ledger), migrations, transactions, advisory-lock keys, and the
user's errors for what the server or the network can do.

The connection runs in autocommit mode: every transaction is explicit
(:func:`transaction`), and a session-level advisory lock stays with the connection whatever its
transactions do. The server releases those locks when the connection ends, ``kill -9`` of the
client included (its kernel closes the socket); for a host that vanishes without closing it
(power cut, network cut), the session asks the server for TCP keepalives every 10 seconds, so
that the server notices within about a minute and releases its locks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from smscli.errors import ConfigError, SmscliError, Unfinished
from smscli.store.backfill import backfill_guard
from smscli.store.migrations import GUARDED, scripts

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql://", "postgres://")
_SCHEME = re.compile(r"(?i)postgres(?:ql)?://")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)((?:[^&]|&(?![\w.-]+=))*)")
"""A ``password=`` parameter's value: to the next ``&name=`` (an ``&`` or ``#`` pasted in a
password unencoded is still its own)."""
_CUTS = re.compile(r"[/?#@:&]")
"""Where a parser may cut a password pasted unencoded (libpq quotes the pieces it stops at)."""


def is_postgres(location: str) -> bool:
    return location.lower().startswith(SCHEMES)


def _user_info(url: str) -> tuple[str, str, str, str | None] | None:
    """``url``'s scheme, user, the rest from its last ``@`` on, and its password (None without
    a ``:``), whatever characters the password holds: people paste one with a ``?``, ``#``,
    ``/`` or ``@`` unencoded, which no URL parser reads as they mean; None without user-info."""
    scheme = _SCHEME.match(url)
    at = url.rfind("@")
    if scheme is None or at < scheme.end():
        return None
    user, colon, password = url[scheme.end() : at].partition(":")
    return scheme[0], user, url[at:], password if colon else None


def masked(url: str) -> str:
    """``url`` without its password (``postgresql://user:***@host/db``), and without any
    ``password=`` parameter: what every message and listing shows."""
    found = _user_info(url)
    if found is not None and found[3] is not None:
        scheme, user, rest, _ = found
        url = f"{scheme}{user}:***{rest}"
    return _QUERY_PASSWORD.sub(r"\1***", url)


def url_secrets(url: str) -> tuple[str, ...]:
    """The passwords written in ``url`` (as written, decoded, and the pieces a parser may
    quote of one pasted unencoded), for the redactor."""
    from urllib.parse import unquote

    found = [m[2] for m in _QUERY_PASSWORD.finditer(url) if m[2]]
    info = _user_info(url)
    if info is not None and info[3]:
        found.append(info[3])
    pieces = [p for s in found for p in (s, unquote(s)) if p]
    pieces += [cut for p in pieces for cut in _pieces(p)]
    return tuple(dict.fromkeys(pieces))


def _pieces(password: str) -> list[str]:
    """The runs of ``password`` between characters a URL reserves (and its ends), 3 or more
    characters long (the redactor's shortest): what a parser may quote as a host or a port."""
    cuts = [m.start() for m in _CUTS.finditer(password)][:16]  # 150 pieces at most
    bounds = [-1, *cuts, len(password)]
    found = [password[a + 1 : b] for i, a in enumerate(bounds) for b in bounds[i + 1 :]]
    return [p for p in found if len(p) >= 3 and p != password]


def connect_ledger(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection to the ledger at ``url``, migrated."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError(
            f"the ledger {masked(url)} is a PostgreSQL database, and this smscli has no "
            "PostgreSQL driver",
            hint="install it: pip install 'smscli[postgres]' (psycopg 3)",
        ) from None
    import socket

    # The session's name says who holds a run (HOST:PID), so it replaces PGAPPNAME; libpq's
    # other settings (PGPASSWORD, ~/.pgpass, PGSSLMODE, the URL's parameters) apply as given.
    settings: dict[str, Any] = {
        "application_name": f"smscli {socket.gethostname()}:{os.getpid()}"[:63]
    }
    if "connect_timeout" not in url and not os.environ.get("PGCONNECT_TIMEOUT"):
        settings["connect_timeout"] = 10  # libpq's default is to wait forever
    try:
        conn = psycopg.connect(url, autocommit=True, **settings)
    except psycopg.Error as exc:
        raise ConfigError(
            f"cannot connect to the ledger {masked(url)}: {scrubbed(exc, url)}",
            hint="check that the server is running and reachable, and the URL's user, "
            "database and password (or PGPASSWORD, ~/.pgpass); `smscli ledger info` tries it",
        ) from None
    try:
        # JIT compiling a plan (PostgreSQL 11 on) costs more than it saves in the ledger's
        # statements: 25 ms of the 570 of a 100k-message repeat guard.
        jit = "; SET jit = off" if conn.info.server_version >= 110000 else ""
        conn.execute(
            "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 10;"
            f" SET tcp_keepalives_count = 3{jit}"
        )
        migrate(conn, masked(url))
    except BaseException:
        conn.close()
        raise
    return conn


def scrubbed(exc: BaseException, url: str) -> str:
    """What ``exc`` says, one line, without the URL's password in any form."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    for secret in sorted(url_secrets(url), key=len, reverse=True):  # the whole before a piece
        text = text.replace(secret, "***")
    return text


def lock_key(conn: psycopg.Connection[Any], *parts: str) -> int:
    """A 64-bit advisory-lock key for ``parts`` in the connection's schema (two ledgers in
    two schemas of one database never meet each other's locks)."""
    schema = _schema(conn)
    digest = hashlib.sha256("\0".join(("smscli", schema, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _schema(conn: psycopg.Connection[Any]) -> str:
    cached: str | None = getattr(conn, "_smscli_schema", None)
    if cached is None:
        row = conn.execute("SELECT current_schema()").fetchone()
        cached = str(row[0]) if row else ""
        conn._smscli_schema = cached  # type: ignore[attr-defined]
    return cached


def migrate(conn: psycopg.Connection[Any], location: str) -> None:
    """The ledger's schema brought up to date, in one transaction (PostgreSQL's DDL is
    transactional), under an advisory lock: two processes starting at once migrate once."""
    import psycopg

    steps = scripts("postgres")
    try:  # the usual case, a ledger already up to date: one query, no lock
        if schema_version(conn) == len(steps):
            return
    except psycopg.errors.UndefinedTable:
        pass  # a new ledger
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(conn, "migrate"),))
        conn.execute("CREATE TABLE IF NOT EXISTS smscli_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM smscli_schema").fetchone()
        version = int(row[0]) if row and row[0] is not None else 0
        if version > len(steps):
            raise ConfigError(
                f"the ledger {location} was written by a newer smscli "
                f"(schema {version}); upgrade smscli"
            )
        for script in steps[version:]:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement.encode())
        if version < GUARDED <= len(steps):
            backfill_guard(conn, "%s")
        if version < len(steps):
            conn.execute("DELETE FROM smscli_schema")
            conn.execute("INSERT INTO smscli_schema (version) VALUES (%s)", (len(steps),))


def size(conn: psycopg.Connection[Any]) -> int:
    """Bytes of the ledger's tables (and their indexes) on the server."""
    row = conn.execute(
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class AS c"
        " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
    ).fetchone()
    return int(row[0] or 0) if row else 0


def lock_holder(conn: psycopg.Connection[Any], key: int) -> tuple[str, str | None] | None:
    """``(application_name, client address)`` of the session holding the advisory lock
    ``key`` in the connection's database, or None when nobody holds it."""
    row = conn.execute(
        "SELECT a.application_name, a.client_addr::text FROM pg_locks AS l"
        " LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
        " AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())"
        " AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid LIMIT 1",
        ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
    ).fetchone()
    return (str(row[0] or ""), row[1]) if row else None


def schema_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT max(version) FROM smscli_schema").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


@contextmanager
def transaction(conn: psycopg.Connection[Any], *, durable: bool = True) -> Iterator[Any]:
    """A transaction on the ledger; ``durable=False`` commits without waiting for the
    server's WAL flush (``synchronous_commit = off``): such a commit survives a crash of this
    process at once, and a crash of the server from the next durable commit on, which flushes
    the WAL up to itself, theirs included."""
    with conn.transaction():
        if not durable:
            conn.execute("SET LOCAL synchronous_commit = off")
        yield conn


def storage_error(exc: BaseException, location: str, url: str) -> SmscliError | None:
    """The user's error for ``exc`` raised while using the ledger, or None when ``exc`` is
    not about the ledger (a bug, raised as it is)."""
    import sys

    if sys.modules.get("psycopg") is None:  # not loaded: not one of its errors
        return None
    import psycopg
    from psycopg import errors

    from smscli.store.problems import LedgerDamaged

    if not isinstance(exc, psycopg.Error):
        return None
    detail = scrubbed(exc, url)
    if isinstance(exc, errors.DiskFull | errors.OutOfMemory | errors.InsufficientResources):
        return Unfinished(
            f"the ledger {location} has no room left ({detail}); the run stopped",
            hint="free space on the database server and run the same command again: it goes "
            "on where it stopped and sends nothing twice",
        )
    if isinstance(exc, errors.DataCorrupted | errors.IndexCorrupted):
        return LedgerDamaged(location, detail)
    if isinstance(exc, errors.InsufficientPrivilege | errors.ReadOnlySqlTransaction):
        return ConfigError(
            f"the ledger {location} cannot be written by this user ({detail})",
            hint="grant the user the rights on the ledger's tables (or use the user that "
            "created them), or point SMSCLI_LEDGER at another database",
        )
    if isinstance(exc, psycopg.OperationalError):
        return Unfinished(
            f"lost the connection to the ledger {location} ({detail}); the run stopped",
            hint="run the same command again once the database is reachable: it goes on "
            "where it stopped and sends nothing twice (a request on the wire when it "
            "stopped is marked unknown)",
        )
    return None
