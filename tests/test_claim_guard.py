"""Never twice, enforced where a message leaves: each way the promise broke when the opt-out
list and the repeat guard were checked only when a run was planned, as a user meets it, through
the real CLI in subprocesses against the emulator, on both ledger backends. Races are two real
processes started at one moment and held by the emulator's gate, never a sleep."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

import pytest

from tests.conftest import Home
from tests.emulator import Emulator
from tests.test_shared_ledger import until

BOTH_BACKENDS = True
TEMPLATE = "Merhaba {ad}, siparişiniz hazır."
ROWS = 12


def people(first: int = 0, count: int = ROWS) -> list[tuple[str, str]]:
    return [(f"Kişi {i}", f"0532{i:07d}") for i in range(first, first + count)]


def export(home: Home, name: str, rows: list[tuple[str, str]], *, sep=",", crlf=False) -> str:
    """The list as a spreadsheet program saves it, one way or another."""
    end = "\r\n" if crlf else "\n"
    lines = [f"ad{sep}telefon"] + [f"{ad}{sep}{tel}" for ad, tel in rows]
    (home.cwd / name).write_bytes((end.join(lines) + end).encode())
    return name


def start(home: Home, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "smscli", *args],
        cwd=home.cwd,
        env=home.env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(child: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = child.communicate(timeout=120)
    return child.returncode, out, err


def bulk(name: str, *extra: str, profile: str = "vs") -> list[str]:
    return ["bulk", name, "-m", TEMPLATE, "--yes", "-p", profile, *extra]


def received(emulator: Emulator) -> Counter[str]:
    return Counter(r.to for r in emulator.received)


def skipped_because(home: Home, run_id: str) -> Counter[str]:
    rows = home.query("SELECT error FROM messages WHERE run_id = ? AND state = 'skipped'", run_id)
    return Counter(str(error).split(" ")[0] for (error,) in rows)


# --- 1. a resumed run --------------------------------------------------------------------


def test_a_resumed_run_never_resends_what_a_re_export_sent_meanwhile(proc, home, emulator):
    """v1 partly sent; the same list exported again (CRLF, ';') sent in full; then v1 run again:
    it resumes, and the messages v2 sent are skipped in the claim."""
    home.write_config(emulator.profiles())
    rows = people()
    v1 = export(home, "v1.csv", rows)
    out = proc(*bulk(v1, "--limit", "4"))
    assert out.exit_code == 0, out.stderr
    v2 = export(home, "v2.csv", rows, sep=";", crlf=True)
    out = proc(*bulk(v2))
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == ROWS  # 4 + the 8 v2 did not skip
    out = proc(*bulk(v1, "--json"))
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["resumed"] is True
    assert (doc["accepted"], doc["repeat"]) == (4, 8)
    assert received(emulator) == Counter({f"+90532{i:07d}": 1 for i in range(ROWS)})
    assert emulator.duplicates() == {}
    assert any("skipped as they were about to leave" in w for w in doc["warnings"])


# --- 2. two campaigns at once ------------------------------------------------------------


def test_two_campaigns_started_at_once_send_each_number_once(home, emulator):
    """Two cron jobs, two colleagues: one list exported twice, both started at one moment. Each
    sends one message and is held on the wire (so both planned before either sent more); then
    both go on: every number gets the text once."""
    home.write_config(emulator.profiles("rate_limits = []"))
    rows = people()
    names = [export(home, "v1.csv", rows), export(home, "v2.csv", rows, sep=";", crlf=True)]
    emulator.gate = threading.Event()
    children = [start(home, *bulk(n, "--batch-size", "1", "--concurrency", "1")) for n in names]
    try:
        until(lambda: len(emulator.requests) >= 2, "both campaigns to have a request on the wire")
    finally:
        emulator.gate.set()
    results = [finish(child) for child in children]
    assert [code for code, _, _ in results] == [0, 0], results
    assert emulator.duplicates() == {}, "a recipient got the text twice"
    assert received(emulator) == Counter({f"+90532{i:07d}": 1 for i in range(ROWS)})
    repeats = home.query(
        "SELECT count(*) FROM messages WHERE state = 'skipped' AND error LIKE 'same text%'"
    )
    assert repeats == [(ROWS,)]  # each number: sent by one run, skipped by the other


# --- 3. an opt-out during a campaign -----------------------------------------------------


def test_an_opt_out_added_while_a_campaign_runs_is_honoured_at_once(proc, home, emulator):
    home.write_config(emulator.profiles("rate_limits = []"))
    name = export(home, "v1.csv", people())
    emulator.gate = threading.Event()
    child = start(home, *bulk(name, "--batch-size", "1", "--concurrency", "1", "--json"))
    try:
        assert emulator.arrived.wait(30)  # the campaign is sending its first message
        out = proc("optout", "add", "05320000005", "05320000006", "05320000011")
        assert out.exit_code == 0, out.stderr
    finally:
        emulator.gate.set()
    code, stdout, err = finish(child)
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["opted_out"] == 3
    assert not {"+905320000005", "+905320000006", "+905320000011"} & set(received(emulator))
    assert len(emulator.received) == ROWS - 3
    by_to = {r["to"]: r for r in doc["results"]}
    assert by_to["+905320000006"]["status"] == "skipped"
    assert by_to["+905320000006"]["error"].startswith("opted out on 20")


# --- 4. idempotency keys ------------------------------------------------------------------


def test_an_idempotency_key_is_the_ledgers_whichever_profile_or_environment_sends(
    proc, home, emulator
):
    cs = emulator.profiles().split("[profiles.vs]")[0].split("[profiles.cs]")[1]
    home.write_config(f"[profiles.alerts]{cs}\n[profiles.oncall]{cs}")
    args = ["send", "05321234567", "-m", "Sunucu çöktü", "--idempotency-key", "inc-42", "--json"]
    first = proc(*args, "-p", "alerts")
    assert first.exit_code == 0, first.stderr
    assert first.json()["replayed"] is False
    again = proc(*args, "-p", "oncall")
    assert again.exit_code == 0, again.stderr
    assert again.json()["replayed"] is True
    # The README's CI recipe: no config file, the account in the environment only.
    env = home.env(
        SMSCLI_PROVIDER="customersms", SMSCLI_API_KEY=emulator.CUSTOMERSMS_KEY,
        SMSCLI_BASE_URL=emulator.base_url("customersms"),
        XDG_CONFIG_HOME=str(home.cwd / "no-config"),
    )  # fmt: skip
    del env["SMSCLI_CONFIG"]
    ci = subprocess.run([sys.executable, "-m", "smscli", *args], cwd=home.cwd, env=env,
                        capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert ci.returncode == 0, ci.stderr
    assert json.loads(ci.stdout)["replayed"] is True
    assert len(emulator.received) == 1
    other = proc("send", "05321234567", "-m", "another text", "--idempotency-key", "inc-42",
                 "-p", "oncall")  # fmt: skip
    assert other.exit_code == 2 and "inc-42" in other.stderr  # one key, one message


# --- 5. one account, one rate window ------------------------------------------------------


def test_the_rate_window_is_the_accounts_however_base_url_is_spelt(proc, home, emulator):
    url = emulator.base_url("vairosms")
    respelt = url.replace("http://127.0.0.1", "HTTP://localhost")
    profile = f"""provider = "vairosms"
api_key = "{emulator.VAIROSMS_KEY}"
sender = "ACME"
rate_limits = ["2/minute"]
"""
    a, b = f'base_url = "{url}"', f'base_url = "{respelt}"'
    home.write_config(f"[profiles.a]\n{profile}{a}\n[profiles.b]\n{profile}{b}\n")
    for number in ("05321234567", "05321112233"):
        out = proc("send", number, "-m", "Merhaba", "-p", "a")
        assert out.exit_code == 0, out.stderr
    out = proc("send", "05334445566", "-m", "Merhaba", "-p", "b", "--max-wait", "0")
    assert out.exit_code == 8, out.stderr  # the account's two permits of the minute are gone
    assert "send the rest after" in out.stderr
    assert len(emulator.received) == 2


# --- 6. near-identical texts --------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [("--ascii",), ("-m", TEMPLATE + " "), ("-m", TEMPLATE.replace(" ", "  "))],
    ids=["ascii", "trailing-space", "double-spaces"],
)
def test_a_near_identical_text_is_a_repeat(proc, home, emulator, variant):
    home.write_config(emulator.profiles())
    name = export(home, "v1.csv", people(count=4))
    assert proc(*bulk(name)).exit_code == 0
    args = ["bulk", name, "--yes", "-p", "vs", "--json"]
    out = proc(*args, *(variant if variant[0] == "-m" else ("-m", TEMPLATE, *variant)))
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert (doc["repeat"], doc["accepted"]) == (4, 0)
    assert len(emulator.received) == 4
    allowed = proc(*args, "--again", "--allow-repeat", *(variant if variant[0] == "-m" else
                                              ("-m", TEMPLATE, *variant)))  # fmt: skip
    assert allowed.exit_code == 0, allowed.stderr
    assert len(emulator.received) == 8  # --allow-repeat is the way round


# --- 7. a keyed send that sent nothing ----------------------------------------------------


def _keyed(proc: Any, *extra: str) -> Any:
    return proc("send", "05334445566", "-m", "Kodunuz 1234", "--idempotency-key", "otp-1",
                "--json", *extra)  # fmt: skip


def test_a_keyed_send_stopped_by_a_rate_wait_sends_when_retried(proc, home, emulator):
    home.write_config(emulator.profiles('rate_limits = ["1/minute"]'))
    assert proc("send", "05321234567", "-m", "Merhaba", "-p", "vs").exit_code == 0
    out = _keyed(proc, "-p", "vs", "--max-wait", "0")
    assert out.exit_code == 8, out.stderr
    assert "send the rest after" in out.json()["error"]["hint"]
    home.query("DELETE FROM rate_events")  # the minute has passed
    out = _keyed(proc, "-p", "vs", "--max-wait", "0")
    assert out.exit_code == 0, out.stderr
    assert out.json()["replayed"] is False and out.json()["accepted"] == 1
    assert received(emulator)["+905334445566"] == 1
    assert _keyed(proc, "-p", "vs").json()["replayed"] is True  # sent: now it replays


def test_a_keyed_send_refused_for_credit_sends_when_retried(proc, home, emulator):
    home.write_config(emulator.profiles())
    emulator.set_credits("customersms", 0)
    out = _keyed(proc, "-p", "cs")
    assert out.exit_code == 5, out.stderr
    emulator.set_credits("customersms", 100)
    out = _keyed(proc, "-p", "cs")
    assert out.exit_code == 0, out.stderr
    assert out.json()["replayed"] is False
    assert len(emulator.received) == 1


def test_a_keyed_send_stopped_by_sigterm_while_waiting_sends_when_retried(proc, home, emulator):
    home.write_config(emulator.profiles('rate_limits = ["1/minute"]'))
    assert proc("send", "05321234567", "-m", "Merhaba", "-p", "vs").exit_code == 0
    child = start(home, "send", "05334445566", "-m", "Kodunuz 1234", "--idempotency-key",
                  "otp-1", "-p", "vs")  # fmt: skip
    until(lambda: home.query("SELECT 1 FROM idempotency_keys") != [], "the send to wait")
    child.send_signal(signal.SIGTERM)
    code, _, err = finish(child)
    assert code == 8, err
    home.query("DELETE FROM rate_events")
    out = _keyed(proc, "-p", "vs")
    assert out.exit_code == 0, out.stderr
    assert out.json()["replayed"] is False
    assert received(emulator)["+905334445566"] == 1


# --- damaged rows -------------------------------------------------------------------------


def test_a_pending_row_turned_into_a_sent_number_is_never_sent(proc, home, emulator):
    """A bit flip turned a pending row's number (…4566) into one already sent (…4567):
    ``ledger check`` says so, and the resumed campaign stops before it (exit 4)."""
    home.write_config(emulator.profiles())
    name = export(home, "v1.csv", [("A", "05321234567"), ("B", "05321112233"),
                                   ("C", "05321234566")])  # fmt: skip
    assert proc(*bulk(name, "--limit", "1", "--batch-size", "1")).exit_code == 0
    home.query("UPDATE messages SET recipient = '+905321234567' WHERE recipient = '+905321234566'")
    check = proc("ledger", "check")
    assert check.exit_code == 4, check.stdout + check.stderr
    assert "checksum" in check.stdout + check.stderr
    out = proc(*bulk(name, "--batch-size", "1"))
    assert out.exit_code == 4, out.stderr
    assert "damaged" in out.stderr and "ledger check" in out.stderr
    assert received(emulator)["+905321234567"] == 1
