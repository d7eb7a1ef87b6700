"""The shared rate limiter: parsing, windows, blocks, several processes, exactness. The
limiter's tests run on both ledger backends (an SQLite file, a PostgreSQL schema): they are
handed connections of the backend, and :func:`make_limiter` makes the backend's limiter."""

from __future__ import annotations

import math
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smscli.ratelimit import Rate, parse_rate
from smscli.store.permits import Limiter
from smscli.store.sqlite_db import write_transaction
from smscli.store.sqlite_permits import MIN_WAIT, PRUNE_EVERY, RateLimiter, _exact_wait

BOTH_BACKENDS = True

SCHEMA = """
CREATE TABLE rate_events (account TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX rate_events_account_at ON rate_events(account, at);
CREATE TABLE rate_blocks (account TEXT PRIMARY KEY, until REAL NOT NULL);
"""


class FakeClock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, timeout=30)


def create_db(path: Path) -> None:
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
    finally:
        conn.close()


@dataclass(frozen=True)
class Ledger:
    """A ledger of the backend under test (an SQLite file, or the URL of a PostgreSQL
    schema) holding the rate-limit tables, to which each process has a connection."""

    backend: str
    location: Path | str

    def connect(self) -> Any:
        if self.backend == "sqlite":
            assert isinstance(self.location, Path)
            return connect(self.location)
        from smscli.store.pg_db import connect_ledger

        return connect_ledger(str(self.location))


def is_sqlite(conn: Any) -> bool:
    return isinstance(conn, sqlite3.Connection)


def make_limiter(conn: Any, account: str, rates: list[Rate], **options: Any) -> Limiter:
    """The limiter of ``conn``'s backend: :class:`RateLimiter` or ``PgRateLimiter``."""
    if is_sqlite(conn):
        return RateLimiter(conn, account, rates, **options)
    from smscli.store.pg_permits import PgRateLimiter

    return PgRateLimiter(conn, account, rates, **options)


def query(conn: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``?`` placeholders) on ``conn``, whatever its backend."""
    if is_sqlite(conn):
        return conn.execute(sql, args).fetchall()
    return conn.execute(sql.replace("?", "%s"), args).fetchall()


def write(conn: Any) -> AbstractContextManager[Any]:
    """A write transaction on ``conn``, as a claim's, in which a limiter takes permits."""
    return write_transaction(conn) if is_sqlite(conn) else conn.transaction()


def in_transaction(conn: Any) -> bool:
    if is_sqlite(conn):
        return bool(conn.in_transaction)
    from psycopg.pq import TransactionStatus

    return conn.info.transaction_status != TransactionStatus.IDLE


def event_count(conn: Any, account: str | None = None) -> int:
    if account is None:
        return int(query(conn, "SELECT COUNT(*) FROM rate_events")[0][0])
    sql = "SELECT COUNT(*) FROM rate_events WHERE account = ?"
    return int(query(conn, sql, account)[0][0])


def assert_windows_respected(successes: list[float], rates: list[Rate]) -> None:
    for t in successes:
        for rate in rates:
            inside = sum(1 for s in successes if t - rate.period < s <= t)
            assert inside <= rate.limit, (t, rate, inside)


@contextmanager
def two_limiters(
    ledger: Ledger, rates: list[Rate], clock: FakeClock
) -> Iterator[tuple[list[Any], list[Limiter]]]:
    """Two connections to a fresh ledger of ``ledger``'s backend, as two processes would have,
    each with a limiter (for property tests, a fresh one per example: a fresh WAL file on
    SQLite; on PostgreSQL the test's schema, its rate-limit tables emptied)."""
    with tempfile.TemporaryDirectory() as tmp:
        if ledger.backend == "sqlite":
            path = Path(tmp) / "ledger.sqlite3"
            create_db(path)
            ledger = Ledger("sqlite", path)
        else:
            with closing(ledger.connect()) as conn:
                conn.execute("TRUNCATE rate_events, rate_blocks RESTART IDENTITY")
        conns = [ledger.connect(), ledger.connect()]
        try:
            yield conns, [make_limiter(c, "acct", rates, clock=clock) for c in conns]
        finally:
            for c in conns:
                c.close()


@pytest.fixture
def ledger(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Ledger:
    """A ledger of the backend under test: a WAL file, or a PostgreSQL schema of its own."""
    if backend == "postgres":
        return Ledger("postgres", request.getfixturevalue("postgres_ledger"))
    path = tmp_path / "ledger.sqlite3"
    create_db(path)
    return Ledger("sqlite", path)


Conns = tuple[Any, Any]
"""Two connections to one ledger (``sqlite3`` or psycopg connections)."""


@pytest.fixture
def conns(ledger: Ledger) -> Iterator[Conns]:
    """Two connections to one ledger, as two processes would have."""
    a, b = ledger.connect(), ledger.connect()
    yield a, b
    a.close()
    b.close()


# parse_rate ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100/minute", Rate(100, 60.0)),
        ("5000/hour", Rate(5000, 3600.0)),
        ("50000/day", Rate(50000, 86400.0)),
        ("10/second", Rate(10, 1.0)),
        ("10/s", Rate(10, 1.0)),
        ("10/sec", Rate(10, 1.0)),
        ("10/m", Rate(10, 60.0)),
        ("10/min", Rate(10, 60.0)),
        ("10/minutes", Rate(10, 60.0)),
        ("10/h", Rate(10, 3600.0)),
        ("10/hr", Rate(10, 3600.0)),
        ("10/d", Rate(10, 86400.0)),
        ("3/10s", Rate(3, 10.0)),
        ("20/5min", Rate(20, 300.0)),
        ("20/5 min", Rate(20, 300.0)),
        ("4/2h", Rate(4, 7200.0)),
        ("3/0.5s", Rate(3, 0.5)),
        (" 5,000 / hour ", Rate(5000, 3600.0)),
        ("1,000,000/day", Rate(1_000_000, 86400.0)),
        ("100/MINUTE", Rate(100, 60.0)),
        ("1/1s", Rate(1, 1.0)),
    ],
)
def test_parse_rate_valid(text: str, expected: Rate) -> None:
    rate = parse_rate(text)
    assert rate == expected
    assert parse_rate(str(rate)) == rate


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Rate(100, 60.0), "100/minute"),
        (Rate(5000, 3600.0), "5000/hour"),
        (Rate(50000, 86400.0), "50000/day"),
        (Rate(10, 1.0), "10/second"),
        (Rate(3, 10.0), "3/10s"),
        (Rate(20, 300.0), "20/5min"),
        (Rate(4, 7200.0), "4/2h"),
        (Rate(1, 172800.0), "1/2d"),
        (Rate(3, 0.5), "3/0.5s"),
        (Rate(3, 1e-5), "3/0.00001s"),
        (Rate(3, 90.5), "3/90.5s"),
    ],
)
def test_rate_str(rate: Rate, text: str) -> None:
    assert str(rate) == text
    assert parse_rate(text) == rate


@given(
    st.integers(min_value=1, max_value=10**9),
    st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False),
)
def test_rate_str_round_trips(limit: int, period: float) -> None:
    rate = Rate(limit, period)
    assert parse_rate(str(rate)) == rate


@pytest.mark.parametrize(
    "text",
    [
        "",
        "100",
        "/minute",
        "100/",
        "0/minute",
        "-1/minute",
        "1.5/minute",
        "100/fortnight",
        "100/0s",
        "100/0min",
        "5,00/hour",
        "5.000/hour",
        "100//minute",
        "100/minute/hour",
        "100 per minute",
        "abc",
        "100/1e3s",
        "100/-5s",
    ],
)
def test_parse_rate_invalid(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid rate .*expected LIMIT/PERIOD.*100/minute"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("limit", "period"), [(0, 1.0), (-3, 1.0), (True, 1.0), (1, 0.0), (1, -1.0), (1, math.nan)]
)
def test_rate_rejects_nonsense(limit: int, period: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        Rate(limit, period)


# one process ------------------------------------------------------------------------------


def test_single_window(conns: Conns) -> None:
    conn, _ = conns
    clock = FakeClock()
    limiter = make_limiter(conn, "acct", [parse_rate("3/second")], clock=clock)
    assert [limiter.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_time() == 1.0
    assert limiter.try_acquire() == 1.0
    assert event_count(conn) == 3
    clock.t = 1.0  # the events at 0.0 have left the window (0.0, 1.0]
    assert limiter.wait_time() == 0.0
    assert limiter.try_acquire() == 0.0


def test_binding_window_is_the_minute(conns: Conns) -> None:
    conn, _ = conns
    clock = FakeClock()
    limiter = make_limiter(conn, "acct", [Rate(2, 1.0), Rate(3, 60.0)], clock=clock)
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() == 1.0  # the second window binds
    clock.t = 1.0
    assert limiter.try_acquire() == 0.0  # 3 in the minute now
    clock.t = 2.0
    assert limiter.wait_time() == 58.0  # the two events at 0.0 must leave the minute
    assert limiter.try_acquire() == 58.0
    clock.t = 59.999
    assert limiter.try_acquire() > 0.0
    clock.t = 60.0
    assert limiter.try_acquire() == 0.0


def test_wait_counts_the_right_event_when_over_full(
    conns: Conns,
) -> None:
    """Rows beyond the limit (e.g. a limit lowered between runs) push the wait further."""
    conn, _ = conns
    clock = FakeClock()
    loose = make_limiter(conn, "acct", [Rate(5, 10.0)], clock=clock)
    for t in (0.0, 1.0, 2.0, 3.0):
        clock.t = t
        assert loose.try_acquire() == 0.0
    strict = make_limiter(conn, "acct", [Rate(2, 10.0)], clock=clock)
    clock.t = 4.0
    # events 0,1,2,3 in the window; 2 must go so that one more fits: the one at 2.0
    assert strict.try_acquire() == 8.0
    clock.t = 12.0
    assert strict.try_acquire() == 0.0


def test_no_rates_records_nothing_but_honours_blocks(
    conns: Conns,
) -> None:
    conn, _ = conns
    clock = FakeClock(100.0)
    limiter = make_limiter(conn, "acct", [], clock=clock)
    assert all(limiter.try_acquire() == 0.0 for _ in range(1000))
    assert event_count(conn) == 0
    limiter.block_until(130.0)
    assert limiter.try_acquire() == 30.0
    clock.t = 130.0
    assert limiter.try_acquire() == 0.0


def test_clock_going_backwards_never_gives_a_negative_wait(
    conns: Conns,
) -> None:
    conn, _ = conns
    clock = FakeClock(10.0)
    limiter = make_limiter(conn, "acct", [Rate(1, 1.0)], clock=clock)
    assert limiter.try_acquire() == 0.0
    clock.t = 5.0
    assert limiter.try_acquire() == 6.0  # the event at 10.0 still counts
    clock.t = 11.0
    assert limiter.try_acquire() == 0.0


@given(
    st.floats(min_value=-1e10, max_value=1e10),
    st.floats(min_value=-1e10, max_value=1e10),
    st.floats(min_value=0.0, max_value=1e6),
)
def test_exact_wait_is_positive_exact_and_tight(
    now: float, threshold: float, period: float
) -> None:
    wait = _exact_wait(now, threshold, period)
    assert wait > 0.0
    assert (now + wait) - period >= threshold
    ideal = max(threshold + period - now, MIN_WAIT)
    assert wait <= ideal + 8 * math.ulp(max(abs(now), abs(threshold), period, 1.0))


def test_exception_rolls_back(conns: Conns) -> None:
    conn, _ = conns
    broken = True

    def clock() -> float:
        if broken:
            raise OSError("clock broke")
        return 0.0

    limiter = make_limiter(conn, "acct", [Rate(1, 1.0)], clock=clock)
    with pytest.raises(OSError, match="clock broke"):
        limiter.try_acquire()
    assert not in_transaction(conn)
    broken = False
    assert limiter.try_acquire() == 0.0
    assert event_count(conn) == 1


def test_refuses_to_run_inside_an_open_transaction(
    conns: Conns,
) -> None:
    conn, _ = conns
    limiter = make_limiter(conn, "acct", [Rate(1, 1.0)], clock=FakeClock())
    conn.execute("BEGIN")
    with pytest.raises(RuntimeError, match="transaction"):
        limiter.try_acquire()
    conn.execute("ROLLBACK")
    assert limiter.try_acquire() == 0.0


def test_pruning_keeps_the_table_small(
    conns: Conns,
) -> None:
    conn, _ = conns
    clock = FakeClock()
    rates = [Rate(3, 1.0), Rate(10, 60.0), Rate(20, 3600.0)]
    limiter = make_limiter(conn, "acct", rates, clock=clock)
    other = make_limiter(conn, "other", [Rate(1, 1.0)], clock=clock)
    taken = 0
    for _ in range(3000):
        clock.t += 7.3
        for _ in range(4):
            taken += limiter.try_acquire() == 0.0
        assert event_count(conn, "acct") <= sum(r.limit for r in rates) + PRUNE_EVERY
    assert other.try_acquire() == 0.0  # another account's rows are not pruned away
    assert taken >= 20 * 6  # 20 per hour over ~6 hours
    clock.t += 10 * 3600
    jump = clock.t
    for _ in range(PRUNE_EVERY):
        clock.t += 400.0  # 9 an hour: every limit allows them
        assert limiter.try_acquire() == 0.0
    sql = "SELECT COUNT(*) FROM rate_events WHERE account = 'acct' AND at < ?"
    assert query(conn, sql, jump)[0][0] == 0  # everything before the jump is gone
    assert event_count(conn, "other") == 1


def test_accounts_are_independent(conns: Conns) -> None:
    a_conn, b_conn = conns
    clock = FakeClock()
    a = make_limiter(a_conn, "customersms:key-a", [Rate(1, 60.0)], clock=clock)
    b = make_limiter(b_conn, "customersms:key-b", [Rate(1, 60.0)], clock=clock)
    assert a.try_acquire() == 0.0
    assert a.try_acquire() == 60.0
    assert b.try_acquire() == 0.0
    a.block_until(1000.0)
    clock.t = 60.0
    assert a.try_acquire() == 940.0
    assert b.try_acquire() == 0.0


# several processes ------------------------------------------------------------------------


def test_block_until_is_shared_keeps_the_later_and_expires(
    conns: Conns,
) -> None:
    a_conn, b_conn = conns
    clock = FakeClock(0.0)
    a = make_limiter(a_conn, "acct", [Rate(100, 60.0)], clock=clock)
    b = make_limiter(b_conn, "acct", [Rate(100, 60.0)], clock=clock)
    a.block_until(10.0)
    assert b.try_acquire() == 10.0
    assert a.try_acquire() == 10.0
    b.block_until(5.0)  # earlier: the 10.0 block stays
    assert a.wait_time() == 10.0
    b.block_until(20.0)  # later: it wins
    assert a.wait_time() == 20.0
    clock.t = 19.5
    assert b.try_acquire() == 0.5
    assert event_count(a_conn) == 0
    clock.t = 20.0
    assert a.try_acquire() == 0.0
    assert b.try_acquire() == 0.0


def test_two_processes_interleaving_share_every_window(
    conns: Conns,
) -> None:
    a_conn, b_conn = conns
    clock = FakeClock()
    rates = [Rate(3, 1.0), Rate(5, 10.0)]
    limiters = [make_limiter(c, "acct", rates, clock=clock) for c in (a_conn, b_conn)]
    successes: list[float] = []
    by_limiter = [0, 0]
    for step in range(400):
        clock.t = step * 0.25
        for i in (step % 2, 1 - step % 2):
            if limiters[i].try_acquire() == 0.0:
                successes.append(clock.t)
                by_limiter[i] += 1
    assert_windows_respected(successes, rates)
    assert len(successes) == 50  # 5 per 10 s over 100 s, shared
    assert min(by_limiter) > 0


def test_threads_never_exceed_a_window(ledger: Ledger) -> None:
    clock = FakeClock(1_700_000_000.0)  # frozen: only 50 permits exist
    barrier = threading.Barrier(2)
    results: list[list[float]] = [[], []]
    errors: list[BaseException] = []

    def hammer(i: int) -> None:
        conn = ledger.connect()
        try:
            limiter = make_limiter(conn, "acct", [Rate(50, 1.0)], clock=clock)
            barrier.wait()
            results[i] = [limiter.try_acquire() for _ in range(100)]
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    waits = results[0] + results[1]
    assert waits.count(0.0) == 50
    assert all(w == 1.0 for w in waits if w != 0.0)
    with closing(ledger.connect()) as conn:
        assert event_count(conn) == 50


# the property -----------------------------------------------------------------------------

windows = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5),
        st.one_of(
            st.sampled_from([0.1, 0.5, 1.0, 3.0, 60.0]),
            st.floats(min_value=0.01, max_value=100.0),
        ),
    ),
    min_size=1,
    max_size=3,
)
operations = st.lists(
    st.one_of(
        # ("acquire", advance as a fraction of 2 * max period, limiter, retry after a refusal)
        st.tuples(
            st.just("acquire"),
            st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1.0)),
            st.integers(min_value=0, max_value=1),
            st.booleans(),
        ),
        # ("block", until as a fraction of max period from now, limiter, unused)
        st.tuples(
            st.just("block"),
            st.floats(min_value=-1.0, max_value=1.0),
            st.integers(min_value=0, max_value=1),
            st.just(False),
        ),
    ),
    max_size=60,
)


# The property tests use the function-scoped ``ledger`` fixture only to know the backend (and
# the PostgreSQL schema): ``two_limiters`` makes every example a fresh ledger.
FRESH_LEDGER_EACH_EXAMPLE = [HealthCheck.function_scoped_fixture]


@settings(max_examples=200, deadline=None, suppress_health_check=FRESH_LEDGER_EACH_EXAMPLE)
@given(
    windows,
    st.one_of(st.sampled_from([0.0, 1_700_000_000.123]), st.floats(0.0, 2e9)),
    operations,
)
def test_property_windows_hold_and_waits_are_exact(
    ledger: Ledger,
    windows: list[tuple[int, float]],
    start: float,
    operations: list[tuple[str, float, int, bool]],
) -> None:
    rates = [Rate(limit, period) for limit, period in windows]
    longest = max(r.period for r in rates)
    clock = FakeClock(start)
    successes: list[float] = []
    block = -math.inf

    def free_in_model() -> bool:
        now = clock.t
        return now >= block and all(
            sum(1 for s in successes if s > now - r.period) < r.limit for r in rates
        )

    with two_limiters(ledger, rates, clock) as (_, limiters):
        for kind, amount, which, retry in operations:
            limiter = limiters[which]
            if kind == "block":
                until = clock.t + amount * longest
                limiter.block_until(until)
                block = max(block, until)
                continue
            clock.t += amount * 2 * longest
            expected_free = free_in_model()
            predicted = limiters[1 - which].wait_time()
            wait = limiter.try_acquire()
            assert wait == predicted
            assert (wait == 0.0) == expected_free
            if wait == 0.0:
                successes.append(clock.t)
                continue
            assert wait > 0.0
            bound = max(longest, block - clock.t)
            assert wait <= bound + 1e-6 * max(1.0, abs(clock.t))
            if retry:
                clock.t += wait
                assert free_in_model()
                assert limiters[1 - which].try_acquire() == 0.0
                successes.append(clock.t)
    assert_windows_respected(successes, rates)


@settings(max_examples=150, deadline=None, suppress_health_check=FRESH_LEDGER_EACH_EXAMPLE)
@given(
    windows,
    st.lists(
        st.tuples(
            st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1.0)),  # advance
            st.integers(min_value=1, max_value=6),  # permits wanted at once
            st.integers(min_value=0, max_value=1),  # limiter
            st.floats(min_value=-0.5, max_value=0.5),  # a block from now (< 0: none)
        ),
        max_size=25,
    ),
)
def test_property_several_permits_at_once_are_as_many_as_there_is_room_for(
    ledger: Ledger,
    windows: list[tuple[int, float]],
    operations: list[tuple[float, int, int, float]],
) -> None:
    """take_some gives as many permits as every window has room for (none while blocked), in
    order, as the events of their own rows, and the wait that one more would need."""
    rates = [Rate(limit, period) for limit, period in windows]
    longest = max(r.period for r in rates)
    clock = FakeClock(1_700_000_000.0)
    successes: list[float] = []
    blocked = -math.inf

    def room_in_model(wanted: int) -> int:
        now = clock.t
        if now < blocked:
            return 0
        inside = [sum(1 for s in successes if s > now - r.period) for r in rates]
        return max(0, min([wanted] + [r.limit - n for r, n in zip(rates, inside, strict=True)]))

    with two_limiters(ledger, rates, clock) as (conns, limiters):
        for advance, wanted, which, block in operations:
            clock.t += advance * 2 * longest
            if block > 0:
                limiters[1 - which].block_until(clock.t + block * longest)
                blocked = max(blocked, clock.t + block * longest)
            conn, room = conns[which], room_in_model(wanted)
            with write(conn):
                taken, wait = limiters[which].take_some(conn, wanted)
                rows = query(
                    conn,
                    "SELECT rowid FROM rate_events WHERE at = ? ORDER BY rowid DESC LIMIT ?",
                    clock.t,
                    len(taken),
                )
            assert len(taken) == room
            assert taken == sorted(r[0] for r in rows)  # its own rows, in order
            assert (wait == 0.0) == (room == wanted)
            if room < wanted:
                assert wait == limiters[1 - which].wait_time()
            successes += [clock.t] * len(taken)
    assert_windows_respected(successes, rates)


def test_several_permits_at_once_take_two_statements(
    conns: Conns, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, _ = conns
    limiter = make_limiter(conn, "acct", [Rate(5, 1.0), Rate(100, 60.0)], clock=FakeClock())
    statements: list[str] = []
    if is_sqlite(conn):
        conn.set_trace_callback(statements.append)
        lock = 0
    else:  # every statement of the limiter is the connection's execute
        execute = conn.execute

        def traced(sql: Any, *args: Any, **kwargs: Any) -> Any:
            statements.append(str(sql))
            return execute(sql, *args, **kwargs)

        monkeypatch.setattr(conn, "execute", traced)
        lock = 1  # PostgreSQL: the account's advisory lock, a statement before the count
    with write(conn):
        statements.clear()
        assert limiter.take_some(conn, 4) == ([1, 2, 3, 4], 0.0)
        assert len(statements) == 3 + lock  # the prune is due at the first permit, then every 16th
        statements.clear()
        assert limiter.take_some(conn, 3) == ([5], _exact_wait(0.0, 0.0, 1.0))
        assert len(statements) == 3 + lock  # room counted, one taken, the wait for the next


def test_take_is_part_of_the_callers_transaction(
    conns: Conns,
) -> None:
    """The bulk engine takes a permit in its claim's transaction: both commit or neither."""
    conn, other = conns
    limiter = make_limiter(conn, "acct", [Rate(1, 1.0)], clock=FakeClock())
    with pytest.raises(RuntimeError, match="write transaction"):
        limiter.take(conn)  # outside a transaction
    with pytest.raises(RuntimeError, match="write transaction"), write(other):
        limiter.take(other)  # another connection's transaction
    with pytest.raises(ValueError, match="claim failed"), write(conn):
        assert limiter.take(conn) == 0.0
        raise ValueError("claim failed")
    assert event_count(other) == 0  # rolled back with the claim
    with write(conn):
        assert limiter.take(conn) == 0.0
        assert event_count(other) == 0  # not visible before the commit
    assert event_count(other) == 1
    with write(conn):
        assert limiter.take(conn) == 1.0
    assert event_count(other) == 1


def test_a_permit_moves_to_when_its_request_was_written(
    conns: Conns,
) -> None:
    conn, other = conns
    clock = FakeClock()
    limiter = make_limiter(conn, "acct", [Rate(2, 1.0)], clock=clock)
    assert limiter.try_acquire() == 0.0
    late = limiter.taken
    assert limiter.try_acquire() == 0.0
    assert limiter.taken != late
    clock.t = 0.4
    writer = threading.Thread(target=limiter.sent, args=(late,))  # from a worker thread
    writer.start()
    writer.join()
    clock.t = 0.3  # a clock stepping back never moves a permit earlier
    limiter.sent(late)
    limiter.sent(None)  # a permit without rates: nothing to move
    clock.t = 1.0
    assert limiter.try_acquire() == 0.0  # the on-time permit has left the window
    assert limiter.try_acquire() == _exact_wait(1.0, 0.4, 1.0)  # from 0.4, not from 0.0
    assert sorted(r[0] for r in query(other, "SELECT at FROM rate_events")) == [0.0, 0.4, 1.0]


def test_a_permit_moves_on_by_how_much_slower_its_round_trip_was_than_the_fastest(
    conns: Conns,
) -> None:
    """A request held up on its way was counted late by the provider, as late as its round
    trip was longer than an unhindered one (beyond the delay the rates' margin covers); the
    fastest counts as of the next take, so a slow first reply is measured against faster later
    ones."""
    conn, other = conns
    clock = FakeClock()
    limiter = make_limiter(conn, "acct", [Rate(3, 1.0)], clock=clock, covered_delay=0.004)
    permits = []
    for _ in range(3):
        assert limiter.try_acquire() == 0.0
        permits.append(limiter.taken)
    held, quick, plain = permits
    clock.t = 0.01
    held_at = limiter.sent(held)
    quick_at = limiter.sent(quick)
    plain_at = limiter.sent(plain)
    clock.t = 0.31
    limiter.replied(held, held_at)  # 0.30 s: the first reply, and for now the fastest
    clock.t = 0.03
    limiter.replied(quick, quick_at)  # 0.02 s
    clock.t = 0.035
    limiter.replied(plain, plain_at)  # 0.025 s
    limiter.replied(None, 0.0)  # a request without a permit: nothing to move
    clock.t = 1.2
    assert limiter.try_acquire() == 0.0  # the quick permit (at 0.01) has left the window
    moved = sorted(r[0] for r in query(other, "SELECT at FROM rate_events"))
    # 5 ms and 280 ms slower than the fastest, 4 ms of which the margin covers
    assert moved == pytest.approx([0.01, 0.011, 0.286, 1.2])
