"""Configuration that cannot have sent anything, found before any request: a ``base_url``
that is no provider's root, and secrets in files others can read."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.emulator import Emulator

KEY = "CANARYk3yAbC"


def ledger_states(home) -> list[str]:
    if not home.ledger.exists():
        return []
    with sqlite3.connect(home.ledger) as db:
        return [r[0] for r in db.execute("SELECT state FROM messages")]


@pytest.mark.parametrize(
    ("base_url", "said"),
    [
        ("127.0.0.1:8080", "is not an http:// or https:// URL"),
        ("ftp://x/", "is not an http:// or https:// URL"),
        ("http://[::1", "does not parse"),
        (f"http://user:{KEY}@127.0.0.1:9/", "holds credentials"),
        (f"http://{KEY}@127.0.0.1:x/", "holds credentials"),
        ("https://a..b/", "has no valid host name"),
        ("http://127.0.0.1:99999/", "has no valid host name or port"),
    ],
)
@pytest.mark.parametrize("provider", ["customersms", "vairosms", "masgsm"])
def test_a_base_url_that_is_no_provider_root_is_exit_4_before_any_request(
    proc, home, emulator, provider, base_url, said
):
    env = {
        "SMSCLI_PROVIDER": provider,
        "SMSCLI_API_KEY": KEY,
        "SMSCLI_USERNAME": Emulator.MASGSM_USER,
        "SMSCLI_PASSWORD": KEY,
        "SMSCLI_SENDER": "ACME",
        "SMSCLI_BASE_URL": base_url,
    }
    out = proc("send", "05321234567", "-m", "Merhaba", **env)
    assert out.exit_code == 4, out.stderr
    assert said in out.stderr
    assert "SMSCLI_BASE_URL" in out.stderr  # where it was set
    assert KEY not in out.stdout + out.stderr
    assert "unknown" not in ledger_states(home)
    assert emulator.requests == []
    for command in (("balance",), ("headers",), ("report",)):
        out = proc(*command, **env)
        assert out.exit_code == 4, (command, out.stderr)
        assert KEY not in out.stdout + out.stderr


def test_profiles_add_refuses_a_base_url_without_scheme(cli, home):
    out = cli(
        "profiles", "add", "x", "--provider", "customersms", "--api-key", KEY,
        "--base-url", "api.example.com/v1",
    )  # fmt: skip
    assert out.exit_code == 2  # a flag's value: a usage error, as for every bad flag
    assert "is not an http:// or https:// URL" in out.stderr
    assert not home.config.exists()


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_a_dotenv_holding_secrets_that_others_can_read_draws_a_warning(proc, home, mode, warned):
    dotenv = home.cwd / ".env"
    dotenv.write_text(f"SMSCLI_PROVIDER=sandbox\nSMSCLI_API_KEY={KEY}\n", encoding="utf-8")
    dotenv.chmod(mode)
    out = proc("send", "05321234567", "-m", "Merhaba", "--dry-run")
    assert out.exit_code == 0, out.stderr
    said = f"{dotenv} holds secrets and is readable by other users; run: chmod 600 {dotenv}"
    assert (said in " ".join(out.stderr.split())) is warned
    assert KEY not in out.stdout + out.stderr


def test_a_dotenv_without_secrets_draws_no_warning(proc, home):
    dotenv = home.cwd / ".env"
    dotenv.write_text("SMSCLI_PROVIDER=sandbox\n", encoding="utf-8")
    dotenv.chmod(0o644)
    out = proc("send", "05321234567", "-m", "Merhaba", "--dry-run")
    assert out.exit_code == 0, out.stderr
    assert "readable by other users" not in out.stderr


@pytest.mark.parametrize("profile", ["cs", "vs", "mas"])
def test_the_balance_check_before_sending_takes_a_permit(cli, home, emulator, profile):
    """A provider that enforces the profile's limit (2 requests a second) answers a request
    over it with 429: the balance asked before sending is a request like the sends."""
    emulator.rate_limit_per_second = 2
    home.write_config(emulator.profiles('rate_limits = ["2/second"]\nconcurrency = 1'))
    rows = "\n".join(f"0532{i:07d};Kişi {i}" for i in range(1, 5))
    (home.cwd / "k.csv").write_text(f"telefon;ad\n{rows}\n", encoding="utf-8")
    out = cli("bulk", "k.csv", "-m", "Sayın {ad}", "--yes", "-p", profile, "--batch-size", "1")
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == 4
    assert emulator.rate_limited == 0


def _preparing(home) -> bool:
    """Whether a run is being prepared in the ledger (read as another process would)."""
    if not home.ledger.exists():
        return False
    try:
        with sqlite3.connect(f"file:{home.ledger}?mode=ro", uri=True) as db:
            return bool(db.execute("SELECT 1 FROM runs WHERE state = 'preparing'").fetchall())
    except sqlite3.Error:  # created but not yet migrated
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_a_run_is_prepared_exits_8_with_the_ledger_clean(home, signum):
    rows = "".join(f"0532{i:07d};Kişi {i}\n" for i in range(100_000))
    (home.cwd / "k.csv").write_text(f"telefon;ad\n{rows}", encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, "-m", "smscli", "bulk", "k.csv", "-m", "Sayın {ad}", "--yes",
         "--provider", "sandbox"],
        cwd=home.cwd, env=home.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not _preparing(home):  # an event: the run's row, written as preparation starts
        assert child.poll() is None, child.communicate()
        time.sleep(0.01)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 8, err
    assert "interrupted" in err
    assert "Traceback" not in err
    with sqlite3.connect(home.ledger) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
