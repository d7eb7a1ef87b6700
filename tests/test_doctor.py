"""``smscli doctor``: every problem of the configuration named (profile, key, what, how to fix)
with exit 4, nothing wrong exit 0; the credentials tested through free calls only."""

from __future__ import annotations

import os

import pytest

from tests.emulator import Emulator

DOCTOR_KEYS = {"check", "profile", "key", "status", "message", "hint"}


def problems(doc: dict) -> list[dict]:
    return [c for c in doc["checks"] if c["status"] == "problem"]


def by(doc: dict, check: str, profile: str | None = None) -> list[dict]:
    return [c for c in doc["checks"] if c["check"] == check and c["profile"] == profile]


def test_a_sound_configuration_is_exit_0_with_credentials_tested_for_free(proc, home, emulator):
    home.write_config('default_profile = "vs"\n' + emulator.profiles())
    out = proc("doctor", "--json")
    assert out.exit_code == 0, out.stdout + out.stderr
    doc = out.json()
    assert (doc["command"], doc["exit_code"], doc["error"]) == ("doctor", 0, None)
    assert all(set(c) == DOCTOR_KEYS for c in doc["checks"])
    assert problems(doc) == []
    assert [c["status"] for c in by(doc, "credentials", "mas")] == ["ok"]
    assert "1,000,000" in by(doc, "credentials", "mas")[0]["message"]
    assert [c["status"] for c in by(doc, "credentials", "vs")] == ["ok"]
    assert [c["status"] for c in by(doc, "credentials", "cs")] == ["skipped"]
    assert doc["counts"]["problem"] == 0 and isinstance(doc["counts"]["ok"], int)
    assert emulator.received == []  # nothing sent
    assert not any(r.path.endswith("/sms/send") for r in emulator.requests)  # customersms
    for secret in (Emulator.MASGSM_PASS, Emulator.VAIROSMS_KEY, Emulator.CUSTOMERSMS_KEY):
        assert secret not in out.stdout + out.stderr


def test_every_wrong_value_is_one_line_naming_profile_key_and_fix(proc, home):
    home.write_config(
        "[profiles.a]\n"
        'provider = "vairosms"\napi_key = "k-123456"\nsender = "AB"\nregion = "XX"\n'
        'base_url = "ftp://example.com"\nrate_limits = ["100/fortnight"]\n'
        "[profiles.b]\n"
        'provider = "masgms"\n'
        "[profiles.c]\n"
        'provider = "masgsm"\nusername = "5321112233"\nsender = "ACME"\nsend_window = "9-5"\n'
    )
    out = proc("doctor", "--offline")
    assert out.exit_code == 4, out.stdout + out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith("PROBLEM")]
    expected = [
        ("profile a, sender:", "sender 'AB' must be 3 to 11 characters", "fix: a header"),
        ("profile a, region:", "region 'XX' is not a region code", "fix: the ISO 3166 code"),
        ("profile a, base_url:", "is not an http:// or https:// URL", "fix: the provider's"),
        ("profile a, rate_limits:", "invalid rate '100/fortnight'", "fix: rates like"),
        ("profile b, provider:", "did you mean 'masgsm'?", "fix: set provider"),
        ("profile c, password:", "masgsm needs password", "fix: set password in [profiles.c]"),
        ("profile c, send_window:", "send_window must look like 09:00-20:00", "fix: local"),
    ]
    for subject, what, fix in expected:
        found = [line for line in lines if subject in line]
        assert len(found) == 1, (subject, lines)
        assert what in found[0] and fix in found[0], found[0]
    assert len(lines) == len(expected), lines
    assert "7 problems" in out.stdout
    assert "k-123456" not in out.stdout + out.stderr


def test_json_problems_name_profile_key_and_hint(proc, home):
    home.write_config('[profiles.a]\nprovider = "sandbox"\nregion = "XX"\n')
    out = proc("doctor", "--json", "--offline")
    assert out.exit_code == 4
    doc = out.json()
    assert doc["exit_code"] == 4
    assert doc["error"]["code"] == "config" and "1 problem" in doc["error"]["message"]
    (problem,) = problems(doc)
    assert (problem["check"], problem["profile"], problem["key"]) == ("profile", "a", "region")
    assert f"{home.config} [profiles.a]" in problem["message"]
    assert problem["hint"]


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_a_config_file_others_can_read_is_a_problem(proc, home):
    home.write_config('[profiles.a]\nprovider = "vairosms"\napi_key = "k-1"\nsender = "ACME"\n',
                      mode=0o640)  # fmt: skip
    doc = proc("doctor", "--json", "--offline").json()
    (problem,) = problems(doc)
    assert "readable by other users" in problem["message"]
    assert problem["hint"] == f"run: chmod 600 {home.config}"


def test_a_config_file_named_by_smscli_config_that_does_not_exist(proc, home):
    out = proc("doctor", "--offline", SMSCLI_CONFIG="nosuch.toml")
    assert out.exit_code == 4
    assert "the config file nosuch.toml named by SMSCLI_CONFIG does not exist" in out.stdout
    assert "smscli profiles add" in out.stdout


def test_an_unknown_default_profile_is_named_with_the_closest(proc, home):
    home.write_config('default_profile = "man"\n[profiles.main]\nprovider = "sandbox"\n')
    doc = proc("doctor", "--json", "--offline").json()
    (problem,) = problems(doc)
    assert "default_profile" in problem["message"] and "'man'" in problem["message"]
    assert "did you mean 'main'?" in problem["hint"]


def test_the_dotenv_of_a_parent_directory_and_what_it_overrides(proc, home):
    home.write_config('[profiles.x]\nprovider = "sandbox"\nbase_url = "https://a.example"\n')
    dotenv = home.cwd.parent / ".env"
    dotenv.write_text("SMSCLI_BASE_URL=https://b.example\nSMSCLI_SENDR=ACME\n")
    out = proc("doctor", "--json", "--offline")
    assert out.exit_code == 0, out.stdout
    checks = by(out.json(), "dotenv")
    assert checks[0]["status"] == "warning"
    assert str(dotenv) in checks[0]["message"]
    assert "in a parent directory" in checks[0]["message"]
    assert "overrides base_url of profile x" in checks[0]["message"]
    assert "unknown variable SMSCLI_SENDR" in checks[1]["message"]
    assert "did you mean 'SMSCLI_SENDER'?" in checks[1]["hint"]


def test_a_ledger_that_cannot_be_created_is_a_problem(proc, home):
    (home.cwd / "afile").write_text("")
    ledger = str(home.cwd / "afile" / "l.db")
    doc = proc("doctor", "--json", "--offline", SMSCLI_PROVIDER="sandbox", SMSCLI_LEDGER=ledger)
    doc = doc.json()
    (check,) = by(doc, "ledger")
    assert check["status"] == "problem"
    assert "cannot be created" in check["message"]


def test_a_postgresql_ledger_is_tried_online_only_and_its_password_never_shown(proc, home):
    url = "postgresql://smscli:pg-secret-9@127.0.0.1:1/smscli"
    offline = proc("doctor", "--json", "--offline", SMSCLI_PROVIDER="sandbox", SMSCLI_LEDGER=url)
    assert by(offline.json(), "ledger")[0]["status"] == "skipped"
    online = proc("doctor", "--json", SMSCLI_PROVIDER="sandbox", SMSCLI_LEDGER=url)
    assert online.exit_code == 4
    (ledger,) = by(online.json(), "ledger")
    assert ledger["status"] == "problem" and "cannot connect" in ledger["message"]
    assert "pg-secret-9" not in offline.stdout + online.stdout + online.stderr


def test_rejected_credentials_are_a_problem_and_offline_makes_no_request(proc, home, emulator):
    home.write_config(emulator.profiles().replace(Emulator.MASGSM_PASS, "wrong-pw-1"))
    offline = proc("doctor", "--offline")
    assert offline.exit_code == 0, offline.stdout
    assert emulator.requests == []
    out = proc("doctor", "--json")
    assert out.exit_code == 4
    (problem,) = problems(out.json())
    assert (problem["check"], problem["profile"]) == ("credentials", "mas")
    assert "wrong username or password" in problem["message"]
    assert "wrong-pw-1" not in out.stdout + out.stderr
    assert emulator.received == []


def test_the_environment_alone(proc, home):
    out = proc("doctor", "--json", SMSCLI_PROVIDER="sandbox", SMSCLI_REGION="XX")
    assert out.exit_code == 4
    (problem,) = problems(out.json())
    assert (problem["profile"], problem["key"]) == (None, "region")
    assert "SMSCLI_REGION" in problem["message"]
