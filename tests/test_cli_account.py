"""``smscli balance``, ``report`` and ``headers`` per provider, over real HTTP against the
loopback emulator (the sandbox needs none), plus the canary-secret check over every new command."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from smscli.store import NewMessage, Recorded, open_store
from tests.emulator import Emulator
from tests.test_secrets import KEY, PASSWORD, assert_clean

A, B, C = "+905321234567", "+905321112233", "+905441234567"
NUMBERS = f"{A},{B},{C}"
PROFILES = {"cs": "customersms", "vs": "vairosms", "mas": "masgsm"}
BOTH_BACKENDS = True  # reports find messages by provider id: an index on SQLite, a table on PG


@pytest.fixture
def setup(cli, home, emulator):
    home.write_config(emulator.profiles())
    return home


def send(cli, profile: str, numbers: str = NUMBERS, text: str = "Merhaba") -> dict:
    out = cli("send", numbers, "-m", text, "-p", profile, "--json")
    assert out.exit_code in (0, 1), out.stderr
    return out.json()


def ledger_rows(home) -> list[tuple[str, str, str | None]]:
    return home.query("SELECT recipient, state, report_detail FROM messages ORDER BY id")


def report_requests(emu: Emulator) -> list:
    return [
        r
        for r in emu.requests
        if "GonderimBilgisi" in r.path
        or "NumaraRaporu" in r.path
        or (r.form or {}).get("type") == "2"
    ]


# --- balance ----------------------------------------------------------------------------------


def test_balance_masgsm_is_the_live_type_4_call(cli, setup, emulator):
    emulator.set_credits("masgsm", 12345)
    out = cli("balance", "-p", "mas", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert (doc["provider"], doc["profile"], doc["credits"], doc["raw"], doc["source"]) == (
        "masgsm", "mas", 12345, "012345", "provider",
    )  # fmt: skip
    (req,) = emulator.requests
    assert parse_qsl(req.body.decode()) == [
        ("type", "4"),
        ("u", Emulator.MASGSM_USER),
        ("p", Emulator.MASGSM_PASS),
    ]
    human = cli("balance", "-p", "mas")
    assert "12,345" in human.stdout and "masgsm balance call" in human.stdout


def test_balance_customersms_is_the_last_reported_value_labelled_with_its_time(
    cli, setup, emulator
):
    before = cli("balance", "-p", "cs")
    assert before.exit_code == 2
    assert "customersms offers no balance call" in before.stderr
    send(cli, "cs")
    emulator.requests.clear()
    out = cli("balance", "-p", "cs", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["credits"] == emulator.credits("customersms") == 1_000_000 - 3
    assert doc["source"] == "ledger"
    assert doc["label"].startswith("last reported by customersms at ")
    assert "just now" in doc["label"]
    assert doc["as_of"]
    assert emulator.requests == []  # nothing asked: customersms has no such call
    human = cli("balance", "-p", "cs")
    assert "999,997" in human.stdout and "last reported by customersms at" in human.stdout


def test_balance_vairosms_says_there_is_no_call(cli, setup, emulator):
    out = cli("balance", "-p", "vs", "--json")
    assert out.exit_code == 2
    error = out.json()["error"]  # the error as the --json document, and on stderr for people
    assert error["code"] == "unsupported" and out.json()["exit_code"] == 2
    assert error["message"] in out.stderr and "vairosms offers no balance call" in out.stderr
    assert emulator.requests == []


def test_balance_sandbox_is_simulated(cli, home):
    cli("send", "05321234567", "-m", "hi", "--provider", "sandbox")
    doc = cli("balance", "--provider", "sandbox", "--json").json()
    assert (doc["credits"], doc["source"], doc["label"]) == (
        999,
        "simulated",
        "sandbox (simulated)",
    )


@pytest.mark.parametrize(("fault", "code"), [("password", 4), ("credit-zero", 0)])
def test_balance_masgsm_errors(cli, setup, emulator, monkeypatch, fault, code):
    if fault == "password":
        monkeypatch.setattr(emulator, "MASGSM_PASS", "another")
    else:
        emulator.set_credits("masgsm", 0)
    out = cli("balance", "-p", "mas", "--json")
    assert out.exit_code == code, out.stderr
    if code == 4:
        assert "wrong username or password (code 401)" in out.stderr
    else:
        assert out.json()["credits"] == 0


# --- report -----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["vs", "mas"])
def test_report_last_asks_the_provider_and_stores_states(cli, setup, emulator, home, profile):
    send(cli, profile)
    emulator.undelivered_numbers.add(B)
    emulator.pending_numbers.add(C)
    out = cli("report", "-p", profile, "--json")  # --last is the default
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["source"] == "provider"
    assert [(r["to"], r["status"], r["reported"]) for r in doc["results"]] == [
        (A, "delivered", "delivered"),
        (B, "undelivered", "undelivered"),
        (C, "accepted", "pending"),
    ]
    assert doc["counts"] == {"delivered": 1, "undelivered": 1, "accepted": 1}
    assert doc["reported"] == {"delivered": 1, "undelivered": 1, "pending": 1}
    word = {
        "vs": ("DELIVERED", "NOT_DELIVERED", "WAITING"),
        "mas": ("Iletilen", "Hatali", "Bekleyen"),
    }
    assert ledger_rows(home) == [
        (A, "delivered", f"delivered: {word[profile][0]}"),
        (B, "undelivered", f"undelivered: {word[profile][1]}"),
        (C, "accepted", f"pending: {word[profile][2]}"),
    ]
    # later, C arrives: the next report settles it
    emulator.pending_numbers.clear()
    again = cli("report", "--last", "-p", profile, "--json").json()
    assert [r["status"] for r in again["results"]] == ["delivered", "undelivered", "delivered"]


def test_report_masgsm_is_one_type_2_request_per_send(cli, setup, emulator):
    doc = send(cli, "mas")
    emulator.requests.clear()
    assert cli("report", "-p", "mas").exit_code == 0
    (req,) = emulator.requests
    assert parse_qsl(req.body.decode()) == [
        ("type", "2"),
        ("u", Emulator.MASGSM_USER),
        ("p", Emulator.MASGSM_PASS),
        ("id", doc["results"][0]["message_id"]),
    ]


def test_report_vairosms_keeps_unknown_words_as_unknown(cli, setup, emulator, home):
    send(cli, "vs")
    emulator.vairosms_words[A] = "SOMETHING_NEW"
    doc = cli("report", "-p", "vs", "--json").json()
    first = doc["results"][0]
    assert (first["status"], first["reported"], first["detail"]) == (
        "accepted", "unknown", "SOMETHING_NEW",
    )  # fmt: skip
    assert ledger_rows(home)[0] == (A, "accepted", "unknown: SOMETHING_NEW")
    human = cli("report", "-p", "vs")
    assert "accepted (unknown)" in human.stdout and "SOMETHING_NEW" in human.stdout


@pytest.mark.parametrize("how", ["run", "run-prefix", "message-id"])
def test_report_by_run_or_message_id(cli, setup, emulator, how):
    first = send(cli, "vs", numbers=A)
    second = send(cli, "vs", numbers=B)
    emulator.undelivered_numbers.add(A)
    args = {
        "run": ("--run", first["run_id"]),
        "run-prefix": ("--run", first["run_id"][:-2]),
        "message-id": (first["results"][0]["message_id"],),
    }[how]
    doc = cli("report", *args, "-p", "vs", "--json").json()
    assert doc["runs"] == [first["run_id"]] != [second["run_id"]]
    assert [(r["to"], r["status"]) for r in doc["results"]] == [(A, "undelivered")]


def test_report_ids_not_in_the_ledger(cli, setup, emulator):
    doc = send(cli, "mas", numbers=A)
    none = cli("report", "nosuch-1", "nosuch-2", "-p", "mas")
    assert none.exit_code == 3
    assert "no message with id nosuch-1, nosuch-2" in none.stderr
    some = cli("report", "nosuch-1", doc["results"][0]["message_id"], "-p", "mas", "--json")
    assert some.exit_code == 0
    assert some.json()["not_found"] == ["nosuch-1"]
    assert "not in the ledger: nosuch-1" in some.stderr


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("--run", "20200101-000000-abcdef"), 3, "no run '20200101-000000-abcdef'"),
        (("--run", "x", "--last"), 2, "not more than one"),
        (("someid", "--last"), 2, "not more than one"),
    ],
)
def test_report_usage_and_missing_runs(cli, setup, args, code, said):
    send(cli, "mas", numbers=A)
    out = cli("report", *args, "-p", "mas")
    assert out.exit_code == code
    assert said in out.stderr


def test_report_of_another_accounts_run_names_it(cli, setup, emulator):
    doc = send(cli, "vs", numbers=A)
    out = cli("report", "--run", doc["run_id"], "-p", "mas")
    assert out.exit_code == 2
    assert "was sent through vairosms (profile vs)" in out.stderr
    by_id = cli("report", doc["results"][0]["message_id"], "-p", "mas")
    assert by_id.exit_code == 2
    assert "sent through vairosms (profile vs)" in by_id.stderr


def test_report_with_no_run_yet_is_bad_input(cli, setup):
    out = cli("report", "-p", "mas")
    assert out.exit_code == 3
    assert "no run through this account" in out.stderr


def test_report_customersms_shows_the_ledger_labelled(cli, setup, emulator, home):
    emulator.reject_numbers.add(B)
    send(cli, "cs")
    emulator.requests.clear()
    out = cli("report", "-p", "cs", "--json")
    assert out.exit_code == 0
    doc = out.json()
    assert doc["source"] == "ledger"
    assert doc["label"] == "from the ledger: customersms offers no delivery reports"
    assert [(r["to"], r["status"], r["reported"]) for r in doc["results"]] == [
        (A, "accepted", None),
        (B, "failed", None),
        (C, "accepted", None),
    ]
    assert emulator.requests == []
    assert (
        "from the ledger: customersms offers no delivery reports"
        in cli("report", "-p", "cs").stdout
    )


def test_report_sandbox_magic_numbers(cli, home):
    out = cli("send", "05321234567,05321230001,05321230000", "-m", "hi", "--provider", "sandbox")
    assert out.exit_code == 1
    first = cli("report", "--provider", "sandbox", "--json").json()
    assert [r["reported"] for r in first["results"]] == ["pending", "pending", None]
    doc = cli("report", "--provider", "sandbox", "--json").json()  # final from the second on
    assert doc["source"] == "simulated"
    assert [(r["to"], r["status"], r["reported"]) for r in doc["results"]] == [
        ("+905321234567", "delivered", "delivered"),
        ("+905321230001", "undelivered", "undelivered"),
        ("+905321230000", "failed", None),  # rejected when sending: never asked about
    ]


def test_report_message_without_an_id_is_not_asked_about(cli, setup, emulator, home):
    """masgsm may answer a send without an id: there is nothing to ask its report about."""
    from smscli.accounts import account_id
    from smscli.providers.base import Account
    from smscli.providers.masgsm import MasGsm

    account = Account("masgsm", emulator.base_url("masgsm"), username=Emulator.MASGSM_USER)
    aid = account_id(account, MasGsm.capabilities)
    with open_store(home.ledger) as store:
        run = store.create_run(
            command="send", provider="masgsm", profile="mas", account=aid, sender="ACME",
            source=None, fingerprint=None, options=None,
        )  # fmt: skip
        store.add_messages(run, [[NewMessage(0, "argument 1", A, A, "hi", "GSM-7", 1)]])
        store.mark_ready(run)
        (row,) = store.messages(run)
        store.record([Recorded([(row.id, "accepted", None, None)])])
    out = cli("report", "-p", "mas", "--json")
    assert out.exit_code == 0, out.stderr
    (result,) = out.json()["results"]
    assert (result["status"], result["reported"]) == ("accepted", None)
    assert result["note"].startswith("no id to ask the provider about")
    assert report_requests(emulator) == []


def test_masgsm_partial_credit_unknowns_are_settled_by_a_report(cli, setup, emulator, home):
    emulator.set_credits("masgsm", 1)
    out = cli("send", f"{A},{B}", "-m", "hi", "-p", "mas", "--json", "--force")
    assert out.exit_code == 7
    doc = cli("report", "-p", "mas", "--json").json()
    assert [(r["to"], r["status"], r["reported"]) for r in doc["results"]] == [
        (A, "delivered", "delivered"),  # masgsm sent it as far as the balance allowed
        (B, "unknown", "unknown"),  # not in masgsm's report: still in doubt
    ]


@pytest.mark.parametrize(
    ("profile", "break_it", "code", "said"),
    [
        ("mas", "MASGSM_PASS", 4, "wrong username or password"),
        ("vs", "VAIROSMS_KEY", 4, "vairosms rejected the API key"),
    ],
)
def test_report_provider_errors_map_to_exit_codes(
    cli, setup, emulator, monkeypatch, home, profile, break_it, code, said
):
    send(cli, profile, numbers=A)
    monkeypatch.setattr(emulator, break_it, "changed")
    out = cli("report", "-p", profile, "--json")
    assert out.exit_code == code
    assert said in out.stderr
    assert said in out.json()["error"]["message"] and out.json()["exit_code"] == code
    assert ledger_rows(home) == [(A, "accepted", None)]  # nothing stored from a failed report


def test_report_waits_out_a_429_and_retries(cli, setup, emulator):
    send(cli, "vs", numbers=f"{A},{B}")
    emulator.rate_limit_per_second = 2  # the emulator answers 429 with Retry-After: 1
    out = cli("report", "-p", "vs", "--json")
    assert out.exit_code == 0, out.stderr
    assert [r["status"] for r in out.json()["results"]] == ["delivered", "delivered"]
    assert emulator.rate_limited >= 1


def test_report_requests_respect_the_profiles_rate_limits(cli, home, emulator):
    home.write_config(emulator.profiles('rate_limits = ["2/second"]'))
    send(cli, "vs")  # 1 package + 3 number requests to report on
    emulator.requests.clear()
    out = cli("report", "-p", "vs", "--json")
    assert out.exit_code == 0, out.stderr
    times = [r.time for r in report_requests(emulator)]
    assert len(times) == 4
    assert all(later - earlier >= 0.95 for earlier, later in zip(times, times[2:], strict=False))


def test_report_too_long_a_wait_stops_with_exit_8(cli, home, emulator):
    home.write_config(emulator.profiles('rate_limits = ["1/hour"]'))
    send(cli, "vs", numbers=A)
    out = cli("report", "-p", "vs", "--max-wait", "1")
    assert out.exit_code == 8
    assert "beyond --max-wait" in out.stderr


def test_report_shows_a_progress_bar_for_a_large_run_on_a_terminal(cli, home, monkeypatch):
    numbers = ",".join(f"053212{i:05d}" for i in range(2, 32))
    assert cli("send", numbers, "-m", "hi", "--provider", "sandbox").exit_code == 0
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr is a terminal
    shown = cli("report", "--provider", "sandbox", "--json")
    assert shown.exit_code == 0
    assert "asking for delivery reports" in shown.stderr
    assert shown.json()["counts"] == {"accepted": 30}  # the sandbox's first report: pending
    monkeypatch.delenv("TTY_COMPATIBLE")
    plain = cli("report", "--provider", "sandbox", "--json")
    assert "asking for delivery reports" not in plain.stderr


# --- headers ----------------------------------------------------------------------------------


def test_headers_masgsm_lists_the_legacy_call(cli, setup, emulator):
    emulator.headers["masgsm"] = ["ACME", "TEST", "ŞİRKET"]
    out = cli("headers", "-p", "mas", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert doc["source"] == "provider"
    assert doc["label"] == "masgsm legacy API (apiNo=3)"
    assert [(h["name"], h["valid"]) for h in doc["headers"]] == [
        ("ACME", True), ("TEST", True), ("ŞİRKET", False),
    ]  # fmt: skip
    assert doc["sender_listed"] is True
    assert "must not contain Turkish" in out.stderr
    (req,) = emulator.requests
    assert req.path == "/masgsm/MasApiV2/"
    assert parse_qsl(req.body.decode()) == [
        ("user", Emulator.MASGSM_USER),
        ("pass", Emulator.MASGSM_PASS),
        ("apiNo", "3"),
    ]


def test_headers_masgsm_legacy_failure_falls_back_to_the_profiles_senders(cli, home, emulator):
    home.write_config(emulator.profiles('senders = ["ACME", "PROMO"]'))
    emulator.masgsm_legacy_down = True
    out = cli("headers", "-p", "mas", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert (doc["source"], doc["label"]) == ("profile", "configured in profile")
    assert [h["name"] for h in doc["headers"]] == ["ACME", "PROMO"]
    assert "legacy header list call (apiNo=3) failed" in doc["note"]
    assert "showing the profile's senders instead" in out.stderr


def test_headers_masgsm_legacy_failure_without_senders_says_how_to_configure(cli, setup, emulator):
    emulator.masgsm_legacy_down = True
    out = cli("headers", "-p", "mas")
    assert out.exit_code == 6
    assert "legacy header list call (apiNo=3) failed" in out.stderr
    assert 'senders = ["ACME", "ACME INFO"]' in out.stderr


def test_headers_masgsm_wrong_password_is_not_papered_over(cli, home, emulator, monkeypatch):
    home.write_config(emulator.profiles('senders = ["ACME"]'))
    monkeypatch.setattr(emulator, "MASGSM_PASS", "another")
    out = cli("headers", "-p", "mas")
    assert out.exit_code == 4
    assert "wrong username or password" in out.stderr


@pytest.mark.parametrize("profile", ["vs", "cs"])
def test_headers_without_a_call_are_the_configured_senders(cli, home, emulator, profile):
    home.write_config(emulator.profiles('senders = ["ACME", "TEST"]'))
    out = cli("headers", "-p", profile, "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert (doc["source"], doc["label"]) == ("profile", "configured in profile")
    assert [h["name"] for h in doc["headers"]] == ["ACME", "TEST"]
    assert emulator.requests == []
    assert "configured in profile" in cli("headers", "-p", profile).stdout


@pytest.mark.parametrize(("profile", "provider"), [("vs", "vairosms"), ("cs", "customersms")])
def test_headers_without_a_call_or_senders_is_exit_2_naming_the_provider(
    cli, setup, profile, provider
):
    out = cli("headers", "-p", profile)
    assert out.exit_code == 2
    assert f"{provider} offers no call to list sender headers" in out.stderr
    assert "senders = [" in out.stderr


def test_headers_warn_when_the_profiles_sender_is_not_listed(cli, home, emulator):
    home.write_config(emulator.profiles('senders = ["TEST", "PROMO"]'))
    out = cli("headers", "-p", "vs", "--json")
    assert out.exit_code == 0
    assert out.json()["sender_listed"] is False
    assert "the profile's sender 'ACME' is not among these headers" in out.stderr
    human = cli("headers", "-p", "vs")
    assert "NOT listed" in human.stdout


def test_headers_sandbox_is_simulated(cli, home):
    doc = cli("headers", "--provider", "sandbox", "--json").json()
    assert (doc["source"], [h["name"] for h in doc["headers"]]) == (
        "simulated", ["SMSCLI", "SANDBOX"],
    )  # fmt: skip


# --- the config file others can read ------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("balance", "-p", "mas"), ("headers", "-p", "mas"), ("report", "-p", "mas"), ("history",)],
)
def test_a_config_file_others_can_read_draws_a_warning(cli, home, emulator, args):
    home.write_config(emulator.profiles(), mode=0o644)
    out = cli(*args)
    assert "readable by other users" in out.stderr


# --- secrets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["customersms", "vairosms", "masgsm"])
def test_no_secret_anywhere_across_the_account_commands(
    proc, home, emulator, monkeypatch, provider
):
    monkeypatch.setattr(emulator, "CUSTOMERSMS_KEY", KEY)
    monkeypatch.setattr(emulator, "VAIROSMS_KEY", KEY)
    monkeypatch.setattr(emulator, "MASGSM_PASS", PASSWORD)
    secret = PASSWORD if provider == "masgsm" else KEY
    creds = (
        ("--username", Emulator.MASGSM_USER, "--password", PASSWORD, "--sender", "ACME")
        if provider == "masgsm"
        else ("--api-key", KEY) + (("--sender", "ACME") if provider == "vairosms" else ())
    )
    texts: list[str] = []

    def run(*args: str) -> str:
        out = proc(*args)
        texts.extend([out.stdout, out.stderr])
        return out.stdout

    base = ("--base-url", emulator.base_url(provider), "--senders", "ACME,TEST")
    run("profiles", "add", "p", "--provider", provider, *creds, *base, "--test", "--debug")
    run("send", "05321234567,05321112233", "-m", "Merhaba", "-p", "p", "--debug")
    for command in ("balance", "report", "headers"):
        run(command, "-p", "p", "--debug")
    run("report", "-p", "p", "--json")
    emulator.masgsm_legacy_down = True
    run("headers", "-p", "p", "--debug")
    run_id = json.loads(run("history", "--json"))["runs"][0]["run_id"]
    run("history", "show", run_id, "--json")
    # wrong credentials: the emulator now expects other secrets than the ones we send
    emulator.CUSTOMERSMS_KEY = emulator.VAIROSMS_KEY = emulator.MASGSM_PASS = "other"
    run("report", "-p", "p", "--debug")
    run("profiles", "add", "p", "--provider", provider, *creds, *base, "--test", "--json")
    assert any("→ POST" in t or "→ GET" in t for t in texts)  # the debug log was on
    assert_clean(texts, home)
    stored = home.config.read_text(encoding="utf-8")
    assert stored.count(secret) == 1  # in the profile, where it belongs, and nowhere else
