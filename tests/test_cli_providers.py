"""``smscli send`` through each real driver, over real HTTP, against the loopback emulator:
the exact documented wire format, the documented errors, and injected faults."""

from __future__ import annotations

import json
import socket
import sqlite3
from urllib.parse import parse_qsl

import pytest

from tests.emulator import Emulator

A, B = "+905321234567", "+905321112233"


@pytest.fixture
def send(cli, home, emulator):
    home.write_config(emulator.profiles())

    def run(profile: str, *args: str, text: str = "Merhaba", numbers: str = f"{A},{B}"):
        return cli("send", numbers, "-m", text, "-p", profile, "--json", *args)

    return run


def states(home) -> list[str]:
    with sqlite3.connect(home.ledger) as db:
        return [r[0] for r in db.execute("SELECT state FROM messages ORDER BY id")]


def sends(emu: Emulator) -> list:
    """The send requests (a masgsm send checks the balance first: a POST too, type=4)."""
    return [r for r in emu.requests if r.method == "POST" and (r.form or {}).get("type") != "4"]


# --- the wire format, as documented -------------------------------------------------------


def test_customersms_wire_format(send, emulator):
    out = send("cs")
    assert out.exit_code == 0, out.stderr
    (req,) = sends(emulator)
    assert req.path == "/customersms/sms_system/api.php"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.body) == {
        "api_key": Emulator.CUSTOMERSMS_KEY,
        "phone": [A, B],
        "message": "Merhaba",
    }
    doc = out.json()
    assert [r["message_id"] for r in doc["results"]] == [
        emulator.received_by(A)[0].message_id,
        emulator.received_by(B)[0].message_id,
    ]
    assert doc["credits_remaining"] == emulator.credits("customersms")


def test_vairosms_wire_format_with_turkish_mode(send, emulator):
    out = send("vs", text="Şişli'de ılık")
    assert out.exit_code == 0, out.stderr
    (req,) = sends(emulator)
    assert req.path == "/vairosms/Panel/api/v1/SmsGonder"
    assert req.query == {"api_key": Emulator.VAIROSMS_KEY}
    assert json.loads(req.body) == {
        "baslik": "ACME",
        "tr_char": True,
        "mesajlar": [
            {"msg": "Şişli'de ılık", "dest": "905321234567"},
            {"msg": "Şişli'de ılık", "dest": "905321112233"},
        ],
    }
    got = emulator.received_by(A)[0]
    assert (got.sender, got.turkish) == ("ACME", True)
    assert out.json()["results"][0]["message_id"] == got.batch_id


def test_vairosms_plain_text_has_no_tr_char(send, emulator):
    assert send("vs").exit_code == 0
    assert "tr_char" not in json.loads(sends(emulator)[0].body)


@pytest.mark.parametrize("reply", ["json", "plain"])
def test_masgsm_wire_format(send, emulator, reply):
    emulator.masgsm_reply = reply
    out = send("mas", text="Çok güzel ş")
    assert out.exit_code == 0, out.stderr
    (req,) = sends(emulator)
    assert req.path == "/masgsm/MasApiV2/api_post.php"
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(req.body.decode("ascii")) == [
        ("type", "0"),
        ("u", Emulator.MASGSM_USER),
        ("p", Emulator.MASGSM_PASS),
        ("message", "Çok güzel ş"),
        ("title", "ACME"),
        ("numbers", "5321234567,5321112233"),
        ("lang", "tr"),
    ]
    assert [r.text for r in emulator.received] == ["Çok güzel ş"] * 2
    assert out.json()["results"][0]["message_id"] == emulator.received[0].message_id


# --- documented errors -> exit codes ------------------------------------------------------


SECRETS = {"cs": Emulator.CUSTOMERSMS_KEY, "vs": Emulator.VAIROSMS_KEY, "mas": Emulator.MASGSM_PASS}


@pytest.mark.parametrize("profile", ["cs", "vs", "mas"])
def test_wrong_credentials_exit_4_and_nothing_received(send, home, emulator, profile):
    home.write_config(emulator.profiles().replace(SECRETS[profile], "wrong-secret-1"))
    out = send(profile)
    assert out.exit_code == 4, (out.stdout, out.stderr)
    assert emulator.received == []
    assert states(home) == ["failed", "failed"]
    assert "wrong-secret-1" not in out.stdout + out.stderr


@pytest.mark.parametrize("profile", ["cs", "vs", "mas"])
def test_insufficient_credit_exit_5(send, emulator, profile):
    emulator.set_credits({"cs": "customersms", "vs": "vairosms", "mas": "masgsm"}[profile], 0)
    out = send(profile)
    assert out.exit_code == 5, out.stdout
    assert emulator.received == []


def test_masgsm_partial_credit_is_in_doubt_not_failed(send, home, emulator):
    emulator.set_credits("masgsm", 1)
    out = send("mas", "--force")  # past the balance check that would stop it first
    assert out.exit_code == 7
    assert len(emulator.received) == 1
    assert states(home) == ["unknown", "unknown"]
    assert "code 3" in out.json()["results"][0]["error"]


@pytest.mark.parametrize(("sender", "code"), [("NOPE", "402"), ("YASAK", "403")])
def test_masgsm_bad_header_names_the_header(send, emulator, sender, code):
    out = send("mas", "-s", sender)
    assert out.exit_code == 4
    assert sender in out.json()["results"][0]["error"]
    assert f"code {code}" in out.json()["results"][0]["error"]


def test_vairosms_invalid_source_address_names_the_header(send, emulator):
    out = send("vs", "-s", "NOPE")
    assert out.exit_code == 4
    assert "NOPE" in out.json()["results"][0]["error"]


def test_customersms_per_number_rejection_is_partial(send, emulator):
    emulator.reject_numbers.add(B)
    out = send("cs")
    assert out.exit_code == 1
    assert [r["status"] for r in out.json()["results"]] == ["accepted", "failed"]


# --- faults: exactly once, in doubt when in doubt -----------------------------------------


@pytest.mark.parametrize(
    ("fault", "received"),
    [
        ("500", 0),
        ("502-html", 0),
        ("html-200", 2),
        ("empty-200", 2),
        ("drop-after-processing", 2),
        ("drop-before-processing", 0),
        ("500-after-processing", 2),
    ],
)
@pytest.mark.parametrize("profile", ["cs", "vs", "mas"])
def test_faults_after_sending_are_unknown_and_never_retried(
    send, home, emulator, profile, fault, received
):
    provider = {"cs": "customersms", "vs": "vairosms", "mas": "masgsm"}[profile]
    emulator.inject(provider, fault)
    out = send(profile)
    assert out.exit_code == 7, (out.stdout, out.stderr)
    assert states(home) == ["unknown", "unknown"]
    assert len(emulator.received) == received
    assert len(sends(emulator)) == 1  # never retried automatically
    assert emulator.duplicates() == {}


def test_read_timeout_after_processing_is_unknown(send, home, emulator, monkeypatch):
    monkeypatch.setenv("SMSCLI_TIMEOUT", "0.5")
    emulator.inject("masgsm", "timeout-after-processing", delay=3)
    out = send("mas")
    assert out.exit_code == 7
    assert "no reply within the timeout" in out.json()["results"][0]["error"]
    assert len(emulator.received) == 2
    assert states(home) == ["unknown", "unknown"]


def test_html_404_is_in_doubt_never_failed(send, home, emulator):
    """A page may come after the request was processed (issue 26): never ``failed``, which
    ``--retry-failed`` would send again."""
    emulator.inject("vairosms", "html-404")
    out = send("vs")
    assert out.exit_code == 7
    assert states(home) == ["unknown", "unknown"]
    assert "unexpected reply (HTTP 404)" in out.json()["results"][0]["error"]


@pytest.mark.parametrize("fault", ["429", "503-retry-after"])
def test_rate_limit_is_waited_and_retried(send, emulator, fault):
    emulator.inject("customersms", fault, retry_after=0.2, times=2)
    out = send("cs")
    assert out.exit_code == 0, out.stdout
    assert len(sends(emulator)) == 3
    assert len(emulator.received) == 2
    assert emulator.duplicates() == {}


def test_rate_limit_beyond_max_wait_gives_up_without_sending(send, home, emulator):
    emulator.inject("customersms", "429", retry_after=30)
    out = send("cs", "--max-wait", "5")
    assert out.exit_code == 8  # a rate quota stopped it, as in bulk; nothing was sent
    assert "max-wait" in out.json()["results"][0]["error"]
    assert states(home) == ["failed", "failed"]


def test_connection_refused_is_failed_and_says_nothing_was_sent(cli, home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = cli(
        "send", A, "-m", "x", "--json",
        env={"SMSCLI_PROVIDER": "customersms", "SMSCLI_API_KEY": "k-1234567",
             "SMSCLI_BASE_URL": f"http://127.0.0.1:{port}"},
    )  # fmt: skip
    assert out.exit_code == 6
    assert "nothing was sent" in out.json()["results"][0]["error"]
    assert states(home) == ["failed"]


# --- an unknown provider: one exit code everywhere (issue 16) -------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("send", A, "-m", "hi"),
        ("bulk", "k.csv", "-m", "hi", "--yes"),
        ("balance",),
        ("report", "--last"),
        ("headers",),
        ("profiles", "add", "x"),
    ],
)
def test_an_unknown_provider_flag_is_a_usage_error_with_the_closest_name(proc, home, args):
    (home.cwd / "k.csv").write_text("telefon\n05321234567\n", encoding="utf-8")
    out = proc(*args, "--provider", "vairsms")
    assert out.exit_code == 2, out.stderr
    assert "unknown provider 'vairsms'" in out.stderr
    assert "did you mean 'vairosms'?" in out.stderr
    assert not home.config.exists()


@pytest.mark.parametrize("where", ["file", "environment"])
def test_an_unknown_provider_in_the_config_or_environment_is_exit_2_naming_where(proc, home, where):
    env = {}
    if where == "file":
        home.write_config('[profiles.acme]\nprovider = "masgms"\n')
    else:
        env["SMSCLI_PROVIDER"] = "masgms"
    out = proc("send", A, "-m", "hi", "--json", **env)
    assert out.exit_code == 2, out.stderr
    assert "did you mean 'masgsm'?" in out.stderr
    said = f"{home.config} [profiles.acme]" if where == "file" else "SMSCLI_PROVIDER"
    assert f"unknown provider 'masgms' (from {said})" in out.stderr
    assert out.json()["error"]["code"] == "usage"
