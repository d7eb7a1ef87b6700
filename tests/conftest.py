"""Shared fixtures: an isolated user environment, the CLI runner, real subprocesses and the
loopback provider emulator."""

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
    """A user's machine in miniature: working directory, config file and ledger."""

    cwd: Path
    config: Path
    ledger: Path

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


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    for key in list(os.environ):
        if key.startswith("SMSCLI_"):
            monkeypatch.delenv(key)
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    h = Home(cwd, tmp_path / "config" / "smscli" / "config.toml", tmp_path / "data" / "ledger.db")
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
