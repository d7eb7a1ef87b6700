"""Profiles: one frozen settings object resolved from flags, environment, ``.env``, the TOML
config file and built-in defaults (highest first), keeping where each value came from.

Core code never reads ``os.environ``: the CLI passes the environment in.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from smscli.errors import ConfigError
from smscli.providers.base import Account

if TYPE_CHECKING:
    from smscli.ratelimit import Rate

Origin = Literal["flag", "env", ".env", "file", "default"]

SECRET_FIELDS = frozenset({"api_key", "password"})
ENV_VARS: dict[str, str] = {
    "provider": "SMSCLI_PROVIDER",
    "api_key": "SMSCLI_API_KEY",
    "username": "SMSCLI_USERNAME",
    "password": "SMSCLI_PASSWORD",
    "sender": "SMSCLI_SENDER",
    "base_url": "SMSCLI_BASE_URL",
    "region": "SMSCLI_REGION",
    "timeout": "SMSCLI_TIMEOUT",
}
DEFAULTS: dict[str, Any] = {"region": "TR", "timeout": 30.0}
FIELDS: dict[str, type | tuple[type, ...]] = {
    "provider": str,
    "api_key": str,
    "username": str,
    "password": str,
    "sender": str,
    "base_url": str,
    "region": str,
    "timeout": (int, float),
    "batch_size": int,
    "concurrency": int,
    "rate_limits": list,
    "senders": list,
    "repeat_window": (str, int),
    "send_repeat_window": (str, int),
    "send_window": str,
}

NO_PROVIDER_HINT = (
    "configure a profile in {path} (for example:\n"
    '  [profiles.main]\n  provider = "masgsm"\n  username = "5321112233"\n'
    '  password = "..."\n  sender = "ACME"\n'
    "), or set SMSCLI_PROVIDER and its credentials in the environment or a .env file; "
    "to try smscli without an account, pass --provider sandbox"
)


class Value(NamedTuple):
    value: Any
    origin: Origin
    detail: str = ""
    """Which variable, file or flag, for ``profiles show``."""


class Environment(NamedTuple):
    """What the process was started with: variables, the ``.env`` file, the paths."""

    variables: Mapping[str, str]
    dotenv: Mapping[str, str]
    dotenv_path: Path | None
    config_path: Path
    ledger_given: str | None
    """``SMSCLI_LEDGER`` (environment or ``.env``), if set."""

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
        if config:
            config_path = Path(config).expanduser()
        else:
            from platformdirs import user_config_path

            config_path = user_config_path("smscli") / "config.toml"
        return cls(dict(environ), dotenv, dotenv_path, config_path, ledger or None)

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
                        hint=f"known settings: {', '.join(FIELDS)}",
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

    def get(self, name: str, default: Any = None) -> Any:
        v = self.values.get(name)
        return default if v is None else v.value

    @property
    def provider(self) -> str:
        name: str | None = self.get("provider")
        if not name:
            raise ConfigError(
                "no provider configured",
                hint=NO_PROVIDER_HINT.format(path=self.config.path),
            )
        return name

    def account(self, default_base_url: str) -> Account:
        given = self.values.get("base_url")
        where = given.detail if given is not None and given.value is not None else ""
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


def make_account(provider: str, get: Any, default_base_url: str, where: str = "") -> Account:
    """The account of a profile's values (``get(key)`` reads one, None when unset); a
    ``base_url`` that cannot be a provider's root is refused here, before any request."""
    from smscli.accounts import check_base_url

    given = get("base_url")
    return Account(
        provider=provider,
        base_url=check_base_url(given, where) if given else default_base_url,
        api_key=get("api_key"),
        username=get("username"),
        password=get("password"),
        timeout=float(get("timeout") or 30.0),
    )


def check_region(region: Any) -> str:
    """A region as every profile holds it (``TR``), or a ConfigError."""
    if not (isinstance(region, str) and len(region) == 2 and region.isascii() and region.isalpha()):
        raise ConfigError(f"region must be a two-letter country code, got {region!r}")
    return region.upper()


def check_profile(values: dict[str, Any]) -> None:
    """The values ``profiles add`` is about to write: none empty, sender headers shaped as
    providers accept them, region and base_url as every command needs them (region
    normalised in place). Raises ConfigError."""
    from smscli.senders import check_sender

    for key in ("api_key", "username", "password", "sender", "base_url"):
        if key in values and not str(values[key]).strip():
            raise ConfigError(f"{key} must not be empty")
    for header in [values.get("sender"), *values.get("senders", [])]:
        problem = check_sender(header) if header else None
        if problem:
            raise ConfigError(problem)
    if values.get("region") is not None:
        values["region"] = check_region(values["region"])
    if values.get("base_url") is not None:
        from smscli.accounts import check_base_url

        check_base_url(values["base_url"])


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", list: "a list"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _coerce(name: str, raw: str, where: str) -> Any:
    if name == "timeout":
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(
                f"{where}: timeout must be a number of seconds, got {raw!r}"
            ) from None
        if value <= 0:
            raise ConfigError(f"{where}: timeout must be positive")
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
    values: dict[str, Value] = {k: Value(v, "default") for k, v in DEFAULTS.items()}
    if name is not None:
        for key, value in config.profiles[name].items():
            values[key] = Value(value, "file", f"{config.path} [profiles.{name}]")
    for key, var in ENV_VARS.items():
        found = env.lookup(var)
        if found:
            values[key] = Value(_coerce(key, found[0], var), found[1], var)
    for key, value in (flags or {}).items():
        if value is not None:
            values[key] = Value(value, "flag", f"--{key.replace('_', '-')}")
    region = values["region"]
    values["region"] = Value(check_region(region.value), region.origin, region.detail)
    return Settings(name, name_origin, values, config, config.warnings + env.warnings)


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
                    hint=f"defined profiles: {known}",
                )
            return name, origin
    if len(config.profiles) == 1:
        (only,) = config.profiles
        return only, "the only profile in the file"
    return None, "none"
