"""Never the wrong message to the wrong person, through the real CLI against the emulator: the
opt-out list, a run's identity across a key rotation, the repeat guard, idempotency keys, the
failed-rows CSV, and the hours at which nothing leaves."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from tests.emulator import Emulator
from tests.test_bulk import PEOPLE, TEMPLATE, states, write_csv

BOTH_BACKENDS = True
NUMBERS = ["+905321234567", "+905321112233", "+905334445566"]


def optout(cli, *args: str):
    return cli("optout", *args)


def received(emu: Emulator) -> Counter[str]:
    return Counter(r.to for r in emu.received)


def runs(home) -> list[tuple]:
    return home.query("SELECT id, options, account FROM runs ORDER BY created_at")


LEDGER_TABLES = {"runs", "messages", "provider_state", "optouts", "idempotency_keys"}


def ledger_text(home) -> str:
    """Everything the ledger holds: the file's bytes (SQLite), or every column of every table
    of its schema as text (PostgreSQL)."""
    if home.backend == "sqlite":
        return home.ledger.read_bytes().decode("latin-1")
    columns = home.query(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    assert {table for table, _ in columns} >= LEDGER_TABLES
    return "\n".join(
        str(value)
        for table, column in columns
        for (value,) in home.query(f'SELECT "{column}"::text FROM "{table}"')
    )


# --- the opt-out list -----------------------------------------------------------------------


def test_optout_add_import_remove_and_list(cli, home):
    out = optout(cli, "add", "0532 123 45 67", "+905321112233,12345", "--reason", "STOP reply")
    assert out.exit_code == 3  # one invalid; the others are on the list all the same
    assert "2 added, 0 already on the list, 1 invalid" in out.stdout
    assert "argument 2: '12345'" in out.stderr
    (home.cwd / "stop.csv").write_text(
        "Ad;Cep Telefonu\nAli;05321112233\nVeli;0533 444 55 66\nBoş;abc\n", encoding="utf-8"
    )
    out = optout(cli, "import", "stop.csv", "--json")
    assert out.exit_code == 3
    doc = out.json()
    assert doc["added"] == ["+905334445566"]
    assert doc["already_on_the_list"] == ["+905321112233"]
    assert doc["invalid"] == [{"raw": "abc", "where": "stop.csv line 4", "why": "no digits"}]
    listed = optout(cli, "list", "--json").json()
    assert listed["total"] == 3
    by_number = {o["number"]: o for o in listed["optouts"]}
    assert by_number["+905321234567"]["reason"] == "STOP reply"
    assert by_number["+905321234567"]["source"] == "smscli optout add"
    assert by_number["+905334445566"]["source"] == "stop.csv line 3"
    added = datetime.fromisoformat(by_number["+905334445566"]["added_at"])
    assert added.utcoffset() is not None  # ISO 8601 with its offset
    assert abs(datetime.now(added.tzinfo) - added) < timedelta(minutes=5)
    out = optout(cli, "remove", "05321234567", "05559998877")
    assert out.exit_code == 0
    assert "1 removed, 1 not on the list, 0 invalid" in out.stdout
    out = optout(cli, "list")
    assert "+905321234567" not in out.stdout
    assert "2 numbers on the opt-out list" in out.stdout


def test_one_number_a_line_with_comments_imports(cli, home):
    (home.cwd / "stop.txt").write_text("# from the call centre\n0532 123 45 67\n\n05321112233\n")
    out = optout(cli, "import", "stop.txt")
    assert out.exit_code == 0, out.stderr
    assert "2 added" in out.stdout


def test_bulk_skips_opted_out_numbers_everywhere_it_counts(cli, home, emulator):
    home.write_config(emulator.profiles())
    path = write_csv(home, PEOPLE).name
    assert optout(cli, "add", "05321112233", "--reason", "asked").exit_code == 0
    preview = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--dry-run")
    assert preview.exit_code == 0
    assert any(line.split() == ["opted", "out", "1"] for line in preview.stdout.splitlines())
    assert "1 recipient on the opt-out list: skipped" in preview.stderr
    doc = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--dry-run", "--json").json()
    assert (doc["opted_out"], doc["would_send"]) == (1, 2)
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["opted_out"] == 1
    skipped = [r for r in doc["results"] if r["status"] == "skipped"]
    assert [r["to"] for r in skipped] == ["+905321112233"]
    assert skipped[0]["error"].startswith("opted out on 20")
    assert received(emulator) == Counter({"+905321234567": 1, "+905334445566": 1})


def test_a_number_opted_out_during_a_campaign_is_skipped_when_it_resumes(cli, home, emulator):
    home.write_config(emulator.profiles())
    path = write_csv(home, PEOPLE).name
    assert cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes", "--limit", "1").exit_code == 0
    assert optout(cli, "add", "+905334445566").exit_code == 0
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes")
    assert out.exit_code == 0, out.stderr
    assert "1 recipient opted out since the run started: skipped" in out.stderr
    assert "+905334445566" not in received(emulator)
    assert states(home) == Counter(accepted=2, skipped=1)


def test_send_skips_opted_out_unless_ignore_optout_which_is_said_and_stored(cli, home, emulator):
    home.write_config(emulator.profiles())
    assert optout(cli, "add", "05321234567").exit_code == 0
    out = cli("send", "05321234567", "05321112233", "-m", "Kodunuz 1234", "-p", "vs", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    by_to = {r["to"]: r for r in doc["results"]}
    assert by_to["+905321234567"]["status"] == "skipped"
    assert by_to["+905321234567"]["error"].startswith("opted out on ")
    assert doc["skipped"] == 1
    assert received(emulator) == Counter({"+905321112233": 1})
    # one recipient, opted out: recorded, nothing sent, no error
    out = cli("send", "05321234567", "-m", "Kampanya", "-p", "vs")
    assert out.exit_code == 0
    assert "skipped" in out.stdout and "opted out on" in out.stdout
    assert len(emulator.received) == 1
    out = cli("send", "05321234567", "-m", "Kodunuz 1234", "-p", "vs", "--ignore-optout")
    assert out.exit_code == 0, out.stderr
    assert "--ignore-optout" in out.stderr
    assert "1 recipient on it get this message" in out.stderr
    assert received(emulator)["+905321234567"] == 1
    assert json.loads(runs(home)[-1][1]) == {"ignore_optout": True}


def test_bulk_has_no_way_around_the_optout_list(cli, home, emulator):
    home.write_config(emulator.profiles())
    out = cli("bulk", write_csv(home, PEOPLE).name, "-m", TEMPLATE, "--ignore-optout")
    assert out.exit_code == 2
    assert "No such option" in out.stderr


# --- a run's identity -----------------------------------------------------------------------


def test_resume_after_a_key_rotation_sends_nobody_twice(cli, home, emulator, monkeypatch):
    home.write_config(emulator.profiles())
    path = write_csv(home, PEOPLE).name
    assert cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes", "--limit", "2").exit_code == 0
    monkeypatch.setattr(emulator, "VAIROSMS_KEY", "vs-rotated-key")
    home.write_config(emulator.profiles())
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes")
    assert out.exit_code == 0, out.stderr
    assert "resuming run" in out.stdout
    assert "the account's credentials changed since run" in out.stderr
    assert emulator.duplicates() == {}
    assert received(emulator) == Counter(dict.fromkeys(NUMBERS, 1))
    assert len(runs(home)) == 1
    assert "vs-rotated-key" not in ledger_text(home)


def test_resume_after_base_url_respelt_sends_nobody_twice(cli, home, emulator):
    home.write_config(emulator.profiles())
    path = write_csv(home, PEOPLE).name
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "mas", "--yes", "--limit", "1")
    assert out.exit_code == 0
    home.write_config(emulator.profiles().replace("127.0.0.1", "localhost"))
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "mas", "--yes")
    assert out.exit_code == 0, out.stderr
    # the same account: how base_url is spelt is no part of it (issue 26)
    assert "the account's credentials changed" not in out.stderr
    assert received(emulator) == Counter(dict.fromkeys(NUMBERS, 1))


def test_a_run_started_before_the_upgrade_still_resumes(cli, home, emulator, monkeypatch):
    """Runs written before a run's identity dropped the key have a fingerprint made with the
    account's key: they are still found by it."""
    from smscli import runs as runs_module

    home.write_config(emulator.profiles())
    path = write_csv(home, PEOPLE).name
    bulk = runs_module._Plan._bulk

    def as_before(plan, given):  # what smscli wrote before: the key's account in the identity
        bulk(plan, given)
        plan.fingerprint = plan.legacy

    with monkeypatch.context() as m:
        m.setattr(runs_module._Plan, "_bulk", as_before)
        out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes", "--limit", "1")
        assert out.exit_code == 0
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes")
    assert out.exit_code == 0, out.stderr
    assert "resuming run" in out.stdout
    assert received(emulator) == Counter(dict.fromkeys(NUMBERS, 1))


# --- the repeat guard -----------------------------------------------------------------------


def test_a_re_exported_file_or_a_dropped_exclude_repeats_nothing(cli, home, emulator):
    home.write_config(emulator.profiles())
    (home.cwd / "exclude.txt").write_text("0533 444 55 66\n")
    path = write_csv(home, PEOPLE).name
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--exclude", "exclude.txt", "--yes")
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == 2
    # the same campaign without --exclude: a new run, but only the excluded number is new
    preview = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--dry-run", "--json").json()
    assert (preview["repeat"], preview["would_send"]) == (2, 1)
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes")
    assert out.exit_code == 0, out.stderr
    assert "2 would repeat a message sent in the last 24 h" in out.stderr
    assert received(emulator) == Counter(dict.fromkeys(NUMBERS, 1))
    # the file re-exported as UTF-8 with commas: nobody again
    again = write_csv(home, PEOPLE, name="export2.csv", encoding="utf-8", sep=",").name
    out = cli("bulk", again, "-m", TEMPLATE, "-p", "vs", "--yes", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["repeat"] == 3
    assert {r["error"][:25] for r in doc["results"]} == {"same text sent in run 2026"[:25]}
    assert received(emulator) == Counter(dict.fromkeys(NUMBERS, 1))
    # another text is another message; --allow-repeat sends the same one again
    assert cli("bulk", again, "-m", TEMPLATE + " Teşekkürler.", "-p", "vs", "--yes").exit_code == 0
    assert len(emulator.received) == 6
    out = cli("bulk", again, "-m", TEMPLATE, "-p", "vs", "--yes", "--again", "--allow-repeat")
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == 9


def test_the_repeat_window_is_a_profile_setting(cli, home, emulator):
    home.write_config(emulator.profiles('repeat_window = "0"'))
    path = write_csv(home, PEOPLE).name
    assert cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes").exit_code == 0
    again = write_csv(home, PEOPLE, name="export2.csv", sep=",").name
    assert cli("bulk", again, "-m", TEMPLATE, "-p", "vs", "--yes").exit_code == 0
    assert len(emulator.received) == 6  # 0 turns the guard off
    home.write_config(emulator.profiles('repeat_window = "soon"'))
    out = cli("bulk", again, "-m", TEMPLATE + "!", "-p", "vs", "--yes")
    assert out.exit_code == 4
    assert "repeat_window must be a duration like 24h" in out.stderr


def test_failed_and_unknown_messages_are_not_repeats_but_refused_ones_are_not(cli, home, emulator):
    """A message the provider refused never reached anyone: sending it again is no repeat. One
    in doubt may have: it is."""
    home.write_config(emulator.profiles())
    emulator.inject("vairosms", "drop-after-processing")
    out = cli("send", "05321234567", "-m", "Merhaba", "-p", "vs")
    assert out.exit_code == 7
    out = cli("send", "05321234567", "-m", "Merhaba", "-p", "vs", "--no-repeat")
    assert out.exit_code == 0
    assert "same text sent in run" in out.stdout
    assert len(emulator.received) == 1
    emulator.set_credits("vairosms", 0)  # the request leaves (--force) and is refused
    assert cli("send", "05321112233", "-m", "Merhaba", "-p", "vs", "--force").exit_code == 5
    emulator.set_credits("vairosms", 100)
    out = cli("send", "05321112233", "-m", "Merhaba", "-p", "vs", "--no-repeat")
    assert out.exit_code == 0, out.stdout
    assert received(emulator)["+905321112233"] == 1


def test_send_repeats_only_when_asked(cli, home, emulator):
    home.write_config(emulator.profiles())
    for _ in range(2):  # a daily cron job with the same text: normal
        assert cli("send", "05321234567", "-m", "Günaydın", "-p", "vs").exit_code == 0
    assert len(emulator.received) == 2
    out = cli("send", "05321234567", "-m", "Günaydın", "-p", "vs", "--no-repeat", "--json")
    assert out.exit_code == 0
    (result,) = out.json()["results"]
    assert result["status"] == "skipped"
    assert result["error"].startswith("same text sent in run ")
    assert len(emulator.received) == 2
    home.write_config(emulator.profiles('send_repeat_window = "1h"'))
    assert cli("send", "05321234567", "-m", "Günaydın", "-p", "vs").exit_code == 0
    assert len(emulator.received) == 2
    out = cli("send", "05321234567", "-m", "Günaydın", "-p", "vs", "--allow-repeat")
    assert out.exit_code == 0
    assert len(emulator.received) == 3


def test_sandbox_runs_are_never_repeats_of_real_ones(cli, home, emulator):
    home.write_config(emulator.profiles())
    path = write_csv(home, PEOPLE).name
    assert cli("bulk", path, "-m", TEMPLATE, "--provider", "sandbox", "--yes").exit_code == 0
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes")
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == 3


# --- idempotency keys -----------------------------------------------------------------------


def test_a_retried_send_with_its_key_replays_the_first_result(cli, home, emulator):
    home.write_config(emulator.profiles())
    args = ("send", "05321234567", "-m", "Siparişiniz yolda", "-p", "vs", "--json")
    first = cli(*args, "--idempotency-key", "order-42-shipped")
    assert first.exit_code == 0, first.stderr
    again = cli(*args, "--idempotency-key", "order-42-shipped")
    assert again.exit_code == 0
    one, two = first.json(), again.json()
    assert (one["replayed"], two["replayed"]) == (False, True)
    assert two["run_id"] == one["run_id"]
    assert two["results"] == one["results"]
    assert len(emulator.received) == 1
    # from the environment, as a CI step sets it
    env = {"SMSCLI_IDEMPOTENCY_KEY": "order-42-shipped"}
    assert cli(*args, env=env).json()["replayed"] is True
    assert len(emulator.received) == 1
    # a key stands for one message
    out = cli("send", "05321234567", "-m", "Başka", "-p", "vs", "--idempotency-key",
              "order-42-shipped")  # fmt: skip
    assert out.exit_code == 2
    assert "was used in run" in out.stderr
    assert len(emulator.received) == 1


def test_a_replay_exits_with_the_first_exit_code(cli, home, emulator):
    home.write_config(emulator.profiles())
    emulator.inject("vairosms", "drop-after-processing")
    args = ("send", "05321234567", "-m", "Merhaba", "-p", "vs", "--idempotency-key", "k1")
    assert cli(*args).exit_code == 7
    out = cli(*args)
    assert out.exit_code == 7
    assert "a replay: nothing sent now" in out.stdout
    assert len(emulator.requests) == 1


def test_a_key_of_a_send_refused_before_anything_left_sends_later(cli, home, emulator):
    home.write_config(emulator.profiles())
    emulator.set_credits("vairosms", 0)
    args = ("send", "05321234567", "-m", "Merhaba", "-p", "mas", "--idempotency-key", "k2")
    emulator.set_credits("masgsm", 0)
    assert cli(*args).exit_code == 5  # the balance check: nothing left
    emulator.set_credits("masgsm", 100)
    out = cli(*args)
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == 1


def test_the_key_of_a_process_that_died_resumes_its_run(cli, home, emulator):
    """A process killed before its send finished left the key and a run: the retry sends what
    had not left and settles what was on the wire, never both."""
    home.write_config(emulator.profiles())
    args = ("send", "05321234567", "05321112233", "-m", "Merhaba", "-p", "vs",
            "--idempotency-key", "k3")  # fmt: skip
    assert cli(*args).exit_code == 0
    # as a kill -9 would have left it
    home.query("UPDATE runs SET exit_code = NULL, state = 'ready', finished_at = NULL")
    home.query("UPDATE messages SET state = 'sending' WHERE recipient = '+905321234567'")
    home.query("UPDATE messages SET state = 'pending' WHERE recipient = '+905321112233'")
    emulator.received.clear()
    out = cli(*args, "--json")
    assert out.exit_code == 7  # one in doubt
    doc = out.json()
    assert {r["to"]: r["status"] for r in doc["results"]} == {
        "+905321234567": "unknown",
        "+905321112233": "accepted",
    }
    assert received(emulator) == Counter({"+905321112233": 1})
    assert cli(*args).exit_code == 7  # finished now: a replay
    assert len(emulator.received) == 1


# --- the failed-rows CSV --------------------------------------------------------------------


def test_failed_csv_holds_only_rows_worth_sending_again(cli, home, emulator):
    home.write_config(emulator.profiles())
    rows = [*PEOPLE, ("Tekrar", "+905321234567", "1"), ("Kötü", "12345", "1")]
    path = write_csv(home, rows).name
    assert optout(cli, "add", "05321112233").exit_code == 0
    emulator.inject("vairosms", "drop-after-processing")
    out = cli("bulk", path, "-m", TEMPLATE, "-p", "vs", "--yes", "--failed-csv", "f.csv")
    assert out.exit_code == 7
    written = (home.cwd / "f.csv").read_bytes().decode("cp1254").splitlines()
    assert written == [
        "Ad Soyad;Telefon;Tutar;error",
        "Kötü;12345;1;invalid: invalid number: too short",
    ]
    emulator.inject("vairosms", "drop-after-processing")
    out = cli("bulk", path, "-m", TEMPLATE + "!", "-p", "vs", "--yes", "--failed-csv", "f.csv",
              "--failed-csv-unknown")  # fmt: skip
    assert out.exit_code == 7
    written = (home.cwd / "f.csv").read_bytes().decode("cp1254").splitlines()
    note = "unknown: may have been delivered: check `smscli report` first"
    assert written == [
        "Ad Soyad;Telefon;Tutar;error",
        f"Ayşe Yılmaz;0532 123 45 67;1.234,50;{note}",
        f"Şükrü Öztürk;+90 533 444 55 66;12,75;{note}",
        "Kötü;12345;1;invalid: invalid number: too short",
    ]


# --- the README's campaign, retyped every way a user might ----------------------------------

README_TEMPLATE = "Sayın {Ad Soyad}, {Tutar} TL borcunuzun son ödeme tarihi {Son Ödeme}."
BORCLAR = [
    ("Ayşe Yılmaz", "0532 123 45 67", "1.234,50", "30.11.2026"),
    ("Şükrü Öztürk", "+90 533 444 55 66", "12,75", "01.12.2026"),
    ("Ali Veli", "05321112233", "5,00", "02.12.2026"),
    ("Can Kaya", "0542 000 11 22", "7,25", "02.12.2026"),
    ("Hatalı Numara", "0532 12", "1,00", "02.12.2026"),
]
HEADER = ["Ad Soyad", "Cep Telefonu", "Tutar", "Son Ödeme"]


def test_the_readme_campaign_never_reaches_anyone_twice(cli, home, emulator, monkeypatch):
    home.write_config(emulator.profiles())
    write_csv(home, BORCLAR, name="borclar.csv", header=HEADER)
    (home.cwd / "iptal-edenler.txt").write_text("0542 000 11 22\n")
    command = ("bulk", "borclar.csv", "-p", "vs", "--yes", "-m", README_TEMPLATE,
               "--exclude", "iptal-edenler.txt", "--failed-csv", "sorunlu.csv")  # fmt: skip
    assert cli(*command, "--limit", "2").exit_code == 1  # half sent; one row invalid
    assert len(emulator.received) == 2
    # the key is rotated overnight; the same command resumes
    monkeypatch.setattr(emulator, "VAIROSMS_KEY", "vs-rotated-overnight")
    home.write_config(emulator.profiles())
    out = cli(*command)
    assert out.exit_code == 1, out.stderr  # the invalid row
    assert len(emulator.received) == 3
    # --exclude dropped: a new run, in which only the excluded number is new
    out = cli(*command[:-4])
    assert out.exit_code == 1, out.stderr
    assert "3 would repeat a message sent in the last 24 h" in out.stderr
    assert len(emulator.received) == 4  # the excluded one, its first message
    # the file re-exported by another program: UTF-8, commas
    write_csv(home, BORCLAR, name="borclar2.csv", header=HEADER, encoding="utf-8", sep=",")
    out = cli("bulk", "borclar2.csv", "-p", "vs", "--yes", "-m", README_TEMPLATE)
    assert out.exit_code == 3, out.stderr  # nothing to send but the invalid row
    assert "4 would repeat" in out.stderr
    assert len(emulator.received) == 4
    # the failed rows, fixed and sent again: only the row that never left
    failed = (home.cwd / "sorunlu.csv").read_bytes().decode("cp1254").splitlines()
    assert failed == [
        "Ad Soyad;Cep Telefonu;Tutar;Son Ödeme;error",
        "Hatalı Numara;0532 12;1,00;02.12.2026;invalid: invalid number: too short",
    ]
    fixed = "\r\n".join(failed).replace("0532 12;", "0555 123 45 67;") + "\r\n"
    (home.cwd / "sorunlu.csv").write_bytes(fixed.encode("cp1254"))
    out = cli("bulk", "sorunlu.csv", "-p", "vs", "--yes", "-m", README_TEMPLATE)
    assert out.exit_code == 0, out.stderr
    assert len(emulator.received) == 5
    assert emulator.duplicates() == {}


def test_two_processes_with_one_key_send_once(home, emulator):
    """Two hosts run the same cron job at once: the second waits for nothing and sends
    nothing while the first has its request on the wire; run again, it replays."""
    import subprocess
    import sys
    import threading

    home.write_config(emulator.profiles())
    args = [sys.executable, "-m", "smscli", "send", "05321234567", "-m", "Merhaba", "-p", "cs",
            "--idempotency-key", "cron-2026-11-30", "--json"]  # fmt: skip
    emulator.gate = threading.Event()
    first = subprocess.Popen(args, cwd=home.cwd, env=home.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert emulator.arrived.wait(30)  # the first one's request is on the wire
        second = subprocess.run(args, cwd=home.cwd, env=home.env(), capture_output=True,
                                text=True, timeout=60, check=False)  # fmt: skip
        assert second.returncode == 8, second.stderr
        assert "another smscli process" in second.stderr
    finally:
        emulator.gate.set()
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    third = subprocess.run(args, cwd=home.cwd, env=home.env(), capture_output=True, text=True,
                           timeout=60, check=False)  # fmt: skip
    assert third.returncode == 0
    assert json.loads(third.stdout)["replayed"] is True
    assert len(emulator.received) == 1


def test_a_send_to_opted_out_numbers_only_asks_the_provider_nothing(cli, home, emulator):
    home.write_config(emulator.profiles())
    assert optout(cli, "add", "05321234567").exit_code == 0
    out = cli("send", "05321234567", "-m", "Kampanya", "-p", "mas", "--json")
    assert out.exit_code == 0, out.stderr
    assert [r["status"] for r in out.json()["results"]] == ["skipped"]
    assert emulator.requests == []  # not even the balance check
