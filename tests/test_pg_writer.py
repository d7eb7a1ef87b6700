"""The PostgreSQL store's outcome writer (:mod:`smscli.store.pg_writer`) against a real server:
what is handed over is written in order, on a session whose commits do not wait for the WAL
flush; a wait returns once what it names is committed; the writer's error reaches the
engine's thread. (That a run's outcomes all land, whatever happens, is proven by the
exactly-once tests, which run on PostgreSQL too.)"""

from __future__ import annotations

import threading

import pytest

from smscli.store.pg_db import connect_ledger
from smscli.store.pg_writer import OutcomeWriter


class Written:
    """A write function that records what it was given, optionally held at a gate."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.settings: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, db, recorded) -> None:
        self.entered.set()
        assert self.gate.wait(timeout=30)
        self.settings.append(db.execute("SHOW synchronous_commit").fetchone()[0])
        self.batches.append(list(recorded))


@pytest.fixture
def conn(postgres_ledger):
    return connect_ledger(postgres_ledger)


def test_everything_handed_over_is_written_in_order(conn):
    write = Written()
    writer = OutcomeWriter(conn, write)
    writer.put(["a", "b"])
    writer.put([])  # nothing to write: not a hand-over
    writer.put(["c"])
    assert writer.handed == 2
    writer.wait()
    assert [x for batch in write.batches for x in batch] == ["a", "b", "c"]
    assert set(write.settings) == {"off"}
    writer.close()
    assert conn.closed


def test_a_wait_returns_once_what_it_names_is_committed(conn):
    write = Written()
    write.gate.clear()
    writer = OutcomeWriter(conn, write)
    writer.put(["a"])
    assert write.entered.wait(timeout=30)  # the writer holds "a", not yet committed
    writer.put(["b"])
    writer.wait(0)  # nothing named: returns at once, though "a" is still being written
    assert write.batches == []
    write.gate.set()
    writer.wait(2)
    assert [x for batch in write.batches for x in batch] == ["a", "b"]
    writer.close()


def test_the_writer_s_error_is_raised_in_the_caller_s_thread(conn):
    def broken(db, recorded) -> None:
        db.execute("SELECT no_such_column FROM runs")

    import psycopg

    writer = OutcomeWriter(conn, broken)
    writer.put(["a"])
    with pytest.raises(psycopg.errors.UndefinedColumn):
        writer.wait()
    with pytest.raises(psycopg.errors.UndefinedColumn):
        writer.put(["b"])
    with pytest.raises(psycopg.errors.UndefinedColumn):
        writer.close()
    assert conn.closed
