"""The read queries both backends share (a part of every store class): written once, with
``?`` placeholders, which a backend's :meth:`Reads._q` turns into its own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from smscli.store.problems import LedgerDamaged
from smscli.store.records import (
    SKIPPED_BECAUSE,
    STATES,
    MessageRecord,
    RunRecord,
    StateCount,
    Totals,
)
from smscli.store.sql import Sql

RUN = (
    "SELECT id, created_at, finished_at, command, provider, profile, account, sender, source,"
    " fingerprint, state, options, credits_remaining, exit_code FROM runs"
)
MESSAGE = (
    "SELECT id, run_id, seq, source, raw, recipient, text, encoding, segments, state,"
    " provider_message_id, batch_id, error, report_detail, reported_at, created_at, updated_at"
    " FROM messages"
)


class Reads(Sql):
    location: str

    def find_run(self, fingerprint: str) -> RunRecord | None:
        row = self._one(
            RUN + " WHERE fingerprint = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
            fingerprint,
        )
        return RunRecord(*row) if row else None

    def run(self, run_id: str) -> RunRecord | None:
        row = self._one(RUN + " WHERE id = ?", run_id)
        return RunRecord(*row) if row else None

    def runs_like(self, prefix: str, limit: int) -> list[str]:
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.conn.execute(
            self._q(
                "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT ?"
            ),
            (like, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def runs(
        self, *, limit: int | None, provider: str | None, profile: str | None
    ) -> list[RunRecord]:
        where: list[str] = []
        args: list[str | int | None] = []
        for column, value in (("provider", provider), ("profile", profile)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        sql = RUN + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        args.append(self.ALL if limit is None else limit)
        return [RunRecord(*r) for r in self.conn.execute(self._q(sql), args)]

    def last_run(self, account: str) -> str | None:
        row = self._one(
            "SELECT id FROM runs WHERE account = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
            account,
        )
        return row[0] if row else None

    def totals(self, run_id: str) -> Totals:
        t = Totals()
        for state, reason, count, parts in self.conn.execute(
            self._q(
                "SELECT state, CASE WHEN state = 'skipped' THEN substr(error, 1, 9) END,"
                " COUNT(*), COALESCE(SUM(segments), 0) FROM messages WHERE run_id = ?"
                " GROUP BY 1, 2"
            ),
            (run_id,),
        ):
            t.rows += count
            if state == "skipped":
                field = SKIPPED_BECAUSE.get(reason, "excluded")
                setattr(t, field, getattr(t, field) + count)
                continue
            if state not in STATES:  # no smscli writes it: a damaged file
                raise LedgerDamaged(self.location, f"run {run_id} has a message in state {state!r}")
            setattr(t, state, getattr(t, state) + count)
            if state != "invalid":
                t.parts_total += parts
            if state == "pending":
                t.parts_pending += parts
        return t

    def state_counts(self, run_id: str) -> dict[str, StateCount]:
        return {
            state: StateCount(count, segments)
            for state, count, segments in self.conn.execute(
                self._q(
                    "SELECT state, COUNT(*), COALESCE(SUM(segments), 0) FROM messages"
                    " WHERE run_id = ? GROUP BY state"
                ),
                (run_id,),
            )
        }

    def pending_parts(self, run_id: str, limit: int | None) -> int:
        found: int = self._one(
            "SELECT COALESCE(SUM(segments), 0) FROM (SELECT segments FROM messages"
            " WHERE run_id = ? AND state = 'pending' ORDER BY seq LIMIT ?) AS p",
            run_id,
            self.ALL if limit is None else limit,
        )[0]
        return int(found)

    def messages(
        self, run_id: str, states: Sequence[str] = (), limit: int | None = None
    ) -> Iterator[MessageRecord]:
        sql = MESSAGE + " WHERE run_id = ?"
        if states:
            # Literal states (from the fixed list): `state = 'pending'` finds the run's pending
            # messages in their partial index; a bound parameter, or IN, could not.
            unknown = set(states) - set(STATES)
            if unknown:
                raise ValueError(f"unknown message states {sorted(unknown)}")
            if len(states) == 1:
                sql += f" AND state = {states[0]!r}"
            else:
                sql += f" AND state IN ({', '.join(repr(s) for s in states)})"
        sql += " ORDER BY seq LIMIT ?"
        args = (run_id, self.ALL if limit is None else limit)
        for row in self.conn.execute(self._q(sql), args):
            yield MessageRecord(*row)
