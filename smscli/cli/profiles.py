"""``smscli profiles``: which profiles exist, and where each resolved value came from."""

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
from smscli.cli.credcheck import check_document, check_line, run_check
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
    from smscli.profile_writer import Written
    from smscli.providers.base import Provider

app = typer.Typer(help="List profiles, show one with the origin of every value, or add one.")


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
            {"setting": key, "value": _masked(key, v.value), "origin": v.origin, "from": v.detail}
            for key, v in sorted(settings.values.items())
        ]
        ledger = shown(cli.ledger)  # a PostgreSQL URL without its password
        if cli.json:
            cli.emit(
                {
                    "profile": settings.profile,
                    "selected_by": settings.profile_origin,
                    "config": str(settings.config.path),
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
        out.print(f"Ledger: {ledger}")


def _table(*columns: str, **column_options: Any) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col, **column_options)
    return table


def _masked(setting: str, value: Any) -> Any:
    """A setting's value as shown: secrets masked."""
    from smscli.config import SECRET_FIELDS
    from smscli.redact import mask

    return mask(str(value)) if setting in SECRET_FIELDS else value


def _text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


PROMPTS = {
    "api_key": "API key",
    "username": "Username (for masgsm: the phone number registered with masgsm)",
    "password": "Password",
    "sender": "Sender header (başlık, 3 to 11 characters, no Turkish letters)",
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
        from smscli.config import check_profile
        from smscli.errors import ConfigError, UsageError
        from smscli.profile_writer import existing_profile, merge, write_profile

        cls = _provider_class(provider)
        _check_name(name)
        flags = {"api_key": api_key, "username": username, "password": password,
                 "sender": sender, "base_url": base_url, "region": region}  # fmt: skip
        given = _given(provider, flags, senders)
        path = cli.env.config_path
        values = merge(existing_profile(path, name), given)
        _ask_missing(cli, cls, provider, values)
        try:
            check_profile(values)
        except ConfigError as exc:
            raise UsageError(exc.message) from None
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
        _render_added(cli, name, written, check, failure)
        if failure is not None:
            raise failure


def _provider_class(provider: str) -> type[Provider]:
    from smscli import providers
    from smscli.errors import UsageError

    if provider not in providers.names():
        raise UsageError(
            f"unknown provider {provider!r}",
            hint=f"choose one of: {', '.join(providers.names())}",
        )
    return providers.get(provider)


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
    required = [*cls.capabilities.credentials, *(["sender"] * cls.capabilities.sender)]
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


def _render_added(
    cli: Cli,
    name: str,
    written: Written,
    check: CredentialCheck | None,
    failure: SmscliError | None,
) -> None:
    redact = cli.redactor
    settings = [{"setting": k, "value": _masked(k, v)} for k, v in written.values.items()]
    action = "added" if written.created_profile else "updated"
    if cli.json:
        cli.emit(
            {
                "profile": name,
                "config": str(written.path),
                "created_file": written.created_file,
                "action": action,
                "default": written.default,
                "settings": settings,
                "test": check_document(check, failure, redact),
            }
        )
        return
    if cli.quiet:
        return
    out = cli.out
    out.print(
        f"Profile {name} {action} in {written.path}"
        + (" (new file)" if written.created_file else "")
        + ", mode 0600"
        + ("; it is the default profile" if written.default else "")
    )
    table = _table("Setting", "Value", overflow="fold")
    for row in settings:
        table.add_row(str(row["setting"]), _text(row["value"]))
    out.print(table)
    if check is not None:
        out.print(check_line(check, failure, redact))
