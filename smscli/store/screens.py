"""Who never gets a message, in both backends (a part of every store class): the opt-out list,
whether anything may have been sent lately (the repeat guard's first question), and ``send``'s
idempotency keys. The repeat guard's lookup itself is each backend's own
(:mod:`smscli.store.sqlite_screen`, :mod:`smscli.store.pg_reads`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from smscli.store.records import OptOut
from smscli.store.sql import Sql

REACHED_NOT = ("pending", "failed", "invalid", "skipped")
"""States of a message that was claimed once but cannot have reached its recipient: put back
after a refused request, or refused by the provider."""


class Screens(Sql):
    def optouts(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT number, substr(added_at, 1, 10) FROM optouts"))

    def list_optouts(self) -> list[OptOut]:
        rows = self.conn.execute(
            "SELECT number, added_at, reason, source FROM optouts ORDER BY added_at, number"
        )
        return [OptOut(*r) for r in rows]

    def add_optouts(self, entries: Iterable[tuple[str, str | None, str | None]]) -> list[str]:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        added = []
        sql = self._q(
            "INSERT INTO optouts (number, added_at, reason, source) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (number) DO NOTHING"
        )
        with self.transaction() as db:
            for number, reason, source in entries:
                if db.execute(sql, (number, stamp, reason, source)).rowcount:
                    added.append(number)
        return added

    def remove_optouts(self, numbers: Iterable[str]) -> list[str]:
        removed = []
        sql = self._q("DELETE FROM optouts WHERE number = ?")
        with self.transaction() as db:
            for number in numbers:
                if db.execute(sql, (number,)).rowcount:
                    removed.append(number)
        return removed

    def skip_optouts(self, run_id: str) -> int:
        with self.transaction() as db:
            found: int = db.execute(
                self._q(
                    "UPDATE messages SET state = 'skipped',"
                    " error = 'opted out on ' || substr(o.added_at, 1, 10)"
                    " FROM optouts AS o WHERE messages.run_id = ?"
                    " AND messages.state = 'pending' AND messages.recipient = o.number"
                ),
                (run_id,),
            ).rowcount
            return found

    def sent_since(self, since: float) -> bool:
        # A claim writes no run column, so this is conservative: any run that may have been
        # sending since then (unfinished, or finished after it) counts.
        stamp = datetime.fromtimestamp(since, UTC).isoformat(timespec="milliseconds")
        return bool(
            self.conn.execute(
                self._q(
                    "SELECT 1 FROM runs WHERE offline = 0 AND state != 'preparing'"
                    " AND (finished_at IS NULL OR finished_at >= ?) LIMIT 1"
                ),
                (stamp,),
            ).fetchone()
        )

    def find_key(self, account: str, key: str) -> tuple[str, str] | None:
        row = self._one(
            "SELECT request, run_id FROM idempotency_keys WHERE account = ? AND key = ?",
            account,
            key,
        )
        return (row[0], row[1]) if row else None

    def keep_key(self, account: str, key: str, request: str, run_id: str) -> None:
        with self.transaction() as db:
            db.execute(
                self._q(
                    "INSERT INTO idempotency_keys (account, key, request, run_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                ),
                (account, key, request, run_id, datetime.now(UTC).isoformat(timespec="seconds")),
            )

    def forget_key(self, account: str, key: str) -> None:
        with self.transaction() as db:
            db.execute(
                self._q("DELETE FROM idempotency_keys WHERE account = ? AND key = ?"),
                (account, key),
            )
