"""The sending engine and the ledger: states are committed before requests leave, outcomes
as soon as replies arrive, and nothing in doubt is ever retried."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from smscli.encoding import analyse
from smscli.errors import (
    AuthError,
    CreditError,
    ExitCode,
    NotSent,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
)
from smscli.ledger import MIGRATIONS, Ledger
from smscli.providers.base import Batch, BatchResult, Capabilities, Outcome
from smscli.recipients import collect, split_arguments
from smscli.sending import Draft, Engine, Report, Result, exit_code, prepare

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


@dataclass
class ScriptedDriver:
    """Answers each request with the next scripted step, and looks at the ledger first."""

    ledger_path: str
    steps: list[object]
    seen_states: list[list[str]] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    name: ClassVar[str] = "scripted"
    capabilities: ClassVar[Capabilities] = CAPS

    def send(self, batch: Batch) -> BatchResult:
        with sqlite3.connect(self.ledger_path) as other:
            ids = [int(m.key) for m in batch.messages]
            rows = other.execute(
                f"SELECT state FROM messages WHERE id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        self.seen_states.append([r[0] for r in rows])
        self.batches.append(batch)
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        if step == "ok":
            return BatchResult(
                tuple(Outcome(m.key, "accepted", f"id-{m.key}") for m in batch.messages),
                credits_remaining=42,
                batch_id="b1",
            )
        raise AssertionError(step)


def draft(numbers: str, text: str = "Merhaba") -> Draft:
    return prepare(
        provider="scripted",
        profile=None,
        capabilities=CAPS,
        check_recipient=lambda e: None,
        text=text,
        recipients=collect(split_arguments([numbers]), "TR"),
        sender="ACME",
    )


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(tmp_path / "ledger.db") as led:
        yield led


def engine(ledger, steps, **kw):
    driver = ScriptedDriver(str(ledger.path), steps)
    return driver, Engine(driver, ledger, "acct", sleep=kw.pop("sleep", lambda s: None), **kw)


NUMBERS = "05321234567,05321234568,05321234569"


def states(ledger, run_id):
    return [m["state"] for m in ledger.messages(run_id)]


def test_messages_are_committed_as_sending_before_the_request_leaves(ledger):
    driver, eng = engine(ledger, ["ok", "ok"])
    report = eng.send(draft(NUMBERS))
    assert driver.seen_states == [["sending", "sending"], ["sending"]]
    assert states(ledger, report.run_id) == ["accepted"] * 3
    assert [r.message_id for r in report.results] == ["id-1", "id-2", "id-3"]
    assert report.credits_remaining == 42
    assert report.exit_code == ExitCode.OK
    assert ledger.get_state("acct", "credits_remaining")[0] == "42"


def test_outcome_unknown_is_recorded_and_not_retried(ledger):
    driver, eng = engine(ledger, [OutcomeUnknown("read timeout"), "ok"])
    report = eng.send(draft(NUMBERS))
    assert len(driver.batches) == 2  # the second batch still goes; the first is not re-sent
    assert states(ledger, report.run_id) == ["unknown", "unknown", "accepted"]
    assert report.exit_code == ExitCode.UNKNOWN


def test_not_sent_is_failed(ledger):
    _, eng = engine(ledger, [NotSent("refused"), NotSent("refused")])
    report = eng.send(draft(NUMBERS))
    assert states(ledger, report.run_id) == ["failed"] * 3
    assert report.exit_code == ExitCode.PROVIDER


def test_rate_limit_is_waited_out_and_retried(ledger):
    slept: list[float] = []
    driver, eng = engine(
        ledger, [RateLimited("429", retry_after=3), "ok", "ok"], sleep=slept.append
    )
    report = eng.send(draft(NUMBERS))
    assert slept == [3]
    assert len(driver.batches) == 3
    assert report.exit_code == ExitCode.OK


def test_rate_limit_longer_than_max_wait_fails_without_sending(ledger):
    slept: list[float] = []
    _, eng = engine(
        ledger,
        [RateLimited("429", retry_after=400), RateLimited("429", retry_after=400), "ok"],
        sleep=slept.append,
        max_wait=600,
    )
    report = eng.send(draft("05321234567"))
    assert slept == [400]
    assert states(ledger, report.run_id) == ["failed"]
    assert "max-wait" in report.results[0].error


def test_interrupt_mid_request_leaves_unknown_and_the_rest_failed(ledger):
    _, eng = engine(ledger, [KeyboardInterrupt()])
    report = eng.send(draft(NUMBERS))
    assert report.interrupted
    assert states(ledger, report.run_id) == ["unknown", "unknown", "failed"]
    assert "not sent" in report.results[2].error


def test_invalid_numbers_are_recorded_failed_with_the_reason(ledger):
    _, eng = engine(ledger, ["ok"])
    report = eng.send(draft("05321234567,12"))
    assert [(r.status, r.error) for r in report.results] == [
        ("accepted", None),
        ("invalid", "invalid number: too short"),
    ]
    assert report.exit_code == ExitCode.PARTIAL


def R(status: str) -> Result:
    return Result("+905321234567", "x", "argument 1", status, None, 1, None)


@pytest.mark.parametrize(
    ("statuses", "errors", "code"),
    [
        (["accepted"], [], ExitCode.OK),
        (["accepted", "failed"], [], ExitCode.PARTIAL),
        (["accepted", "invalid"], [], ExitCode.PARTIAL),
        (["accepted", "failed", "unknown"], [], ExitCode.UNKNOWN),
        (["failed"], [AuthError("x")], ExitCode.CONFIG),
        (["failed"], [CreditError("x")], ExitCode.CREDIT),
        (["failed"], [ProviderError("x")], ExitCode.PROVIDER),
        (["failed", "failed"], [ProviderError("x"), AuthError("y")], ExitCode.CONFIG),
    ],
)
def test_exit_codes(statuses, errors, code):
    report = Report("r", "p", None, False, [R(s) for s in statuses], errors=errors)
    assert exit_code(report) == code


def test_ledger_migrations_are_recorded_and_idempotent(tmp_path):
    path = tmp_path / "l.db"
    Ledger.open(path).close()
    with Ledger.open(path) as led:
        assert led.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert led.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_ledger_of_an_earlier_version_is_upgraded_in_place(tmp_path):
    path = tmp_path / "l.db"
    with closing(sqlite3.connect(path)) as db:
        for script in MIGRATIONS[:4]:
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
    with Ledger.open(path) as led:
        assert led.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        (index,) = led.conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'messages_provider_id'"
        ).fetchone()
        assert "WHERE provider_message_id IS NOT NULL" in index
        sql = "SELECT run_id FROM messages WHERE provider_message_id IN (?)"
        assert [tuple(r) for r in led.conn.execute(sql, ("send-7",))] == [("r1",)]
        plan = " ".join(r[3] for r in led.conn.execute("EXPLAIN QUERY PLAN " + sql, ("x",)))
        assert "USING INDEX messages_provider_id" in plan


def test_ledger_from_a_newer_smscli_is_refused(tmp_path):
    path = tmp_path / "l.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    from smscli.errors import ConfigError

    with pytest.raises(ConfigError, match="newer smscli"):
        Ledger.open(path)


def test_prepare_counts_parts_and_checks_sender():
    d = draft("05321234567", "Şişli'de ılık bir gün")
    assert d.segmentation == analyse("Şişli'de ılık bir gün")
    assert d.segmentation.turkish
    from smscli.errors import ConfigError

    with pytest.raises(ConfigError, match="3 to 11"):
        prepare(
            provider="scripted",
            profile=None,
            capabilities=CAPS,
            check_recipient=lambda e: None,
            text="x",
            recipients=collect(split_arguments(["05321234567"]), "TR"),
            sender="AB",
        )


def test_rate_limiter_leaves_the_ledger_durable(ledger):
    from smscli.ratelimit import RateLimiter, parse_rate

    limiter = RateLimiter(ledger.conn, "acct", [parse_rate("5/second")])
    assert limiter.try_acquire() == 0.0
    assert ledger.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


class RacingLimiter:
    """A permit looks free, but another process takes it first once."""

    def __init__(self, ledger) -> None:
        self.ledger = ledger
        self.lost = False

    def departure(self, event):
        raise AssertionError("no permit, so no request to time")

    def take_some(self, db, wanted: int) -> tuple[list[None], float]:
        assert db.in_transaction
        if not self.lost:
            self.lost = True
            return [], 0.5
        return [None] * wanted, 0.0  # permits without events: no request to time

    def block_until(self, until: float) -> None:
        raise AssertionError("no 429 expected")


def bulk_run(ledger, numbers: list[str]) -> str:
    """A prepared bulk run of ``numbers`` (all pending), for driving the engine directly."""
    from smscli.ledger import NewMessage

    return ledger.create_run(
        command="bulk",
        provider="scripted",
        profile=None,
        account="acct",
        sender="ACME",
        source="x.csv",
        messages=[
            NewMessage(i, f"x.csv line {i}", n, n, "hi", "GSM-7", 1)
            for i, n in enumerate(numbers, start=2)
        ],
    )


def test_bulk_engine_claims_nothing_until_it_has_a_permit(ledger):
    from smscli.bulk import BulkEngine

    run_id = bulk_run(ledger, ["+905321234567", "+905321234568", "+905321234569"])
    driver = ScriptedDriver(str(ledger.path), ["ok", "ok"])
    slept: list[tuple[float, list[str]]] = []
    engine = BulkEngine(
        driver,
        ledger,
        RacingLimiter(ledger),
        "acct",
        batch_size=2,
        concurrency=1,
        sleep=lambda s: slept.append((s, states(ledger, run_id))),
    )
    stats = engine.run(run_id)
    assert slept == [(0.5, ["pending"] * 3)]  # waited for the permit with nothing claimed
    assert stats.requests == 2
    assert driver.seen_states == [["sending", "sending"], ["sending"]]
    assert [m.to for b in driver.batches for m in b.messages] == [
        "+905321234567",
        "+905321234568",
        "+905321234569",
    ]  # each exactly once, in order
    assert states(ledger, run_id) == ["accepted"] * 3


def test_a_refused_permit_claims_nothing_but_keeps_the_outcomes(ledger):
    run_id = bulk_run(ledger, ["+905321234567", "+905321234568"])
    first, second = (m["id"] for m in ledger.messages(run_id))
    assert ledger.claim([[first]]) == (1, 0.0)
    outcome = ([(first, "accepted", "id-1", None)], None, None)
    refused = ledger.claim([[second]], recorded=[outcome], permits=lambda db, n: (0, 2.5))
    assert refused == (0, 2.5)
    assert states(ledger, run_id) == ["accepted", "pending"]
    assert ledger.claim([[second]], permits=lambda db, n: (n, 0.0)) == (1, 0.0)
    assert states(ledger, run_id) == ["accepted", "sending"]


def test_a_claim_of_several_requests_claims_those_with_a_permit(ledger):
    run_id = bulk_run(ledger, [f"+90532123456{i}" for i in range(5)])
    ids = [m["id"] for m in ledger.messages(run_id)]
    asked = []

    def permits(db, wanted: int) -> tuple[int, float]:
        assert db.in_transaction
        asked.append(wanted)
        return 2, 1.5  # two permits; the third request's is refused

    assert ledger.claim([ids[:2], ids[2:3], ids[3:4], ids[4:]], permits=permits) == (2, 1.5)
    assert asked == [4]  # asked once, for every request
    assert states(ledger, run_id) == ["sending"] * 3 + ["pending"] * 2


class WatchingLimiter:
    """Grants every permit, noting the messages' states (as the claim's own transaction sees
    them) each time one is taken."""

    def __init__(self, ledger, run_id) -> None:
        self.ledger, self.run_id = ledger, run_id
        self.seen: list[list[str]] = []
        self.wanted: list[int] = []
        self.taken = 0

    def take_some(self, db, wanted: int) -> tuple[list[int], float]:
        assert db.in_transaction
        self.seen.append(states(self.ledger, self.run_id))
        self.wanted.append(wanted)
        self.taken += wanted
        return list(range(self.taken - wanted, self.taken)), 0.0

    def departure(self, event) -> None:
        return None  # no hooks on the wire

    def block_until(self, until: float) -> None:
        raise AssertionError("no 429 expected")


class PacedLimiter:
    """Three permits now, then none until ``pause`` seconds after the first (give or take
    a timer's 20 ms)."""

    def __init__(self, ledger, pause: float) -> None:
        self.ledger, self.pause = ledger, pause
        self.start: float | None = None
        self.calls: list[tuple[float, int, list[str]]] = []

    def take_some(self, db, wanted: int) -> tuple[list[None], float]:
        now = time.time()
        self.start = self.start or now
        with sqlite3.connect(self.ledger.path) as other:  # what is committed
            committed = [r[0] for r in other.execute("SELECT state FROM messages ORDER BY id")]
        self.calls.append((now - self.start, wanted, committed))
        if len(self.calls) == 1:
            return [None] * 3, 0.0
        due = self.start + self.pause - 0.02
        return ([], due - now) if now < due else ([None] * wanted, 0.0)

    def departure(self, event):
        raise AssertionError("no events, so no request to time")


def test_waiting_for_a_permit_records_replies_without_asking_again_before_it_is_due(ledger):
    from smscli.bulk import BulkEngine

    run_id = bulk_run(ledger, [f"+90532123456{i}" for i in range(6)])
    driver = ScriptedDriver(str(ledger.path), ["ok"] * 6)
    limiter = PacedLimiter(ledger, pause=0.3)
    BulkEngine(driver, ledger, limiter, "acct", batch_size=1, concurrency=3).run(run_id)
    # Three requests at once; asked again as a slot frees: refused; asked again only when
    # due, the three replies written meanwhile (not by the claim that got the permits).
    (_, first, _), (refused_at, _, _), *due = limiter.calls
    assert first == 3 and refused_at < 0.28
    assert due and all(at >= 0.28 for at, _, _ in due)
    assert due[0][2] == ["accepted"] * 3 + ["pending"] * 3
    assert states(ledger, run_id) == ["accepted"] * 6


def test_bulk_engine_claims_every_free_slot_in_one_commit(ledger):
    from smscli.bulk import BulkEngine

    run_id = bulk_run(ledger, [f"+90532123456{i}" for i in range(7)])
    driver = ScriptedDriver(str(ledger.path), ["ok"] * 4)
    limiter = WatchingLimiter(ledger, run_id)
    stats = BulkEngine(driver, ledger, limiter, "acct", batch_size=2, concurrency=3).run(run_id)
    # The three requests that fit in flight at the start got their permits at once, in the
    # transaction that claimed them: none of their messages was claimed before.
    assert limiter.seen[0] == ["pending"] * 7 and limiter.wanted[0] == 3
    assert stats.requests == 4 and limiter.taken == 4
    assert sorted(m.to for b in driver.batches for m in b.messages) == [
        f"+90532123456{i}" for i in range(7)
    ]  # each exactly once
    assert all(seen == ["sending"] * len(seen) for seen in driver.seen_states)
    assert states(ledger, run_id) == ["accepted"] * 7


def test_background_checkpoints_take_the_wal_copy_out_of_commits(ledger):
    """Inside, a commit that passes 1,000 WAL pages does not copy them into the database (the
    file stays as it was); the helper thread does, within its interval. Restored after."""
    import threading
    import time

    from smscli.ledger import write_transaction

    db = ledger.path
    ledger.conn.execute("CREATE TABLE filler (x BLOB)")
    ledger.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = db.stat().st_size
    with ledger.background_checkpoints(every=1.5):  # long after the commit below
        assert ledger.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        with write_transaction(ledger.conn):
            ledger.conn.executemany(
                "INSERT INTO filler VALUES (?)", ((bytes(4000),) for _ in range(1500))
            )
        assert db.stat().st_size == before  # 1,500+ pages in the WAL, none copied by the commit
        copied = before + 1500 * 4000
        deadline = time.monotonic() + 10
        while db.stat().st_size <= copied and time.monotonic() < deadline:
            time.sleep(0.05)  # the file grows as the helper's checkpoint copies pages
        assert db.stat().st_size > copied  # copied by the helper
    assert ledger.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    assert not [t for t in threading.enumerate() if t.name == "smscli-checkpoint"]
