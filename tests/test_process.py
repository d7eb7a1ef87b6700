"""smscli as a real process: exit codes, stdin, --help/--version, signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.emulator import Emulator

BOTH_BACKENDS = True


def test_version_and_help(proc):
    from smscli import __version__

    assert proc("--version").stdout.strip() == f"smscli {__version__}"
    out = proc("--help")
    assert out.exit_code == 0
    assert "send" in out.stdout and "profiles" in out.stdout


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (("send", "05321234567", "-m", "hi", "--provider", "sandbox"), {}, 0),
        (("send", "05321234567", "05321230000", "-m", "hi", "--provider", "sandbox"), {}, 1),
        (("send", "05321234567", "-m", "hi", "--bogus"), {}, 2),
        (("send", "12", "-m", "hi", "--provider", "sandbox"), {}, 3),
        (("send", "05321234567", "-m", "hi"), {}, 4),
        (("send", "05321234567", "-m", "hi"), {"SMSCLI_PROVIDER": "nosuch"}, 2),
        (("send", "05321230000", "-m", "hi", "--provider", "sandbox"), {}, 6),
    ],
)
def test_exit_codes(proc, args, env, code):
    out = proc(*args, **env)
    assert out.exit_code == code, out.stderr


def test_exit_7_when_outcome_unknown(proc, emulator):
    emulator.inject("masgsm", "drop-after-processing")
    out = proc(
        "send", "05321234567", "-m", "hi", "-s", "ACME",
        SMSCLI_PROVIDER="masgsm", SMSCLI_USERNAME=Emulator.MASGSM_USER,
        SMSCLI_PASSWORD=Emulator.MASGSM_PASS, SMSCLI_BASE_URL=emulator.base_url("masgsm"),
    )  # fmt: skip
    assert out.exit_code == 7, out.stderr
    assert "unknown" in out.stdout


def test_numbers_and_json_through_pipes(proc):
    out = proc("send", "-", "-m", "hi", "--provider", "sandbox", "--json", input="05321234567\n")
    assert out.exit_code == 0
    assert '"accepted": 1' in out.stdout
    assert out.stderr == ""


def test_no_colour_codes_when_not_a_terminal(proc):
    out = proc("send", "05321234567,1", "-m", "hi", "--provider", "sandbox")
    assert "\x1b[" not in out.stdout + out.stderr


def test_dotenv_in_working_directory_configures_the_provider(proc, home):
    (home.cwd / ".env").write_text("SMSCLI_PROVIDER=sandbox\n")
    assert proc("send", "05321234567", "-m", "hi").exit_code == 0


def test_sigterm_mid_request_settles_the_ledger(home, emulator):
    """A cron timeout kills smscli while a request is on the wire: the message is recorded
    as unknown (never pending or sending), and nothing is re-sent. (In-flight requests get
    5 s to answer after an interrupt; this one takes longer.)"""
    emulator.latency = 30
    child = subprocess.Popen(
        [sys.executable, "-m", "smscli", "send", "05321234567", "-m", "hi", "-s", "ACME"],
        cwd=home.cwd,
        env=home.env(
            SMSCLI_PROVIDER="vairosms",
            SMSCLI_API_KEY=Emulator.VAIROSMS_KEY,
            SMSCLI_BASE_URL=emulator.base_url("vairosms"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while not emulator.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emulator.requests, "the request never arrived"
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=20)
    assert child.returncode == 7, stderr
    rows = home.query("SELECT state, error FROM messages")
    assert rows == [("unknown", "interrupted while the request was on the wire")]
    assert "interrupted" in stdout
