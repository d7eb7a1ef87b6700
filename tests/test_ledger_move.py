"""``smscli ledger copy`` and ``smscli ledger info``: a ledger made by real sends moves from
SQLite to PostgreSQL and back with every row of every copied table intact, the exactly-once
guarantee survives the move, and a password in a URL never shows."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from smscli.store.migrations import MIGRATIONS
from tests.conftest import Home

CANARY = "CANARYpw123"
SCHEMA = len(MIGRATIONS)
COPIED = ("runs", "messages", "optouts", "idempotency_keys", "provider_state")
LEFT_OUT = {"runs": {"lease_owner", "lease_until", "rowid"}, "messages": {"id"}}
ORDER = {
    "runs": "rowid",
    "messages": "id",
    "optouts": "number",
    "idempotency_keys": "account, key",
    "provider_state": "account, key",
}
PEOPLE = "telefon;ad\n05321112233;Ayşe\n05321112234;Çağrı\n05321112233;Ayşe again\n12;Bad\n"
OTHERS = "telefon;ad\n05331112233;Ali\n05331112234;Veli\n05331112235;Deniz\n"
CAMPAIGN = ["bulk", "k.csv", "-m", "Sayın {ad}, kodunuz hazır.", "--provider", "sandbox", "--yes"]


def query(home: Home, where: Path | str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return Home(home.cwd, home.config, where).query(sql, *args)


def dump(home: Home, where: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every copied table, every column but ids, rowids and leases, in insertion
    order (runs and messages) or by key: the columns are the schema's, read from SQLite."""
    import sqlite3

    from smscli.store.sqlite_db import migrate

    schema = sqlite3.connect(":memory:")
    migrate(schema, Path("schema"))
    found = {}
    for table in COPIED:
        columns = [r[1] for r in schema.execute(f"PRAGMA table_info({table})")]
        kept = ", ".join(c for c in columns if c not in LEFT_OUT.get(table, ()))
        found[table] = query(home, where, f"SELECT {kept} FROM {table} ORDER BY {ORDER[table]}")
    schema.close()
    return found


@pytest.fixture
def other_pg(postgres_server: str) -> Iterator[str]:
    """A second PostgreSQL ledger (a schema of its own), reached with a password in its URL
    (the test server trusts its clients: any password is accepted)."""
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in postgres_server else "?"
    url = f"{postgres_server}{joiner}options={quote(f'-csearch_path={schema}')}"
    yield with_password(url)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    user_host, _, tail = rest.partition("/")
    if "@" in user_host:
        user, host = user_host.rsplit("@", 1)
        user = user.split(":", 1)[0]
    else:
        user, host = "smscli", user_host
    return f"{scheme}://{user}:{CANARY}@{host}/{tail}"


def sends(cli: Any, home: Home) -> None:
    """A ledger made by real sends: a bulk campaign (with a duplicate and an invalid number),
    a second one stopped after one message (pending ones left), a send with an idempotency
    key, and opt-outs."""
    (home.cwd / "k.csv").write_text(PEOPLE, encoding="utf-8")
    (home.cwd / "o.csv").write_text(OTHERS, encoding="utf-8")
    out = cli(*CAMPAIGN)
    assert out.exit_code == 1, out.stderr  # partial: the invalid number
    out = cli("bulk", "o.csv", "-m", "Hi {ad}", "--provider", "sandbox", "--yes", "--limit", "1")
    assert out.exit_code == 0, out.stderr
    out = cli(
        "send", "--provider", "sandbox", "05329998877", "-m", "tek", "--yes",
        "--idempotency-key", "order-1",
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    out = cli("optout", "add", "05321112299", "05321112298", "--reason", "STOP reply")
    assert out.exit_code == 0, out.stderr


def test_round_trip_sqlite_postgres_sqlite(cli, home, postgres_ledger):
    sends(cli, home)
    before = dump(home, home.ledger)
    assert {s for (s,) in home.query("SELECT DISTINCT state FROM messages")} >= {
        "accepted", "pending", "skipped", "invalid",
    }  # fmt: skip
    out = cli("ledger", "copy", str(home.ledger), postgres_ledger, "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["command"] == "ledger copy" and doc["exit_code"] == 0
    assert doc["copied"] == {table: len(rows) for table, rows in before.items()}
    assert doc["skipped_runs"] == [] and doc["not_copied"] == ["rate_events", "rate_blocks"]
    assert dump(home, postgres_ledger) == before
    assert query(home, postgres_ledger, "SELECT count(*) FROM runs WHERE lease_owner IS NOT NULL")[
        0
    ] == (0,)
    # Input order kept: within every run, ids follow seq.
    rows = query(home, postgres_ledger, "SELECT run_id, seq FROM messages ORDER BY id")
    for run_id in {r for r, _ in rows}:
        seqs = [s for r, s in rows if r == run_id]
        assert seqs == sorted(seqs)

    back = home.cwd / "back" / "ledger.db"
    out = cli("ledger", "copy", postgres_ledger, str(back))
    assert out.exit_code == 0, out.stderr
    assert "3 runs" in out.stdout
    assert "not copied: rate-limit permits" in out.stdout
    assert "SMSCLI_LEDGER" in out.stdout and str(back) in out.stdout
    assert dump(home, back) == before


def test_exactly_once_survives_the_move(cli, home, postgres_ledger):
    sends(cli, home)
    assert cli("ledger", "copy", str(home.ledger), postgres_ledger).exit_code == 0
    counts = "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM messages)"
    before = query(home, postgres_ledger, counts)
    out = cli(*CAMPAIGN, env={"SMSCLI_LEDGER": postgres_ledger})
    assert out.exit_code == 2, out.stderr
    assert "already sent" in out.stderr
    out = cli(
        "send", "--provider", "sandbox", "05329998877", "-m", "tek", "--yes",
        "--idempotency-key", "order-1", env={"SMSCLI_LEDGER": postgres_ledger},
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert query(home, postgres_ledger, counts) == before  # nothing sent, nothing new


def test_non_empty_destination_refused_unless_merge(cli, home, postgres_ledger):
    sends(cli, home)
    assert cli("ledger", "copy", str(home.ledger), postgres_ledger).exit_code == 0
    first = [r for (r,) in home.query("SELECT id FROM runs ORDER BY rowid")]
    # The source goes on: one more run, one more opt-out, newer sandbox credits.
    out = cli("send", "--provider", "sandbox", "05327776655", "-m", "yeni", "--yes")
    assert out.exit_code == 0, out.stderr
    assert cli("optout", "add", "05321112297").exit_code == 0
    # The destination's own opt-out entry is kept as it is.
    query(home, postgres_ledger, "UPDATE optouts SET reason = 'theirs' WHERE number = ?",
          "+905321112299")  # fmt: skip
    before = dump(home, postgres_ledger)

    out = cli("ledger", "copy", str(home.ledger), postgres_ledger)
    assert out.exit_code == 2
    assert "already holds 3 runs and 2 opt-outs" in out.stderr
    assert "--merge" in out.stderr
    assert dump(home, postgres_ledger) == before

    out = cli("ledger", "copy", str(home.ledger), postgres_ledger, "--merge", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["skipped_runs"] == first
    assert doc["copied"]["runs"] == 1 and doc["copied"]["optouts"] == 1
    assert doc["copied"]["messages"] == 1
    after, source = dump(home, postgres_ledger), dump(home, home.ledger)
    assert after["runs"] == source["runs"] and after["messages"] == source["messages"]
    assert after["provider_state"] == source["provider_state"]  # the newer state won
    assert query(home, postgres_ledger, "SELECT reason FROM optouts WHERE number = ?",
                 "+905321112299") == [("theirs",)]  # fmt: skip
    assert len(after["optouts"]) == 3

    out = cli("ledger", "copy", str(home.ledger), postgres_ledger, "--merge")
    assert out.exit_code == 0, out.stderr
    assert "skipped 4 runs the destination already had" in out.stdout
    assert dump(home, postgres_ledger)["messages"] == source["messages"]


def test_same_ledger_refused(cli, home, postgres_ledger):
    sends(cli, home)
    link = home.cwd / "link.db"
    link.symlink_to(home.ledger)
    for dst in (str(home.ledger), str(link)):
        out = cli("ledger", "copy", str(home.ledger), dst)
        assert out.exit_code == 2
        assert "the same ledger" in out.stderr
    assert cli("ledger", "copy", str(home.ledger), postgres_ledger).exit_code == 0
    spellings = [
        postgres_ledger,
        with_password(postgres_ledger).replace("postgresql:", "postgres:"),
    ]
    if "127.0.0.1" in postgres_ledger:  # another host name for the same server
        spellings.append(postgres_ledger.replace("127.0.0.1", "localhost"))
    for dst in spellings:
        out = cli("ledger", "copy", postgres_ledger, dst)
        assert out.exit_code == 2, out.stderr
        assert "the same ledger" in out.stderr
        assert CANARY not in out.stderr + out.stdout


def test_missing_source(cli, home, other_pg):
    missing, dst = home.cwd / "nope.db", home.cwd / "dst.db"
    out = cli("ledger", "copy", str(missing), str(dst))
    assert out.exit_code == 3
    assert str(missing) in out.stderr
    assert not missing.exists() and not dst.exists()
    # A PostgreSQL schema without a ledger is no source either, and stays without one.
    out = cli("ledger", "copy", other_pg, str(dst))
    assert out.exit_code == 3
    assert "there is no ledger at" in out.stderr and CANARY not in out.stderr
    assert query(home, other_pg, "SELECT to_regclass('runs')") == [(None,)]
    assert not dst.exists()


def test_message_in_flight_refuses(cli, home, postgres_ledger):
    sends(cli, home)
    home.query("UPDATE messages SET state = 'sending' WHERE id = (SELECT max(id) FROM messages)")
    for dst in (str(home.cwd / "dst.db"), postgres_ledger):
        out = cli("ledger", "copy", str(home.ledger), dst)
        assert out.exit_code == 8
        assert "in state sending" in out.stderr
        assert "stop every smscli process using it first" in out.stderr
    assert not (home.cwd / "dst.db").exists()
    assert query(home, postgres_ledger, "SELECT to_regclass('runs')") == [(None,)]


def test_all_or_nothing(cli, home, postgres_ledger):
    """A value PostgreSQL cannot hold (a NUL character) fails the copy whole: exit 3, not
    one row written."""
    sends(cli, home)
    home.query(
        "UPDATE messages SET text = 'a' || char(0) || 'b' WHERE id = (SELECT max(id) FROM messages)"
    )
    out = cli("ledger", "copy", str(home.ledger), postgres_ledger)
    assert out.exit_code == 3
    assert "nothing copied" in out.stderr
    assert all(rows == [] for rows in dump(home, postgres_ledger).values())


def test_password_never_printed(proc, cli, home, other_pg):
    sends(cli, home)
    outs = [
        proc("ledger", "copy", str(home.ledger), other_pg),
        proc("ledger", "copy", str(home.ledger), other_pg),  # refused: not empty
        proc("ledger", "copy", str(home.ledger), other_pg, "--merge", "--json"),
        proc("ledger", "info", SMSCLI_LEDGER=other_pg),
        proc("ledger", "info", "--json", SMSCLI_LEDGER=other_pg),
        proc("ledger", "copy", other_pg, str(home.cwd / "back.db"), "--json"),
    ]
    assert [o.exit_code for o in outs] == [0, 2, 0, 0, 0, 0], [o.stderr for o in outs]
    for out in outs:
        assert CANARY not in out.stdout + out.stderr
    assert ":***@" in outs[0].stdout and ":***@" in outs[1].stderr
    assert outs[2].json()["destination"].count("***") == 1
    assert outs[4].json()["ledger"] == outs[2].json()["destination"]


def test_info_sqlite(cli, home):
    out = cli("ledger", "info")
    assert out.exit_code == 0, out.stderr
    assert "No ledger at" in out.stdout and "yet" in out.stdout
    doc = cli("ledger", "info", "--json").json()
    assert doc["exists"] is False and doc["backend"] == "sqlite" and doc["exit_code"] == 0
    assert not home.ledger.exists()
    sends(cli, home)
    out = cli("ledger", "info")
    assert out.exit_code == 0, out.stderr
    assert str(home.ledger) in out.stdout and f"SQLite, schema {SCHEMA}" in out.stdout
    assert "runs: 3" in out.stdout and "opt-outs: 2" in out.stdout
    assert "idempotency keys: 1" in out.stdout
    _check_info(cli, home, "sqlite", str(home.ledger))


def test_info_postgres(cli, home, postgres_ledger, other_pg):
    out = cli("ledger", "info", "--json", env={"SMSCLI_LEDGER": other_pg})
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["exists"] is False and doc["backend"] == "postgres"
    assert query(home, other_pg, "SELECT to_regclass('runs')") == [(None,)]
    sends(cli, home)
    assert cli("ledger", "copy", str(home.ledger), postgres_ledger).exit_code == 0
    home.ledger = postgres_ledger
    out = cli("ledger", "info", env={"SMSCLI_LEDGER": postgres_ledger})
    assert out.exit_code == 0, out.stderr
    assert f"PostgreSQL, schema {SCHEMA}" in out.stdout and "bytes on the server" in out.stdout
    assert "runs: 3" in out.stdout
    _check_info(cli, home, "postgres", postgres_ledger)


def _check_info(cli: Any, home: Home, backend: str, location: str) -> None:
    doc = cli("ledger", "info", "--json", env={"SMSCLI_LEDGER": str(home.ledger)}).json()
    states = dict(home.query("SELECT state, count(*) FROM messages GROUP BY state"))
    assert doc == {
        "command": "ledger info",
        "provider": None,
        "profile": None,
        "exit_code": 0,
        "error": None,
        "warnings": [],
        "backend": backend,
        "ledger": location,
        "exists": True,
        "schema": SCHEMA,
        "bytes": doc["bytes"],
        "runs": 3,
        "messages": sum(states.values()),
        "counts": states,
        "optouts": 2,
        "idempotency_keys": 1,
        "provider_state": home.query("SELECT count(*) FROM provider_state")[0][0],
    }
    assert doc["bytes"] > 0
