"""Who never gets a message, in the SQLite store (a part of
:class:`smscli.store.sqlite.SqliteStore`): the opt-out list, the messages that may have reached
their recipient lately (the repeat guard), and ``send``'s idempotency keys."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from smscli.store.records import OptOut
from smscli.store.sqlite_db import without_fsync, write_transaction

REACHED_NOT = ("pending", "failed", "invalid", "skipped")
"""States of a message that was claimed once but cannot have reached its recipient: put back
after a refused request, or refused by the provider."""


class Screens:
    conn: sqlite3.Connection
    _history: str = "main"
    """The schema whose messages the repeat guard looks in (a dry run's: the ledger's)."""

    def optouts(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT number, substr(added_at, 1, 10) FROM optouts"))

    def list_optouts(self) -> list[OptOut]:
        rows = self.conn.execute(
            "SELECT number, added_at, reason, source FROM optouts ORDER BY added_at, number"
        )
        return [OptOut(*r) for r in rows]

    def add_optouts(self, entries: Iterable[tuple[str, str | None, str | None]]) -> list[str]:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        added = []
        with write_transaction(self.conn) as db:
            for number, reason, source in entries:
                cur = db.execute(
                    "INSERT INTO optouts (number, added_at, reason, source) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (number) DO NOTHING",
                    (number, stamp, reason, source),
                )
                if cur.rowcount:
                    added.append(number)
        return added

    def remove_optouts(self, numbers: Iterable[str]) -> list[str]:
        removed = []
        with write_transaction(self.conn) as db:
            for number in numbers:
                if db.execute("DELETE FROM optouts WHERE number = ?", (number,)).rowcount:
                    removed.append(number)
        return removed

    def skip_optouts(self, run_id: str) -> int:
        with write_transaction(self.conn) as db:
            return db.execute(
                "UPDATE messages SET state = 'skipped',"
                " error = 'opted out on ' || substr(o.added_at, 1, 10)"
                " FROM optouts AS o WHERE messages.run_id = ? AND messages.state = 'pending'"
                " AND messages.recipient = o.number",
                (run_id,),
            ).rowcount

    def sent_since(self, since: float) -> bool:
        # A claim writes no run column, so this is conservative: any run that may have been
        # sending since then (unfinished, or finished after it) counts.
        stamp = datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds")
        return bool(
            self.conn.execute(
                "SELECT 1 FROM runs WHERE offline = 0 AND state != 'preparing'"
                " AND (finished_at IS NULL OR finished_at >= ?) LIMIT 1",
                (stamp,),
            ).fetchone()
        )

    def skip_repeats(self, run_id: str, since: float) -> int:
        # One statement, no row through Python. The runs that may have sent since then are few
        # (unfinished, or finished after it): each pending message of the run is looked up in
        # each of them by (run_id, recipient), the index the run's duplicates are found with,
        # so no index is written when a message is claimed. A dry run's scratch store reads
        # the ledger attached as ``history``.
        source = self._history
        stamp = datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds")
        with without_fsync(self.conn) as db:  # the run is still preparing
            return db.execute(
                f"WITH c(id) AS MATERIALIZED (SELECT id FROM {source}.runs WHERE id != ?1"
                " AND offline = 0 AND state != 'preparing'"
                " AND (finished_at IS NULL OR finished_at >= ?3)),"
                " hits(id, why) AS MATERIALIZED (SELECT m.id, (SELECT 'same text sent in run '"
                " || o.run_id || ' at ' || strftime('%Y-%m-%d %H:%M UTC', o.sent_at, 'unixepoch')"
                f" FROM c CROSS JOIN {source}.messages AS o INDEXED BY messages_run_recipient"
                " ON o.run_id = c.id AND o.recipient = m.recipient"
                f" WHERE o.sent_at >= ?2 AND o.text = m.text AND o.state NOT IN {REACHED_NOT!r}"
                " LIMIT 1) FROM messages AS m WHERE m.run_id = ?1 AND m.state = 'pending')"
                " UPDATE messages SET state = 'skipped', error = hits.why FROM hits"
                " WHERE messages.id = hits.id AND hits.why IS NOT NULL",
                (run_id, since, stamp),
            ).rowcount

    def find_key(self, account: str, key: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            "SELECT request, run_id FROM idempotency_keys WHERE account = ? AND key = ?",
            (account, key),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def keep_key(self, account: str, key: str, request: str, run_id: str) -> None:
        with write_transaction(self.conn) as db:
            db.execute(
                "INSERT INTO idempotency_keys (account, key, request, run_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (account, key, request, run_id, datetime.now(UTC).isoformat(timespec="seconds")),
            )
