"""The sandbox teaches the real flow (issue 16): it checks the sender header as vairosms and
masgsm do, gives one id per request like them, and reports ``pending`` before a final state,
all through the real CLI."""

from __future__ import annotations

SANDBOX = ("--provider", "sandbox")
OK, STAYS, REJECTED = "+905321234567", "+905321230001", "+905321230000"
"""A number that ends delivered, one that ends undelivered (0001), one refused at sending."""
THREE = "05321234567,05321230001,05321230000"


def sent(run, numbers: str = THREE, *args: str) -> dict:
    out = run("send", numbers, "-m", "hi", "--json", *SANDBOX, *args)
    assert out.exit_code in (0, 1), out.stderr
    return out.json()


def ledger(cli, run_id: str) -> list[tuple[str, str, str | None, str | None]]:
    """``(to, state, message id, report)`` of every message of the run, from the ledger."""
    shown = cli("history", "show", run_id, "--json")
    assert shown.exit_code == 0, shown.stderr
    return [(m["to"], m["status"], m["message_id"], m["report"]) for m in shown.json()["messages"]]


# --- the sender header ----------------------------------------------------------------------


def test_an_unknown_header_is_refused_like_a_real_provider(proc, cli):
    out = proc("send", "05321234567", "-m", "hi", "--sender", "ACME", *SANDBOX)
    assert out.exit_code == 4, out.stderr
    assert "sandbox rejected the sender header (başlık) 'ACME'" in out.stderr
    assert "--sender SMSCLI" in out.stderr  # the hint
    as_json = proc("send", THREE, "-m", "hi", "--sender", "ACME", "--json", *SANDBOX)
    assert as_json.exit_code == 4
    doc = as_json.json()
    assert doc["accepted"] == 0 and doc["credits_remaining"] is None
    assert all("'ACME'" in r["error"] and r["message_id"] is None for r in doc["results"])
    balance = cli("balance", *SANDBOX, "--json").json()
    assert balance["credits"] == 1000  # nothing was sent


def test_the_quick_start_sends_with_the_first_header(proc, cli):
    out = proc("send", "0532 123 45 67", "-m", "Merhaba", *SANDBOX)
    assert out.exit_code == 0, out.stderr
    assert "warning" not in out.stderr
    (run,) = cli("history", "--json").json()["runs"]
    assert run["sender"] == "SMSCLI"


def test_a_known_header_is_sent_with_and_recorded(cli):
    doc = sent(cli, "05321234567", "--sender", "SANDBOX")
    assert doc["accepted"] == 1
    (run,) = cli("history", "--json").json()["runs"]
    assert run["sender"] == "SANDBOX"


def test_the_headers_command_lists_what_the_send_accepts(cli, home):
    home.write_config('[profiles.s]\nprovider = "sandbox"\nsender = "ACME"\n')
    out = cli("headers", "-p", "s", "--json")
    assert [h["name"] for h in out.json()["headers"]] == ["SMSCLI", "SANDBOX"]
    assert "'ACME' is not among these headers" in out.stderr
    assert cli("send", "05321234567", "-m", "hi", "-p", "s").exit_code == 4


# --- one id per request ---------------------------------------------------------------------


def test_every_message_of_a_request_shares_its_id(cli):
    doc = sent(cli, "05321234567,05321234568,05321234569")
    ids = {r["message_id"] for r in doc["results"]}
    assert len(ids) == 1 and next(iter(ids)).startswith("sbx-")
    other = sent(cli, "05321234560")
    assert other["results"][0]["message_id"] not in ids  # a new request, a new id
    shown = cli("history", "show", doc["run_id"], "--json").json()["messages"]
    assert {(m["message_id"], m["batch_id"]) for m in shown} == {(ids.pop(),) * 2}


def test_one_id_per_request_not_per_run(cli, home):
    home.write_config('[profiles.small]\nprovider = "sandbox"\nbatch_size = 2\n')
    doc = sent(cli, "05321234567,05321234568,05321234569", "-p", "small")
    first, second, third = (r["message_id"] for r in doc["results"])
    assert first == second != third


def test_a_number_refused_at_sending_has_no_id(cli):
    doc = sent(cli)
    assert [(r["status"], r["message_id"] is None) for r in doc["results"]] == [
        ("accepted", False),
        ("accepted", False),
        ("failed", True),
    ]


# --- reports: pending first, then final -----------------------------------------------------


def test_report_is_pending_first_then_final_in_the_ledger(proc, cli):
    run_id = sent(proc)["run_id"]
    first = proc("report", *SANDBOX, "--json")
    assert first.exit_code == 0, first.stderr
    assert [(r["to"], r["status"], r["reported"]) for r in first.json()["results"]] == [
        (OK, "accepted", "pending"),
        (STAYS, "accepted", "pending"),
        (REJECTED, "failed", None),  # refused when sending: never asked about
    ]
    assert first.json()["counts"] == {"accepted": 2, "failed": 1}
    assert [(to, state, report) for to, state, _, report in ledger(cli, run_id)][:2] == [
        (OK, "accepted", "pending: sandbox: sending (a later report gives the final state)"),
        (STAYS, "accepted", "pending: sandbox: sending (a later report gives the final state)"),
    ]
    second = proc("report", *SANDBOX, "--json")
    assert second.exit_code == 0, second.stderr
    assert [(r["status"], r["reported"]) for r in second.json()["results"]] == [
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", None),
    ]
    assert [(to, state) for to, state, _, _ in ledger(cli, run_id)] == [
        (OK, "delivered"),
        (STAYS, "undelivered"),
        (REJECTED, "failed"),
    ]
    (run,) = cli("history", "--json").json()["runs"]
    assert run["counts"] == {"delivered": 1, "undelivered": 1, "failed": 1}
    third = proc("report", *SANDBOX, "--json").json()
    assert [r["reported"] for r in third["results"]] == ["delivered", "undelivered", None]


def test_report_by_message_id_shows_pending_then_final_on_the_terminal(cli):
    message_id = sent(cli, "05321234567")["results"][0]["message_id"]
    first = cli("report", message_id, *SANDBOX)
    assert first.exit_code == 0, first.stderr
    assert "accepted (pending)" in first.stdout
    second = cli("report", message_id, *SANDBOX)
    assert "delivered" in second.stdout and "pending" not in second.stdout


def test_each_request_has_its_own_first_report(cli):
    old = sent(cli, "05321234567")
    cli("report", *SANDBOX)
    cli("report", *SANDBOX)
    new = sent(cli, "05321234568")
    both = [r["results"][0]["message_id"] for r in (old, new)]
    doc = cli("report", *both, *SANDBOX, "--json").json()
    assert sorted((r["to"], r["reported"]) for r in doc["results"]) == [
        ("+905321234567", "delivered"),
        ("+905321234568", "pending"),
    ]


def test_a_large_request_is_pending_in_every_chunk_of_one_report(cli):
    """More numbers than one report call asks about: the whole request is pending at first."""
    numbers = ",".join(f"053212{i:05d}" for i in range(2, 252))
    assert sent(cli, numbers)["accepted"] == 250
    first = cli("report", *SANDBOX, "--json").json()
    assert first["reported"] == {"pending": 250}
    assert cli("report", *SANDBOX, "--json").json()["counts"] == {"delivered": 250}
