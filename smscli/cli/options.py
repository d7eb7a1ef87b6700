"""Typer option aliases of ``smscli profiles add``, kept apart from the command so that its
module stays short (the options every command shares are in :mod:`smscli.cli.common`)."""

from __future__ import annotations

from typing import Annotated

import typer

from smscli.providers import BUILTIN

ProfileNameArg = Annotated[str, typer.Argument(help="Profile name.")]
RequiredProviderOpt = Annotated[
    str,
    typer.Option(
        "--provider",
        help=f"Provider: {', '.join(BUILTIN)} or an installed plugin.",
        show_default=False,
    ),
]
ApiKeyOpt = Annotated[
    str | None, typer.Option("--api-key", help="API key (better: leave out to be asked).")
]
UsernameOpt = Annotated[str | None, typer.Option("--username", help="User name.")]
PasswordOpt = Annotated[
    str | None, typer.Option("--password", help="Password (better: leave out to be asked).")
]
SendersOpt = Annotated[
    str | None,
    typer.Option("--senders", help="Headers approved for the account, comma-separated."),
]
BaseUrlOpt = Annotated[
    str | None, typer.Option("--base-url", help="API root (e.g. a local test server).")
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="Default region for numbers, e.g. TR.")
]
MakeDefaultOpt = Annotated[bool, typer.Option("--default", help="Make it the default profile.")]
TestOpt = Annotated[
    bool, typer.Option("--test", help="Check the credentials live through a harmless call.")
]
