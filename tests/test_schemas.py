"""Every command's ``--json`` document, on its success and its error paths, validates against
the JSON Schemas published in ``schemas/``, carries the process's exit code, and is the only
thing on stdout. Each schema is exercised by at least one case."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
SANDBOX = ("--provider", "sandbox")
PEOPLE = "telefon,ad\n05321112233,Ayşe\n12,Bob\n05321112234,Can\n05321112233,Ayşe again\n"


@cache
def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry(), format_checker=FormatChecker())


def check(out: Any, schema: str, exit_code: int) -> dict[str, Any]:
    """``out`` exited ``exit_code`` with one JSON document on stdout that says so and is valid
    against ``schema`` (and, when it carries an error, against ``error.json`` too)."""
    assert out.exit_code == exit_code, out.stderr
    document = json.loads(out.stdout)  # one document, nothing else on stdout
    errors = sorted(validator(schema).iter_errors(document), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    assert document["exit_code"] == exit_code
    if document["error"] is not None:
        assert not list(validator("error.json").iter_errors(document))
    else:
        assert exit_code in (0, 1, 3), "a failure without an error object"
    USED.add(schema)
    return document


USED: set[str] = set()


@pytest.fixture
def people(home: Any) -> str:
    (home.cwd / "people.csv").write_text(PEOPLE, encoding="utf-8")
    return "people.csv"


def test_send_and_its_dry_run(proc: Any) -> None:
    doc = check(proc("send", "05321112233", "12", "-m", "hi", "--json", *SANDBOX), "run.json", 1)
    assert [r["status"] for r in doc["results"]] == ["accepted", "invalid"]
    assert doc["results"][1]["error"] == "invalid number: too short"
    assert isinstance(doc["credits_remaining"], int)  # 999, not 999.0
    dry = ("send", "05321112233", "12", "-m", "hi", "--json", "--dry-run", *SANDBOX)
    doc = check(proc(*dry), "run.json", 3)
    # The same invalid number reads the same in a dry run as in a send.
    assert [(r["status"], r["error"]) for r in doc["results"]] == [
        ("would_send", None),
        ("invalid", "invalid number: too short"),
    ]


def test_bulk_dry_run_lists_every_row(proc: Any, people: str) -> None:
    out = proc("bulk", people, "-m", "Merhaba {ad}", "--dry-run", "--json", *SANDBOX)
    doc = check(out, "run.json", 3)
    assert [(r["source"], r["status"]) for r in doc["results"]] == [
        ("people.csv line 2", "would_send"),
        ("people.csv line 3", "invalid"),
        ("people.csv line 4", "would_send"),
        ("people.csv line 5", "skipped"),
    ]
    assert doc["results"][3]["error"].startswith("duplicate of people.csv line 2")
    assert doc["samples"][0]["text"] == "Merhaba Ayşe"
    assert (doc["provider"], doc["run_id"], doc["interrupted"]) == ("sandbox", None, False)


def test_bulk_sent_and_run_again(proc: Any, people: str) -> None:
    args = ("bulk", people, "-m", "Merhaba {ad}", "--yes", "--json", *SANDBOX)
    doc = check(proc(*args), "run.json", 1)
    assert (doc["accepted"], doc["invalid"], doc["duplicate"], doc["total"]) == (2, 1, 1, 4)
    again = check(proc(*args), "error.json", 2)
    assert again["error"]["code"] == "usage" and "--again" in again["error"]["hint"]
    check(proc(*args), "run.json", 2)


def test_a_bulk_that_cannot_start_carries_its_error(proc: Any, people: str) -> None:
    args = ("bulk", people, "-m", "x", "--yes", "--json", "--not-after", "2000-01-01T00:00")
    doc = check(proc(*args, *SANDBOX), "run.json", 8)
    assert doc["error"]["code"] == "unfinished" and "--not-after" in doc["error"]["message"]


def test_account_commands(proc: Any) -> None:
    proc("send", "05321112233", "05321110001", "-m", "hi", *SANDBOX)
    doc = check(proc("balance", "--json", *SANDBOX), "balance.json", 0)
    assert doc["credits"] == 998 and doc["provider"] == "sandbox"
    doc = check(proc("report", "--last", "--json", *SANDBOX), "report.json", 0)
    assert {r["status"] for r in doc["results"]} <= {"accepted", "delivered", "undelivered"}
    check(proc("headers", "--json", *SANDBOX), "headers.json", 0)


def test_history(proc: Any) -> None:
    check(proc("history", "--json"), "history.json", 0)  # no ledger yet
    proc("send", "05321112233", "-m", "hi", *SANDBOX)
    doc = check(proc("history", "--json"), "history.json", 0)
    run = doc["runs"][0]
    assert (run["status"], run["total"], run["counts"]) == ("complete", 1, {"accepted": 1})
    doc = check(proc("history", "show", run["run_id"], "--json"), "history-show.json", 0)
    assert doc["messages"][0]["status"] == "accepted"
    missing = check(proc("history", "show", "nosuch", "--json"), "history-show.json", 3)
    assert missing["error"]["code"] == "bad_input"


def test_ledger_commands(proc: Any, home: Any, tmp_path: Path) -> None:
    proc("send", "05321112233", "-m", "hi", *SANDBOX)
    doc = check(proc("ledger", "info", "--json"), "ledger-info.json", 0)
    assert doc["counts"] == {"accepted": 1}
    check(proc("ledger", "check", "--json"), "ledger-check.json", 0)
    if home.backend == "sqlite":
        copy = ("ledger", "copy", str(home.ledger), str(tmp_path / "copy.db"), "--json")
        check(proc(*copy), "ledger-copy.json", 0)
    missing = ("ledger", "copy", str(tmp_path / "none.db"), str(tmp_path / "b.db"), "--json")
    doc = check(proc(*missing), "ledger-copy.json", 3)
    assert doc["error"]["message"]


def test_optout_commands(proc: Any, home: Any) -> None:
    region = {"SMSCLI_PROVIDER": "sandbox"}
    doc = check(proc("optout", "add", "05321112233", "--json", **region), "optout-change.json", 0)
    assert doc["added"] == ["+905321112233"]
    doc = check(proc("optout", "add", "12", "--json", **region), "optout-change.json", 3)
    assert doc["error"]["code"] == "bad_input" and doc["invalid"][0]["raw"] == "12"
    (home.cwd / "stop.txt").write_text("05321112234\n", encoding="utf-8")
    check(proc("optout", "import", "stop.txt", "--json", **region), "optout-change.json", 0)
    doc = check(proc("optout", "list", "--json"), "optout-list.json", 0)
    assert doc["total"] == 2
    check(proc("optout", "remove", "05321112234", "--json", **region), "optout-change.json", 0)


@pytest.mark.parametrize(
    ("args", "schema", "exit_code", "code"),
    [
        (("send", "05321112233", "-m", "x", "--bogus"), "run.json", 2, "usage"),
        (("history", "show"), "history-show.json", 2, "usage"),
        (("send", "05321112233", "-m", "x", "--provider", "nosuch"), "run.json", None, None),
        (("bulk", "nosuch.csv", "-m", "x", "--yes", *SANDBOX), "run.json", 3, "bad_input"),
        (("balance",), "balance.json", 4, "config"),
        (("report", "--run", "nosuch", *SANDBOX), "report.json", 3, None),
        (("headers",), "headers.json", 4, "config"),
    ],
)
def test_errors_are_documents(
    proc: Any, args: tuple[str, ...], schema: str, exit_code: int | None, code: str | None
) -> None:
    out = proc(*args, "--json")
    doc = check(out, schema, out.exit_code if exit_code is None else exit_code)
    assert doc["exit_code"] >= 2 and doc["error"]["message"]
    assert code is None or doc["error"]["code"] == code
    # The same words on stderr, for a human reading the log.
    assert doc["error"]["message"] in out.stderr


def test_schemas_name_their_files() -> None:
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["$id"].endswith("/" + path.name)
        assert re.fullmatch(r"[a-z-]+\.json", path.name)


def test_an_interrupted_bulk_says_so_with_its_exit_code(home: Any, emulator: Any) -> None:
    """SIGTERM (a cron timeout) in the middle of a bulk: the document still comes, complete,
    says `interrupted` with an error, and carries the exit code the process ends with."""
    import signal
    import subprocess
    import sys
    import time

    from tests.emulator import Emulator

    emulator.latency = 30
    (home.cwd / "people.csv").write_text(PEOPLE, encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, "-m", "smscli", "bulk", "people.csv", "-m", "x", "-s", "ACME", "--yes",
         "--json"],
        cwd=home.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=home.env(SMSCLI_PROVIDER="vairosms", SMSCLI_API_KEY=Emulator.VAIROSMS_KEY,
                     SMSCLI_BASE_URL=emulator.base_url("vairosms")),
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not emulator.requests and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for an event (the request), not for time to pass
    assert emulator.requests, "the request never arrived"
    child.send_signal(signal.SIGTERM)
    stdout, stderr = child.communicate(timeout=30)
    out = SimpleNamespace(exit_code=child.returncode, stdout=stdout, stderr=stderr)
    doc = check(out, "run.json", child.returncode)
    assert child.returncode in (7, 8)
    assert doc["interrupted"] is True and doc["error"]["code"] == "interrupted"


def test_the_input_says_what_was_detected(proc: Any, home: Any) -> None:
    """`Ev Telefonu;Cep Telefonu` in Windows-1254: the preview, the dry run and --json name the
    encoding, the delimiter, the phone column taken and the other candidate."""
    (home.cwd / "ev.csv").write_bytes(
        "Ad;Ev Telefonu;Cep Telefonu\nAyşe;02121112233;05321112233\n".encode("cp1254")
    )
    args = ("bulk", "ev.csv", "-m", "Merhaba {Ad}", "--dry-run", *SANDBOX)
    doc = check(proc(*args, "--json"), "run.json", 0)
    assert doc["input"] == {
        "encoding": "cp1254",
        "delimiter": ";",
        "phone_column": "Cep Telefonu",
        "phone_candidates": ["Ev Telefonu"],
        "sheet": None,
    }
    assert doc["samples"][0]["text"] == "Merhaba Ayşe"
    human = proc(*args).stdout
    assert "Read as encoding cp1254 · delimiter ';' · phone column 'Cep Telefonu' (also: " in human
    send = check(proc("send", "--file", "ev.csv", "-m", "hi", "--json", *SANDBOX), "run.json", 0)
    assert send["input"] == doc["input"] and send["accepted"] == 1


def test_profiles_and_doctor(proc: Any, home: Any) -> None:
    add = ("profiles", "add", "demo", "--provider", "sandbox", "--json")
    doc = check(proc(*add), "profiles-add.json", 0)
    assert (doc["action"], doc["profile"], doc["provider"]) == ("added", "demo", "sandbox")
    check(
        proc("profiles", "add", "second", "--provider", "sandbox", "--json"), "profiles-add.json", 0
    )
    doc = check(proc("profiles", "--json"), "profiles.json", 0)
    assert [p["name"] for p in doc["profiles"]] == ["demo", "second"]
    check(proc("profiles", "show", "demo", "--json"), "profiles-show.json", 0)
    doc = check(proc("profiles", "default", "second", "--json"), "profiles-default.json", 0)
    assert doc["previous"] == "demo"
    check(proc("profiles", "remove", "demo", "--json"), "profiles-remove.json", 0)
    refused = check(proc("profiles", "remove", "second", "--json"), "profiles-remove.json", 2)
    assert "--force" in refused["error"]["hint"]
    missing = check(proc("profiles", "default", "nope", "--json"), "profiles-default.json", 2)
    assert missing["error"]["code"] == "usage"
    bad = check(proc(*add[:-1], "--region", "XX", "--json"), "profiles-add.json", 2)
    assert "XX" in bad["error"]["message"]
    doc = check(proc("doctor", "--offline", "--json"), "doctor.json", 0)
    assert doc["counts"]["problem"] == 0
    home.write_config('[profiles.x]\nprovider = "sandbox"\nregion = "XX"\n')
    doc = check(proc("doctor", "--offline", "--json"), "doctor.json", 4)
    assert doc["error"]["code"] == "config" and doc["counts"]["problem"] >= 1


@pytest.mark.parametrize(
    ("args", "schema", "code"),
    [
        (("history",), "history.json", "ledger_empty"),
        (("history", "show", "20261201"), "history-show.json", "ledger_empty"),
        (("ledger", "info"), "ledger-info.json", "ledger_empty"),
        (("ledger", "check"), "ledger-check.json", "ledger_damaged"),
        (("optout", "list"), "optout-list.json", "ledger_empty"),
        (("optout", "remove", "05321112233", "-p", "nosuch"), "optout-change.json", "config"),
        (("optout", "import", "nosuch.txt"), "optout-change.json", "bad_input"),
        (("profiles",), "profiles.json", "config"),
        (("profiles", "show", "-p", "nosuch"), "profiles-show.json", "config"),
    ],
)
def test_ledger_and_config_errors_are_documents(
    proc: Any, home: Any, args: tuple[str, ...], schema: str, code: str
) -> None:
    """An empty ledger file and a config file that is not TOML: every command that reads them
    fails with its error as the document, and exit 4 (3 for a file that is not there)."""
    empty = home.cwd / "empty.db"
    empty.write_bytes(b"")
    home.write_config(
        "not toml [" if args[0] == "profiles" else '[profiles.a]\nprovider = "sandbox"\n'
    )
    out = proc(*args, "--json", SMSCLI_LEDGER=str(empty))
    doc = check(out, schema, 3 if code == "bad_input" else 4)
    assert doc["error"]["code"] == code and doc["error"]["message"] in out.stderr


def test_every_schema_is_exercised() -> None:
    """Runs last in this module (keep it last): every published schema was used above."""
    published = {p.name for p in SCHEMAS.glob("*.json")} - {"envelope.json"}
    if len(USED) < 5:
        pytest.skip("run with the whole module")
    missing = published - USED
    assert not missing, f"schemas no test validated against: {sorted(missing)}"
