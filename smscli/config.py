"""Profiles: one frozen settings object resolved from flags, environment, ``.env``, the TOML
config file and built-in defaults (highest first), keeping where each value came from.

Core code never reads ``os.environ``: the CLI passes the environment in.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from smscli.errors import ConfigError

if TYPE_CHECKING:
    from smscli.providers.base import Account
    from smscli.ratelimit import Rate

Origin = Literal["flag", "env", ".env", "file", "default"]

SECRET_FIELDS = frozenset({"api_key", "password"})
ENV_VARS: dict[str, str] = {
    "provider": "SMSCLI_PROVIDER", "api_key": "SMSCLI_API_KEY",
    "username": "SMSCLI_USERNAME", "password": "SMSCLI_PASSWORD", "sender": "SMSCLI_SENDER",
    "base_url": "SMSCLI_BASE_URL", "region": "SMSCLI_REGION", "timeout": "SMSCLI_TIMEOUT",
}  # fmt: skip
DEFAULTS: dict[str, Any] = {"region": "TR", "timeout": 30.0}
FIELDS: dict[str, type | tuple[type, ...]] = {
    "provider": str, "api_key": str, "username": str, "password": str, "sender": str,
    "base_url": str, "region": str, "timeout": (int, float), "batch_size": int,
    "concurrency": int, "rate_limits": list, "senders": list, "repeat_window": (str, int),
    "send_repeat_window": (str, int), "send_window": str,
}  # fmt: skip
"""Every setting a profile may hold, with the TOML types it may have."""

NO_PROVIDER_HINT = (
    "add a profile with `smscli profiles add NAME --provider PROVIDER` (it asks for the rest "
    "and writes {path}), or set SMSCLI_PROVIDER and its credentials in the environment or a "
    ".env file; to try smscli without an account, pass --provider sandbox"
)


class Value(NamedTuple):
    value: Any
    origin: Origin
    detail: str = ""
    """Which variable, file or flag, for ``profiles show``."""
    overrides: Origin | None = None
    """The origin of the value this one replaced (``file`` for a profile's value)."""


class Environment(NamedTuple):
    """What the process was started with: variables, the ``.env`` file, the paths."""

    variables: Mapping[str, str]
    dotenv: Mapping[str, str]
    dotenv_path: Path | None
    config_path: Path
    ledger_given: str | None
    """``SMSCLI_LEDGER`` (environment or ``.env``), if set."""
    config_given: str | None = None
    """What named the config file: ``SMSCLI_CONFIG`` (or ``SMSCLI_CONFIG in PATH`` for a
    ``.env``); None for the default path."""

    @classmethod
    def from_process(cls, environ: Mapping[str, str], cwd: Path) -> Environment:
        found = _find_upwards(cwd, ".env")  # as python-dotenv's find_dotenv(usecwd=True)
        dotenv_path = Path(found) if found else None
        dotenv: dict[str, str] = {}
        if dotenv_path:
            from dotenv import dotenv_values  # ~10 ms: only when there is a file to read

            dotenv = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}

        def var(name: str) -> str | None:
            return environ.get(name) or dotenv.get(name)

        config = var("SMSCLI_CONFIG")
        ledger = var("SMSCLI_LEDGER")
        given = None
        if config:
            config_path = Path(config).expanduser()
            in_env = environ.get("SMSCLI_CONFIG")
            given = "SMSCLI_CONFIG" if in_env else f"SMSCLI_CONFIG in {dotenv_path}"
        else:
            from platformdirs import user_config_path

            config_path = user_config_path("smscli") / "config.toml"
        return cls(dict(environ), dotenv, dotenv_path, config_path, ledger or None, given)

    def ledger(self, config: ConfigFile | None) -> str | Path:
        """Where the ledger is: ``SMSCLI_LEDGER``, else the config file's top-level
        ``ledger``, else ``ledger.db`` in the user's data folder. A PostgreSQL URL is kept as
        it is written (a ``str``); anything else is an SQLite file (a ``Path``)."""
        given = self.ledger_given or (config.ledger if config else None)
        if given and given.lower().startswith(("postgresql://", "postgres://")):
            return given
        if given:
            return Path(given).expanduser()
        from platformdirs import user_data_path

        return user_data_path("smscli") / "ledger.db"

    @property
    def warnings(self) -> tuple[str, ...]:
        """What every command says about the ``.env`` file: secrets others can read, as for
        the config file."""
        path = self.dotenv_path
        secrets = (ENV_VARS[k] for k in SECRET_FIELDS)
        if path is None or not any(self.dotenv.get(v) for v in secrets):
            return ()
        if not readable_by_others(path):
            return ()
        return (f"{path} holds secrets and is readable by other users; run: chmod 600 {path}",)

    def lookup(self, name: str) -> tuple[str, Origin] | None:
        """A variable from the process (first) or from ``.env`` (never overriding)."""
        if self.variables.get(name):
            return self.variables[name], "env"
        if self.dotenv.get(name):
            return self.dotenv[name], ".env"
        return None


def readable_by_others(path: Path) -> bool:
    """Whether users other than the owner may read ``path`` (POSIX permissions)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH)) and os.name == "posix"


def _find_upwards(start: Path, name: str) -> str | None:
    for folder in (start, *start.parents):
        if (folder / name).is_file():
            return str(folder / name)
    return None


class ConfigFile(NamedTuple):
    path: Path
    exists: bool
    default_profile: str | None = None
    profiles: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    world_readable_secrets: bool = False
    ledger: str | None = None
    """The top-level ``ledger`` (a path, or a ``postgresql://`` URL), if set."""

    @property
    def warnings(self) -> tuple[str, ...]:
        """What every command says about this file (secrets readable by others)."""
        if not self.world_readable_secrets:
            return ()
        return (
            f"{self.path} holds secrets and is readable by other users; run: chmod 600 {self.path}",
        )

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, exists=False)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        import tomllib  # only when there is a file: ~7 ms of start-up otherwise

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        profiles = data.get("profiles", {})
        if not isinstance(profiles, dict) or not all(
            isinstance(p, dict) for p in profiles.values()
        ):
            raise ConfigError(f"{path}: [profiles] must hold tables like [profiles.NAME]")
        for name, profile in profiles.items():
            for key, value in profile.items():
                if key not in FIELDS:
                    raise ConfigError(
                        f"{path}: profiles.{name}.{key}: unknown setting",
                        hint=did_you_mean(key, list(FIELDS))
                        + f"known settings: {', '.join(FIELDS)}",
                    )
                if not isinstance(value, FIELDS[key]) or isinstance(value, bool):
                    shown = "(hidden)" if key in SECRET_FIELDS else repr(value)
                    raise ConfigError(
                        f"{path}: profiles.{name}.{key}: expected {_type_name(FIELDS[key])},"
                        f" got {shown}"
                    )
        default = data.get("default_profile")
        if default is not None and not isinstance(default, str):
            raise ConfigError(f"{path}: default_profile must be a string")
        ledger = data.get("ledger")
        if ledger is not None and (not isinstance(ledger, str) or not ledger.strip()):
            raise ConfigError(
                f"{path}: ledger must be a path or a postgresql:// URL in quotes",
                hint='for example: ledger = "postgresql://smscli@db.example.com/smscli"',
            )
        has_secrets = any(k in SECRET_FIELDS for p in profiles.values() for k in p)
        if ledger and not has_secrets:
            from smscli.store.pg_db import url_secrets

            has_secrets = bool(url_secrets(ledger))  # postgresql://user:password@...
        return cls(path, True, default, profiles, has_secrets and readable_by_others(path), ledger)


class Settings(NamedTuple):
    """The resolved profile. Immutable; ``values`` keeps the origin of each value."""

    profile: str | None
    profile_origin: str
    values: Mapping[str, Value]
    config: ConfigFile
    warnings: tuple[str, ...] = ()
    config_given: str | None = None
    """What named the config file (:attr:`Environment.config_given`)."""

    def get(self, name: str, default: Any = None) -> Any:
        v = self.values.get(name)
        return default if v is None else v.value

    @property
    def provider(self) -> str:
        name: str | None = self.get("provider")
        if name:
            from smscli import providers

            if name not in providers.BUILTIN and name not in providers.names():
                raise providers.unknown(name, self.values["provider"].detail)
            return name
        path, what, fix = self.config.path, "", ""
        if self.config_given and not self.config.exists:
            what = f": the config file {path} named by {self.config_given} does not exist"
            fix = "point SMSCLI_CONFIG at your config file, or "
        hint = fix + NO_PROVIDER_HINT.format(path=path)
        raise ConfigError(f"no provider configured{what}", hint=hint)

    def account(self, default_base_url: str) -> Account:
        given = self.values.get("base_url")
        where = given.detail if given is not None and given.value is not None else ""
        from smscli.accounts import make_account

        return make_account(self.provider, self.get, default_base_url, where)

    def secrets(self) -> tuple[str, ...]:
        return tuple(str(self.get(k)) for k in SECRET_FIELDS if self.get(k))

    def rates(self, documented: Sequence[str]) -> list[Rate]:
        """The profile's ``rate_limits``, else the provider's ``documented`` ones, with a
        margin for network jitter. ``rate_limits = []`` is no limit of our own (a 429 still
        pauses). A rate that does not parse is a ConfigError for every command."""
        from smscli.ratelimit import guarded, parse_rate

        texts = self.get("rate_limits")
        if texts is None:
            texts = documented
        try:
            return guarded([parse_rate(str(t)) for t in texts])
        except ValueError as exc:
            raise ConfigError(f"rate_limits: {exc}") from None


def check_region(region: Any, where: str = "") -> str:
    """A region as every profile holds it (``TR``): a region code phonenumbers knows, else a
    ConfigError naming ``where`` it was set."""
    at = f"{where}: " if where else ""
    if not (isinstance(region, str) and len(region) == 2 and region.isascii() and region.isalpha()):
        raise ConfigError(
            f"{at}region must be a two-letter country code, got {region!r}", hint=REGION_HINT
        )
    if region.upper() not in known_regions():
        raise ConfigError(
            f"{at}region {region!r} is not a region code phonenumbers knows", hint=REGION_HINT
        )
    return region.upper()


REGION_HINT = 'the ISO 3166 code of the country of your numbers, for example "TR", "DE" or "GB"'


@functools.cache
def known_regions() -> frozenset[str]:
    """The region codes phonenumbers knows (its ``SUPPORTED_REGIONS``), from the names of its
    data files (``data/region_TR.py``): importing it costs ~40 ms of every start."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("phonenumbers")
    try:
        names = os.listdir(Path(spec.origin).parent / "data") if spec and spec.origin else []
    except OSError:
        names = []
    found = frozenset(n[7:9] for n in names if re.fullmatch(r"region_[A-Z]{2}\.py", n))
    if found:
        return found
    import phonenumbers  # another layout (a zip): ask phonenumbers itself

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``"did you mean 'vairosms'? "`` for the closest of ``choices``, or ``""``."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _coerce(name: str, raw: str, where: str) -> Any:
    if name == "timeout":
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not value > 0:  # NaN too
            raise ConfigError(f"{where}: timeout must be a positive number of seconds, got {raw!r}")
        return value
    return raw


def resolve(
    env: Environment,
    *,
    profile: str | None = None,
    flags: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve the selected profile: flags > environment (.env included) > file > defaults."""
    config = ConfigFile.load(env.config_path)
    name, name_origin = _select_profile(env, config, profile)
    values = layered(env, config, name, flags)
    region = values["region"]
    values["region"] = region._replace(value=check_region(region.value, region.detail))
    warnings = config.warnings + env.warnings
    return Settings(name, name_origin, values, config, warnings, env.config_given)


def layered(
    env: Environment,
    config: ConfigFile,
    name: str | None,
    flags: Mapping[str, Any] | None = None,
) -> dict[str, Value]:
    """The values of profile ``name`` (None: none) as every layer leaves them, unchecked but
    for the environment's timeout (a ConfigError)."""
    values: dict[str, Value] = {k: Value(v, "default") for k, v in DEFAULTS.items()}
    if name is not None:
        for key, value in config.profiles[name].items():
            values[key] = Value(value, "file", f"{config.path} [profiles.{name}]")
    for key, var in ENV_VARS.items():
        found = env.lookup(var)
        if found:
            detail = var if found[1] == "env" else f"{var} in {env.dotenv_path}"
            under = values[key].origin if key in values else None
            values[key] = Value(_coerce(key, found[0], detail), found[1], detail, under)
    for key, value in (flags or {}).items():
        if value is not None:
            under = values[key].origin if key in values else None
            values[key] = Value(value, "flag", f"--{key.replace('_', '-')}", under)
    return values


def _select_profile(
    env: Environment, config: ConfigFile, flag: str | None
) -> tuple[str | None, str]:
    """--profile > SMSCLI_PROFILE > default_profile > the only profile."""
    candidates: list[tuple[str | None, str]] = [(flag, "flag --profile")]
    found = env.lookup("SMSCLI_PROFILE")
    if found:
        candidates.append((found[0], f"{found[1]} SMSCLI_PROFILE"))
    candidates.append((config.default_profile, f"file {config.path} default_profile"))
    for name, origin in candidates:
        if name:
            if name not in config.profiles:
                known = ", ".join(sorted(config.profiles)) or "none"
                where = str(config.path) if config.exists else f"{config.path} (no such file)"
                raise ConfigError(
                    f"profile {name!r} (from {origin}) is not defined in {where}",
                    hint=did_you_mean(name, list(config.profiles)) + f"defined profiles: {known}",
                )
            return name, origin
    if len(config.profiles) == 1:
        (only,) = config.profiles
        return only, "the only profile in the file"
    return None, "none"
