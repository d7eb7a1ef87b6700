"""The read queries of the SQLite store that are its own (a part of
:class:`smscli.store.sqlite.SqliteStore`; the shared ones are in :mod:`smscli.store.reads`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from smscli.senders import TURKISH_SHIFTED
from smscli.store.reads import MESSAGE, Reads
from smscli.store.records import MessageRecord, Window


class SqliteReads(Reads):
    conn: sqlite3.Connection

    def pending_window(self, run_id: str, limit: int, after: int = 0) -> list[Window]:
        # One row of JSON, not a row per message: sqlite3 gives up the GIL for every row it
        # steps to, and waits behind the HTTP threads to get it back each time.
        (found,) = self.conn.execute(
            "SELECT json_group_array(json_array(id, recipient, text,"
            # CASE, not OR/AND: a result column's AND evaluates both sides, and a GLOB over every
            # text cost 1.7 s a 100k campaign; only a UCS-2 text is looked at here.
            " CASE encoding WHEN 'GSM-7+TR' THEN 1 WHEN 'UCS-2' THEN"
            f" text GLOB '*[{TURKISH_SHIFTED}]*' ELSE 0 END, text_key"
            ")) FROM (SELECT * FROM messages"
            " WHERE run_id = ? AND state = 'pending' AND id > ? ORDER BY seq LIMIT ?)",
            (run_id, after, limit),
        ).fetchone()
        rows: list[Window] = json.loads(found)  # as decoded: no second object a message
        rows.sort()  # by id, which is input order (a run's rows are inserted in order)
        return rows

    def messages_by_provider_id(self, ids: Sequence[str]) -> list[MessageRecord]:
        rows = self.conn.execute(
            MESSAGE + " WHERE provider_message_id IS NOT NULL"
            " AND provider_message_id IN (SELECT value FROM json_each(?))"
            " ORDER BY run_id, seq",
            (json.dumps(list(ids)),),
        )
        return [MessageRecord(*r) for r in rows]
