"""Terminal manners (issue 16, the parts done so far): without a terminal (cron mail, CI
logs, `2>&1 | cat`) messages and hints are never hard-wrapped; flag values that make no sense
are refused."""

from __future__ import annotations


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
