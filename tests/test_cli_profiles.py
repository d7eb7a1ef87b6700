"""``smscli profiles add``: writing the config file safely (mode 0600, directory 0700, the rest of
the file untouched), asking on a terminal, and ``--test`` against the emulator."""

from __future__ import annotations

import os
import pty
import socket
import stat
import subprocess
import sys
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscli.profile_writer import render, toml_string
from tests.emulator import Emulator

MAS = ("--provider", "masgsm", "--username", "5321112233", "--password", "pw-123456", "-s", "ACME")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read(home) -> dict:
    return tomllib.loads(home.config.read_text(encoding="utf-8"))


@pytest.fixture
def terminal(monkeypatch):
    """stdin is a terminal, so missing values are asked for."""
    monkeypatch.setattr("smscli.cli.profiles._interactive", lambda: True)


# --- writing the file -------------------------------------------------------------------------


def test_add_creates_a_private_file_and_directories(cli, home):
    assert not home.config.parent.exists()
    out = cli("profiles", "add", "acme", *MAS, "--senders", "ACME, TEST")
    assert out.exit_code == 0, out.stderr
    assert mode(home.config) == 0o600
    assert mode(home.config.parent) == mode(home.config.parent.parent) == 0o700
    assert read(home) == {
        "default_profile": "acme",  # the first profile of a new file
        "profiles": {
            "acme": {
                "provider": "masgsm",
                "username": "5321112233",
                "password": "pw-123456",
                "sender": "ACME",
                "senders": ["ACME", "TEST"],
            }
        },
    }
    assert "Profile acme added" in out.stdout
    assert "pw-123456" not in out.stdout + out.stderr
    shown = cli("profiles", "show", "--json").json()
    assert shown["profile"] == "acme"


def test_add_keeps_the_rest_of_the_file_byte_for_byte(cli, home):
    before = (
        "# my smscli config\n"
        'default_profile = "old"   # the usual one\n'
        "\n"
        "[profiles.old]\n"
        'provider = "customersms"  # alerts\n'
        'api_key = "k-1234567"\n'
        "senders = [\n"
        '  "ACME",  # main\n'
        "]\n"
    )
    home.write_config(before)
    out = cli("profiles", "add", "acme", *MAS)
    assert out.exit_code == 0, out.stderr
    after = home.config.read_text(encoding="utf-8")
    assert after.startswith(before)
    assert read(home)["default_profile"] == "old"
    assert read(home)["profiles"]["acme"]["provider"] == "masgsm"


def test_update_changes_only_the_lines_it_must(cli, home):
    before = (
        "[profiles.acme]\n"
        'provider = "masgsm"\n'
        'username = "5321112233"\n'
        'password = "pw-123456"   # from the panel\n'
        'sender = "ACME"          # approved 2024\n'
        "\n"
        "# the other account\n"
        "[profiles.other]\n"
        'provider = "sandbox"\n'
    )
    home.write_config(before)
    out = cli("profiles", "add", "acme", "--provider", "masgsm", "-s", "PROMO", "--region", "tr")
    assert out.exit_code == 0, out.stderr
    assert "Profile acme updated" in out.stdout
    after = home.config.read_text(encoding="utf-8")
    assert after == before.replace(
        'sender = "ACME"          # approved 2024\n',
        'sender = "PROMO"          # approved 2024\nregion = "TR"\n',
    )
    assert "default_profile" not in read(home)


def test_a_new_provider_starts_the_profile_afresh(cli, home):
    home.write_config('[profiles.acme]\nprovider = "masgsm"\nusername = "1"\npassword = "p"\n')
    out = cli("profiles", "add", "acme", "--provider", "customersms", "--api-key", "k-123456")
    assert out.exit_code == 0, out.stderr
    assert read(home)["profiles"]["acme"] == {"provider": "customersms", "api_key": "k-123456"}


def test_default_moves_the_default_profile(cli, home):
    home.write_config('default_profile = "a"\n[profiles.a]\nprovider = "sandbox"\n')
    out = cli("profiles", "add", "b", "--provider", "sandbox", "--default", "--json")
    assert out.exit_code == 0, out.stderr
    assert out.json()["default"] is True
    assert read(home)["default_profile"] == "b"


def test_a_file_others_could_read_is_rewritten_private(cli, home):
    home.write_config('[profiles.a]\nprovider = "vairosms"\napi_key = "k-123456"\n', mode=0o644)
    assert "readable by other users" in cli("profiles").stderr
    out = cli("profiles", "add", "a", "--provider", "vairosms", "-s", "ACME")
    assert out.exit_code == 0, out.stderr
    assert mode(home.config) == 0o600
    assert "was readable by other users; it is now mode 0600" in out.stderr
    assert "readable by other users" not in cli("profiles").stderr


def test_an_inline_profile_is_updated_in_place(cli, home):
    home.write_config('profiles = { acme = { provider = "sandbox" } }  # inline\n')
    out = cli("profiles", "add", "acme", "--provider", "sandbox", "--region", "DE")
    assert out.exit_code == 0, out.stderr
    assert home.config.read_text(encoding="utf-8") == (
        'profiles = { acme = { provider = "sandbox", region = "DE" } }  # inline\n'
    )


def test_a_profile_written_another_way_is_not_touched(cli, home):
    before = '[[profiles]]\nprovider = "sandbox"\n'
    home.write_config(before)
    out = cli("profiles", "add", "acme", "--provider", "sandbox", "--region", "DE")
    assert out.exit_code == 4
    assert "nothing was written" in out.stderr
    assert home.config.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    "password",
    ['quo"te', "back\\slash", "şifre-ĞÜ-🙂", "tab\tand\nnewline", "'single'", "a#b = [c]"],
)
def test_values_round_trip_through_toml(cli, home, password):
    out = cli("profiles", "add", "p", "--provider", "masgsm", "--username", "u1",
              "--password", password, "-s", "ACME")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert read(home)["profiles"]["p"]["password"] == password
    again = cli("profiles", "add", "p", "--provider", "masgsm", "-s", "TEST")
    assert again.exit_code == 0, again.stderr
    assert read(home)["profiles"]["p"]["password"] == password


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_toml_string_round_trips(text):
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 'default_profile = "n"\n\n[profiles.n]\nprovider = "sandbox"\n'),
        ("# top\r\n[profiles.a]\r\nprovider = 'x'", None),  # CRLF, no final newline
        ('[profiles."my profile"]\nprovider = "x"\n', None),
    ],
)
def test_render_cases(text, expected):
    new = render(text, "n", {"provider": "sandbox"}, make_default=True)
    if expected is not None:
        assert new == expected
    data = tomllib.loads(new)
    assert data["profiles"]["n"] == {"provider": "sandbox"}
    assert data["default_profile"] == "n"
    if "\r\n" in text:
        assert "\n" not in new.replace("\r\n", "")


# --- missing values ---------------------------------------------------------------------------


def test_missing_values_are_asked_for_on_a_terminal_secrets_without_echo(cli, home, terminal):
    out = cli(
        "profiles", "add", "m", "--provider", "masgsm", input="5321112233\nhidden-pw-9\nACME\n"
    )
    assert out.exit_code == 0, out.stderr
    assert read(home)["profiles"]["m"] == {
        "provider": "masgsm",
        "username": "5321112233",
        "password": "hidden-pw-9",
        "sender": "ACME",
    }
    assert "Password" in out.stderr
    assert "hidden-pw-9" not in out.stdout + out.stderr


def test_missing_values_without_a_terminal_are_a_usage_error(cli, home):
    out = cli("profiles", "add", "m", "--provider", "masgsm", "--username", "5321112233")
    assert out.exit_code == 2
    assert "a masgsm profile needs --password, --sender" in out.stderr
    assert "run on a terminal" in out.stderr
    assert not home.config.exists()


def test_secrets_given_as_flags_draw_a_note(cli, home):
    out = cli("profiles", "add", "acme", *MAS)
    assert "shell history" in out.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--provider", "nosuch"), "unknown provider 'nosuch'"),
        (("--provider", "vairosms", "--api-key", "k-1234", "-s", "ŞİRKET"), "Turkish"),
        (("--provider", "vairosms", "--api-key", "k-1234", "-s", "AB"), "3 to 11 characters"),
        (("--provider", "sandbox", "--senders", "OK1,X"), "3 to 11 characters"),
        (("--provider", "sandbox", "--region", "TUR"), "two-letter country code"),
        (("--provider", "sandbox", "--region", "XX"), "region 'XX' is not a region code"),
        (("--provider", "vairsms"), "did you mean 'vairosms'?"),
        (("--provider", "sandbox", "--base-url", "ftp://x"), "http:// or https://"),
        ((), "--provider"),
    ],
)
def test_bad_values_are_usage_errors_and_write_nothing(cli, home, args, said):
    out = cli("profiles", "add", "p", *args)
    assert out.exit_code == 2
    assert said in out.stderr
    assert not home.config.exists()


# --- --test -----------------------------------------------------------------------------------


def creds(emu: Emulator, provider: str, wrong: bool) -> tuple[str, ...]:
    url = ("--base-url", emu.base_url(provider))
    if provider == "masgsm":
        password = "wrong-pw-1" if wrong else Emulator.MASGSM_PASS
        return ("--username", Emulator.MASGSM_USER, "--password", password, "-s", "ACME", *url)
    key = "wrong-key-1" if wrong else Emulator.VAIROSMS_KEY
    return ("--api-key", key, "-s", "ACME", *url)


@pytest.mark.parametrize(
    ("provider", "wrong", "code", "said"),
    [
        ("masgsm", False, 0, "Credentials OK: masgsm balance call: 1,000,000 credits"),
        ("masgsm", True, 4, "wrong username or password"),
        ("vairosms", False, 0, "Credentials OK: vairosms report call for send id 0"),
        ("vairosms", True, 4, "vairosms rejected the API key"),
    ],
)
def test_test_checks_the_credentials_live(cli, home, emulator, provider, wrong, code, said):
    out = cli(
        "profiles", "add", "p", "--provider", provider, *creds(emulator, provider, wrong), "--test"
    )
    assert out.exit_code == code, out.stderr
    assert said in out.stdout + out.stderr
    assert home.config.exists()  # saved either way
    calls = [r for r in emulator.requests if r.method in ("GET", "POST")]
    assert calls and not emulator.received  # a harmless call: nothing was sent
    if provider == "vairosms":
        assert calls[0].path.endswith("/GonderimBilgisi/0")


def test_test_json_document(cli, home, emulator):
    out = cli(
        "profiles", "add", "p", "--provider", "masgsm", *creds(emulator, "masgsm", True),
        "--test", "--json",
    )  # fmt: skip
    assert out.exit_code == 4
    doc = out.json()
    assert doc["test"]["ok"] is False
    assert doc["settings"][2] == {"setting": "password", "value": "wr***-1"}


def test_test_customersms_has_no_harmless_call(cli, home, emulator):
    out = cli("profiles", "add", "c", "--provider", "customersms", "--api-key", "k-1234567",
              "--base-url", emulator.base_url("customersms"), "--test", "--json")  # fmt: skip
    assert out.exit_code == 0
    assert out.json()["test"]["checked"] is False
    assert "a send costs credit" in out.json()["test"]["detail"]
    assert emulator.requests == []


def test_test_sandbox(cli, home):
    out = cli("profiles", "add", "s", "--provider", "sandbox", "--test")
    assert out.exit_code == 0
    assert "Credentials OK: sandbox (simulated)" in out.stdout


def test_test_provider_unreachable_is_exit_6(cli, home):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = cli("profiles", "add", "p", "--provider", "masgsm", *MAS[2:],
              "--base-url", f"http://127.0.0.1:{port}", "--test")  # fmt: skip
    assert out.exit_code == 6
    assert "could not connect" in out.stderr


NGINX_404 = "/no/such/root"
HTML_PAGE = "<!DOCTYPE html><html><body><h1>Sitemiz bakımdadır</h1></body></html>"


@pytest.mark.parametrize("provider", ["masgsm", "vairosms"])
@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("wrong base_url", "HTTP 404"),
        ("html page", "Sitemiz bakımdadır"),
        ("html 404 page", "HTTP 404"),
        ("json of another shape", '{"status":"ok"}'),
        ("empty", "HTTP 200"),
        ("server error", "HTTP 500"),
        ("redirect", "HTTP 301"),
    ],
)
def test_test_never_says_ok_without_a_readable_answer(cli, home, emulator, provider, fault, said):
    args = creds(emulator, provider, wrong=False)
    if fault == "wrong base_url":
        args = (*args[:-1], emulator.url + NGINX_404)
    else:
        status, body, kind = {
            "html page": (200, HTML_PAGE, "text/html; charset=UTF-8"),
            "html 404 page": (404, HTML_PAGE + " HTTP 404", "text/html"),
            "json of another shape": (200, {"status": "ok"}, None),
            "empty": (200, "", "text/html"),
            "server error": (500, HTML_PAGE + " HTTP 500", "text/html"),
            "redirect": (301, "", "text/html"),
        }[fault]
        emulator.answer(provider, body, status=status, content_type=kind)
    out = cli("profiles", "add", "p", "--provider", provider, *args, "--test")
    assert out.exit_code == 6, out.stdout + out.stderr
    shown = out.stdout + out.stderr
    assert "Credentials OK" not in shown
    assert "Could not check the credentials (the profile is saved)" in out.stdout
    assert "error: could not check the credentials: " in out.stderr
    assert said in out.stderr
    assert home.config.exists()
    assert emulator.received == []


@pytest.mark.parametrize(
    ("provider", "body", "status", "said"),
    [
        ("vairosms", {"durum": False, "aciklama": "Hesabınız askıya alındı"}, 400,
         "vairosms refused the package report of id '0': Hesabınız askıya alındı"),
        ("masgsm", '{"code":1,"message":"Hesap Bakiyesi","balance":"nan"}', 200,
         "masgsm: unexpected balance reply"),
        ("masgsm", "\ufeff5", 200, "masgsm: unexpected reply code 5"),
    ],
)  # fmt: skip
def test_test_other_answers_could_not_check_json(cli, home, emulator, provider, body, status, said):
    emulator.answer(provider, body, status=status)
    out = cli("profiles", "add", "p", "--provider", provider,
              *creds(emulator, provider, wrong=False), "--test", "--json")  # fmt: skip
    assert out.exit_code == 6, out.stderr
    test = out.json()["test"]
    assert (test["checked"], test["ok"]) == (False, None)
    assert test["detail"].startswith("could not check the credentials: ")
    assert said in test["detail"]
    assert said in out.stderr


@pytest.mark.parametrize("body", [{"durum": False, "aciklama": "KAYIT BULUNAMADI"}, None])
def test_test_vairosms_no_such_send_is_ok(cli, home, emulator, body):
    """The provider's own "no such send" (any case form, 404 or 200) reads the credentials."""
    if body is not None:
        emulator.answer("vairosms", body, status=200)
    out = cli("profiles", "add", "p", "--provider", "vairosms",
              *creds(emulator, "vairosms", wrong=False), "--test", "--json")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    test = out.json()["test"]
    assert (test["checked"], test["ok"]) == (True, True)
    assert "credentials not rejected (vairosms has no send with id '0'" in test["detail"]


# --- checked before writing; asked again on a terminal (issue 16) ----------------------------


def test_an_unknown_region_is_refused_before_writing(proc, home):
    out = proc("profiles", "add", "x", "--provider", "sandbox", "--region", "XX")
    assert out.exit_code == 2
    assert "region 'XX' is not a region code phonenumbers knows" in out.stderr
    assert not home.config.exists()


def test_a_wrong_value_without_a_terminal_is_named_before_a_missing_one(proc, home):
    out = proc("profiles", "add", "x", "--provider", "vairosms", "-s", "AB")
    assert out.exit_code == 2
    assert "sender 'AB' must be 3 to 11 characters long" in out.stderr
    assert not home.config.exists()


def test_a_wrong_value_on_a_terminal_is_asked_again(cli, home, terminal):
    out = cli("profiles", "add", "x", "--provider", "vairosms", "--region", "XX",
              input="key-123456\nAB\nACME\nde\n")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert "sender 'AB' must be 3 to 11 characters long" in out.stderr
    assert "region 'XX' is not a region code" in out.stderr
    assert read(home)["profiles"]["x"] == {
        "provider": "vairosms", "api_key": "key-123456", "sender": "ACME", "region": "DE",
    }  # fmt: skip


def test_an_invalid_sender_typed_on_a_real_terminal_is_asked_again_keeping_the_key(home):
    from tests.test_tty import read_until

    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "smscli", "profiles", "add", "x", "--provider", "vairosms"],
        cwd=home.cwd, env=home.env(TERM="dumb"), stdin=slave, stdout=slave, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    try:
        # The space after the colon is written once echo is off (getpass flushes what came
        # before it).
        assert b"API key: " in read_until(master, b"API key: ")
        os.write(master, b"key-123456\n")
        assert b"Sender header" in read_until(master, b"Sender header")
        os.write(master, b"\xc5\x9e\xc4\xb0RKET\n")  # ŞİRKET
        asked = read_until(master, b"Sender header")
        assert b"must not contain Turkish" in asked and b"Sender header" in asked
        os.write(master, b"SIRKET\n")
        rest = read_until(master, b"mode 0600")
        assert child.wait(timeout=30) == 0, rest
    finally:
        os.close(master)
    assert read(home)["profiles"]["x"] == {
        "provider": "vairosms",
        "api_key": "key-123456",
        "sender": "SIRKET",
    }
