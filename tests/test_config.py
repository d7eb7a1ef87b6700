"""Profile resolution: flags > environment (.env included) > config file > defaults."""

from __future__ import annotations

import os
import subprocess
import sys
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
