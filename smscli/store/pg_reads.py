"""The queries of the PostgreSQL store that are its own (a part of
:class:`smscli.store.pg.PgStore`; the shared ones are in :mod:`smscli.store.reads`,
:mod:`smscli.store.screens` and :mod:`smscli.store.writes`): the engine's next window, reports'
lookups by provider id, the repeat guard, and one run holder per campaign."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from smscli.errors import Unfinished
from smscli.senders import TURKISH_SHIFTED
from smscli.store.reads import MESSAGE, Reads
from smscli.store.records import MessageRecord, Window
from smscli.store.screens import REACHED_NOT, Screens

if TYPE_CHECKING:
    import psycopg

_WHY = (
    "'same text sent in run ' || o.run_id || ' at '"
    " || to_char(to_timestamp(o.sent_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC'"
)
_SENT = f"o.sent_at >= %(since)s AND o.state NOT IN {REACHED_NOT!r}"
_REPEAT_OF = (
    f"(SELECT {_WHY} FROM c JOIN messages AS o ON o.run_id = c.id"
    f" AND o.recipient = {{recipient}} WHERE {_SENT} AND o.text = {{text}} LIMIT 1)"
)
_SENDING_RUNS = (
    "WITH c AS MATERIALIZED (SELECT id FROM runs WHERE id != %(run)s AND offline = 0"
    " AND state != 'preparing' AND (finished_at IS NULL OR finished_at >= %(stamp)s))"
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
            f" (text ~ '[{TURKISH_SHIFTED}]')::int ELSE 0 END FROM messages"
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
        # One statement: the run's pending messages joined with what the few runs that may
        # have sent since the window opened sent, by recipient and text, which the planner may
        # hash (a campaign of 100k after one of 100k: 230 ms; a lookup a message through
        # (run_id, recipient), as SQLite does, 370-490 ms). One reason a message, as SQLite's
        # LIMIT 1 gives.
        stamp = datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds")
        found: int = self.conn.execute(
            _SENDING_RUNS + ", hits AS MATERIALIZED (SELECT DISTINCT ON (m.id) m.id,"
            f" {_WHY} AS why FROM messages AS m JOIN messages AS o ON o.recipient = m.recipient"
            " AND o.text = m.text AND o.run_id IN (SELECT id FROM c)"
            f" WHERE m.run_id = %(run)s AND m.state = 'pending' AND {_SENT} ORDER BY m.id)"
            " UPDATE messages SET state = 'skipped', error = hits.why FROM hits"
            " WHERE messages.id = hits.id",
            {"run": run_id, "since": since, "stamp": stamp},
        ).rowcount
        return found

    def repeats(self, messages: Sequence[tuple[str, str]], since: float) -> list[str | None]:
        """For each ``(recipient, text)``, why it would repeat a message sent since ``since``
        (as :meth:`skip_repeats` says it), or None: a dry run's lookup in this ledger."""
        stamp = datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds")
        rows = self.conn.execute(
            _SENDING_RUNS
            + " SELECT "
            + _REPEAT_OF.format(recipient="m.recipient", text="m.text")
            + " FROM unnest(%(to)s::text[], %(texts)s::text[]) WITH ORDINALITY"
            " AS m(recipient, text, n) ORDER BY m.n",
            {
                "run": "",
                "since": since,
                "stamp": stamp,
                "to": [to for to, _ in messages],
                "texts": [text for _, text in messages],
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
