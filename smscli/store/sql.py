"""What the SQL both backends share stands on: the connection, its placeholders, its write
transactions (:mod:`smscli.store.reads`, :mod:`smscli.store.screens` and
:mod:`smscli.store.writes` are written once against this; each backend's store class supplies
it)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any


class Sql:
    conn: Any
    """The backend's connection: ``execute(sql, args)`` gives an iterable cursor."""
    ALL: int | None = -1
    """A ``LIMIT`` that does not limit (SQLite: -1; PostgreSQL: NULL)."""

    def _q(self, sql: str) -> str:
        """``sql`` in the backend's placeholders (SQLite's own: ``?``)."""
        return sql

    def _one(self, sql: str, *args: Any) -> Any:
        return self.conn.execute(self._q(sql), args).fetchone()

    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Any]:
        """A write transaction; ``durable=False`` need not survive a crash on its own."""
        raise NotImplementedError
