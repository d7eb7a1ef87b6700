"""``smscli profiles``: which profiles exist, where each resolved value came from (the `.env` in
effect named), and adding, removing and choosing the default one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smscli.cli.common import (
    Cli,
    DebugOpt,
    JsonOpt,
    ProfileOpt,
    ProviderOpt,
    QuietOpt,
    SenderOpt,
    command,
)
from smscli.cli.credcheck import masked as _masked
from smscli.cli.credcheck import render_added, run_check
from smscli.cli.credcheck import table as _table
from smscli.cli.credcheck import text as _text
from smscli.cli.options import (
    ApiKeyOpt,
    BaseUrlOpt,
    MakeDefaultOpt,
    PasswordOpt,
    ProfileNameArg,
    RegionOpt,
    RequiredProviderOpt,
    SendersOpt,
    TestOpt,
    UsernameOpt,
)

if TYPE_CHECKING:
    from smscli.account.balance import CredentialCheck
    from smscli.config import ConfigFile, Environment
    from smscli.errors import SmscliError
    from smscli.providers.base import Provider

app = typer.Typer(help="List, show, add and remove profiles, and choose the default one.")


@app.callback(invoke_without_command=True)
def list_profiles(
    ctx: typer.Context,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """List the profiles of the config file."""
    if ctx.invoked_subcommand is not None:
        return
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.config import ConfigFile

        env = cli.env
        config = ConfigFile.load(env.config_path)
        default = _default_profile(env, config)
        rows = [
            {
                "name": name,
                "provider": p.get("provider"),
                "sender": p.get("sender"),
                "default": name == default,
            }
            for name, p in sorted(config.profiles.items())
        ]
        env_provider = env.lookup("SMSCLI_PROVIDER")
        if cli.json:
            cli.emit(
                {
                    "config": str(config.path),
                    "config_exists": config.exists,
                    "default": default,
                    "environment_provider": env_provider[0] if env_provider else None,
                    "profiles": rows,
                }
            )
            return
        for warning in config.warnings:
            cli.warn(warning)
        out = cli.out
        if not rows:
            out.print(
                f"No profiles in {config.path}"
                + ("" if config.exists else " (the file does not exist)")
            )
        else:
            out.print(_profiles_table(rows))
            out.print(f"Config file: {config.path}")
        if env_provider:
            out.print(f"Environment ({env_provider[1]}): SMSCLI_PROVIDER={env_provider[0]}")


def _default_profile(env: Environment, config: ConfigFile) -> str | None:
    """The profile used when none is named: ``SMSCLI_PROFILE``, else the file's default, else
    the file's only profile."""
    selected = env.lookup("SMSCLI_PROFILE")
    default = selected[0] if selected else config.default_profile
    if default is None and len(config.profiles) == 1:
        (default,) = config.profiles
    return default


def _profiles_table(rows: list[dict[str, Any]]) -> Any:
    table = _table("", "Profile", "Provider", "Sender")
    for r in rows:
        table.add_row(
            "*" if r["default"] else "",
            str(r["name"]),
            str(r["provider"] or ""),
            str(r["sender"] or ""),
        )
    return table


@app.command("show")
def show(
    name: Annotated[
        str | None, typer.Argument(help="Profile name (default: the selected one).")
    ] = None,
    profile: ProfileOpt = None,
    provider: ProviderOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show the resolved settings of a profile and where each value came from."""
    cli = Cli(json=json, quiet=quiet, debug=debug, profile=name or profile)
    cli.flags = {"provider": provider}
    with command(cli):
        from smscli.store import shown

        settings = cli.settings
        rows = [
            {"setting": key, "value": _masked(key, v.value), "origin": v.origin,
             "from": v.detail, "overrides": v.overrides}
            for key, v in sorted(settings.values.items())
        ]  # fmt: skip
        ledger = shown(cli.ledger)  # a PostgreSQL URL without its password
        path = cli.env.dotenv_path
        from_dotenv = [r for r in rows if r["origin"] == ".env"]
        dotenv = path and {
            "path": str(path),
            "settings": [r["setting"] for r in from_dotenv],
            "overrides": [r["setting"] for r in from_dotenv if r["overrides"] == "file"],
        }
        if cli.json:
            cli.emit(
                {
                    "profile": settings.profile,
                    "selected_by": settings.profile_origin,
                    "config": str(settings.config.path),
                    "dotenv": dotenv,
                    "ledger": ledger,
                    "settings": rows,
                }
            )
            return
        table = _table("Setting", "Value", "Origin", "From", overflow="fold")
        for r in rows:
            table.add_row(r["setting"], _text(r["value"]), r["origin"], r["from"])
        out = cli.out
        out.print(
            f"Profile: {settings.profile or '(none: environment and flags only)'} "
            f"({settings.profile_origin})"
        )
        out.print(table)
        if dotenv:
            sets = ", ".join(dotenv["settings"]) or "no setting of this profile"
            over = ", ".join(dotenv["overrides"])
            out.print(f".env: {path} sets {sets}" + (f" (over the file's {over})" if over else ""))
        out.print(f"Ledger: {ledger}")


PROMPTS = {
    "api_key": "API key",
    "username": "Username (for masgsm: the phone number registered with masgsm)",
    "password": "Password",
    "sender": "Sender header (başlık, 3 to 11 characters, no Turkish letters)",
    "senders": "Approved sender headers, comma-separated",
    "region": "Region of your numbers (two letters, e.g. TR)",
    "base_url": "API root (base_url, e.g. https://api.example.com/v1)",
}


def _interactive() -> bool:
    """Whether missing values can be asked for: stdin is a terminal."""
    return sys.stdin.isatty()


@app.command("add")
def add(
    name: ProfileNameArg,
    provider: RequiredProviderOpt,
    api_key: ApiKeyOpt = None,
    username: UsernameOpt = None,
    password: PasswordOpt = None,
    sender: SenderOpt = None,
    senders: SendersOpt = None,
    base_url: BaseUrlOpt = None,
    region: RegionOpt = None,
    default: MakeDefaultOpt = False,
    test: TestOpt = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write or update a profile in the config file (mode 0600), asking on a terminal for
    missing values (secrets without echo)."""
    cli = Cli(json=json, quiet=quiet, debug=debug)
    with command(cli):
        from smscli import providers
        from smscli.profile_writer import existing_profile, merge, write_profile

        cls = providers.get(provider, "--provider")
        _check_name(name)
        flags = {"api_key": api_key, "username": username, "password": password,
                 "sender": sender, "base_url": base_url, "region": region}  # fmt: skip
        given = _given(provider, flags, senders)
        path = cli.env.config_path
        values = merge(existing_profile(path, name), given)
        if not _interactive():
            _settle(values, ask=False)  # a wrong value is named before a missing one
        _ask_missing(cli, cls, provider, values)
        _settle(values, ask=_interactive())
        was_readable = _readable_by_others(path)
        written = write_profile(path, name, values, make_default=default)
        if was_readable:
            cli.info(f"{written.path} was readable by other users; it is now mode 0600")
        if api_key or password:
            cli.info(
                "note: secrets given as flags stay in your shell history; leave out --api-key and "
                "--password to be asked for them without echo"
            )
        check: CredentialCheck | None = None
        failure: SmscliError | None = None
        if test:
            check, failure = run_check(cli, cls, values)
        render_added(cli, name, written, check, failure)
        if failure is not None:
            raise failure


def _given(provider: str, flags: dict[str, str | None], senders: str | None) -> dict[str, Any]:
    """The values given on the command line (``--senders`` as a list)."""
    given: dict[str, Any] = {"provider": provider}
    given |= {k: v for k, v in flags.items() if v is not None}
    if senders is not None:
        given["senders"] = [s.strip() for s in senders.split(",") if s.strip()]
    return given


def _ask_missing(cli: Cli, cls: type[Provider], provider: str, values: dict[str, Any]) -> None:
    """Complete ``values`` with what the provider requires, asked for on a terminal (secrets
    without echo); every secret known so far is redacted from then on."""
    from smscli.errors import UsageError
    from smscli.redact import Redactor

    cli.redactor = Redactor([values.get("api_key"), values.get("password")])
    caps = cls.capabilities
    required = [*caps.credentials, *(["sender"] * (caps.sender and not caps.default_sender))]
    missing = [k for k in required if not values.get(k)]
    if missing and not _interactive():
        raise UsageError(
            f"a {provider} profile needs " + ", ".join("--" + k.replace("_", "-") for k in missing),
            hint="pass them as flags, or run on a terminal to be asked (secrets without echo)",
        )
    for key in missing:
        values[key] = typer.prompt(
            PROMPTS.get(key, key), hide_input=key in ("api_key", "password"), err=True
        )
    cli.redactor = Redactor([values.get("api_key"), values.get("password")])


def _settle(values: dict[str, Any], *, ask: bool) -> None:
    """Every value checked as ``doctor`` checks it (the region upper-cased). On a terminal a
    wrong value is said and asked for again, so that nothing typed so far is lost; else the
    first is a usage error, and nothing is written."""
    from smscli.doctor import HINTS, value_problems
    from smscli.errors import UsageError
    from smscli.profile_writer import KEY_ORDER

    while bad := value_problems(values):
        key = min(bad, key=lambda k: KEY_ORDER.index(k) if k in KEY_ORDER else len(KEY_ORDER))
        problem = bad[key]
        if not ask or key not in PROMPTS:
            raise UsageError(problem, hint=HINTS.get(key))
        typer.echo(f"{problem}; {HINTS.get(key, 'try again')}", err=True)
        answer = typer.prompt(PROMPTS[key], hide_input=key in ("api_key", "password"), err=True)
        values[key] = (
            [h.strip() for h in answer.split(",") if h.strip()] if key == "senders" else answer
        )
    if values.get("region"):
        values["region"] = str(values["region"]).upper()


def _readable_by_others(path: Path) -> bool:
    import stat

    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def _check_name(name: str) -> None:
    from smscli.errors import UsageError

    if not name.strip() or len(name) > 64 or any(not c.isprintable() for c in name):
        raise UsageError(f"{name!r} is not a usable profile name (1 to 64 printable characters)")


ForceOpt = Annotated[
    bool, typer.Option("--force", help="Remove it even if it is the default profile.")
]


@app.command("remove")
def remove(name: ProfileNameArg, force: ForceOpt = False, json: JsonOpt = False,
           quiet: QuietOpt = False) -> None:  # fmt: skip
    """Remove a profile, and its secrets, from the config file (comments kept). The default
    profile only with --force (the file is then left without a default)."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.errors import UsageError
        from smscli.profile_writer import remove_profile

        config = _known(cli, name)
        if config.default_profile == name and not force:
            others = sorted(set(config.profiles) - {name})
            raise UsageError(
                f"{name!r} is the default profile of {config.path}",
                hint=(f"make another the default first (smscli profiles default {others[0]}), "
                      "or pass --force to remove it all the same" if others else
                      "pass --force to remove it all the same (the file then has no default)"),
            )  # fmt: skip
        was_default = remove_profile(config.path, name)
        if cli.json:
            document = {"profile": name, "config": str(config.path), "action": "removed"}
            cli.emit(document | {"was_default": was_default})
        elif not quiet:
            cli.out.print(
                f"Profile {name} removed from {config.path}"
                + ("; the file has no default profile now" if was_default else "")
            )


@app.command("default")
def make_default(name: ProfileNameArg, json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Make a profile the default (default_profile in the config file)."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.profile_writer import set_default

        config = _known(cli, name)
        previous = set_default(config.path, name)
        selected = cli.env.lookup("SMSCLI_PROFILE")
        if selected and selected[0] != name:
            cli.warn(f"SMSCLI_PROFILE ({selected[1]}) selects {selected[0]!r} over the default")
        if cli.json:
            cli.emit({"profile": name, "config": str(config.path), "previous": previous})
        elif not quiet:
            cli.out.print(f"Profile {name} is now the default in {config.path}")


def _known(cli: Cli, name: str) -> ConfigFile:
    """The config file, which defines profile ``name`` (else a usage error)."""
    from smscli.config import ConfigFile, did_you_mean
    from smscli.errors import UsageError

    config = ConfigFile.load(cli.env.config_path)
    if name not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none"
        where = "" if config.exists else " (the file does not exist)"
        raise UsageError(
            f"no profile {name!r} in {config.path}{where}",
            hint=did_you_mean(name, list(config.profiles)) + f"defined profiles: {known}",
        )
    return config
