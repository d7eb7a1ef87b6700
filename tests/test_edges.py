"""Configuration that cannot have sent anything, found before any request: a ``base_url``
that is no provider's root, and secrets in files others can read."""

from __future__ import annotations

import sqlite3

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
