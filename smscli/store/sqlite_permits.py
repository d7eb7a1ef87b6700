"""Rate-limit permits in the SQLite store (:mod:`smscli.store.permits` holds the logic):
``BEGIN IMMEDIATE`` makes the taker of permits the only writer of the ledger until it commits,
so two processes can never both take the last permit."""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager

from smscli.store.permits import (
    LONGEST_BLOCK,
    MIN_WAIT,
    PRUNE_EVERY,
    Departure,
    Limiter,
    _exact_wait,
)
from smscli.store.sqlite_db import write_transaction

__all__ = ["MIN_WAIT", "PRUNE_EVERY", "Departure", "RateLimiter", "_exact_wait"]


class RateLimiter(Limiter):
    conn: sqlite3.Connection

    def _prepare(self) -> None:
        # The account's block, and for every rate: the ``limit``-th newest permit (_nth) or
        # the permits inside its window, counted up to its limit (_free).
        self._query = self._select(
            "(SELECT at FROM rate_events WHERE account = ?1"
            " ORDER BY at DESC LIMIT 1 OFFSET {limit_1})"
        )
        self._free_query = self._select(
            "(SELECT count(*) FROM (SELECT 1 FROM rate_events WHERE account = ?1"
            " AND at > ?2 - {period!r} LIMIT {limit}))"
        )

    def _select(self, per_rate: str) -> str:
        """One query: the account's block, then ``per_rate`` filled in for every rate."""
        return "SELECT " + ", ".join(
            [
                "(SELECT until FROM rate_blocks WHERE account = ?1)",
                *(
                    per_rate.format(limit=r.limit, limit_1=r.limit - 1, period=r.period)
                    for r in self.rates
                ),
            ]
        )

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        # Permits need not survive a power cut, so they are committed without an fsync of
        # their own (the next durable commit of the same WAL covers them); other processes
        # see them at once either way.
        return write_transaction(self.conn, durable=False)

    def _in_transaction(self, db: sqlite3.Connection) -> bool:
        return db is self.conn and db.in_transaction

    def _free(self, db: sqlite3.Connection, now: float) -> tuple[float | None, list[int]]:
        block, *counts = db.execute(self._free_query, (self.account, now)).fetchone()
        return block, counts

    def _nth(self, now: float) -> tuple[float | None, list[float | None]]:
        block, *nth = self.conn.execute(self._query, (self.account,)).fetchone()
        return block, nth

    def _prune(self, db: sqlite3.Connection, before: float) -> None:
        db.execute("DELETE FROM rate_events WHERE account = ? AND at <= ?", (self.account, before))

    def _insert(self, db: sqlite3.Connection, count: int, now: float) -> list[int]:
        # One statement; the rows of one INSERT get consecutive rowids (each the table's
        # largest plus one), the last of them its lastrowid.
        last = db.execute(
            "INSERT INTO rate_events (account, at) VALUES " + ", ".join(["(?1, ?2)"] * count),
            (self.account, now),
        ).lastrowid
        assert last is not None
        return list(range(last - count + 1, last + 1))

    def _move(self, db: sqlite3.Connection, moved: dict[int, float]) -> None:
        # One statement: an UPDATE ... FROM uses one source row per target row.
        db.execute(
            "UPDATE rate_events SET at = max(at, j.value) FROM json_each(?) AS j"
            " WHERE rate_events.rowid = j.key",
            (json.dumps(moved),),
        )

    def _block(self, db: sqlite3.Connection, until: float) -> None:
        db.execute(
            # A block not honoured (LONGEST_BLOCK: a hostile reply's, before smscli capped
            # them) is replaced, not kept as the later one.
            "INSERT INTO rate_blocks (account, until) VALUES (?1, ?2) ON CONFLICT (account)"
            " DO UPDATE SET until = CASE WHEN until > ?2 + ?3 THEN excluded.until"
            " ELSE max(until, excluded.until) END",
            (self.account, until, LONGEST_BLOCK),
        )
