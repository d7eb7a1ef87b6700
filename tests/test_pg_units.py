"""The PostgreSQL store's pieces that need no server: locations shown without passwords, the
password found for the redactor, and the server's errors said for the user."""

from __future__ import annotations

import pytest

from smscli.errors import ConfigError, ExitCode, Unfinished
from smscli.store import is_postgres, shown
from smscli.store.pg_db import masked, storage_error, url_secrets
from smscli.store.problems import LedgerDamaged

psycopg = pytest.importorskip("psycopg")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:s3cret@h/db", "postgresql://u:***@h/db"),
        (
            "postgres://u:p%40ss@h:5432/db?sslmode=require",
            "postgres://u:***@h:5432/db?sslmode=require",
        ),
        ("postgresql://u@h/db?password=s3cret&x=1", "postgresql://u@h/db?password=***&x=1"),
        ("postgresql://h/db", "postgresql://h/db"),
        ("POSTGRESQL://u:pw@h/db", "POSTGRESQL://u:***@h/db"),
    ],
)
def test_a_location_is_shown_without_its_password(url, expected):
    assert is_postgres(url)
    assert masked(url) == expected == shown(url)


def test_the_redactor_learns_the_password_as_written_and_decoded():
    assert set(url_secrets("postgresql://u:p%40ss@h/db")) == {"p%40ss", "p@ss"}
    assert url_secrets("postgresql://u@h/db?password=abc123") == ("abc123",)
    assert url_secrets("postgresql://u@h/db") == ()


def test_a_path_is_not_a_postgresql_ledger():
    assert not is_postgres("/home/u/postgresql://x")
    assert shown("/home/u/ledger.db") == "/home/u/ledger.db"


@pytest.mark.parametrize(
    ("error", "kind", "code", "words"),
    [
        (psycopg.errors.DiskFull, Unfinished, ExitCode.UNFINISHED, "no room left"),
        (psycopg.errors.DataCorrupted, LedgerDamaged, ExitCode.CONFIG, "damaged"),
        (psycopg.errors.InsufficientPrivilege, ConfigError, ExitCode.CONFIG, "cannot be written"),
        (psycopg.errors.ReadOnlySqlTransaction, ConfigError, ExitCode.CONFIG, "cannot be written"),
        (psycopg.OperationalError, Unfinished, ExitCode.UNFINISHED, "lost the connection"),
    ],
)
def test_the_servers_errors_are_said_for_the_user(error, kind, code, words):
    url = "postgresql://u:CANARYsecret9@h/db"
    said = storage_error(error(f"failed for {url}"), masked(url), url)
    assert isinstance(said, kind)
    assert said.exit_code == code
    assert words in str(said)
    assert "CANARYsecret9" not in str(said) + str(said.hint)


def test_what_is_not_the_servers_error_is_left_alone():
    assert storage_error(ValueError("a bug"), "postgresql://h/db", "postgresql://h/db") is None
    assert storage_error(psycopg.errors.SyntaxError("ours"), "l", "postgresql://h/db") is None
