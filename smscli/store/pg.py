"""The PostgreSQL store: the ledger of a team, shared by every process on every host that
points ``SMSCLI_LEDGER`` (or the config file's ``ledger``) at one database.

The same guarantees as SQLite's (:mod:`smscli.store`), across hosts:

- A claim is a committed transaction (``synchronous_commit`` as the server has it: ``on`` by
  default, durable on the server's disk) before its request leaves. Writes that need not be
  durable on their own (outcomes written with ``durable=False``, permits) commit without
  waiting for the WAL flush; the next durable commit flushes them too.
- Claims are atomic under ``READ COMMITTED``: the claim's ``UPDATE ... WHERE state =
  'pending'`` waits for any other transaction holding one of its rows, then sees its outcome,
  so a message taken by another process is not taken again, and the claim is undone whole.
- One holder per campaign and per run: session advisory locks (:class:`PgHolds`), released by
  the server when the holder's connection dies.
- Permits are shared by every host through the ``rate_events`` table, taken under the
  account's advisory transaction lock (:mod:`smscli.store.pg_permits`).

Read queries are in :mod:`smscli.store.reads` and :mod:`smscli.store.pg_reads`; connection,
migrations and errors in :mod:`smscli.store.pg_db`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from typing import TYPE_CHECKING, Any

from smscli.store.pg_db import connect_ledger, masked, storage_error, transaction
from smscli.store.pg_reads import PgHolds, PgReads
from smscli.store.records import MessageRow, Recorded
from smscli.store.writes import Writes, now

if TYPE_CHECKING:
    import psycopg

    from smscli.ratelimit import Rate
    from smscli.store.pg_permits import PgRateLimiter

CHUNK = 5000
ANALYZE_AFTER = 5000
"""A run of at least this many messages has the table analysed once they are written."""
_COLUMNS = (
    "run_id, seq, source, raw, recipient, text, encoding, segments, state, error, created_at,"
    " updated_at, sent_at"
)


class PgStore(PgHolds, PgReads, Writes):
    def __init__(self, conn: psycopg.Connection[Any], url: str) -> None:
        self.conn = conn
        self.url = url
        self.location = masked(url)
        self._held: list[int] = []
        self._sql: dict[str, str] = {}

    @classmethod
    def open(cls, url: str) -> PgStore:
        try:
            return cls(connect_ledger(url), url)
        except Exception as exc:
            said = storage_error(exc, masked(url), url)
            if said is None:
                raise
            raise said from None

    def _q(self, sql: str) -> str:
        """``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` as ``%%``)."""
        found = self._sql.get(sql)
        if found is None:
            found = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return found

    def close(self) -> None:
        """Releases this session's holds before it goes: the server releases them when a
        connection ends, but after the close has returned, so that a command run right after
        this one could still find the run held."""
        import psycopg

        if not self.conn.closed:  # a connection already lost: the server let go of them
            with suppress(psycopg.Error):
                self.conn.execute("SELECT pg_advisory_unlock_all()")
        self.conn.close()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        if exc is not None:
            said = storage_error(exc, self.location, self.url)
            if said is not None:
                raise said from None

    def verify(self) -> Callable[[], None]:
        """Nothing to wait for: the server checks its own pages (and their checksums, where
        the cluster has them) as it reads them, and a damaged one fails the query that meets
        it (:func:`smscli.store.pg_db.storage_error` says so)."""
        return lambda: None

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Any]:
        return transaction(self.conn, durable=durable)

    def sending(self) -> AbstractContextManager[None]:
        return nullcontext()

    # --- runs -------------------------------------------------------------------------------

    def insert_chunk_size(self) -> int:
        return CHUNK

    def add_messages(self, run_id: str, chunks: Iterable[Sequence[MessageRow]]) -> None:
        # COPY, a chunk at a time, each its own transaction without waiting for the WAL flush
        # (the run stays ``preparing`` until mark_ready, which is durable).
        stamp, added = now(), 0
        for chunk in chunks:
            with (
                self.transaction(durable=False),
                self.conn.cursor() as cur,
                cur.copy(f"COPY messages ({_COLUMNS}) FROM STDIN") as copy,
            ):
                for m in chunk:
                    copy.write_row((run_id, *m, stamp, stamp, 0.5))
            added += len(chunk)
        if added >= ANALYZE_AFTER:
            # The planner's statistics must know this run before its queries are planned:
            # with those of yesterday's run alone, it takes today's for one row, and the
            # duplicate search of mark_ready rereads the whole run for every row (20 s for
            # 5,000 rows, hours for 100,000). Autovacuum's own ANALYZE comes too late. A
            # user who does not own the table only gets a warning, which is left unsaid.
            self.conn.execute("ANALYZE messages")

    def mark_ready(self, run_id: str) -> None:
        """As :meth:`Writes.mark_ready`, in a plan that does not depend on the statistics:
        the run's rows are numbered once, in a materialised step, then the later occurrences
        are marked (the shared statement's semi-join, planned for a run the statistics do not
        know yet, rereads the run for every row)."""
        with self.transaction() as db:
            db.execute(
                "WITH d AS MATERIALIZED (SELECT id, FIRST_VALUE(source) OVER w AS first,"
                " ROW_NUMBER() OVER w AS n FROM messages WHERE run_id = %s"
                " AND state IN ('pending', 'skipped') AND recipient IS NOT NULL"
                " WINDOW w AS (PARTITION BY recipient ORDER BY seq))"
                " UPDATE messages SET state = 'skipped', error = 'duplicate of ' || d.first"
                " FROM d WHERE messages.id = d.id AND d.n > 1",
                (run_id,),
            )
            db.execute("UPDATE runs SET state = 'ready' WHERE id = %s", (run_id,))

    # --- sending ----------------------------------------------------------------------------

    def permits(
        self, account: str, rates: Sequence[Rate], *, covered_delay: float = 0.0
    ) -> PgRateLimiter:
        from smscli.store.pg_permits import PgRateLimiter

        return PgRateLimiter(self.conn, account, rates, covered_delay=covered_delay)

    def _to_sending(self, db: psycopg.Connection[Any], ids: list[int], at: float) -> int:
        moved: int = db.execute(
            "UPDATE messages SET state = 'sending', updated_at = %s, sent_at = %s"
            " WHERE id = ANY(%s) AND state = 'pending'",
            (now(), at, ids),
        ).rowcount
        return moved

    def _to_pending(self, db: psycopg.Connection[Any], ids: list[int]) -> None:
        db.execute(
            "UPDATE messages SET state = 'pending', updated_at = %s"
            " WHERE id = ANY(%s) AND state = 'sending'",
            (now(), ids),
        )

    def _write_outcomes(self, db: psycopg.Connection[Any], recorded: Sequence[Recorded]) -> None:
        """Every outcome of every request in one statement, as arrays; of the provider
        states only the last one written for a key is kept."""
        columns: tuple[list[Any], ...] = ([], [], [], [], [])
        states: dict[tuple[str, str], str] = {}
        for outcomes, batch_id, state in recorded:
            for account, key, value in state:
                states[account, key] = value
            for row in outcomes:
                for column, item in zip(columns, (*row, batch_id), strict=True):
                    column.append(item)
        if columns[0]:
            db.execute(
                "UPDATE messages SET state = o.state, provider_message_id = o.pid,"
                " error = o.error, batch_id = o.batch, updated_at = %s"
                " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])"
                " AS o(id, state, pid, error, batch) WHERE messages.id = o.id",
                (now(), *columns),
            )
        for (account, key), value in states.items():
            self._set_state(db, account, key, value)
