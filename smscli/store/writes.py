"""The writes both backends share (a part of every store class): runs being created, made
ready, finished, requeued and settled, delivery reports and account state. Written once with
``?`` placeholders (:meth:`smscli.store.reads.Reads._q`); the claim, the outcomes and the
rows of a run being prepared are each backend's own, tuned for it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from smscli.errors import Unfinished
from smscli.store.records import Claim, Recorded, ReportUpdate
from smscli.store.sql import Sql

if TYPE_CHECKING:
    from smscli.store import Permits


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + os.urandom(3).hex()


def among(values: Sequence[str]) -> str:
    """``IN (?, ?, …)`` for ``values`` (a few states: one placeholder each)."""
    return "IN (" + ", ".join("?" * len(values)) + ")"


class Writes(Sql):
    def _to_sending(self, db: Any, ids: list[int], at: float) -> int:
        """Those of ``ids`` still ``pending`` become ``sending``, claimed at ``at``; returns
        how many did (the backend's own statement: one, for thousands of ids)."""
        raise NotImplementedError

    def _to_pending(self, db: Any, ids: list[int]) -> None:
        """Those of ``ids`` still ``sending`` go back to ``pending``."""
        raise NotImplementedError

    def _write_outcomes(self, db: Any, recorded: Sequence[Recorded]) -> None:
        """Every outcome of every request in one statement (the backend's own); of the
        provider states only the last one written for a key is kept."""
        raise NotImplementedError

    def claim(
        self,
        batches: Sequence[Sequence[int]],
        *,
        recorded: Sequence[Recorded] = (),
        permits: Permits | None = None,
    ) -> Claim:
        count, wait = len(batches), 0.0
        taken: list[int | None] = [None] * count
        with self.transaction() as db:
            self._write_outcomes(db, recorded)
            if permits is not None:
                taken, wait = permits.take_some(db, count)
                count = len(taken)
            if count:
                ids = [i for batch in batches[:count] for i in batch]
                if self._to_sending(db, ids, time.time()) != len(ids):
                    # undone whole, permits included, by the rollback
                    raise Unfinished(
                        "another smscli process claimed messages of this run; stopped here, "
                        "nothing of this claim sent",
                        hint="run the same command again once it has finished",
                    )
        return Claim(count, list(taken[:count]), wait)

    def record(self, recorded: Sequence[Recorded], *, durable: bool = True) -> None:
        with self.transaction(durable=durable) as db:
            self._write_outcomes(db, recorded)

    def put_back(self, ids: Iterable[int]) -> None:
        with self.transaction() as db:
            self._to_pending(db, list(ids))

    def create_run(
        self,
        *,
        command: str,
        provider: str,
        profile: str | None,
        account: str,
        sender: str | None,
        source: str | None,
        fingerprint: str | None,
        options: str | None,
        offline: bool = False,
    ) -> str:
        run_id = new_run_id()
        with self.transaction() as db:
            db.execute(
                self._q(
                    "INSERT INTO runs (id, created_at, command, provider, profile, account,"
                    " sender, source, fingerprint, state, options, offline)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'preparing', ?, ?)"
                ),
                (run_id, now(), command, provider, profile, account, sender, source,
                 fingerprint, options, int(offline)),
            )  # fmt: skip
        return run_id

    def mark_ready(self, run_id: str) -> None:
        with self.transaction() as db:
            # Later occurrences of a number are skipped; the first one is sent. Only numbers
            # written more than once are looked at (found in the run's recipient index alone).
            db.execute(
                self._q(
                    "UPDATE messages SET state = 'skipped', error = 'duplicate of ' || d.first"
                    " FROM (SELECT id, FIRST_VALUE(source) OVER w AS first,"
                    "  ROW_NUMBER() OVER w AS n FROM messages WHERE run_id = ?"
                    "  AND state IN ('pending', 'skipped')"
                    "  AND recipient IN (SELECT recipient FROM messages WHERE run_id = ?"
                    "   AND recipient IS NOT NULL GROUP BY recipient HAVING COUNT(*) > 1)"
                    "  WINDOW w AS (PARTITION BY recipient ORDER BY seq)) AS d"
                    " WHERE messages.id = d.id AND d.n > 1"
                ),
                (run_id, run_id),
            )
            db.execute(self._q("UPDATE runs SET state = 'ready' WHERE id = ?"), (run_id,))

    def delete_run(self, run_id: str) -> None:
        with self.transaction() as db:
            db.execute(self._q("DELETE FROM idempotency_keys WHERE run_id = ?"), (run_id,))
            db.execute(self._q("DELETE FROM messages WHERE run_id = ?"), (run_id,))
            db.execute(self._q("DELETE FROM runs WHERE id = ?"), (run_id,))

    def finish(
        self, run_id: str, credits_remaining: float | None, exit_code: int | None = None
    ) -> bool:
        with self.transaction() as db:
            db.execute(
                self._q(
                    "UPDATE runs SET credits_remaining = COALESCE(?, credits_remaining),"
                    " exit_code = COALESCE(?, exit_code) WHERE id = ?"
                ),
                (credits_remaining, exit_code, run_id),
            )
            if db.execute(
                self._q(
                    "SELECT 1 FROM messages WHERE run_id = ? AND state IN ('pending', 'sending')"
                    " LIMIT 1"
                ),
                (run_id,),
            ).fetchone():
                return False
            db.execute(
                self._q(
                    "UPDATE runs SET state = 'complete', finished_at = COALESCE(finished_at, ?)"
                    " WHERE id = ? AND state != 'complete'"
                ),
                (now(), run_id),
            )
        return True

    def requeue(self, run_id: str, states: Sequence[str]) -> int:
        with self.transaction() as db:
            moved = self._move(db, run_id, states, "pending", None)
            if moved:
                db.execute(
                    self._q("UPDATE runs SET state = 'ready', finished_at = NULL WHERE id = ?"),
                    (run_id,),
                )
            return moved

    def settle(self, run_id: str, states: Sequence[str], to: str, error: str) -> int:
        with self.transaction() as db:
            return self._move(db, run_id, states, to, error)

    def _move(self, db: Any, run_id: str, states: Sequence[str], to: str, error: str | None) -> int:
        """Every message of the run in ``states`` to state ``to`` with ``error``."""
        if not states:
            return 0
        moved: int = db.execute(
            self._q(
                "UPDATE messages SET state = ?, error = ?, updated_at = ?"
                f" WHERE run_id = ? AND state {among(states)}"
            ),
            (to, error, now(), run_id, *states),
        ).rowcount
        return moved

    # --- reports and account state ------------------------------------------------------

    def apply_report(self, updates: Sequence[ReportUpdate]) -> None:
        with self.transaction() as db, closing(db.cursor()) as cur:  # both drivers' cursors
            cur.executemany(
                self._q(
                    "UPDATE messages SET state = ?, report_detail = ?, reported_at = ?,"
                    " updated_at = CASE WHEN state = ? THEN updated_at ELSE ? END WHERE id = ?"
                ),
                [(u.state, u.detail, u.at, u.state, u.at, u.message) for u in updates],
            )

    def get_state(self, account: str, key: str) -> tuple[str, str] | None:
        row = self._one(
            "SELECT value, updated_at FROM provider_state WHERE account = ? AND key = ?",
            account,
            key,
        )
        return (row[0], row[1]) if row else None

    def set_state(self, account: str, key: str, value: str) -> None:
        with self.transaction() as db:
            self._set_state(db, account, key, value)

    def _set_state(self, db: Any, account: str, key: str, value: str) -> None:
        db.execute(
            self._q(
                "INSERT INTO provider_state (account, key, value, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account, key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at"
            ),
            (account, key, value, now()),
        )
