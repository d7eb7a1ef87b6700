"""The repeat guard's lookup in the SQLite store (a part of
:class:`smscli.store.sqlite.SqliteStore`; the rest of who never gets a message is in
:mod:`smscli.store.screens`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from smscli.store.screens import REACHED_NOT, Screens
from smscli.store.sqlite_db import without_fsync

if TYPE_CHECKING:
    from smscli.store import Store

_LOOKUP = 5000
"""Messages a dry run asks a ledger of another backend about at once."""


class SqliteScreens(Screens):
    conn: sqlite3.Connection
    _history: str = "main"
    """The schema whose messages the repeat guard looks in (a dry run's: the ledger's)."""
    _ledger: Store | None = None
    """A dry run's ledger of another backend, which the repeat guard asks instead."""

    def skip_repeats(self, run_id: str, since: float) -> int:
        # One statement, no row through Python. The runs that may have sent since then are few
        # (unfinished, or finished after it): each pending message of the run is looked up in
        # each of them by (run_id, recipient), the index the run's duplicates are found with,
        # so no index is written when a message is claimed. A dry run's scratch store reads
        # the ledger attached as ``history``.
        if self._ledger is not None:
            return self._skip_repeats_of(self._ledger, run_id, since)
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

    def _skip_repeats_of(self, ledger: Store, run_id: str, since: float) -> int:
        """:meth:`skip_repeats` of a dry run whose ledger is of another backend: its pending
        messages, a few thousand at a time, asked of the ledger (:meth:`repeats`)."""
        rows = self.conn.execute(
            "SELECT id, recipient, text FROM messages WHERE run_id = ? AND state = 'pending'"
            " ORDER BY seq",
            (run_id,),
        ).fetchall()
        skipped = 0
        for start in range(0, len(rows), _LOOKUP):
            part = rows[start : start + _LOOKUP]
            why = ledger.repeats([(to, text) for _, to, text in part], since)
            hits = [(reason, i) for (i, _, _), reason in zip(part, why, strict=True) if reason]
            with without_fsync(self.conn) as db:
                db.executemany(
                    "UPDATE messages SET state = 'skipped', error = ? WHERE id = ?", hits
                )
            skipped += len(hits)
        return skipped

    def repeats(self, messages: Sequence[tuple[str, str]], since: float) -> list[str | None]:
        stamp = datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds")
        found = self.conn.execute(
            "WITH c(id) AS MATERIALIZED (SELECT id FROM runs WHERE offline = 0"
            " AND state != 'preparing' AND (finished_at IS NULL OR finished_at >= ?2))"
            " SELECT (SELECT 'same text sent in run ' || o.run_id || ' at '"
            " || strftime('%Y-%m-%d %H:%M UTC', o.sent_at, 'unixepoch')"
            " FROM c CROSS JOIN messages AS o INDEXED BY messages_run_recipient"
            " ON o.run_id = c.id AND o.recipient = j.value ->> 0"
            f" WHERE o.sent_at >= ?1 AND o.text = j.value ->> 1 AND o.state NOT IN {REACHED_NOT!r}"
            " LIMIT 1) FROM json_each(?3) AS j ORDER BY j.key",
            (since, stamp, json.dumps(messages)),
        ).fetchall()
        return [r[0] for r in found]
