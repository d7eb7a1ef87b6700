"""One holder per campaign in the SQLite store (a part of
:class:`smscli.store.sqlite.SqliteStore`): an OS file lock next to the *resolved* ledger file,
so every path and symlink that leads to it meets the same lock (the OS releases it when the
process dies, ``kill -9`` included), and a lease in the run's row naming host and pid, which a
live holder never loses."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smscli.errors import Unfinished
from smscli.store.sqlite_db import write_transaction

LEASE_SECONDS = 120.0


class Holds:
    conn: sqlite3.Connection
    path: Path
    _leases: list[str]
    """Runs this process took a lease on (released when its hold ends)."""

    @contextmanager
    def hold(self, key: str | None) -> Iterator[None]:
        from smscli.locks import FileLock

        lock = FileLock(self.path.parent / "locks" / f"{key[:32]}.lock") if key else None
        if lock is not None and not lock.acquire():
            raise Unfinished(
                f"another smscli process (pid {lock.holder() or '?'}) is working on this run; "
                "nothing done",
                hint="run the same command again once it has finished",
            )
        try:
            yield
        finally:
            try:
                while self._leases:
                    self._release_lease(self._leases.pop())
            finally:
                if lock is not None:
                    lock.release()

    def keep_holding(self, run_id: str) -> None:
        """Take or renew the run's lease. A lease left by a process that is alive (on this
        host: its pid runs; on another: until it expires) is never taken over."""
        me = owner()
        with write_transaction(self.conn) as db:
            holder, until = db.execute(
                "SELECT lease_owner, lease_until FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if holder and holder != me and alive(holder, until):
                raise Unfinished(
                    f"run {run_id} is being sent by {holder}; nothing done",
                    hint="run the same command again once it has finished",
                )
            db.execute(
                "UPDATE runs SET lease_owner = ?, lease_until = ? WHERE id = ?",
                (me, time.time() + LEASE_SECONDS, run_id),
            )
        if run_id not in self._leases:
            self._leases.append(run_id)

    def _release_lease(self, run_id: str) -> None:
        with write_transaction(self.conn) as db:  # durable: fsyncs every commit before it
            db.execute(
                "UPDATE runs SET lease_owner = NULL, lease_until = NULL"
                " WHERE id = ? AND lease_owner = ?",
                (run_id, owner()),
            )


def owner() -> str:
    import socket  # only where a run is held, never on a dry run's path

    return f"{socket.gethostname()}:{os.getpid()}"


def alive(holder: str, until: float | None) -> bool:
    """Whether the process named by a lease (``host:pid``) may still be working."""
    import socket

    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname():
        return until is not None and until > time.time()
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True  # another user's process, or a lease we cannot read: not ours to take
    return True
