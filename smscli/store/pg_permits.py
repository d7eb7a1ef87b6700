"""Rate-limit permits in the PostgreSQL store (:mod:`smscli.store.permits` holds the logic).

A taker of permits first takes the account's transaction-level advisory lock: every process on
every host taking permits of the account queues there, and the lock goes with the commit (or
the rollback) of the transaction that took them, a claim's included. Counting and recording
happen after the lock is granted, in statements of their own, so they see every permit the
previous holder committed (under ``READ COMMITTED`` each statement sees what was committed
before it began)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from smscli.store.permits import LONGEST_BLOCK, Limiter
from smscli.store.pg_db import lock_key, transaction

if TYPE_CHECKING:
    import psycopg


class PgRateLimiter(Limiter):
    conn: psycopg.Connection[Any]

    def _prepare(self) -> None:
        self._key = lock_key(self.conn, "permits", self.account)
        per_rate = [
            (
                f"(SELECT count(*) FROM (SELECT 1 FROM rate_events WHERE account = %(a)s"
                f" AND at > %(now)s - {r.period!r} LIMIT {r.limit}) AS w)",
                f"(SELECT at FROM rate_events WHERE account = %(a)s"
                f" ORDER BY at DESC LIMIT 1 OFFSET {r.limit - 1})",
            )
            for r in self.rates
        ]
        block = "(SELECT until FROM rate_blocks WHERE account = %(a)s)"
        self._free_query = "SELECT " + ", ".join([block, *(free for free, _ in per_rate)])
        self._query = "SELECT " + ", ".join([block, *(nth for _, nth in per_rate)])

    def _transaction(self) -> AbstractContextManager[Any]:
        # Permits need not survive a crash of the server on their own: committed without
        # waiting for its WAL flush (the claim's own commit, durable, covers them).
        return transaction(self.conn, durable=False)

    def _in_transaction(self, db: Any) -> bool:
        from psycopg.pq import TransactionStatus

        return db is self.conn and self.conn.info.transaction_status == TransactionStatus.INTRANS

    def _free(self, db: psycopg.Connection[Any], now: float) -> tuple[float | None, list[int]]:
        db.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
        row = db.execute(self._free_query, {"a": self.account, "now": now}).fetchone()
        assert row is not None
        block, *counts = row
        return block, counts

    def _nth(self, now: float) -> tuple[float | None, list[float | None]]:
        row = self.conn.execute(self._query, {"a": self.account}).fetchone()
        assert row is not None
        block, *nth = row
        return block, nth

    def _prune(self, db: psycopg.Connection[Any], before: float) -> None:
        db.execute(
            "DELETE FROM rate_events WHERE account = %s AND at <= %s", (self.account, before)
        )

    def _insert(self, db: psycopg.Connection[Any], count: int, now: float) -> list[int]:
        rows = db.execute(
            "INSERT INTO rate_events (account, at) SELECT %s, %s FROM generate_series(1, %s)"
            " RETURNING rowid",
            (self.account, now, count),
        ).fetchall()
        return sorted(r[0] for r in rows)

    def _move(self, db: psycopg.Connection[Any], moved: dict[int, float]) -> None:
        db.execute(
            "UPDATE rate_events SET at = GREATEST(rate_events.at, m.at)"
            " FROM unnest(%s::bigint[], %s::float8[]) AS m(event, at)"
            " WHERE rate_events.rowid = m.event",
            (list(moved), list(moved.values())),
        )

    def _block(self, db: psycopg.Connection[Any], until: float) -> None:
        db.execute(
            "INSERT INTO rate_blocks (account, until) VALUES (%s, %s) ON CONFLICT (account)"
            " DO UPDATE SET until = CASE WHEN rate_blocks.until > %s + %s THEN excluded.until"
            " ELSE GREATEST(rate_blocks.until, excluded.until) END",
            (self.account, until, until, LONGEST_BLOCK),
        )
