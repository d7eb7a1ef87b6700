"""The repeat guard's lookup in the SQLite store (a part of
:class:`smscli.store.sqlite.SqliteStore`; the rest of who never gets a message is in
:mod:`smscli.store.screens`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from smscli.store.keys import held_since
from smscli.store.screens import Screens
from smscli.store.sqlite_db import without_fsync

if TYPE_CHECKING:
    from smscli.store import Store

_LOOKUP = 5000
_WHY = (
    "'same text sent in run ' || g.run_id || ' at '"
    " || strftime('%Y-%m-%d %H:%M UTC', g.claimed_at, 'unixepoch')"
)
"""Messages a dry run asks a ledger of another backend about at once."""


class SqliteScreens(Screens):
    conn: sqlite3.Connection
    _history: str = "main"
    """The schema whose messages the repeat guard looks in (a dry run's: the ledger's)."""
    _ledger: Store | None = None
    """A dry run's ledger of another backend, which the repeat guard asks instead."""

    def skip_repeats(self, run_id: str, since: float) -> int:
        # One statement, no row through Python: each pending message of the run looked up in
        # the repeat guard by its number and text key (its primary key). A dry run's scratch
        # store reads the ledger attached as ``history``.
        if self._ledger is not None:
            return self._skip_repeats_of(self._ledger, run_id, since)
        with without_fsync(self.conn) as db:  # the run is still preparing
            return db.execute(
                f"UPDATE messages SET state = 'skipped', error = {_WHY}"
                f" FROM {self._history}.repeat_guard AS g WHERE messages.run_id = ?1"
                " AND messages.state = 'pending' AND g.recipient = messages.recipient"
                " AND g.text_key = messages.text_key AND g.claimed_at >= ?2 AND g.run_id != ?1",
                (run_id, held_since(since)),
            ).rowcount

    def _skip_repeats_of(self, ledger: Store, run_id: str, since: float) -> int:
        """:meth:`skip_repeats` of a dry run whose ledger is of another backend: its pending
        messages, a few thousand at a time, asked of the ledger (:meth:`repeats`)."""
        rows = self.conn.execute(
            "SELECT id, recipient, text_key FROM messages WHERE run_id = ?"
            " AND state = 'pending' ORDER BY seq",
            (run_id,),
        ).fetchall()
        skipped = 0
        for start in range(0, len(rows), _LOOKUP):
            part = rows[start : start + _LOOKUP]
            why = ledger.repeats([(to, key) for _, to, key in part], since)
            hits = [(reason, i) for (i, _, _), reason in zip(part, why, strict=True) if reason]
            with without_fsync(self.conn) as db:
                db.executemany(
                    "UPDATE messages SET state = 'skipped', error = ? WHERE id = ?", hits
                )
            skipped += len(hits)
        return skipped

    def repeats(self, messages: Sequence[tuple[str, int]], since: float) -> list[str | None]:
        found = self.conn.execute(
            f"SELECT (SELECT {_WHY} FROM repeat_guard AS g WHERE g.recipient = j.value ->> 0"
            " AND g.text_key = j.value ->> 1 AND g.claimed_at >= ?1)"
            " FROM json_each(?2) AS j ORDER BY j.key",
            (held_since(since), json.dumps(messages)),
        ).fetchall()
        return [r[0] for r in found]
