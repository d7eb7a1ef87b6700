"""Terminal manners (issue 16): without a terminal (cron mail, CI logs, `2>&1 | cat`)
messages and hints are never hard-wrapped; flag values that make no sense are refused; data
cannot drive the terminal; counts read right; times say their zone; a table too wide says what
it left out; shell completion is on."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.test_tty import read_until


def test_errors_and_hints_are_not_hard_wrapped_without_a_terminal(proc, home):
    long = "x" * 30
    home.write_config(f'[profiles.{long}]\nprovider = "sandbox"\n')
    out = proc("send", "05321234567", "-m", "hi", "-p", "nosuch" + long, COLUMNS="")
    assert out.exit_code == 4, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 2, out.stderr  # the message and its hint, each on one line
    assert f"is not defined in {home.config}" in lines[0]
    assert f"defined profiles: {long}" in lines[1]


def test_a_warning_with_a_long_path_stays_on_one_line(proc, home):
    dotenv = home.cwd / ".env"
    dotenv.write_text("SMSCLI_PROVIDER=sandbox\nSMSCLI_API_KEY=k3y-long-enough\n")
    dotenv.chmod(0o644)
    out = proc("send", "05321234567", "-m", "hi", "--dry-run", COLUMNS="")
    assert out.exit_code == 0, out.stderr
    (warning,) = [line for line in out.stderr.splitlines() if "readable by other" in line]
    assert warning.endswith(f"run: chmod 600 {dotenv}")


def test_a_negative_max_wait_is_refused(proc, home):
    for command in (("send", "05321234567", "-m", "hi"), ("report",)):
        out = proc(*command, "--provider", "sandbox", "--max-wait", "-5")
        assert out.exit_code == 2, (command, out.stderr)
        assert "--max-wait" in out.stderr and "-5" in out.stderr


def test_send_file_dash_reads_the_csv_from_stdin(proc, home):
    csv = "ad;telefon\nAyşe;0532 123 45 67\nAli;05321112233\n"
    out = proc("send", "--file", "-", "-m", "hi", "--provider", "sandbox", "--json", input=csv)
    assert out.exit_code == 0, out.stderr
    assert [r["to"] for r in out.json()["results"]] == ["+905321234567", "+905321112233"]
    out = proc("send", "--file", "-", "-m", "-", "--provider", "sandbox", input=csv)
    assert out.exit_code == 2
    assert "stdin holds one thing" in out.stderr


def test_history_names_the_filter_that_found_nothing(proc, home):
    assert proc("send", "05321234567", "-m", "hi", "--provider", "sandbox").exit_code == 0
    out = proc("history", "-p", "nosuch")
    assert out.exit_code == 0, out.stderr
    assert f"No runs of profile 'nosuch' in the ledger {home.ledger}" in out.stdout
    out = proc("history", "--provider", "masgsm", "-p", "x")
    assert "No runs of profile 'x' and provider 'masgsm'" in out.stdout


ESC_CSV = "telefon,ad\n05321112233,\x1b]0;pwned\x07\x1b[31mRED\x1b[0m\u202eevil\n"


def test_control_characters_from_data_are_escaped_in_a_pipe(proc, home):
    (home.cwd / "esc.csv").write_text(ESC_CSV, encoding="utf-8")
    out = proc("bulk", "esc.csv", "-m", "hi {ad}", "--dry-run", "--provider", "sandbox")
    assert out.exit_code == 0, out.stderr
    assert "\x1b" not in out.stdout and "\x07" not in out.stdout and "\u202e" not in out.stdout
    # ESC and the bidi override are written as escapes (rich itself drops BEL, BS and CR).
    assert "hi \\x1b]0;pwned\\x1b[31mRED\\x1b[0m\\u202eevil" in out.stdout


def test_control_characters_from_data_are_escaped_on_a_terminal(home):
    (home.cwd / "esc.csv").write_text(ESC_CSV, encoding="utf-8")
    master, slave = pty.openpty()
    args = ("bulk", "esc.csv", "-m", "hi {ad}", "--dry-run", "--provider", "sandbox")
    child = subprocess.Popen(
        [sys.executable, "-m", "smscli", *args],
        stdin=slave, stdout=slave, stderr=slave, cwd=home.cwd, env=home.env(), close_fds=True,
    )  # fmt: skip
    os.close(slave)
    try:
        seen = read_until(master, b"Dry run")
        seen += read_until(master, b"evil")
    finally:
        child.wait(timeout=60)
        os.close(master)
    assert b"pwned" in seen and b"\x1b]0;" not in seen and b"\x07" not in seen
    assert b"\\x1b]0;pwned\\x1b[31mRED" in seen


def test_counts_read_right_in_the_singular(proc, home):
    out = proc("send", "05321234567", "-m", "hi", "--provider", "sandbox", "--dry-run")
    assert "1 credit needed" in out.stdout and "1 credits" not in out.stdout
    (home.cwd / "one.csv").write_text("telefon\n05321234567\n", encoding="utf-8")
    out = proc("bulk", "one.csv", "-m", "hi", "--provider", "sandbox", "--yes")
    assert out.exit_code == 0, out.stderr
    assert "1 request this time" in out.stdout and "1 requests" not in out.stdout


def test_local_times_say_their_zone(proc, home):
    assert proc("send", "05321234567", "-m", "hi", "--provider", "sandbox").exit_code == 0
    run = proc("history", "--json").json()["runs"][0]["run_id"]
    out = proc("history", "show", run, TZ="Europe/Istanbul")
    (line,) = [x for x in out.stdout.splitlines() if x.startswith(f"Run {run}")]
    assert line.split(" · ")[3].endswith(" +03"), line
    out = proc("history", "show", run, TZ="UTC")
    assert " UTC" in out.stdout


def test_a_table_too_wide_says_what_it_left_out(proc, home):
    (home.cwd / "a-long-file-name-for-the-source-column.csv").write_text(
        "telefon\n05321234567\n", encoding="utf-8"
    )
    args = ("bulk", "a-long-file-name-for-the-source-column.csv", "-m", "x", "--yes")
    assert proc(*args, "--provider", "sandbox").exit_code == 0
    wide = proc("history", COLUMNS="200")
    assert "a-long-file-name" in wide.stdout and "not shown" not in wide.stdout
    narrow = proc("history", COLUMNS="60")
    assert "(not shown at 60 columns: Source" in narrow.stdout
    table = narrow.stdout.split("(not shown")[0].splitlines()
    assert table and all(len(line) <= 60 for line in table)
    # Lines of text are not folded in a pipe: each can be pasted whole.
    assert any(line.endswith("shows everything)") for line in narrow.stdout.splitlines())
    assert "Credits" in narrow.stdout  # the last column is never cut off


def test_contradicting_flags_are_refused(proc, home):
    out = proc("send", "05321234567", "-m", "hi", "--tr", "--no-tr", "--provider", "sandbox")
    assert out.exit_code == 2
    assert "--tr and --no-tr contradict each other" in out.stderr
    # A text that reads like a flag is a text.
    out = proc("send", "05321234567", "-m", "--tr", "--no-tr", "--provider", "sandbox", "--dry-run")
    assert out.exit_code == 0, out.stderr


def test_shell_completion_is_on(proc, home):
    assert "--install-completion" in proc("--help").stdout
    env = {"_SMSCLI_COMPLETE": "complete_bash", "COMP_WORDS": "smscli se", "COMP_CWORD": "1"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("smscli"))],  # the name completion is keyed on
        capture_output=True, text=True, env=home.env(**env), cwd=home.cwd, check=False,
    )  # fmt: skip
    assert "send" in done.stdout.split(), done.stderr
