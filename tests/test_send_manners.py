"""What a send promises besides its recipients, through the real CLI: a closed stdout never
changes the exit code, Turkish mode is never dropped, bytes that are not text are refused in a
dry run as in a send, and nothing leaves outside the hours the user gave."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from smscli.timing import SendWindow, parse_duration
from tests.test_bulk import PEOPLE, TEMPLATE, states, write_csv

# --- output is not the outcome --------------------------------------------------------------


def _piped(home, emulator, command: str, reader: str) -> tuple[int, str]:
    """``smscli COMMAND | READER`` in a shell: smscli's own exit code, and its stderr."""
    home.write_config(emulator.profiles())
    smscli = f"{sys.executable} -m smscli"
    done = subprocess.run(
        ["bash", "-c", f"{smscli} {command} | {reader}; exit ${{PIPESTATUS[0]}}"],
        cwd=home.cwd, env=home.env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("command", "reader"),
    [
        ("send 05321234567 -m hi -p vs --json", "true"),
        ("send 05321234567 05321112233 -m hi -p vs", "head -c 1"),
        ("bulk musteriler.csv -m '{Ad Soyad}' -p vs --yes --json", "true"),
    ],
)
def test_a_closed_stdout_keeps_the_exit_code_the_sending_earned(home, emulator, command, reader):
    write_csv(home, PEOPLE)
    # a reader that exits before smscli writes: a long-enough output makes sure of the EPIPE
    code, stderr = _piped(home, emulator, command, f"{reader} >/dev/null")
    assert code == 0, stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    assert len(emulator.received) >= 1


@pytest.mark.parametrize("reader", ["true", "head -c 1"])
def test_history_into_a_closed_pipe_exits_0(home, emulator, proc, reader):
    for i in range(3):
        assert proc("send", "05321234567", "-m", f"hi {i}", "--provider", "sandbox").exit_code == 0
    code, stderr = _piped(home, emulator, "history", reader)
    assert code == 0, stderr
    assert stderr == ""


# --- Turkish mode -----------------------------------------------------------------------------


def _mas_form(emulator) -> dict[str, str]:
    (req,) = [r for r in emulator.requests if r.form and r.form.get("type") == "0"]
    return req.form


@pytest.mark.parametrize(
    ("text", "flags", "sent"),
    [
        ("Sayın müşterimiz 🎉", (), True),  # UCS-2 for the emoji, Turkish letters all the same
        ("Kâğıt siparişiniz hazır", (), True),  # â: UCS-2
        ("Hello 🎉", (), False),  # UCS-2 without a Turkish letter
        ("Hello 🎉", ("--tr",), True),  # asked: always sent
        ("Ümit Öz", (), False),  # Ü Ö are in GSM-7's default alphabet: no flag needed
        ("Sayın müşterimiz 🎉", ("--no-tr",), False),
    ],
)
def test_turkish_mode_goes_with_turkish_letters_whatever_the_encoding(
    cli, home, emulator, text, flags, sent
):
    home.write_config(emulator.profiles())
    out = cli("send", "05321234567", "-m", text, "-p", "mas", "--json", *flags)
    assert out.exit_code == 0, out.stderr
    assert (_mas_form(emulator).get("lang") == "tr") is sent
    assert out.json()["message"]["turkish_mode"] is sent
    out = cli("send", "05321234567", "-m", text, "-p", "vs", *flags)
    assert out.exit_code == 0, out.stderr
    bodies = [json.loads(r.body) for r in emulator.requests if r.path.endswith("/SmsGonder")]
    assert (bodies[-1].get("tr_char") is True) is sent
    assert all(r.turkish is sent for r in emulator.received)


def test_bulk_keeps_turkish_mode_for_ucs2_rows(cli, home, emulator):
    home.write_config(emulator.profiles())
    path = write_csv(home, PEOPLE, encoding="utf-8").name
    out = cli("bulk", path, "-m", "Sayın {Ad Soyad} 🎉", "-p", "mas", "--yes")
    assert out.exit_code == 0, out.stderr
    forms = [r.form for r in emulator.requests if r.form and r.form.get("type") in ("0", "1")]
    assert forms and all(f.get("lang") == "tr" for f in forms)
    assert all(r.turkish for r in emulator.received)


# --- bytes that are not text ----------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_windows_1254_message_argument_is_refused_before_anything_leaves(home, emulator, dry_run):
    home.write_config(emulator.profiles())
    args = [sys.executable.encode(), b"-m", b"smscli", b"send", b"05321234567", b"-m",
            b"Merhaba \xfe\xfd", b"-p", b"vs"] + ([b"--dry-run"] if dry_run else [])  # fmt: skip
    env = {k.encode(): v.encode() for k, v in home.env(LC_ALL="C.UTF-8").items()}
    done = subprocess.run(args, cwd=home.cwd, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr  # refused with every other argument (issue 18)
    err = done.stderr.decode()
    assert "argument 4 (after -m) is not valid UTF-8 text: byte 0xfe at byte 9" in err
    assert emulator.requests == []


def test_a_windows_1254_bulk_template_is_refused(home, emulator):
    home.write_config(emulator.profiles())
    write_csv(home, PEOPLE)
    args = [sys.executable.encode(), b"-m", b"smscli", b"bulk", b"musteriler.csv", b"-m",
            b"Say\xfdn {Ad Soyad}", b"-p", b"vs", b"--yes"]  # fmt: skip
    env = {k.encode(): v.encode() for k, v in home.env(LC_ALL="C.UTF-8").items()}
    done = subprocess.run(args, cwd=home.cwd, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert b"argument 4 (after -m) is not valid UTF-8 text: byte 0xfd at byte 4" in done.stderr
    assert emulator.requests == []


# --- the hours ------------------------------------------------------------------------------


def _closed_window() -> str:
    """A send window that opens in two hours and closes an hour later (local time)."""
    start = datetime.now() + timedelta(hours=2)
    end = start + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_send_outside_the_window_refuses_unless_now(cli, home, emulator):
    home.write_config(emulator.profiles(f'send_window = "{_closed_window()}"'))
    args = ("send", "05321234567", "-m", "Merhaba", "-p", "vs")
    out = cli(*args, "--idempotency-key", "w1")
    assert out.exit_code == 8
    assert "outside the send window" in out.stderr and "it opens at" in out.stderr
    assert "--now" in out.stderr
    assert emulator.requests == []
    out = cli(*args, "--now", "--idempotency-key", "w1")  # the refused send kept no key
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == 1


def test_bulk_outside_the_window_stops_saying_when_it_opens(cli, home, emulator):
    home.write_config(emulator.profiles(f'send_window = "{_closed_window()}"'))
    path = write_csv(home, PEOPLE).name
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes")
    assert out.exit_code == 8
    assert "it opens at" in out.stderr
    assert "run the same command again then" in out.stderr
    assert emulator.received == []
    assert states(home) == {"pending": 3}  # planned, ready to resume when the window opens


def test_not_before_in_the_future_sends_nothing(cli, home, emulator):
    home.write_config(emulator.profiles())
    later = (datetime.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    out = cli("bulk", write_csv(home, PEOPLE).name, "-m", TEMPLATE, "-p", "vs", "--yes",
              "--not-before", later)  # fmt: skip
    assert out.exit_code == 8
    assert "--not-before" in out.stderr
    assert emulator.received == []


def test_not_after_already_past_is_said_in_a_dry_run_too(cli, home, emulator):
    home.write_config(emulator.profiles())
    out = cli("bulk", write_csv(home, PEOPLE).name, "-m", TEMPLATE, "-p", "vs", "--dry-run",
              "--not-after", "2000-01-01T00:00")  # fmt: skip
    assert out.exit_code == 8
    assert "is already past" in out.stderr


def test_a_bad_send_window_is_a_configuration_error(cli, home, emulator):
    home.write_config(emulator.profiles('send_window = "9-20"'))
    out = cli("send", "05321234567", "-m", "hi", "-p", "vs")
    assert out.exit_code == 4
    assert "send_window must look like 09:00-20:00" in out.stderr


@pytest.mark.parametrize(
    ("window", "clock", "is_open", "change"),
    [
        ("09:00-20:00", "2026-11-30 08:59", False, "2026-11-30 09:00"),
        ("09:00-20:00", "2026-11-30 09:00", True, "2026-11-30 20:00"),
        ("09:00-20:00", "2026-11-30 20:00", False, "2026-12-01 09:00"),
        ("22:00-06:00", "2026-11-30 23:30", True, "2026-12-01 06:00"),
        ("22:00-06:00", "2026-11-30 05:00", True, "2026-11-30 06:00"),
        ("22:00-06:00", "2026-11-30 12:00", False, "2026-11-30 22:00"),
        ("00:00-24:00", "2026-11-30 12:00", True, "2026-12-01 00:00"),
    ],
)
def test_send_window_edges(window, clock, is_open, change):
    at = datetime.fromisoformat(clock).timestamp()
    got_open, got_change = SendWindow.parse(window).next_change(at)
    assert got_open is is_open
    assert datetime.fromtimestamp(got_change) == datetime.fromisoformat(change)


@pytest.mark.parametrize(
    ("text", "seconds"), [("24h", 86400), ("90m", 5400), ("2d", 172800), ("0", 0), (3600, 3600)]
)
def test_durations(text, seconds):
    assert parse_duration(text, "repeat_window") == seconds


def test_tz_is_named_in_times(cli, home, emulator, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Istanbul")
    if hasattr(__import__("time"), "tzset"):
        __import__("time").tzset()
    try:
        home.write_config(emulator.profiles())
        out = cli("bulk", write_csv(home, PEOPLE).name, "-m", TEMPLATE, "-p", "vs", "--yes",
                  "--not-after", "2026-01-01T00:00")  # fmt: skip
        assert "--not-after 2026-01-01 00:00 +03 is already past" in out.stderr
    finally:
        monkeypatch.delenv("TZ")
        __import__("time").tzset()


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_windows_1254_message_on_stdin_is_refused(home, emulator, dry_run):
    home.write_config(emulator.profiles())
    args = [sys.executable, "-m", "smscli", "send", "05321234567", "-m", "-", "-p", "vs"]
    done = subprocess.run(
        args + (["--dry-run"] if dry_run else []), input=b"Merhaba \xfe\xfd\n", cwd=home.cwd,
        env=home.env(), capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert b"the message on stdin is not valid text: byte 0xfe at byte 9" in done.stderr
    assert emulator.requests == []


def test_a_utf8_message_on_stdin_is_sent_whatever_the_locale(home, emulator):
    home.write_config(emulator.profiles())
    done = subprocess.run(
        [sys.executable, "-m", "smscli", "send", "05321234567", "-m", "-", "-p", "vs"],
        input="Günaydın\n".encode(), cwd=home.cwd, env=home.env(LC_ALL="C", PYTHONUTF8="0"),
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r.text for r in emulator.received] == ["Günaydın"]
