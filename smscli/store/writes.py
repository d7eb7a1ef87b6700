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
from smscli.store.keys import FREED
from smscli.store.records import Claim, Guard, GuardRow, Recorded, ReportUpdate
from smscli.store.sql import Sql

if TYPE_CHECKING:
    from smscli.store import Permits


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + os.urandom(3).hex()


def _utc(at: float) -> str:
    """A claim's time as a skipped message's reason says it."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _leading(live: list[list[int]], permits: int) -> tuple[int, list[int]]:
    """How many of the batches ``live`` (without the messages the guard skipped) the claim
    takes when ``permits`` of their non-empty ones may leave: the leading ones up to the
    first non-empty batch without a permit (empty ones need none); and for each taken batch,
    whether it takes a permit (its size, 0 for none)."""
    given: list[int] = []
    for batch in live:
        if batch and permits == 0:
            break
        if batch:
            permits -= 1
        given.append(len(batch))
    return len(given), given


def _rows_of(guard: Guard, ids: list[int]) -> list[GuardRow]:
    """The guard's rows of the messages ``ids`` (usually all of them)."""
    if len(ids) == len(guard.rows):
        return list(guard.rows)
    wanted = set(ids)
    return [row for row in guard.rows if row[0] in wanted]


def _sum_of(guard: Guard, ids: list[int]) -> int:
    """The sum of the checksums of the messages ``ids`` as the engine read them."""
    return sum(row[3] or 0 for row in _rows_of(guard, ids))


def among(values: Sequence[str]) -> str:
    """``IN (?, ?, …)`` for ``values`` (a few states: one placeholder each)."""
    return "IN (" + ", ".join("?" * len(values)) + ")"


class Writes(Sql):
    def _to_sending(self, db: Any, ids: list[int], at: float) -> tuple[int, int]:
        """Those of ``ids`` still ``pending`` become ``sending``, claimed at ``at``; returns
        how many did and the sum of their checksums (the backend's own statement: one, for
        thousands of ids)."""
        raise NotImplementedError

    def _to_pending(self, db: Any, ids: list[int]) -> None:
        """Those of ``ids`` still ``sending`` go back to ``pending``."""
        raise NotImplementedError

    def _write_outcomes(self, db: Any, recorded: Sequence[Recorded]) -> None:
        """Every outcome of every request in one statement (the backend's own); of the
        provider states only the last one written for a key is kept. A refused message
        frees its repeat-guard slot (:meth:`_free_slots`)."""
        raise NotImplementedError

    def _take_slots(self, db: Any, guard: Guard, rows: list[tuple[int, str, int]]) -> set[int]:
        """The repeat guard's slots of ``rows`` ``(id, recipient, text key)``, in one
        statement that no other claim can interleave with (a primary key): those whose slot
        is free (never claimed, claimed before ``guard.repeats_since``, refused since, or
        held by the same message) are written as claimed now by this message; returns the
        ids that did not get theirs (usually none: a second statement only then). With
        ``guard.record`` False nothing is written."""
        raise NotImplementedError

    # A list of values in a statement (ids, numbers): ``column {_ID_LIST}`` with
    # ``_ids(values)`` as its argument.
    _ID_LIST = "IN (SELECT value FROM json_each(?))"

    def _ids(self, values: Sequence[int | str]) -> Any:
        import json

        return json.dumps(list(values))

    def claim(
        self,
        batches: Sequence[Sequence[int]],
        *,
        recorded: Sequence[Recorded] = (),
        permits: Permits | None = None,
        guard: Guard | None = None,
    ) -> Claim:
        with self.transaction() as db:
            self._write_outcomes(db, recorded)
            skipped = self._screen(db, guard) if guard is not None else {}
            live = [[i for i in b if i not in skipped] for b in batches]
            wanted = sum(1 for b in live if b)
            taken: list[int | None] = [None] * wanted
            wait = 0.0
            if permits is not None and wanted:
                taken, wait = permits.take_some(db, wanted)
            count, given = _leading(live, len(taken))
            claimed = [i for b in live[:count] for i in b]
            if guard is not None and claimed:
                skipped.update(self._repeats(db, guard, _rows_of(guard, claimed)))
                claimed = [i for i in claimed if i not in skipped]
            if claimed:
                moved, checksums = self._to_sending(db, claimed, time.time())
                if moved != len(claimed):  # undone whole, permits included, by the rollback
                    raise Unfinished(
                        "another smscli process claimed messages of this run; stopped here, "
                        "nothing of this claim sent",
                        hint="run the same command again once it has finished",
                    )
                if guard is not None and checksums != _sum_of(guard, claimed):
                    self._damaged(db, guard)  # raises: nothing of this claim is kept
        permit = iter(taken)
        permits_of = [next(permit) if n else None for n in given]
        return Claim(count, permits_of, wait if count < len(batches) else 0.0, skipped)

    def _screen(self, db: Any, guard: Guard) -> dict[int, str]:
        """The guard's messages to numbers on the opt-out list now become ``skipped``,
        "opted out on DATE", as the plan would have made them (looked up by number in the
        list's own index: usually none is); returns them."""
        if not guard.optouts:
            return {}
        numbers = [to for _, to, _, _ in guard.rows]
        listed = {
            str(n)
            for (n,) in db.execute(
                self._q(f"SELECT number FROM optouts WHERE number {self._ID_LIST}"),
                (self._ids(numbers),),
            )
        }
        if not listed:
            return {}
        rows = db.execute(
            self._q(
                "UPDATE messages SET state = 'skipped', updated_at = ?,"
                " error = 'opted out on ' || substr(o.added_at, 1, 10) FROM optouts AS o"
                f" WHERE messages.id {self._ID_LIST} AND messages.state = 'pending'"
                " AND messages.recipient = o.number RETURNING messages.id, messages.error"
            ),
            (now(), self._ids([i for i, to, _, _ in guard.rows if to in listed])),
        ).fetchall()
        return {int(i): str(why) for i, why in rows}

    def _damaged(self, db: Any, guard: Guard) -> None:
        """Raise naming the message whose row no longer holds what the engine read."""
        from smscli.store.problems import LedgerDamaged

        expected = {i: c for i, _, _, c in guard.rows}
        for i, run_id, checksum in db.execute(
            self._q(f"SELECT id, run_id, checksum FROM messages WHERE id {self._ID_LIST}"),
            (self._ids(list(expected)),),
        ):
            if checksum != expected[i]:
                raise LedgerDamaged(
                    getattr(self, "location", "ledger"),
                    f"message {i} of run {run_id} no longer holds what was planned: its "
                    "checksum does not match",
                )
        raise Unfinished(  # the sums differed, no row did: another process changed them
            "another smscli process changed messages of this run; stopped here, nothing of "
            "this claim sent",
            hint="run the same command again once it has finished",
        )

    def _repeats(self, db: Any, guard: Guard, rows: list[GuardRow]) -> dict[int, str]:
        """Of ``rows``, those that would repeat a text their number was sent within the
        window become ``skipped`` ("same text sent in run RUN at TIME"); the others hold
        their slots in the repeat guard from now on."""
        first: dict[tuple[str, int], int] = {}
        for i, to, key, _ in rows:  # the same number and text twice in one claim: the first
            first.setdefault((to, key), i)
        lost = self._take_slots(db, guard, [(i, to, key) for (to, key), i in first.items()])
        if len(first) < len(rows):
            lost.update({i for i, *_ in rows} - set(first.values()))
        why: dict[int, str] = {}
        for i, to, key, _ in rows:
            if i not in lost:
                continue
            holder = db.execute(  # rare: one look-up each
                self._q(
                    "SELECT run_id, claimed_at FROM repeat_guard"
                    " WHERE recipient = ? AND text_key = ?"
                ),
                (to, key),
            ).fetchone()
            run, at = holder if holder else (guard.run_id, time.time())
            why[i] = f"same text sent in run {run} at {_utc(at)}"
            db.execute(
                self._q(
                    "UPDATE messages SET state = 'skipped', error = ?, updated_at = ? WHERE id = ?"
                ),
                (why[i], now(), i),
            )
        return why

    def record(self, recorded: Sequence[Recorded], *, durable: bool = True) -> None:
        with self.transaction(durable=durable) as db:
            self._write_outcomes(db, recorded)

    def put_back(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        with self.transaction() as db:
            self._to_pending(db, ids)
            self._free_slots(db, ids)

    def _free_slots(self, db: Any, ids: list[int]) -> None:
        """The repeat-guard slots these messages hold are free again: their request was not
        processed, or refused (a later run may send the same text to the number)."""
        # Found by their number and text key (the guard's only index), held by them still.
        if ids:
            db.execute(
                self._q(
                    "UPDATE repeat_guard SET claimed_at = ? WHERE (recipient, text_key) IN"
                    f" (SELECT recipient, text_key FROM messages WHERE id {self._ID_LIST})"
                    f" AND message_id {self._ID_LIST}"
                ),
                (FREED, self._ids(ids), self._ids(ids)),
            )

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
