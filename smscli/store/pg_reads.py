"""The queries of the PostgreSQL store that are its own (a part of
:class:`smscli.store.pg.PgStore`; the shared ones are in :mod:`smscli.store.reads`,
:mod:`smscli.store.screens` and :mod:`smscli.store.writes`): the engine's next window, reports'
lookups by provider id, the repeat guard, and one run holder per campaign."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from smscli.errors import Unfinished
from smscli.senders import TURKISH_SHIFTED
from smscli.store.keys import held_since
from smscli.store.reads import MESSAGE, Reads
from smscli.store.records import MessageRecord, Window
from smscli.store.screens import Screens

if TYPE_CHECKING:
    import psycopg

_WHY = (
    "'same text sent in run ' || g.run_id || ' at '"
    " || to_char(to_timestamp(g.claimed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'"
)


class PgReads(Reads, Screens):
    conn: psycopg.Connection[Any]
    ALL = None

    def pending_window(self, run_id: str, limit: int, after: int = 0) -> list[Window]:
        # Through (run_id, id) from ``after``: the messages claimed before it are not read
        # again (there is no index of pending messages; see migration 7).
        # The Turkish flag as SQLite's window computes it (turkish_flag's default rule), by the
        # server: only a UCS-2 text is looked at.
        rows = self.conn.execute(
            "SELECT id, recipient, text, CASE encoding WHEN 'GSM-7+TR' THEN 1 WHEN 'UCS-2' THEN"
            f" (text ~ '[{TURKISH_SHIFTED}]')::int ELSE 0 END, text_key FROM messages"
            " WHERE run_id = %s AND id > %s AND state = 'pending' ORDER BY id LIMIT %s",
            (run_id, after, limit),
        ).fetchall()
        return [list(r) for r in rows]

    def messages_by_provider_id(self, ids: Sequence[str]) -> list[MessageRecord]:
        rows = self.conn.execute(
            MESSAGE + " WHERE run_id IN (SELECT run_id FROM provider_ids WHERE id = ANY(%(ids)s))"
            " AND provider_message_id = ANY(%(ids)s) ORDER BY run_id, seq",
            {"ids": list(ids)},
        )
        return [MessageRecord(*r) for r in rows]

    def skip_repeats(self, run_id: str, since: float) -> int:
        # One statement: the run's pending messages joined with the repeat guard by number and
        # text key (its primary key), which the planner may hash.
        found: int = self.conn.execute(
            f"UPDATE messages SET state = 'skipped', error = {_WHY} FROM repeat_guard AS g"
            " WHERE messages.run_id = %(run)s AND messages.state = 'pending'"
            " AND g.recipient = messages.recipient AND g.text_key = messages.text_key"
            " AND g.claimed_at >= %(since)s AND g.run_id != %(run)s",
            {"run": run_id, "since": held_since(since)},
        ).rowcount
        return found

    def repeats(self, messages: Sequence[tuple[str, int]], since: float) -> list[str | None]:
        """For each ``(recipient, text key)``, why it would repeat a message sent since
        ``since`` (as :meth:`skip_repeats` says it), or None: a dry run's lookup in this
        ledger."""
        rows = self.conn.execute(
            f"SELECT (SELECT {_WHY} FROM repeat_guard AS g WHERE g.recipient = m.recipient"
            " AND g.text_key = m.key AND g.claimed_at >= %(since)s)"
            " FROM unnest(%(to)s::text[], %(keys)s::bigint[]) WITH ORDINALITY"
            " AS m(recipient, key, n) ORDER BY m.n",
            {
                "since": held_since(since),
                "to": [to for to, _ in messages],
                "keys": [key for _, key in messages],
            },
        ).fetchall()
        return [r[0] for r in rows]


class PgHolds:
    """One holder per campaign and per run: a session-level advisory lock, which the server
    releases when the holder's connection ends (``kill -9`` of the holder included). The
    holder is named by its connection's ``application_name`` (``smscli HOST:PID``)."""

    conn: psycopg.Connection[Any]
    _held: list[int]

    @contextmanager
    def hold(self, key: str | None) -> Iterator[None]:
        if key is not None:
            self._lock(("campaign", key), "this run")
        try:
            yield
        finally:
            while self._held:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self._held.pop(),))

    def keep_holding(self, run_id: str) -> None:
        """Hold the run (once; the lock lasts as long as the connection), and write who does
        in its row, for ``history`` to show."""
        from smscli.store.pg_db import lock_key
        from smscli.store.sqlite_holds import LEASE_SECONDS, owner

        if lock_key(self.conn, "run", run_id) not in self._held:
            self._lock(("run", run_id), f"run {run_id}")
        with self.conn.transaction():
            self.conn.execute(
                "UPDATE runs SET lease_owner = %s, lease_until = extract(epoch FROM now()) + %s"
                " WHERE id = %s",
                (owner(), LEASE_SECONDS, run_id),
            )

    def _lock(self, parts: tuple[str, str], what: str) -> None:
        from smscli.store.pg_db import lock_key

        key = lock_key(self.conn, *parts)
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (row and row[0]):
            raise Unfinished(
                f"another smscli process ({self._holder(key)}) is working on {what}; nothing done",
                hint="run the same command again once it has finished",
            )
        self._held.append(key)

    def _holder(self, key: int) -> str:
        """Who holds the lock ``key``: the host and pid its connection gave as its name."""
        from smscli.store.pg_db import lock_holder

        row = lock_holder(self.conn, key)
        if not row:
            return "it has just finished"
        name, address = row
        if isinstance(name, str) and name.startswith("smscli "):
            host, _, pid = name.removeprefix("smscli ").rpartition(":")
            return f"host {host}, pid {pid}"
        return f"a connection from {address or 'this server'}"
