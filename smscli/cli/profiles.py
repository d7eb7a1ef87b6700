"""``smscli profiles``: which profiles exist, and where each resolved value came from."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import typer

from smscli.cli.common import Cli, DebugOpt, JsonOpt, ProfileOpt, ProviderOpt, QuietOpt, command

app = typer.Typer(help="List profiles, or show one with the origin of every value.")


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
        selected = env.lookup("SMSCLI_PROFILE")
        default = selected[0] if selected else config.default_profile
        if default is None and len(config.profiles) == 1:
            (default,) = config.profiles
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
            print(
                jsonlib.dumps(
                    {
                        "config": str(config.path),
                        "config_exists": config.exists,
                        "default": default,
                        "environment_provider": env_provider[0] if env_provider else None,
                        "profiles": rows,
                    },
                    ensure_ascii=False,
                )
            )
            return
        if config.world_readable_secrets:
            cli.warn(f"{config.path} holds secrets and is readable by other users; chmod 600 it")
        out = cli.out
        if not rows:
            out.print(
                f"No profiles in {config.path}"
                + ("" if config.exists else " (the file does not exist)"),
                markup=False,
            )
        else:
            from rich.table import Table

            table = Table(box=None, pad_edge=False, header_style="bold")
            for col in ("", "Profile", "Provider", "Sender"):
                table.add_column(col)
            for r in rows:
                table.add_row(
                    "*" if r["default"] else "",
                    str(r["name"]),
                    str(r["provider"] or ""),
                    str(r["sender"] or ""),
                )
            out.print(table)
            out.print(f"Config file: {config.path}", markup=False, highlight=False)
        if env_provider:
            out.print(
                f"Environment ({env_provider[1]}): SMSCLI_PROVIDER={env_provider[0]}",
                markup=False,
                highlight=False,
            )


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
        from smscli.config import SECRET_FIELDS
        from smscli.redact import mask

        settings = cli.settings
        rows = []
        for key, v in sorted(settings.values.items()):
            value = v.value
            if key in SECRET_FIELDS:
                value = mask(str(value))
            rows.append({"setting": key, "value": value, "origin": v.origin, "from": v.detail})
        if cli.json:
            print(
                jsonlib.dumps(
                    {
                        "profile": settings.profile,
                        "selected_by": settings.profile_origin,
                        "config": str(settings.config.path),
                        "settings": rows,
                    },
                    ensure_ascii=False,
                )
            )
            return
        from rich.table import Table

        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("Setting", "Value", "Origin", "From"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(r["setting"], _text(r["value"]), r["origin"], r["from"])
        out = cli.out
        out.print(
            f"Profile: {settings.profile or '(none: environment and flags only)'} "
            f"({settings.profile_origin})",
            markup=False,
            highlight=False,
        )
        out.print(table)


def _text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
