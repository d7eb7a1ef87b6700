"""``smscli history`` and ``smscli history show RUN``: runs and their messages from the ledger
(on the sandbox, no network)."""

from __future__ import annotations

import pytest

SANDBOX = ("--provider", "sandbox")
LONG = "x" * 200  # GSM-7, 2 parts


def send(cli, numbers: str, text: str = "hi", *args: str) -> dict:
    out = cli("send", numbers, "-m", text, "--json", *SANDBOX, *args)
    assert out.exit_code in (0, 1), out.stderr
    return out.json()


def test_no_ledger_yet_lists_nothing_and_creates_nothing(cli, home):
    out = cli("history")
    assert out.exit_code == 0
    assert "No runs in the ledger" in out.stdout
    doc = cli("history", "--json").json()
    assert (doc["command"], doc["ledger"], doc["runs"], doc["exit_code"]) == (
        "history",
        str(home.ledger),
        [],
        0,
    )
    assert not home.ledger.exists()


def test_history_counts_parts_and_credits(cli, home):
    """Three numbers, two parts each: one accepted, one rejected by the provider (0000), one
    invalid. After a report the accepted ones are delivered/undelivered."""
    run = send(cli, "05321234567,05321230001,05321230000,123", LONG)["run_id"]
    (doc,) = cli("history", "--json").json()["runs"]
    assert doc["run_id"] == run
    assert (doc["provider"], doc["command"], doc["profile"], doc["status"]) == (
        "sandbox", "send", None, "complete",
    )  # fmt: skip
    assert doc["counts"] == {"accepted": 2, "failed": 1, "invalid": 1}
    assert doc["total"] == 4
    assert doc["parts"] == 6  # the invalid number has no parts; the rejected one had 2
    assert doc["credits_used"] == 4
    assert doc["credits_remaining"] == 996
    cli("report", *SANDBOX)  # the sandbox's first report: pending
    cli("report", *SANDBOX)
    (after,) = cli("history", "--json").json()["runs"]
    assert after["counts"] == {"delivered": 1, "undelivered": 1, "failed": 1, "invalid": 1}
    assert after["credits_used"] == 4
    human = cli("history")
    assert run in human.stdout
    assert "1 delivered, 1 failed, 1 invalid, 1 undelivered" in human.stdout


def test_most_recent_first_and_limit(cli, home):
    runs = [send(cli, f"0532123456{i}")["run_id"] for i in range(3)]
    listed = [r["run_id"] for r in cli("history", "--json").json()["runs"]]
    assert listed == runs[::-1]
    limited = [r["run_id"] for r in cli("history", "--limit", "2", "--json").json()["runs"]]
    assert limited == runs[:0:-1]
    assert cli("history", "-n", "0").exit_code == 2


def test_filters_by_provider_and_profile(cli, home):
    home.write_config(
        '[profiles.rehearse]\nprovider = "sandbox"\n[profiles.other]\nprovider = "sandbox"\n'
    )
    mine = send(cli, "05321234567", "hi", "-p", "rehearse")["run_id"]
    send(cli, "05321234568")
    by_profile = cli("history", "-p", "rehearse", "--json").json()["runs"]
    assert [r["run_id"] for r in by_profile] == [mine]
    assert len(cli("history", "--provider", "sandbox", "--json").json()["runs"]) == 2
    assert cli("history", "--provider", "masgsm", "--json").json()["runs"] == []


@pytest.mark.parametrize("prefix", [False, True])
def test_show_lists_the_runs_messages(cli, home, prefix):
    doc = send(cli, "05321234567,05321230000,123", "hi")
    run = doc["run_id"]
    out = cli("history", "show", run[:-1] if prefix else run, "--json")
    assert out.exit_code == 0, out.stderr
    shown = out.json()
    assert shown["run"]["run_id"] == run
    assert shown["run"]["counts"] == {"accepted": 1, "failed": 1, "invalid": 1}
    assert [(m["to"], m["status"], m["segments"]) for m in shown["messages"]] == [
        ("+905321234567", "accepted", 1),
        ("+905321230000", "failed", 1),
        (None, "invalid", 0),
    ]
    assert shown["messages"][0]["message_id"] == doc["results"][0]["message_id"]
    assert "invalid number" in shown["messages"][2]["error"]
    assert shown["messages"][0]["text"] == "hi"
    human = cli("history", "show", run)
    assert f"Run {run} · send · sandbox" in human.stdout
    assert "1 accepted, 1 failed, 1 invalid · 2 parts · 1 credit used" in human.stdout


def test_show_includes_report_details(cli, home):
    run = send(cli, "05321230001")["run_id"]
    cli("report", *SANDBOX)  # the sandbox's first report: pending
    cli("report", *SANDBOX)
    (message,) = cli("history", "show", run, "--json").json()["messages"]
    assert message["status"] == "undelivered"
    assert message["report"] == "undelivered: sandbox: magic number ...0001"
    assert message["reported_at"]


def test_show_unknown_or_ambiguous_run(cli, home):
    assert cli("history", "show", "nosuch").exit_code == 3  # no ledger at all
    first = send(cli, "05321234567")["run_id"]
    send(cli, "05321234568")
    missing = cli("history", "show", "nosuch")
    assert missing.exit_code == 3
    assert "no run 'nosuch'" in missing.stderr
    ambiguous = cli("history", "show", first[:4])
    assert ambiguous.exit_code == 2
    assert "ambiguous" in ambiguous.stderr


def test_quiet_prints_nothing(cli, home):
    run = send(cli, "05321234567")["run_id"]
    assert cli("history", "-q").stdout == ""
    assert cli("history", "show", run, "-q").stdout == ""
