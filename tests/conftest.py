"""Shared fixtures: an isolated user environment, the CLI runner, real subprocesses and the
loopback provider emulator.

A test module that sets ``BOTH_BACKENDS = True`` runs each of its tests that use ``home`` on
both ledger backends: an SQLite file, and a schema of its own in the PostgreSQL server named by
``SMSCLI_TEST_POSTGRES`` (skipped without one, a failure under ``CI=true``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.emulator import Emulator


@dataclass
class Home:
    """A user's machine in miniature: working directory, config file and ledger (a path, or
    a ``postgresql://`` URL)."""

    cwd: Path
    config: Path
    ledger: Path | str

    @property
    def backend(self) -> str:
        return "sqlite" if isinstance(self.ledger, Path) else "postgres"

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (``?`` placeholders) read from, or written to, the ledger, whichever
        its backend; a statement that returns no rows returns ``[]``."""
        if isinstance(self.ledger, Path):
            import sqlite3
            from contextlib import closing

            with closing(sqlite3.connect(self.ledger)) as conn, conn:
                return conn.execute(sql, args).fetchall()
        import psycopg

        with psycopg.connect(self.ledger, autocommit=True) as conn:
            cur = conn.execute(sql.replace("%", "%%").replace("?", "%s"), args)
            return cur.fetchall() if cur.description else []

    def write_config(self, text: str, mode: int = 0o600) -> Path:
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(text, encoding="utf-8")
        self.config.chmod(mode)
        return self.config

    def env(self, **extra: str) -> dict[str, str]:
        """A clean process environment for a subprocess."""
        base = {
            k: v for k, v in os.environ.items() if not k.startswith("SMSCLI_") and k != "NO_COLOR"
        }
        base.update(SMSCLI_CONFIG=str(self.config), SMSCLI_LEDGER=str(self.ledger))
        base.update(extra)
        return base


BACKENDS = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``BOTH_BACKENDS`` modules: each test on both, unless it names its own (a test of
    SQLite's file says ``@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)``)."""
    if not getattr(metafunc.module, "BOTH_BACKENDS", False):
        return
    own = any(
        m.name == "parametrize" and "backend" in str(m.args[0])
        for m in metafunc.definition.iter_markers()
    )
    if not own and ("home" in metafunc.fixturenames or "backend" in metafunc.fixturenames):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The ledger's backend: ``sqlite`` unless the module runs on both."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server of the tests (``SMSCLI_TEST_POSTGRES``, a URL of a database in
    which the user may create schemas); ``.ci/postgres start`` starts a throwaway one."""
    url = os.environ.get("SMSCLI_TEST_POSTGRES")
    why = None
    if not url:
        why = 'SMSCLI_TEST_POSTGRES is not set (eval "$(.ci/postgres start /tmp/smscli-pg)")'
    else:
        try:
            import psycopg

            psycopg.connect(url, connect_timeout=5).close()
        except Exception as exc:  # ImportError, or the server's refusal
            why = f"the PostgreSQL server of SMSCLI_TEST_POSTGRES is not usable: {exc}"
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs the PostgreSQL tests: {why}", pytrace=False)
        pytest.skip(why)
    assert url is not None
    return url


@pytest.fixture
def postgres_ledger(postgres_server: str) -> Iterator[str]:
    """A ledger of its own: a new schema, made the connection's search path through libpq's
    ``options``, dropped after the test."""
    import secrets
    from urllib.parse import quote

    import psycopg

    schema = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in postgres_server else "?"
    yield f"{postgres_server}{joiner}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str, request: pytest.FixtureRequest
) -> Home:
    ledger: Path | str = tmp_path / "data" / "ledger.db"
    if backend == "postgres":  # before SMSCLI_TEST_POSTGRES goes with the other variables
        ledger = request.getfixturevalue("postgres_ledger")
    for key in list(os.environ):
        if key.startswith("SMSCLI_"):
            monkeypatch.delenv(key)
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    h = Home(cwd, tmp_path / "config" / "smscli" / "config.toml", ledger)
    monkeypatch.setenv("SMSCLI_CONFIG", str(h.config))
    monkeypatch.setenv("SMSCLI_LEDGER", str(h.ledger))
    monkeypatch.setenv("COLUMNS", "200")
    return h


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(home: Home) -> Any:
    """Run smscli in-process through Typer's runner."""
    from smscli.cli import app

    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        result = runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
        return Outcome(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def proc(home: Home) -> Any:
    """Run smscli as a real subprocess (exit codes, stdin, signals)."""

    def run(*args: str, input: str | None = None, timeout: float = 60, **env: str) -> Outcome:
        done = subprocess.run(
            [sys.executable, "-m", "smscli", *args],
            input=input,
            capture_output=True,
            text=True,
            cwd=home.cwd,
            env=home.env(**env),
            timeout=timeout,
            check=False,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture(autouse=True, scope="session")
def _user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The session's own user cache directory (smscli keeps phone-number rules there), so that
    tests never write to the machine's."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(scope="session")
def _emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emulator(_emulator: Emulator) -> Iterator[Emulator]:
    _emulator.reset()
    yield _emulator
    _emulator.reset()
