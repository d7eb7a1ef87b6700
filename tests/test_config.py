"""Profile resolution: flags > environment (.env included) > config file > defaults; the
profiles of the config file removed, and the default chosen."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from smscli.config import ConfigFile, Environment, resolve
from smscli.errors import ConfigError

PROFILES = """
default_profile = "acme"
[profiles.acme]
provider = "masgsm"
username = "5321112233"
password = "file-password"
sender = "ACME"
[profiles.other]
provider = "vairosms"
api_key = "file-key"
sender = "OTHER"
region = "de"
"""


def env_for(home, variables=None) -> Environment:
    base = {"SMSCLI_CONFIG": str(home.config), "SMSCLI_LEDGER": str(home.ledger)}
    return Environment.from_process({**base, **(variables or {})}, home.cwd)


def test_file_profile_defaults_and_origins(home):
    home.write_config(PROFILES)
    s = resolve(env_for(home))
    assert s.profile == "acme"
    assert s.values["provider"].value == "masgsm"
    assert s.values["provider"].origin == "file"
    assert s.values["region"].value == "TR"
    assert s.values["region"].origin == "default"


def test_precedence_flag_over_env_over_dotenv_over_file(home):
    home.write_config(PROFILES)
    (home.cwd / ".env").write_text("SMSCLI_SENDER=DOTENV\nSMSCLI_USERNAME=5329998877\n")
    s = resolve(env_for(home))
    assert (s.get("sender"), s.values["sender"].origin) == ("DOTENV", ".env")
    s = resolve(env_for(home, {"SMSCLI_SENDER": "ENVSENDER"}))
    assert (s.get("sender"), s.values["sender"].origin) == ("ENVSENDER", "env")
    # .env never overrides a variable already set, but still fills the others
    assert (s.get("username"), s.values["username"].origin) == ("5329998877", ".env")
    s = resolve(env_for(home, {"SMSCLI_SENDER": "ENVSENDER"}), flags={"sender": "FLAG"})
    assert (s.get("sender"), s.values["sender"].origin) == ("FLAG", "flag")


def test_dotenv_found_from_a_subdirectory(home):
    (home.cwd / ".env").write_text("SMSCLI_PROVIDER=sandbox\n")
    sub = home.cwd / "a" / "b"
    sub.mkdir(parents=True)
    env = Environment.from_process({"SMSCLI_CONFIG": str(home.config)}, sub)
    assert resolve(env).provider == "sandbox"


def test_python_dotenv_is_loaded_only_to_read_a_dotenv_file(tmp_path):
    """Its import costs ~10 ms of every start; most calls have no .env to read."""
    code = (
        "import os, sys; from pathlib import Path; from smscli.config import Environment; "
        "e = Environment.from_process({}, Path.cwd()); "
        "print(e.dotenv_path, dict(e.dotenv), 'dotenv' in sys.modules)"
    )

    def run_in(folder: Path) -> str:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run_in(tmp_path) == "None {} False"
    (tmp_path / ".env").write_text("SMSCLI_SENDER=ACME\n")
    (tmp_path / "sub").mkdir()
    assert run_in(tmp_path / "sub") == f"{tmp_path / '.env'} {{'SMSCLI_SENDER': 'ACME'}} True"


@pytest.mark.parametrize(
    ("flag", "variables", "expected"),
    [
        ("other", {"SMSCLI_PROFILE": "acme"}, "other"),
        (None, {"SMSCLI_PROFILE": "other"}, "other"),
        (None, {}, "acme"),
    ],
)
def test_profile_selection(home, flag, variables, expected):
    home.write_config(PROFILES)
    assert resolve(env_for(home, variables), profile=flag).profile == expected


def test_the_only_profile_is_selected(home):
    home.write_config('[profiles.solo]\nprovider = "sandbox"\n')
    assert resolve(env_for(home)).profile == "solo"


def test_unknown_profile_names_the_known_ones(home):
    home.write_config(PROFILES)
    with pytest.raises(ConfigError) as err:
        resolve(env_for(home), profile="nope")
    assert "'nope'" in err.value.message
    assert "acme, other" in (err.value.hint or "")


def test_environment_alone_forms_a_profile(home):
    s = resolve(env_for(home, {"SMSCLI_PROVIDER": "customersms", "SMSCLI_API_KEY": "k123"}))
    assert s.profile is None
    assert s.provider == "customersms"
    assert s.account("https://customersms.pro").api_key == "k123"


def test_no_provider_is_a_config_error_that_says_how(home):
    s = resolve(env_for(home))
    with pytest.raises(ConfigError) as err:
        _ = s.provider
    assert "--provider sandbox" in (err.value.hint or "")
    assert str(home.config) in (err.value.hint or "")


def test_region_is_validated_and_upper_cased(home):
    home.write_config(PROFILES)
    assert resolve(env_for(home), profile="other").get("region") == "DE"
    with pytest.raises(ConfigError, match="two-letter"):
        resolve(env_for(home, {"SMSCLI_REGION": "TUR"}))


def test_invalid_toml_names_file_line_and_column(home):
    home.write_config('[profiles.a]\nprovider = "masgsm\n')
    with pytest.raises(ConfigError) as err:
        resolve(env_for(home))
    assert str(home.config) in err.value.message
    assert "line 2" in err.value.message


def test_wrong_type_of_secret_is_not_echoed(home):
    home.write_config("[profiles.a]\nprovider = 'masgsm'\npassword = 987654321\n")
    with pytest.raises(ConfigError) as err:
        resolve(env_for(home))
    assert "profiles.a.password" in err.value.message
    assert "987654321" not in err.value.message


def test_unknown_setting_is_named(home):
    home.write_config("[profiles.a]\nprovider = 'masgsm'\nsendr = 'X'\n")
    with pytest.raises(ConfigError, match=r"profiles\.a\.sendr: unknown setting"):
        resolve(env_for(home))


@pytest.mark.skipif(os.name != "posix", reason="file modes")
def test_world_readable_secrets_warn(home):
    home.write_config(PROFILES, mode=0o644)
    warnings = resolve(env_for(home)).warnings
    assert any("readable by other users" in w for w in warnings)
    home.config.chmod(0o600)
    assert resolve(env_for(home)).warnings == ()


def test_default_paths_follow_xdg(tmp_path: Path):
    env = Environment.from_process({}, tmp_path)
    assert env.config_path.name == "config.toml"
    assert env.config_path.parent.name == "smscli"
    ledger = env.ledger(ConfigFile(tmp_path / "none.toml", exists=False))
    assert isinstance(ledger, Path) and ledger.name == "ledger.db"
    assert ledger.parent.name == "smscli"


def test_the_ledger_comes_from_the_environment_then_the_config_file(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('ledger = "postgresql://team@db.example.com/smscli"\n', encoding="utf-8")
    loaded = ConfigFile.load(config)
    assert Environment.from_process({}, tmp_path).ledger(loaded) == (
        "postgresql://team@db.example.com/smscli"
    )
    given = Environment.from_process({"SMSCLI_LEDGER": "~/mine.db"}, tmp_path)
    assert given.ledger(loaded) == Path("~/mine.db").expanduser()
    config.write_text("ledger = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="ledger must be a path or a postgresql:// URL"):
        ConfigFile.load(config)


def test_profiles_show_names_the_origin_of_every_value_and_masks_secrets(cli, home, monkeypatch):
    home.write_config(PROFILES)
    (home.cwd / ".env").write_text("SMSCLI_SENDER=DOTENV\n")
    monkeypatch.setenv("SMSCLI_USERNAME", "5329998877")
    out = cli("profiles", "show", "--provider", "sandbox", "--json")
    assert out.exit_code == 0, out.stderr
    doc = out.json()
    assert (doc["profile"], doc["selected_by"]) == ("acme", f"file {home.config} default_profile")
    got = {r["setting"]: (r["value"], r["origin"]) for r in doc["settings"]}
    assert got["provider"] == ("sandbox", "flag")
    assert got["sender"] == ("DOTENV", ".env")
    assert got["username"] == ("5329998877", "env")
    assert got["region"] == ("TR", "default")
    assert got["password"] == ("fi***rd", "file")
    assert "file-password" not in out.stdout


def test_profiles_lists_them_with_the_default_marked(cli, home):
    home.write_config(PROFILES)
    doc = cli("profiles", "--json").json()
    assert [(p["name"], p["provider"], p["default"]) for p in doc["profiles"]] == [
        ("acme", "masgsm", True),
        ("other", "vairosms", False),
    ]
    human = cli("profiles").stdout
    assert "acme" in human and "vairosms" in human and "*" in human


# --- configuration checked early (issue 16) ---------------------------------------------------


def test_known_regions_are_those_of_phonenumbers_without_importing_it():
    import phonenumbers

    from smscli.config import known_regions

    assert known_regions() == frozenset(phonenumbers.SUPPORTED_REGIONS)


def test_a_region_phonenumbers_does_not_know_is_refused_where_it_is_set(home):
    home.write_config('[profiles.x]\nprovider = "sandbox"\nregion = "XX"\n')
    with pytest.raises(ConfigError) as err:
        resolve(env_for(home))
    assert "'XX' is not a region code" in err.value.message
    assert f"{home.config} [profiles.x]" in err.value.message
    assert "TR" in (err.value.hint or "")


def test_send_with_an_unknown_region_is_a_config_error_not_a_bad_number(proc, home):
    home.write_config('[profiles.x]\nprovider = "sandbox"\nregion = "XX"\n')
    out = proc("send", "05321234567", "-m", "hi")
    assert out.exit_code == 4, out.stderr
    assert "'XX' is not a region code" in out.stderr
    assert "unknown country code" not in out.stdout + out.stderr


def test_a_config_file_named_by_smscli_config_that_does_not_exist_is_said(proc, home):
    out = proc("send", "05321234567", "-m", "hi", SMSCLI_CONFIG="nosuch.toml")
    assert out.exit_code == 4
    assert "the config file nosuch.toml named by SMSCLI_CONFIG does not exist" in out.stderr


def test_the_environment_still_configures_without_the_file(proc, home):
    out = proc("send", "05321234567", "-m", "hi", SMSCLI_CONFIG="nosuch.toml",
               SMSCLI_PROVIDER="sandbox")  # fmt: skip
    assert out.exit_code == 0, out.stderr


def test_no_provider_configured_names_profiles_add(proc, home):
    out = proc("balance")
    assert out.exit_code == 4
    assert "no provider configured" in out.stderr
    assert "smscli profiles add" in out.stderr


def test_profiles_show_names_the_dotenv_of_a_parent_directory(cli, home):
    home.write_config(
        '[profiles.x]\nprovider = "vairosms"\nbase_url = "https://api.vairosms.com"\n'
    )
    dotenv = home.cwd.parent / ".env"
    dotenv.write_text("SMSCLI_BASE_URL=http://127.0.0.1:9/\n")
    out = cli("profiles", "show")
    assert out.exit_code == 0, out.stderr
    assert str(dotenv) in out.stdout
    doc = cli("profiles", "show", "--json").json()
    assert doc["dotenv"] == {
        "path": str(dotenv),
        "settings": ["base_url"],
        "overrides": ["base_url"],
    }
    row = next(r for r in doc["settings"] if r["setting"] == "base_url")
    assert (row["origin"], row["from"]) == (".env", f"SMSCLI_BASE_URL in {dotenv}")
    assert row["overrides"] == "file"


def test_profiles_show_without_a_dotenv(cli, home):
    doc = cli("profiles", "show", "--provider", "sandbox", "--json").json()
    assert doc["dotenv"] is None


# --- profiles remove, profiles default --------------------------------------------------------


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read(home) -> dict:
    return tomllib.loads(home.config.read_text(encoding="utf-8"))


TWO = """# my profiles
default_profile = "a"  # the usual one

[profiles.a]
provider = "vairosms"
api_key = "k-aaaaaaa"   # from the panel
sender = "ACME"

# the second account
[profiles.b]
provider = "masgsm"  # b's provider
username = "5321112233"
password = "secret-b-1"
sender = "ACME"
"""


def test_remove_takes_the_profile_and_its_secrets_keeping_the_rest(proc, home):
    home.write_config(TWO)
    out = proc("profiles", "remove", "b")
    assert out.exit_code == 0, out.stderr
    assert "Profile b removed" in out.stdout
    text = home.config.read_text(encoding="utf-8")
    assert "secret-b-1" not in text and "b's provider" not in text
    assert text.startswith(TWO[: TWO.index("[profiles.b]")])
    assert read(home)["profiles"] == {"a": tomllib.loads(TWO)["profiles"]["a"]}
    assert mode(home.config) == 0o600


def test_remove_refuses_the_default_profile_without_force(proc, home):
    home.write_config(TWO)
    out = proc("profiles", "remove", "a")
    assert out.exit_code == 2
    assert "'a' is the default profile" in out.stderr
    assert "smscli profiles default b" in out.stderr
    assert home.config.read_text(encoding="utf-8") == TWO
    forced = proc("profiles", "remove", "a", "--force", "--json")
    assert forced.exit_code == 0, forced.stderr
    assert forced.json()["was_default"] is True
    assert read(home) == {"profiles": {"b": tomllib.loads(TWO)["profiles"]["b"]}}
    assert "# my profiles\n" in home.config.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["remove", "default"])
def test_an_unknown_profile_name_is_a_usage_error_with_the_closest(proc, home, command):
    home.write_config(TWO)
    out = proc("profiles", command, "bb", "--json")
    assert out.exit_code == 2
    assert "no profile 'bb'" in out.stderr
    assert "did you mean 'b'?" in out.stderr
    assert out.json()["error"]["code"] == "usage"
    assert home.config.read_text(encoding="utf-8") == TWO


def test_default_sets_the_default_without_touching_the_profiles(proc, home):
    home.write_config(TWO)
    out = proc("profiles", "default", "b", "--json")
    assert out.exit_code == 0, out.stderr
    assert (out.json()["profile"], out.json()["previous"]) == ("b", "a")
    assert home.config.read_text(encoding="utf-8") == TWO.replace(
        'default_profile = "a"', 'default_profile = "b"'
    )
    assert proc("profiles", "show", "--json").json()["profile"] == "b"


def test_default_in_a_file_without_one(proc, home):
    body = TWO.replace('default_profile = "a"  # the usual one\n\n', "")
    home.write_config(body)
    assert proc("profiles", "default", "a").exit_code == 0
    assert read(home)["default_profile"] == "a"
    assert home.config.read_text(encoding="utf-8").endswith(body[body.index("[profiles.a]") :])
