"""``smscli send`` as a user calls it, on the sandbox (no network)."""

from __future__ import annotations

import sqlite3

import pytest

SANDBOX = ("--provider", "sandbox")


def ledger_rows(home):
    with sqlite3.connect(home.ledger) as db:
        return db.execute(
            "SELECT recipient, state, text, segments FROM messages ORDER BY id"
        ).fetchall()


def test_send_to_one_number(cli, home):
    out = cli("send", "05321234567", "-m", "Merhaba", *SANDBOX)
    assert out.exit_code == 0, out.stderr
    assert "+905321234567" in out.stdout
    assert "accepted" in out.stdout
    assert "999 credits remaining" in out.stdout
    assert ledger_rows(home) == [("+905321234567", "accepted", "Merhaba", 1)]


def test_json_document_follows_the_contract(cli):
    out = cli("send", "0532 123 45 67,05321112233", "-m", "hi", "--json", *SANDBOX)
    doc = out.json()
    assert out.exit_code == 0
    assert {
        k: doc[k] for k in ("provider", "dry_run", "total", "accepted", "failed", "unknown")
    } == {
        "provider": "sandbox",
        "dry_run": False,
        "total": 2,
        "accepted": 2,
        "failed": 0,
        "unknown": 0,
    }
    assert doc["credits_remaining"] == 998
    assert [r["to"] for r in doc["results"]] == ["+905321234567", "+905321112233"]
    assert all(r["message_id"].startswith("sbx-") and r["segments"] == 1 for r in doc["results"])
    assert out.stderr == ""


def test_duplicates_are_dropped_and_reported(cli, home):
    out = cli("send", "05321234567", "+90 532 123 45 67", "-m", "x", "--json", *SANDBOX)
    doc = out.json()
    assert (doc["total"], doc["accepted"], doc["duplicate"], doc["skipped"]) == (2, 1, 1, 1)
    # One result for every entry: the duplicate is skipped, and says whose duplicate it is.
    assert doc["results"][1] == {
        "to": "+905321234567",
        "status": "skipped",
        "message_id": None,
        "segments": 0,
        "error": "duplicate of argument 1",
        "input": "+90 532 123 45 67",
        "source": "argument 2",
    }
    # The duplicate is recorded as skipped, as in bulk (one path for every message).
    assert [r[1] for r in ledger_rows(home)] == ["accepted", "skipped"]


def test_invalid_numbers_are_reported_not_sent_and_make_it_partial(cli, home):
    out = cli("send", "05321234567", "123", "-m", "x", *SANDBOX)
    assert out.exit_code == 1
    assert "invalid number: too short" in out.stdout
    assert [r[1] for r in ledger_rows(home)] == ["accepted", "invalid"]


def test_no_valid_recipient_is_exit_3_and_nothing_recorded(cli, home):
    out = cli("send", "12", "abc", "-m", "x", *SANDBOX)
    assert out.exit_code == 3
    assert "no valid recipient" in out.stderr
    assert not home.ledger.exists() or ledger_rows(home) == []


def test_dry_run_sends_nothing_and_shows_cost(cli, home):
    text = "Sayın müşterimiz, siparişiniz yola çıktı. " * 4
    out = cli("send", "05321234567,05321112233", "-m", text, "--dry-run", *SANDBOX)
    assert out.exit_code == 0, out.stderr
    assert "Dry run, nothing sent" in out.stdout
    assert "GSM-7+TR" in out.stdout
    assert "2 parts" in out.stdout
    assert "4 credits needed" in out.stdout
    assert not home.ledger.exists()


def test_dry_run_with_an_invalid_number_is_exit_3(cli):
    out = cli("send", "05321234567,1", "-m", "x", "--dry-run", "--json", *SANDBOX)
    assert out.exit_code == 3
    assert [r["status"] for r in out.json()["results"]] == ["would_send", "invalid"]


def test_numbers_from_stdin(cli):
    out = cli(
        "send", "-", "-m", "x", "--json", *SANDBOX, input="05321234567\n05321112233, 05321112234\n"
    )
    assert [r["source"] for r in out.json()["results"]] == [
        "stdin line 1",
        "stdin line 2",
        "stdin line 2",
    ]


def test_message_from_stdin_and_from_file(cli, home):
    out = cli("send", "05321234567", "-m", "-", "--json", *SANDBOX, input="line one\nline two\n")
    assert out.json()["message"]["characters"] == len("line one\nline two")
    (home.cwd / "msg.txt").write_text("\ufeffFrom a file\n", encoding="utf-8")
    out = cli("send", "05321234567", "--message-file", "msg.txt", *SANDBOX)
    assert out.exit_code == 0
    assert [r[2] for r in ledger_rows(home)][-1] == "From a file"


def test_stdin_cannot_hold_numbers_and_message(cli):
    out = cli("send", "-", "-m", "-", *SANDBOX, input="05321234567\n")
    assert out.exit_code == 2
    assert "stdin cannot hold both" in out.stderr


def test_numbers_from_a_csv_file(cli, home):
    (home.cwd / "people.csv").write_bytes(
        "Ad;GSM\nAyşe;0532 123 45 67\nAli;0532 111 22 33\n".encode("cp1254")
    )
    out = cli("send", "--file", "people.csv", "-m", "x", "--json", *SANDBOX)
    assert out.exit_code == 0, out.stderr
    assert [r["source"] for r in out.json()["results"]] == [
        "people.csv line 2",
        "people.csv line 3",
    ]


def test_missing_file_is_an_input_error(cli):
    out = cli("send", "--file", "nope.csv", "-m", "x", *SANDBOX)
    assert out.exit_code == 3
    assert "nope.csv" in out.stderr


@pytest.mark.parametrize(
    ("flags", "encoding", "parts"),
    [
        ((), "GSM-7+TR", 1),
        (("--no-tr",), "UCS-2", 1),
        (("--ascii",), "GSM-7", 1),
        (("--tr",), "GSM-7+TR", 1),
    ],
)
def test_turkish_mode_flags(cli, flags, encoding, parts):
    out = cli("send", "05321234567", "-m", "Şişli'de ılık", "--json", *flags, *SANDBOX)
    assert out.json()["message"] == {
        "encoding": encoding,
        "characters": 13,
        "segments": parts,
        "turkish_mode": encoding == "GSM-7+TR",
    }


def test_ascii_transliterates_what_is_sent(cli, home):
    cli("send", "05321234567", "-m", "Şişli çığ", "--ascii", *SANDBOX)
    assert ledger_rows(home)[0][2] == "Sisli cig"


def test_sandbox_magic_number_is_rejected(cli):
    out = cli("send", "05321230000", "-m", "x", "--json", *SANDBOX)
    assert out.exit_code == 6
    assert out.json()["results"][0]["error"] == "sandbox: rejected (numbers ending in 0000)"


def test_sandbox_credit_runs_out(cli, home):
    long_text = "x" * 153 * 200  # 200 parts
    for _ in range(4):
        assert cli("send", "05321234567", "-m", long_text, *SANDBOX).exit_code == 0
    out = cli("send", "05321234567,05321112233", "-m", long_text, *SANDBOX)
    # The balance is checked before anything leaves, as in bulk.
    assert out.exit_code == 5
    assert "the balance is 200 credits" in out.stderr and "nothing sent" in out.stderr
    assert [r[1] for r in ledger_rows(home)[4:]] == ["failed", "failed"]


def test_no_provider_configured_is_exit_4_and_never_the_sandbox(cli, home):
    out = cli("send", "05321234567", "-m", "x")
    assert out.exit_code == 4
    assert "no provider configured" in out.stderr
    assert "--provider sandbox" in out.stderr
    assert not home.ledger.exists()


def test_missing_credentials_are_exit_4_before_anything(cli, home):
    out = cli("send", "05321234567", "-m", "x", "--provider", "masgsm", "-s", "ACME")
    assert out.exit_code == 4
    assert "masgsm needs username" in out.stderr


def test_provider_without_turkish_mode_refuses_tr(cli, monkeypatch):
    monkeypatch.setenv("SMSCLI_API_KEY", "k-123456")
    out = cli("send", "05321234567", "-m", "ş", "--tr", "--provider", "customersms")
    assert out.exit_code == 2
    assert "customersms has no Turkish-character mode" in out.stderr


def test_turkish_only_provider_rejects_foreign_numbers_before_sending(cli, monkeypatch):
    monkeypatch.setenv("SMSCLI_API_KEY", "k-123456")
    out = cli(
        "send",
        "+12125551234",
        "-m",
        "x",
        "-s",
        "ACME",
        "--provider",
        "vairosms",
        "--dry-run",
        "--json",
    )
    assert out.exit_code == 3
    assert "vairosms sends only to Turkish mobile numbers" in out.stderr


def test_bad_sender_shape_is_refused(cli, monkeypatch):
    monkeypatch.setenv("SMSCLI_API_KEY", "k-123456")
    out = cli("send", "05321234567", "-m", "x", "-s", "ŞİRKET", "--provider", "vairosms")
    assert out.exit_code == 4
    assert "must not contain Turkish" in out.stderr


def test_no_message_is_a_usage_error(cli):
    out = cli("send", "05321234567", *SANDBOX)
    assert out.exit_code == 2
    assert "no message" in out.stderr


def test_sends_leave_no_lock_files_behind(cli, home):
    """A new send run can be found by no other command, so it takes no campaign lock: a cron
    job sending every day must not leave a file a day next to the ledger."""
    for _ in range(3):
        assert cli("send", "05321234567", "-m", "x", *SANDBOX).exit_code == 0
    locks = home.ledger.parent / "locks"
    assert not locks.exists() or list(locks.iterdir()) == []
