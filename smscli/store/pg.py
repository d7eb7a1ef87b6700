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
- While a run sends over the network, its outcomes are written on a second connection while
  the next requests are claimed (:mod:`smscli.store.pg_writer`); both updates of a message
  are HOT (migration 7), so neither writes an index entry.

Read queries are in :mod:`smscli.store.reads` and :mod:`smscli.store.pg_reads`; connection,
migrations and errors in :mod:`smscli.store.pg_db`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import TYPE_CHECKING, Any

from smscli.errors import ConfigError, Unfinished
from smscli.store.keys import held_since
from smscli.store.pg_db import connect_ledger, masked, storage_error, transaction
from smscli.store.pg_reads import PgHolds, PgReads
from smscli.store.records import Claim, Guard, MessageRow, Recorded
from smscli.store.writes import Writes, now

if TYPE_CHECKING:
    import psycopg

    from smscli.ratelimit import Rate
    from smscli.store import Permits
    from smscli.store.pg_permits import PgRateLimiter
    from smscli.store.pg_writer import OutcomeWriter

CHUNK = 5000
ASIDE_FROM = 100
"""Outcomes written by the writer (:mod:`smscli.store.pg_writer`) from this many at once; fewer
go with the claim, as a transaction of their own would cost more than they do (a run of one
message a request: half the commits, 4,356 instead of 8,838 for 4 × 2,000)."""
ANALYZE_AFTER = 5000
"""A run of at least this many messages has the table analysed once they are written."""
PROVIDER_IDS_OF_MESSAGES = (
    "INSERT INTO provider_ids (id, run_id) SELECT DISTINCT provider_message_id, run_id"
    " FROM messages WHERE provider_message_id IS NOT NULL ON CONFLICT DO NOTHING"
)
"""Where the provider ids of messages written without the store (``ledger copy``) lead:
``provider_ids`` (migration 7: messages have no index of them)."""
_RUN_KEPT = "SELECT 1 FROM runs WHERE id = %s FOR KEY SHARE"
_PLANNED = "run_id, state, recipient, provider_message_id"
"""The columns whose statistics the planner needs for a new run's queries (all of them: 2.5 times
as long: 0.25 s for 200,000 messages)."""
_COLUMNS = (
    "run_id, seq, source, raw, recipient, text, encoding, segments, state, error, text_key,"
    " checksum, created_at, updated_at, sent_at"
)
RETRIES = 3
"""Times a claim is tried again after the server broke a deadlock by undoing it (two claims
whose repeat-guard slots and outcomes cross: rare, and undone whole)."""


class PgStore(PgHolds, PgReads, Writes):
    def __init__(self, conn: psycopg.Connection[Any], url: str) -> None:
        self.conn = conn
        self.url = url
        self.location = masked(url)
        self._held: list[int] = []
        self._writer: OutcomeWriter | None = None
        self._overlap = False
        self.aside_from = ASIDE_FROM
        self._mark = 0
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

    def sending(self, *, overlap: bool = False) -> AbstractContextManager[None]:
        return self._overlapping() if overlap else nullcontext()

    @contextmanager
    def _overlapping(self) -> Iterator[None]:
        """Outcomes may be written aside (:meth:`_aside`) until the end of the run's sending,
        when the writer, if one was opened, has written them all."""
        self._overlap, self._mark = True, 0
        try:
            yield
        except BaseException:
            if self._writer is not None:
                with suppress(Exception):  # the error on its way says more
                    self._writer.close()
            raise
        else:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._overlap, self._writer = False, None

    def _aside(self, recorded: Sequence[Recorded]) -> OutcomeWriter | None:
        """The writer to hand ``recorded`` to, opened the first time one is needed (a second
        connection: where the server has none left, ``max_connections``, the outcomes go
        with the claims from then on, as on SQLite); None: they go with the claim."""
        if not self._overlap or sum(len(r.outcomes) for r in recorded) < self.aside_from:
            return None
        if self._writer is None:
            from smscli.store.pg_writer import OutcomeWriter

            try:
                conn = connect_ledger(self.url)
            except ConfigError:
                self._overlap = False
                return None
            self._writer = OutcomeWriter(conn, self._write_outcomes)
        return self._writer

    # --- runs -------------------------------------------------------------------------------

    def insert_chunk_size(self) -> int:
        return CHUNK

    def add_messages(self, run_id: str, chunks: Iterable[Sequence[MessageRow]]) -> None:
        # One COPY for the whole run, streamed: the server stores a chunk while the next one
        # is prepared (a COPY a chunk waited for the server at the end of each). One
        # transaction, without waiting for the WAL flush (the run stays ``preparing`` until
        # mark_ready, which is durable). The run is checked, and kept from being deleted, once,
        # as a foreign key did for every row.
        stamp, added = now(), 0
        with self.transaction(durable=False) as db, self.conn.cursor() as cur:
            if not db.execute(_RUN_KEPT, (run_id,)).fetchone():
                raise Unfinished(
                    f"run {run_id} was deleted while its messages were written; "
                    "run the same command again"
                )
            with cur.copy(f"COPY messages ({_COLUMNS}) FROM STDIN") as copy:
                for chunk in chunks:
                    for m in chunk:
                        copy.write_row((run_id, *m, stamp, stamp, 0.5))
                    added += len(chunk)
        if added >= ANALYZE_AFTER:
            # The planner's statistics must know this run before its queries are planned:
            # with those of yesterday's run alone, it takes today's for one row, and the
            # duplicate search of mark_ready rereads the whole run for every row (20 s for
            # 5,000 rows, hours for 100,000). Autovacuum's own ANALYZE comes too late. A
            # user who does not own the table only gets a warning, which is left unsaid.
            self.conn.execute(f"ANALYZE messages ({_PLANNED})")

    def mark_ready(self, run_id: str) -> None:
        """As :meth:`Writes.mark_ready`, in plans that do not depend on the statistics (the
        shared statement's semi-join, planned for a run the statistics do not know yet,
        rereads the run for every row): the numbers found more than once, by one hashed pass
        over the run (usually none), then their later occurrences, numbered in a materialised
        step."""
        with self.transaction() as db:
            twice = db.execute(
                "SELECT recipient FROM messages WHERE run_id = %s"
                " AND state IN ('pending', 'skipped') AND recipient IS NOT NULL"
                " GROUP BY recipient HAVING COUNT(*) > 1",
                (run_id,),
            ).fetchall()
            if twice:
                db.execute(
                    "WITH d AS MATERIALIZED (SELECT id, FIRST_VALUE(source) OVER w AS first,"
                    " ROW_NUMBER() OVER w AS n FROM messages WHERE run_id = %s"
                    " AND state IN ('pending', 'skipped') AND recipient = ANY(%s)"
                    " WINDOW w AS (PARTITION BY recipient ORDER BY seq))"
                    " UPDATE messages SET state = 'skipped', error = 'duplicate of ' || d.first"
                    " FROM d WHERE messages.id = d.id AND d.n > 1",
                    (run_id, [r[0] for r in twice]),
                )
            db.execute("UPDATE runs SET state = 'ready' WHERE id = %s", (run_id,))

    # --- sending ----------------------------------------------------------------------------

    def permits(
        self, account: str, rates: Sequence[Rate], *, covered_delay: float = 0.0
    ) -> PgRateLimiter:
        from smscli.store.pg_permits import PgRateLimiter

        return PgRateLimiter(self.conn, account, rates, covered_delay=covered_delay)

    def claim(
        self,
        batches: Sequence[Sequence[int]],
        *,
        recorded: Sequence[Recorded] = (),
        permits: Permits | None = None,
        guard: Guard | None = None,
    ) -> Claim:
        # Many outcomes go to the writer, a few with the claim (a transaction of their own
        # would cost more than they do); those handed over before the previous claim must be
        # committed first, which bounds what a crash leaves in doubt (see pg_writer).
        from psycopg.errors import DeadlockDetected

        writer = self._aside(recorded)
        if writer is not None:
            writer.put(recorded)
        if self._writer is not None:
            self._writer.wait(self._mark)
            self._mark = self._writer.handed
        for attempt in range(RETRIES + 1):
            try:
                return super().claim(
                    batches, recorded=() if writer else recorded, permits=permits, guard=guard
                )
            except DeadlockDetected:
                if attempt == RETRIES:
                    raise
        raise AssertionError("unreachable")

    def record(self, recorded: Sequence[Recorded], *, durable: bool = True) -> None:
        writer = None if durable else self._aside(recorded)
        if writer is not None:
            writer.put(recorded)
            return
        self._drained()
        super().record(recorded, durable=durable)

    def put_back(self, ids: Iterable[int]) -> None:
        self._drained()
        super().put_back(ids)

    def settle(self, run_id: str, states: Sequence[str], to: str, error: str) -> int:
        self._drained()
        return super().settle(run_id, states, to, error)

    def _drained(self) -> None:
        """Every outcome handed to the writer is committed (the message states read or moved
        next are final)."""
        if self._writer is not None:
            self._writer.wait()

    _ID_LIST = "= ANY(?)"

    def _ids(self, values: Sequence[int | str]) -> Any:
        return list(values)

    def _to_sending(
        self, db: psycopg.Connection[Any], ids: list[int], at: float
    ) -> tuple[int, int]:
        row = db.execute(
            "WITH c AS (UPDATE messages SET state = 'sending', updated_at = %s, sent_at = %s"
            " WHERE id = ANY(%s) AND state = 'pending' RETURNING checksum)"
            " SELECT count(*), COALESCE(sum(checksum), 0) FROM c",
            (now(), at, ids),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def _take_slots(
        self, db: psycopg.Connection[Any], guard: Guard, rows: list[tuple[int, str, int]]
    ) -> set[int]:
        # In the order of the key, so that two claims crossing the same numbers wait for each
        # other instead of deadlocking. A slot another claim holds uncommitted is waited for,
        # then judged by its committed row (ON CONFLICT re-reads it): exactly one claims it.
        since = math.inf if guard.repeats_since is None else held_since(guard.repeats_since)
        args = {
            "id": [i for i, _, _ in rows], "to": [to for _, to, _ in rows],
            "key": [k for _, _, k in rows], "at": time.time(), "run": guard.run_id,
            "since": since,
        }  # fmt: skip
        given = (
            "SELECT u.to_, u.key, u.id FROM unnest(%(to)s::text[], %(key)s::bigint[],"
            " %(id)s::bigint[]) AS u(to_, key, id)"
        )
        if guard.record:
            taken = db.execute(
                "INSERT INTO repeat_guard (recipient, text_key, message_id, claimed_at, run_id)"
                f" SELECT s.*, %(at)s, %(run)s FROM ({given}) AS s ORDER BY 1, 2"
                " ON CONFLICT (recipient, text_key) DO UPDATE SET"
                " claimed_at = excluded.claimed_at, message_id = excluded.message_id,"
                " run_id = excluded.run_id WHERE repeat_guard.claimed_at < %(since)s"
                " OR repeat_guard.message_id = excluded.message_id",
                args,
            ).rowcount
            if taken == len(rows):
                return set()
            args["since"] = -math.inf  # who holds a slot now: each that did not take its own lost
        found = db.execute(
            f"SELECT u.id FROM ({given}) AS u JOIN repeat_guard AS g ON g.recipient = u.to_"
            " AND g.text_key = u.key WHERE g.claimed_at >= %(since)s AND g.message_id != u.id",
            args,
        ).fetchall()
        return {int(r[0]) for r in found}

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
                "WITH u AS (UPDATE messages SET state = o.state, provider_message_id = o.pid,"
                " error = o.error, batch_id = o.batch, updated_at = %s"
                " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])"
                " AS o(id, state, pid, error, batch) WHERE messages.id = o.id"
                " RETURNING o.pid, messages.run_id)"
                " INSERT INTO provider_ids (id, run_id)"
                " SELECT DISTINCT pid, run_id FROM u WHERE pid IS NOT NULL"
                " ON CONFLICT DO NOTHING",
                (now(), *columns),
            )
        for (account, key), value in states.items():
            self._set_state(db, account, key, value)
        refused = zip(columns[0], columns[1], strict=True)
        self._free_slots(db, [i for i, state in refused if state == "failed"])
