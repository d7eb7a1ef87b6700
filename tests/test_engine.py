"""The one engine and the store (SQLite and PostgreSQL), with a scripted driver: what is
durable before a request leaves, what a claim may take, how outcomes, waits and interrupts are
recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from smscli.engine import Engine, SendStats, Stop, exit_code
from smscli.errors import (
    AuthError,
    ExitCode,
    NotSent,
    OutcomeUnknown,
    RateLimited,
    RecipientError,
    Unfinished,
)
from smscli.providers.base import Batch, BatchResult, Capabilities, Outcome
from smscli.ratelimit import Gate, Rate
from smscli.store import NewMessage, Totals, open_store
from smscli.store.migrations import MIGRATIONS, scripts
from smscli.store.sqlite import SqliteStore

BOTH_BACKENDS = True
CAPS = Capabilities(
    max_batch=2,
    per_recipient_text=True,
    turkish_mode=True,
    turkish_numbers_only=True,
    sender=True,
    balance=False,
    report=False,
    headers=False,
)
NUMBERS = ["+905321234567", "+905321234568", "+905321234569"]


@dataclass
class ScriptedDriver:
    """Answers each request with the next scripted step, and looks at the ledger first (with
    a connection of its own: ``query`` is :meth:`tests.conftest.Home.query`)."""

    query: Callable[..., list[tuple[Any, ...]]]
    steps: list[object]
    seen_states: list[list[str]] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    name: ClassVar[str] = "scripted"
    capabilities: ClassVar[Capabilities] = CAPS

    def send(self, batch: Batch) -> BatchResult:
        ids = [int(m.key) for m in batch.messages]
        rows = self.query(
            f"SELECT state FROM messages WHERE id IN ({','.join('?' * len(ids))})", *ids
        )
        self.seen_states.append([r[0] for r in rows])
        self.batches.append(batch)
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        assert step == "ok", step
        return BatchResult(
            tuple(Outcome(m.key, "accepted", f"id-{m.key}") for m in batch.messages),
            credits_remaining=42,
            batch_id="b1",
        )


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def store(home):
    """The ledger's store. On PostgreSQL every outcome goes to the outcome writer here (a
    handful of outcomes would go with the claim), so that these scenarios prove its path;
    the exactly-once tests of whole runs prove the other."""
    with open_store(home.ledger) as s:
        if home.backend == "postgres":
            s.aside_from = 1
        yield s


def new_run(store, numbers=NUMBERS) -> str:
    run_id = store.create_run(
        command="send", provider="scripted", profile=None, account="acct", sender="ACME",
        source=None, fingerprint=None, options=None,
    )  # fmt: skip
    messages = [
        NewMessage(i, f"argument {i}", n, n, "Merhaba", "GSM-7", 1) for i, n in enumerate(numbers)
    ]
    store.add_messages(run_id, [messages])
    store.mark_ready(run_id)
    return run_id


def run(home, store, steps, *, rates=(), max_wait=600.0):
    clock = Clock()
    driver = ScriptedDriver(home.query, steps)
    permits = store.permits("acct", list(rates))
    permits.clock = clock
    gate = Gate(max_wait=max_wait, clock=clock, sleep=clock.sleep)
    engine = Engine(driver, store, permits, gate, "acct", batch_size=2, concurrency=1, clock=clock)
    run_id = new_run(store)
    with store.hold(run_id):
        stats = engine.run(run_id)
    return run_id, driver, stats, clock


def states(store, run_id):
    return [m.state for m in store.messages(run_id)]


def test_messages_are_committed_as_sending_before_the_request_leaves(home, store):
    """One request in flight at a time here (concurrency 1), so the script is in order."""
    run_id, driver, stats, _ = run(home, store, ["ok", "ok"])
    assert driver.seen_states == [["sending", "sending"], ["sending"]]
    assert states(store, run_id) == ["accepted"] * 3
    assert stats.credits_remaining == 42
    assert store.get_state("acct", "credits_remaining")[0] == "42"


def test_outcome_unknown_is_recorded_and_not_retried(home, store):
    run_id, driver, _, _ = run(home, store, [OutcomeUnknown("lost"), "ok"])
    assert states(store, run_id) == ["unknown", "unknown", "accepted"]
    assert len(driver.batches) == 2


def test_a_connection_that_never_opened_keeps_the_rest_pending_and_stops(home, store):
    run_id, _driver, stats, _ = run(home, store, [NotSent("refused")])
    assert states(store, run_id) == ["pending"] * 3
    assert isinstance(stats.stop.error, NotSent)


def test_a_429_is_waited_out_and_the_same_messages_sent_once(home, store):
    run_id, driver, stats, clock = run(
        home, store, [RateLimited("429", retry_after=7.0), "ok", "ok"]
    )
    assert states(store, run_id) == ["accepted"] * 3
    assert stats.rate_limited == 1
    assert sum(clock.slept) >= 7.0
    sent = [m.to for b in driver.batches[1:] for m in b.messages]
    assert sorted(sent) == NUMBERS  # every number once after the refused request


def test_a_rate_limit_beyond_max_wait_stops_with_the_rest_pending(home, store):
    run_id, _driver, stats, _ = run(home, store, ["ok"], rates=[Rate(1, 3600.0)], max_wait=5)
    assert states(store, run_id) == ["accepted", "accepted", "pending"]
    assert isinstance(stats.stop.error, Unfinished)
    assert "--max-wait" in stats.stop.error.message


def test_an_interrupt_mid_request_leaves_it_unknown(home, store):
    run_id, _, stats, _ = run(home, store, [KeyboardInterrupt()])
    assert stats.interrupted
    assert states(store, run_id) == ["unknown", "unknown", "pending"]


def test_a_claim_takes_only_pending_messages(home, store):
    """A claim that finds a message another process claimed first claims nothing at all (its
    permits neither) and says so: no message is ever claimed twice."""
    run_id = new_run(store)
    ids = [m.id for m in store.messages(run_id)]
    permits = store.permits("acct", [Rate(10, 60.0)])
    first = store.claim([ids[:2]], permits=permits)
    assert (first.claimed, len(first.permits)) == (1, 1)
    with pytest.raises(Unfinished, match="another smscli process claimed"):
        store.claim([ids], permits=permits)
    assert states(store, run_id) == ["sending", "sending", "pending"]
    assert home.query("SELECT COUNT(*) FROM rate_events") == [(1,)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # symlinks to SQLite's file
def test_one_holder_per_run_whatever_path_leads_to_the_ledger(backend, tmp_path):
    real = tmp_path / "real.db"
    (tmp_path / "a").mkdir()
    link = tmp_path / "a" / "ledger.db"
    link.symlink_to(real)
    with (
        SqliteStore.open(real) as one,
        SqliteStore.open(link) as two,
        one.hold("campaign"),
        pytest.raises(Unfinished, match="another smscli process"),
        two.hold("campaign"),
    ):
        pass


def test_one_holder_per_run_of_two_stores_on_one_ledger(home):
    with (
        open_store(home.ledger) as one,
        open_store(home.ledger) as two,
        one.hold("campaign"),
        pytest.raises(Unfinished, match="another smscli process"),
        two.hold("campaign"),
    ):
        pass


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite's lease rows
def test_a_live_holder_s_lease_is_never_taken_over(home, store):
    run_id = new_run(store)
    home.query("UPDATE runs SET lease_owner = ?, lease_until = 0 WHERE id = ?",
               f"{__import__('socket').gethostname()}:1", run_id)  # fmt: skip
    with pytest.raises(Unfinished, match="is being sent by"):
        store.keep_holding(run_id)  # pid 1 is alive


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # a lock held by a connection
def test_a_run_held_by_another_live_connection_is_never_taken_over(home, store):
    run_id = new_run(store)
    with open_store(home.ledger) as other:
        other.keep_holding(run_id)
        with pytest.raises(Unfinished, match=f"another smscli process .* run {run_id}"):
            store.keep_holding(run_id)
        other.keep_holding(run_id)  # still the holder
    store.keep_holding(run_id)  # the holder's connection has gone: its lock with it


@pytest.mark.parametrize(
    ("totals", "stop", "errors", "code"),
    [
        (Totals(rows=1, accepted=1), None, [], ExitCode.OK),
        (Totals(rows=2, accepted=1, failed=1), None, [], ExitCode.PARTIAL),
        (Totals(rows=2, accepted=1, invalid=1), None, [], ExitCode.PARTIAL),
        (Totals(rows=3, accepted=1, failed=1, unknown=1), None, [], ExitCode.UNKNOWN),
        (Totals(rows=1, pending=1), AuthError("x"), [], ExitCode.CONFIG),
        (Totals(rows=1, failed=1), None, [RecipientError("x")], ExitCode.BAD_INPUT),
        (Totals(rows=1, failed=1), None, [], ExitCode.PROVIDER),
        (Totals(rows=1, invalid=1), None, [], ExitCode.BAD_INPUT),
        (Totals(rows=2, unknown=1, pending=1), Unfinished("x"), [], ExitCode.UNFINISHED),
    ],
)
def test_exit_codes(totals, stop, errors, code):
    stats = SendStats(stop=Stop(stop) if stop else None, errors=errors)
    assert exit_code(totals, stats) == code


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite's PRAGMAs
def test_ledger_migrations_are_recorded_and_idempotent(backend, tmp_path):
    path = tmp_path / "l.db"
    SqliteStore.open(path).close()
    with SqliteStore.open(path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # a file of an old version
def test_a_ledger_of_an_earlier_version_is_upgraded_in_place(backend, tmp_path):
    path = tmp_path / "l.db"
    with closing(sqlite3.connect(path)) as db:
        for script in scripts("sqlite")[:4]:
            db.executescript(script)
        db.execute("PRAGMA user_version = 4")
        db.execute(
            "INSERT INTO runs (id, created_at, command, provider, account)"
            " VALUES ('r1', 'x', 'send', 'vairosms', 'acct')"
        )
        db.execute(
            "INSERT INTO messages (run_id, seq, state, provider_message_id, created_at,"
            " updated_at) VALUES ('r1', 1, 'accepted', 'send-7', 'x', 'x')"
        )
        db.commit()
    with SqliteStore.open(path) as s:
        assert s.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [m.run_id for m in s.messages_by_provider_id(["send-7"])] == ["r1"]
        sql = "SELECT run_id FROM messages WHERE provider_message_id IN (?)"
        plan = " ".join(r[3] for r in s.conn.execute("EXPLAIN QUERY PLAN " + sql, ("x",)))
        assert "USING INDEX messages_provider_id" in plan


def test_a_postgresql_ledger_of_version_6_is_upgraded_in_place(postgres_ledger):
    """Migration 7: provider ids found through ``provider_ids``, filled from the messages."""
    import psycopg

    from smscli.store.pg import PgStore

    with psycopg.connect(postgres_ledger, autocommit=True) as db:
        for script in scripts("postgres")[:6]:
            for statement in script.split(";"):
                if statement.strip():
                    db.execute(statement.encode())
        db.execute("CREATE TABLE smscli_schema (version INTEGER NOT NULL)")
        db.execute("INSERT INTO smscli_schema (version) VALUES (6)")
        db.execute(
            "INSERT INTO runs (id, created_at, command, provider, account)"
            " VALUES ('r1', 'x', 'send', 'vairosms', 'acct')"
        )
        db.execute(
            "INSERT INTO messages (run_id, seq, state, provider_message_id, created_at,"
            " updated_at) VALUES ('r1', 1, 'accepted', 'send-7', 'x', 'x'),"
            " ('r1', 2, 'accepted', 'send-7', 'x', 'x')"
        )
    with PgStore.open(postgres_ledger) as s:
        assert s.conn.execute("SELECT version FROM smscli_schema").fetchone() == (len(MIGRATIONS),)
        assert s.conn.execute("SELECT id, run_id FROM provider_ids").fetchall() == [
            ("send-7", "r1")
        ]
        assert [m.seq for m in s.messages_by_provider_id(["send-7", "nosuch"])] == [1, 2]


def test_postgresql_writes_no_message_of_a_deleted_run(postgres_ledger):
    """The run is checked once per COPY, as a foreign key did for every row."""
    from smscli.store.pg import PgStore

    with PgStore.open(postgres_ledger) as s:
        run_id = s.create_run(
            command="bulk", provider="scripted", profile=None, account="acct", sender=None,
            source=None, fingerprint=None, options=None,
        )  # fmt: skip
        s.delete_run(run_id)
        message = NewMessage(0, "line 2", "0532", NUMBERS[0], "Merhaba", "GSM-7", 1)
        with pytest.raises(Unfinished, match="was deleted while its messages were written"):
            s.add_messages(run_id, [[message]])
        assert s.conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # SQLite's user_version
def test_ledger_from_a_newer_smscli_is_refused(backend, tmp_path):
    from smscli.errors import ConfigError

    path = tmp_path / "l.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="newer smscli"):
        SqliteStore.open(path)


@dataclass
class LateDriver:
    """A driver on the injected clock that fires the HTTP edge's hooks (:data:`on_wire`) as a
    request leaves and its reply comes: the first request leaves 0.35 s after its permit, as
    behind a slow new connection. It records when each request left (the provider counts
    arrivals)."""

    clock: Clock
    left: list[float] = field(default_factory=list)
    name: ClassVar[str] = "late"
    capabilities: ClassVar[Capabilities] = CAPS._replace(max_batch=1, network=False)

    def send(self, batch: Batch) -> BatchResult:
        from smscli.http import on_wire

        if not self.left:
            self.clock.t += 0.35
        hooks = on_wire.get()
        assert hooks is not None
        hooks.sent()
        self.left.append(self.clock.t)
        hooks.replied()
        return BatchResult(tuple(Outcome(m.key, "accepted", "x") for m in batch.messages))


def test_a_request_leaving_late_moves_its_permit_so_the_provider_never_sees_too_many(store):
    """2/second, two requests at once. Counted at its permit, the third request would leave
    1.0 s after the first permit, 0.65 s after the first request arrived: three in a window,
    a 429. Its permit moved to when it left, so every window the provider counts holds two.
    (Replaces an end-to-end test that timed real threads against the emulator's real clock,
    and failed now and then on a busy machine.)"""
    from smscli.ratelimit import guarded

    clock = Clock()
    driver = LateDriver(clock)
    permits = store.permits("acct", guarded([Rate(2, 1.0)]))
    permits.clock = clock
    gate = Gate(clock=clock, sleep=clock.sleep)
    engine = Engine(driver, store, permits, gate, "acct", batch_size=1, concurrency=2, clock=clock)
    run_id = new_run(store, [*NUMBERS, "+905321234570"])
    with store.hold(run_id):
        engine.run(run_id)
    assert states(store, run_id) == ["accepted"] * 4
    left = sorted(driver.left)
    assert left[0] == 1000.35
    assert all(later - earlier >= 1.0 for earlier, later in zip(left, left[2:], strict=False))
