"""What ``smscli doctor`` checks, and the rules every profile's values follow
(:func:`value_problems`: ``profiles add`` applies the same ones before it writes).

Nothing here prints or knows the command line: :func:`diagnose` returns a list of
:class:`Check`; the live credentials test is handed in by the caller (it needs an HTTP client).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from smscli.config import (
    ENV_VARS,
    NO_PROVIDER_HINT,
    REGION_HINT,
    SECRET_FIELDS,
    ConfigFile,
    Environment,
    Value,
    did_you_mean,
    layered,
    readable_by_others,
)
from smscli.errors import ConfigError, SmscliError
from smscli.words import plural

if TYPE_CHECKING:
    from smscli.providers.base import Capabilities

Status = Literal["ok", "warning", "problem", "skipped"]
OTHER_VARIABLES = ("SMSCLI_CONFIG", "SMSCLI_LEDGER", "SMSCLI_PROFILE", "SMSCLI_IDEMPOTENCY_KEY")


class Check(NamedTuple):
    check: str
    """What was checked: ``config_file``, ``profile``, ``dotenv``, ``ledger``, ``credentials``."""
    status: Status
    message: str
    hint: str | None = None
    profile: str | None = None
    key: str | None = None
    """The setting concerned, if one."""


CredentialTest = Callable[[str | None, Mapping[str, Any]], Check]
"""The live credentials test of one profile's values (the CLI's: it has the HTTP client)."""

HINTS: dict[str, str] = {
    "provider": "set provider to one of the names `smscli send --help` lists",
    "sender": "a header approved by the provider: 3 to 11 characters, ASCII, "
    'for example sender = "ACME"',
    "senders": 'approved headers, for example senders = ["ACME", "ACME INFO"]',
    "region": REGION_HINT,
    "base_url": "the provider's documented root, for example https://api.example.com/v1, or "
    "leave it out for the provider's own",
    "timeout": "a number of seconds, for example timeout = 30",
    "rate_limits": 'rates like rate_limits = ["100/minute", "5000/hour"], or [] for none',
    "batch_size": "a whole number of at least 1, for example batch_size = 100",
    "concurrency": "a whole number of at least 1, for example concurrency = 4",
    "repeat_window": 'a duration like "24h", "90m", "2d", or 0 (off)',
    "send_repeat_window": 'a duration like "24h", "90m", "2d", or 0 (off)',
    "send_window": 'local hours like send_window = "09:00-20:00"',
}


# --- the values of a profile ------------------------------------------------------------------


def value_problem(key: str, value: Any) -> str | None:
    """Why a profile's ``key`` cannot hold ``value``, or None. Never quotes a secret."""
    if isinstance(value, str) and not value.strip():
        return f"{key} must not be empty"
    try:
        _check_value(key, value)
    except SmscliError as exc:
        return exc.message + (f"; {exc.hint}" if key == "provider" and exc.hint else "")
    except ValueError as exc:
        return str(exc)
    return None


def _check_value(key: str, value: Any) -> None:
    """Raises ConfigError or ValueError when ``value`` cannot be ``key``'s."""
    from smscli.senders import check_sender

    if key == "provider":
        from smscli import providers

        if value not in providers.BUILTIN:
            providers.get(str(value))
    elif key == "sender" or key == "senders":
        for header in value if isinstance(value, list) else [value]:
            problem = check_sender(str(header))
            if problem:
                raise ValueError(problem)
    elif key == "region":
        from smscli.config import check_region

        check_region(value)
    elif key == "base_url":
        from smscli.accounts import check_base_url

        check_base_url(str(value))
    elif key == "timeout" and not (isinstance(value, int | float) and value > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    elif key == "rate_limits":
        from smscli.ratelimit import parse_rate

        for text in value if isinstance(value, list) else [value]:
            parse_rate(str(text))
    elif key in ("batch_size", "concurrency") and not (isinstance(value, int) and value >= 1):
        raise ValueError(f"{key} must be a whole number of at least 1, got {value!r}")
    elif key in ("repeat_window", "send_repeat_window"):
        from smscli.timing import parse_duration

        parse_duration(value, key)
    elif key == "send_window":
        from smscli.timing import SendWindow

        SendWindow.parse(value)


def value_problems(values: Mapping[str, Any]) -> dict[str, str]:
    """Every key of ``values`` whose value is wrong, with why (in the order of the keys)."""
    found = {key: value_problem(key, value) for key, value in values.items()}
    return {key: problem for key, problem in found.items() if problem}


def _known(region: Any) -> bool:
    return value_problem("region", region) is None


def _capabilities(provider: str) -> Capabilities | None:
    from smscli import providers

    try:
        return providers.get(provider).capabilities
    except SmscliError:
        return None


# --- the checks -------------------------------------------------------------------------------


def diagnose(env: Environment, test: CredentialTest | None) -> list[Check]:
    """Every check, in the order they are shown; ``test`` None: no network (``--offline``)."""
    checks, config = config_checks(env)
    profiles = _profiles(env, config) if config is not None else []
    for name, values in profiles:
        checks += profile_checks(name, values)
    checks += dotenv_checks(env, config)
    checks.append(ledger_check(env, config, online=test is not None))
    for name, values in profiles:
        fine = all(c.status != "problem" for c in checks if c.profile == name)
        if test is None:
            checks.append(Check("credentials", "skipped", "not tested (--offline)", None, name))
        elif not fine:
            why = "not tested: fix the profile's problems first"
            checks.append(Check("credentials", "skipped", why, None, name))
        else:
            checks.append(test(name, {k: v.value for k, v in values.items()}))
    return checks


def config_checks(env: Environment) -> tuple[list[Check], ConfigFile | None]:
    """The config file: there, readable, valid, private; its default profile defined."""
    path = env.config_path
    try:
        config = ConfigFile.load(path)
    except ConfigError as exc:
        hint = exc.hint or "fix the file by hand"
        return [Check("config_file", "problem", exc.message, hint)], None
    provider = env.lookup(ENV_VARS["provider"])
    if not config.exists:
        named = f" named by {env.config_given}" if env.config_given else ""
        what = f"the config file {path}{named} does not exist"
        fix = "create it with `smscli profiles add NAME --provider PROVIDER`"
        fix += ", or point SMSCLI_CONFIG at your config file" if named else ""
        if not provider:
            found = Check("config_file", "problem", f"{what}, and no provider is configured", fix)
        else:
            status: Status = "warning" if named else "ok"
            found = Check("config_file", status, f"{what}; the environment names the provider", fix)
        return [found], config
    checks = [Check("config_file", "ok", f"{path}: {plural(len(config.profiles), 'profile')}")]
    if config.world_readable_secrets:
        what = f"{path} holds secrets and is readable by other users"
        checks.append(Check("config_file", "problem", what, f"run: chmod 600 {path}"))
    if not config.profiles and not provider:
        checks.append(Check("config_file", "problem", "no provider configured",
                            NO_PROVIDER_HINT.format(path=path)))  # fmt: skip
    selected = env.lookup("SMSCLI_PROFILE")
    for name, where in [(selected and selected[0], "SMSCLI_PROFILE"),
                        (config.default_profile, f"default_profile in {path}")]:  # fmt: skip
        if name and name not in config.profiles:
            known = ", ".join(sorted(config.profiles)) or "none"
            what = f"{where} names profile {name!r}, which is not defined"
            hint = did_you_mean(name, list(config.profiles)) + f"defined profiles: {known}"
            checks.append(Check("config_file", "problem", what, hint, key="default_profile"))
    return checks, config


def _profiles(env: Environment, config: ConfigFile) -> list[tuple[str | None, dict[str, Value]]]:
    """Each profile of the file with what the environment lays over it; the environment's own
    profile (None) where the file has none."""
    names: list[str | None] = list(sorted(config.profiles))
    if not names and env.lookup(ENV_VARS["provider"]):
        names = [None]
    found = []
    for name in names:
        try:
            found.append((name, layered(env, config, name)))
        except ConfigError as exc:  # SMSCLI_TIMEOUT
            found.append((name, {"timeout": Value(exc, "env", exc.message)}))
    return found


def profile_checks(name: str | None, values: Mapping[str, Value]) -> list[Check]:
    """Each wrong value of one profile, and what its provider needs."""
    checks = []
    for key, given in values.items():
        problem = given.detail if isinstance(given.value, ConfigError) else None
        problem = problem or value_problem(key, given.value)
        if problem:
            at = f" (set in {given.detail})" if given.detail and given.detail not in problem else ""
            checks.append(Check("profile", "problem", problem + at, HINTS.get(key), name, key))
    checks += _provider_checks(name, {k: v.value for k, v in values.items()})
    if not checks:
        provider = values["provider"].value
        checks.append(Check("profile", "ok", f"{provider}: every value is valid", None, name))
    return checks


def _provider_checks(name: str | None, values: Mapping[str, Any]) -> list[Check]:
    provider = values.get("provider")
    where = f"[profiles.{name}]" if name else "the environment"
    if not provider:
        fix = f'set provider in {where}, for example provider = "masgsm"'
        return [Check("profile", "problem", "no provider", fix, name, "provider")]
    caps = _capabilities(provider)
    if caps is None:
        return []  # the provider's own value check said it
    checks = []
    for key in caps.credentials:
        if not values.get(key):
            fix = f"set {key} in {where}" + (f" or {ENV_VARS[key]}" if key in ENV_VARS else "")
            checks.append(Check("profile", "problem", f"{provider} needs {key}", fix, name, key))
    if caps.sender and not caps.default_sender and not values.get("sender"):
        fix = f'set sender in {where} (or SMSCLI_SENDER), for example sender = "ACME"'
        what = f"{provider} needs a sender header (başlık)"
        checks.append(Check("profile", "problem", what, fix, name, "sender"))
    if not caps.sender and values.get("sender"):
        what = f"{provider} takes no sender header: sender is ignored"
        checks.append(Check("profile", "warning", what, "remove sender", name, "sender"))
    region = values.get("region")
    if caps.turkish_numbers_only and region not in (None, "TR", "tr") and _known(region):
        what = f"{provider} sends only to Turkish numbers, but region is {values['region']!r}"
        checks.append(Check("profile", "warning", what, 'region = "TR"', name, "region"))
    return checks


def dotenv_checks(env: Environment, config: ConfigFile | None) -> list[Check]:
    """The ``.env`` in effect: where it is, what it sets and overrides, who can read it."""
    path = env.dotenv_path
    if path is None:
        return [Check("dotenv", "ok", "no .env file in the current directory or above it")]
    by_var = {var: key for key, var in ENV_VARS.items()}
    sets = [by_var[v] for v in env.dotenv if v in by_var and not env.variables.get(v)]
    shadowed = [by_var[v] for v in env.dotenv if v in by_var and env.variables.get(v)]
    profiles = sorted(config.profiles.items()) if config else []
    overrides = [f"{k} of profile {name}" for name, values in profiles for k in sets if k in values]
    here = Path.cwd()
    away = "" if path.parent == here else f" (in a parent directory of {here})"
    what = f".env in effect: {path}{away}; it sets " + (", ".join(sets) or "no smscli setting")
    what += f"; the environment overrides its {', '.join(shadowed)}" if shadowed else ""
    checks = []
    if overrides:
        what += "; it overrides " + ", ".join(overrides)
        fix = f"remove them from {path} if the profile's values are the ones wanted"
        checks.append(Check("dotenv", "warning", what, fix))
    else:
        checks.append(Check("dotenv", "ok", what))
    if any(env.dotenv.get(ENV_VARS[k]) for k in SECRET_FIELDS) and readable_by_others(path):
        what = f"{path} holds secrets and is readable by other users"
        checks.append(Check("dotenv", "problem", what, f"run: chmod 600 {path}"))
    known = {*ENV_VARS.values(), *OTHER_VARIABLES}
    for var in env.dotenv:
        if var.startswith("SMSCLI_") and var not in known:
            hint = did_you_mean(var, sorted(known)) + "smscli reads no such variable"
            checks.append(Check("dotenv", "warning", f"{path}: unknown variable {var}", hint))
    return checks


def ledger_check(env: Environment, config: ConfigFile | None, *, online: bool) -> Check:
    """The ledger: an SQLite file smscli can write (or create), or a PostgreSQL server that
    answers (not tried offline)."""
    location = env.ledger(config)
    if isinstance(location, str):
        return _postgres_check(location, online)
    if location.exists():
        if location.is_dir() or not os.access(location, os.R_OK | os.W_OK):
            what = f"the ledger {location} is not a file smscli can read and write"
            return Check("ledger", "problem", what, "fix its permissions, or set SMSCLI_LEDGER")
        if location.stat().st_size == 0:
            from smscli.store.problems import LedgerEmpty

            what = (
                f"the ledger {location} is an empty file (0 bytes): whatever it recorded is "
                "gone, and every command that uses the ledger refuses it"
            )
            return Check("ledger", "problem", what, LedgerEmpty(str(location)).hint)
        if not os.access(location.parent, os.W_OK):
            what = f"SQLite cannot write its journal next to the ledger, in {location.parent}"
            return Check("ledger", "problem", what, f"allow writing to {location.parent}")
        return Check("ledger", "ok", f"SQLite ledger {location}: writable")
    folder = next(f for f in location.parents if f.exists())
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        what = f"the ledger {location} does not exist and cannot be created in {folder}"
        return Check("ledger", "problem", what, "set SMSCLI_LEDGER to a writable place")
    return Check("ledger", "ok", f"SQLite ledger {location}: created on the first send")


def _postgres_check(url: str, online: bool) -> Check:
    from smscli.store.pg_db import masked, scrubbed

    shown = masked(url)
    if not online:
        return Check("ledger", "skipped", f"PostgreSQL ledger {shown}: not tried (--offline)")
    try:
        import psycopg
    except ImportError:
        what = f"the ledger {shown} is a PostgreSQL database, and psycopg is not installed"
        return Check("ledger", "problem", what, "pip install 'smscli[postgres]'")
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        what = f"cannot connect to the ledger {shown}: {scrubbed(exc, url)}"
        hint = "check that the server runs and the URL's user, database and password"
        return Check("ledger", "problem", what, hint)
    return Check("ledger", "ok", f"PostgreSQL ledger {shown}: the server answered")


def secrets(env: Environment) -> list[str]:
    """Every secret doctor may meet (the profiles' and the environment's), for the redactor."""
    try:
        config = ConfigFile.load(env.config_path)
    except ConfigError:
        config = None
    profiles = config.profiles.values() if config else []
    found = [str(p[k]) for p in profiles for k in SECRET_FIELDS if p.get(k)]
    found += [v for k in SECRET_FIELDS if (v := (env.lookup(ENV_VARS[k]) or ("",))[0])]
    location = env.ledger(config)
    if isinstance(location, str):
        from smscli.store.pg_db import url_secrets

        found += url_secrets(location)
    return found
