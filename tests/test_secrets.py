"""The canary test: known secrets, every command and error path, and not one byte of them in
any output, log, traceback or ledger file."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from tests.emulator import Emulator

KEY = "CANARY-k3y-Zq9xT"
PASSWORD = "CANARY/p@ss w&rd+Zq9"


def forms(secret: str) -> set[str]:
    """The secret as sent, and any 8 characters of it in a row (a quote cut short)."""
    whole = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    return whole | {secret[i : i + 8] for i in range(len(secret) - 7)}


def assert_clean(texts: list[str], home) -> None:
    blobs = list(texts) + ledger_blobs(home)
    assert blobs
    for secret in (KEY, PASSWORD):
        for form in forms(secret):
            leaked = [b[:200] for b in blobs if form in b]
            assert not leaked, f"{form!r} leaked"


def ledger_blobs(home) -> list[str]:
    """Everything the ledger holds: its files' bytes (SQLite's, with the write-ahead log), or
    every row of every table of its schema as text (PostgreSQL)."""
    if home.backend == "postgres":
        tables = home.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        assert tables
        rows = (home.query(f"SELECT t::text FROM {name} AS t") for (name,) in tables)
        return ["\n".join(row for (row,) in table) for table in rows]
    return [p.read_bytes().decode("latin-1") for p in home.ledger.parent.glob("ledger.db*")]


@pytest.fixture
def canary_emulator(emulator, monkeypatch):
    monkeypatch.setattr(emulator, "CUSTOMERSMS_KEY", KEY)
    monkeypatch.setattr(emulator, "VAIROSMS_KEY", KEY)
    monkeypatch.setattr(emulator, "MASGSM_PASS", PASSWORD)
    return emulator


def envs(key: str = KEY, password: str = PASSWORD) -> dict[str, dict[str, str]]:
    """Each provider's environment with the canary ``key`` (or masgsm's ``password``)."""
    return {
        "customersms": {"SMSCLI_PROVIDER": "customersms", "SMSCLI_API_KEY": key},
        "vairosms": {"SMSCLI_PROVIDER": "vairosms", "SMSCLI_API_KEY": key, "SMSCLI_SENDER": "ACME"},
        "masgsm": {
            "SMSCLI_PROVIDER": "masgsm",
            "SMSCLI_USERNAME": Emulator.MASGSM_USER,
            "SMSCLI_PASSWORD": password,
            "SMSCLI_SENDER": "ACME",
        },
    }


@pytest.mark.parametrize("provider", ["customersms", "vairosms", "masgsm"])
def test_no_secret_anywhere_across_commands_and_failures(proc, home, canary_emulator, provider):
    emu = canary_emulator
    env = {**envs()[provider], "SMSCLI_BASE_URL": emu.base_url(provider)}
    texts: list[str] = []

    def run(*args: str, **extra: str) -> None:
        out = proc(*args, **{**env, **extra})
        texts.extend([out.stdout, out.stderr])

    send = ("send", "05321234567,05321112233", "-m", "Merhaba")
    run(*send, "--debug")  # success, every request logged
    run(*send, "--json", "--debug")
    for fault in ("500", "502-html", "html-200", "drop-after-processing", "429"):
        emu.inject(provider, fault, retry_after=0.1)
        run(*send, "--debug")
    emu.inject(provider, "timeout-after-processing", delay=2)
    run(*send, "--debug", SMSCLI_TIMEOUT="0.3")
    emu.set_credits(provider, 0)
    run(*send, "--debug")
    run("profiles", "show", "--debug")
    run("profiles", "show", "--json")
    run("profiles")
    # wrong credentials: the emulator expects other secrets than the canaries we send
    emu.CUSTOMERSMS_KEY = emu.VAIROSMS_KEY = "other"
    emu.MASGSM_PASS = "other"
    run(*send, "--debug")
    assert any("***" in t for t in texts)  # the debug log did show the redacted requests
    assert any("→ POST" in t for t in texts)
    assert_clean(texts, home)


def test_no_secret_in_config_errors_or_profile_listing(proc, home):
    home.write_config(
        f'[profiles.a]\nprovider = "masgsm"\nusername = "5321112233"\npassword = "{PASSWORD}"\n'
        f'sender = "ACME"\n[profiles.b]\nprovider = "vairosms"\napi_key = "{KEY}"\n',
        mode=0o644,
    )
    texts = []
    for args in (
        ("profiles",),
        ("profiles", "show", "a"),
        ("profiles", "show", "b", "--json"),
        ("send", "1", "-m", "x", "-p", "a"),
        ("send", "05321234567", "-m", "x", "-p", "zz"),
    ):
        out = proc(*args)
        texts += [out.stdout, out.stderr]
    assert "readable by other users" in "".join(texts)
    assert_clean(texts, home)


def test_no_secret_in_an_internal_error_traceback(cli, home, monkeypatch):
    import smscli.engine

    def boom(self, run_id):
        raise RuntimeError(f"unexpected failure talking to https://x/?api_key={KEY} with {KEY}")

    monkeypatch.setattr(smscli.engine.Engine, "run", boom)
    env = {"SMSCLI_PROVIDER": "vairosms", "SMSCLI_API_KEY": KEY, "SMSCLI_SENDER": "ACME"}
    out = cli("send", "05321234567", "-m", "x", "--debug", env=env)
    assert out.exit_code == 70
    assert "internal error: RuntimeError" in out.stderr
    assert "Traceback" in out.stderr
    assert_clean([out.stdout, out.stderr], home)


def test_an_account_never_shows_its_secrets(home):
    from rich.pretty import pretty_repr

    from smscli.providers.base import Account

    account = Account("masgsm", "https://x", api_key=KEY, username="u", password=PASSWORD)
    shown = [repr(account), str(account), f"{account}", repr([account]), pretty_repr(account)]
    assert "username='u'" in shown[0] and "masgsm" in shown[0]
    assert_clean(shown, home)
    assert account.secrets() == (KEY, PASSWORD)
