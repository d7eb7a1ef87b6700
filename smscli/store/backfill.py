"""The repeat guard of messages claimed before it existed (a ledger migrated to schema 8, or
copied from another one, whose messages get new ids): filled in from the messages that may
have reached their recipients in the last week, as the claims would have written it."""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

from smscli.store.keys import text_key
from smscli.store.screens import REACHED_NOT

LOOK_BACK = 7 * 24 * 3600.0
"""How far back claims are looked for: longer than any usual repeat window."""


def backfill_guard(conn: Any, placeholder: str = "?") -> int:
    """Write the repeat guard's slots of the messages claimed in the last :data:`LOOK_BACK`
    seconds (the latest claim of each number and text wins) on ``conn``, inside the caller's
    transaction; returns how many messages were read. ``placeholder``: the driver's (``?``
    or ``%s``)."""
    found = conn.execute(
        "SELECT m.recipient, m.text, m.sent_at, m.id, m.run_id FROM messages AS m"
        " JOIN runs AS r ON r.id = m.run_id WHERE m.sent_at >= ? AND r.offline = 0"
        f" AND m.recipient IS NOT NULL AND m.text IS NOT NULL AND m.state NOT IN {REACHED_NOT!r}"
        " ORDER BY m.sent_at, m.id".replace("?", placeholder),
        (time.time() - LOOK_BACK,),
    ).fetchall()
    upsert = (
        "INSERT INTO repeat_guard (recipient, text_key, claimed_at, message_id, run_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (recipient, text_key) DO UPDATE SET"
        " claimed_at = excluded.claimed_at, message_id = excluded.message_id,"
        " run_id = excluded.run_id".replace("?", placeholder)
    )
    if found:
        with closing(conn.cursor()) as cur:
            cur.executemany(upsert, [(to, text_key(t), at, i, r) for to, t, at, i, r in found])
    return len(found)
