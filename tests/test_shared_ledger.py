"""A ledger shared by several hosts on PostgreSQL: processes posing as hosts (each in a UTS
namespace of its own, with its own host name) send through one account and one database;
kill -9 of a holder, a connection cut by the server, and the configuration around it (the
config file's ``ledger``, a password in the URL, a missing driver, a newer schema)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

TEMPLATE = "Sayın {ad}, kodunuz {kod}."
CANARY = "CANARYpgPw-7731"


def _namespaces() -> list[str] | None:
    """How to start a process in a UTS namespace of its own (as root, or as a user in a user
    namespace); None where neither is allowed (the processes then share the host name)."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "--uts"], ["unshare", "-r", "--uts"]):
        done = subprocess.run([*prefix, "hostname", "probe"], capture_output=True, check=False)
        if done.returncode == 0:
            return prefix
    return None


UTS = _namespaces()


def as_host(host: str, args: list[str]) -> list[str]:
    """``args`` run on a machine called ``host``."""
    smscli = [sys.executable, "-m", "smscli", *args]
    if UTS is None:
        return smscli
    return [*UTS, "sh", "-c", f'hostname {host} && exec "$@"', "sh", *smscli]


def campaign(home, name: str, rows: int, first: int) -> str:
    lines = ["ad;telefon;kod"] + [f"Kişi {i};0532{i:07d};K{i}" for i in range(first, first + rows)]
    (home.cwd / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def start(home, host: str, args: list[str], **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        as_host(host, args),
        cwd=home.cwd,
        env=home.env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def bulk(name: str, *extra: str) -> list[str]:
    return ["bulk", name, "-m", TEMPLATE, "--yes", "-p", "vs", *extra]


def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for ``condition`` (an event in another process), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_three_hosts_share_one_accounts_rate_limit(home, emulator):
    emulator.rate_limit_per_second = 4
    home.write_config(emulator.profiles('rate_limits = ["4/second"]'))
    files = [campaign(home, f"c{i}.csv", 8, first=100 * i) for i in range(3)]
    children = [
        start(home, f"host-{i}", bulk(f, "--batch-size", "2", "--concurrency", "2"))
        for i, f in enumerate(files)
    ]
    results = [child.communicate(timeout=120) for child in children]
    assert [c.returncode for c in children] == [0, 0, 0], results
    assert emulator.rate_limited == 0, results  # 12 requests at 4/s between three hosts
    assert emulator.duplicates() == {}
    assert len(emulator.received) == 24
    runs = home.query("SELECT lease_owner FROM runs WHERE command = 'bulk'")
    if UTS is not None:  # the permits were shared by three host names
        hosts = {owner.rpartition(":")[0] for (owner,) in runs if owner}
        assert hosts <= {"host-0", "host-1", "host-2"}
    assert Counter(s for (s,) in home.query("SELECT state FROM messages")) == {"accepted": 24}


def _connected(home, pid: int) -> bool:
    return bool(
        home.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE ?", f"smscli %:{pid}"
        )
    )


def sending(home, emulator, rows: int, sent: int) -> tuple[list[str], subprocess.Popen[str]]:
    """A campaign of ``rows`` being sent from host-a, slowly, once ``sent`` have arrived: its
    command line (to run it again) and its process."""
    home.write_config(emulator.profiles("rate_limits = []"))
    name = campaign(home, "kampanya.csv", rows, first=0)
    emulator.latency = 0.1
    args = bulk(name, "--batch-size", "5", "--concurrency", "2")
    first = start(home, "host-a", args)
    until(lambda: len(emulator.received) >= sent, f"{sent} messages to arrive")
    return args, first


def test_kill_9_of_the_holder_then_another_host_resumes_sending_nobody_twice(home, emulator):
    args, first = sending(home, emulator, 60, sent=15)
    first.kill()  # SIGKILL: no handler runs; the server releases its locks
    first.communicate(timeout=30)
    until(lambda: not _connected(home, first.pid), "the server to drop the dead connection")
    emulator.latency = 0.0
    second = start(home, "host-b", args)
    _, err = second.communicate(timeout=120)
    assert second.returncode in (0, 7), err
    assert emulator.duplicates() == {}, "a recipient received a message twice"
    states = Counter(s for (s,) in home.query("SELECT state FROM messages"))
    assert sum(states.values()) == 60
    assert set(states) <= {"accepted", "unknown"}, states
    assert states["unknown"] <= 2 * 5  # only what was on the wire when it died
    received = {r.to for r in emulator.received}
    accepted = home.query("SELECT recipient FROM messages WHERE state = 'accepted'")
    assert {to for (to,) in accepted} <= received
    again = start(home, "host-c", args)
    _, err = again.communicate(timeout=60)
    assert again.returncode == 2 and "already sent" in err, err


def test_a_second_host_is_refused_naming_the_holders_host_and_pid(home, emulator):
    home.write_config(emulator.profiles("rate_limits = []"))
    name = campaign(home, "kampanya.csv", 20, first=0)
    emulator.gate = gate = threading.Event()  # requests wait until released
    try:
        first = start(home, "host-a", bulk(name, "--batch-size", "5"))
        until(lambda: len(emulator.requests) >= 1, "the first host's first request")
        second = start(home, "host-b", bulk(name, "--batch-size", "5"))
        _, err = second.communicate(timeout=60)
    finally:
        gate.set()
    first.communicate(timeout=60)
    assert second.returncode == 8, err
    holder = f"host host-a, pid {first.pid}" if UTS is not None else f"pid {first.pid}"
    assert holder in err, err
    assert first.returncode == 0
    assert emulator.duplicates() == {}
    assert len(emulator.received) == 20


def test_a_connection_cut_by_the_server_stops_with_8_and_resumes(home, emulator):
    args, first = sending(home, emulator, 40, sent=10)
    home.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE ?",
        f"smscli %:{first.pid}",
    )
    _, err = first.communicate(timeout=60)
    assert first.returncode == 8, err
    assert "lost the connection to the ledger" in err and "internal error" not in err, err
    emulator.latency = 0.0
    second = start(home, "host-a", args)
    _, err = second.communicate(timeout=60)
    assert second.returncode in (0, 7), err
    assert emulator.duplicates() == {}
    states = Counter(s for (s,) in home.query("SELECT state FROM messages"))
    assert set(states) <= {"accepted", "unknown"} and sum(states.values()) == 40, states


def test_the_config_files_ledger_setting_is_used_and_the_environment_overrides_it(
    home, proc, tmp_path
):
    url = str(home.ledger)
    home.write_config(f'ledger = "{url}"\n')
    env = home.env()
    del env["SMSCLI_LEDGER"]
    args = [sys.executable, "-m", "smscli", "send", "05321112233", "-m", "Merhaba"]
    done = subprocess.run(
        [*args, "--provider", "sandbox"], cwd=home.cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert home.query("SELECT count(*) FROM runs") == [(1,)]
    elsewhere = tmp_path / "own.db"
    out = proc(
        "send", "05321112233", "-m", "Selam", "--provider", "sandbox", SMSCLI_LEDGER=str(elsewhere)
    )
    assert out.exit_code == 0, out.stderr
    assert elsewhere.exists()
    assert home.query("SELECT count(*) FROM runs") == [(1,)]


def with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user.split(':')[0]}:{password}@{host}"


def as_user(url: str, user: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}@{rest.split('@', 1)[1]}"


def test_a_password_in_the_url_is_never_shown(home, proc, emulator):
    url = with_password(str(home.ledger), CANARY)  # the test server trusts: any password
    home.write_config(emulator.profiles())
    closed = with_password("postgresql://smscli@127.0.0.1:1/nosuch", CANARY)
    outs = [
        proc("send", "05321112233", "-m", "Merhaba", "--provider", "sandbox", SMSCLI_LEDGER=url),
        proc("send", "05321112234", "-m", "Merhaba", "-p", "cs", "--debug", SMSCLI_LEDGER=url),
        proc("history", SMSCLI_LEDGER=url),
        proc("history", "--json", SMSCLI_LEDGER=url),
        proc("ledger", "check", SMSCLI_LEDGER=url),
        proc("optout", "list", SMSCLI_LEDGER=url),
        proc("profiles", "show", "cs", SMSCLI_LEDGER=url),
        proc("history", SMSCLI_LEDGER=closed),
        proc("send", "05321112233", "-m", "x", "--provider", "sandbox", SMSCLI_LEDGER=closed),
    ]
    assert [o.exit_code for o in outs] == [0, 0, 0, 0, 0, 0, 0, 4, 4], [o.stderr for o in outs]
    for out in outs:
        assert CANARY not in out.stdout + out.stderr
        assert CANARY[:8] not in out.stdout + out.stderr
    assert "Ledger: postgresql://smscli:***@127.0.0.1" in outs[6].stdout
    assert "***@127.0.0.1:1/nosuch" in outs[-1].stderr
    assert "cannot connect to the ledger" in outs[-1].stderr
    dumped = home.query("SELECT * FROM runs") + home.query("SELECT * FROM messages")
    assert CANARY not in repr(dumped)


def test_a_postgresql_ledger_without_the_driver_says_what_to_install(home):
    script = "import sys; sys.modules['psycopg'] = None; from smscli.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", script, "history"],
        cwd=home.cwd,
        env=home.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert "pip install 'smscli[postgres]'" in done.stderr
    assert "internal error" not in done.stderr


def test_a_ledger_of_a_newer_smscli_is_refused(home, proc):
    assert proc("history").exit_code == 0  # creates and migrates it
    home.query("UPDATE smscli_schema SET version = 99")
    out = proc("send", "05321112233", "-m", "x", "--provider", "sandbox")
    assert out.exit_code == 4
    assert "newer smscli (schema 99)" in out.stderr


def test_two_processes_migrating_a_new_ledger_at_once_make_one_schema(home):
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "smscli", "history"],
            cwd=home.cwd,
            env=home.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [c.communicate(timeout=60) for c in children]
    assert [c.returncode for c in children] == [0, 0, 0], results
    from smscli.store.migrations import MIGRATIONS

    assert home.query("SELECT version FROM smscli_schema") == [(len(MIGRATIONS),)]


@contextmanager
def database_user(home, proc, name: str, grants: str, login: str = "LOGIN") -> Iterator[str]:
    """The ledger's URL as a new database user ``name`` (made with ``login``), granted
    ``grants`` on the ledger's tables and sequences once their owner has made them; dropped
    after."""
    assert proc("history").exit_code == 0  # the tables, made by their owner
    schema = home.query("SELECT current_schema()")[0][0]
    user = f"{name}_{schema}"
    home.query(f"CREATE ROLE {user} {login}")
    try:
        home.query(f"GRANT USAGE ON SCHEMA {schema} TO {user}")
        home.query(f"GRANT {grants} ON ALL TABLES IN SCHEMA {schema} TO {user}")
        home.query(f"GRANT {grants} ON ALL SEQUENCES IN SCHEMA {schema} TO {user}")
        yield as_user(str(home.ledger), user)
    finally:
        home.query(f"DROP OWNED BY {user}")
        home.query(f"DROP ROLE {user}")


def test_a_database_user_who_may_only_read_gets_exit_4_and_nothing_sent(home, proc, emulator):
    home.write_config(emulator.profiles("rate_limits = []"))
    with database_user(home, proc, "reader", "SELECT") as url:
        out = proc("send", "05321112233", "-m", "Merhaba", "-p", "cs", SMSCLI_LEDGER=url)
        assert out.exit_code == 4, out.stderr
        assert "cannot be written by this user" in out.stderr, out.stderr
        assert emulator.requests == []
        assert proc("history", SMSCLI_LEDGER=url).exit_code == 0  # reading is allowed


def test_a_user_allowed_one_connection_still_sends_a_batch_run(home, proc, emulator):
    """The outcome writer's second connection is refused (the role's CONNECTION LIMIT, as
    max_connections would): the outcomes go with the claims, and the run completes."""
    home.write_config(emulator.profiles("rate_limits = []"))
    with database_user(home, proc, "sender", "ALL", "LOGIN CONNECTION LIMIT 1") as url:
        name = campaign(home, "tek.csv", 250, first=0)
        out = proc(*bulk(name, "--batch-size", "200"), SMSCLI_LEDGER=url)
        assert out.exit_code == 0, out.stderr
        assert home.query("SELECT state, count(*) FROM messages GROUP BY 1") == [("accepted", 250)]
        assert home.query("SELECT count(*) FROM provider_ids") == [(2,)]  # a send id a request
        assert emulator.duplicates() == {}


def test_a_large_run_is_analysed_before_its_queries_are_planned(home, proc, emulator):
    """With the statistics of an earlier run alone, the planner takes a new run for one row
    and mark_ready's duplicate search rereads the run for every row: hours for 100,000."""
    from smscli.store.pg import ANALYZE_AFTER

    home.write_config(emulator.profiles("rate_limits = []"))
    name = campaign(home, "buyuk.csv", ANALYZE_AFTER, first=0)
    out = proc(*bulk(name, "--dry-run"))
    assert out.exit_code == 0, out.stderr
    assert home.query("SELECT count(*) FROM messages") == [(0,)]  # a dry run writes nothing
    out = proc(*bulk(name), timeout=120)
    assert out.exit_code == 0, out.stderr
    analysed = home.query(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
        " WHERE relname = 'messages' AND schemaname = current_schema()"
    )
    assert analysed == [(True,)]
