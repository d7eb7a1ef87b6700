"""The command line: parses arguments, calls the core, renders. Only this package imports
typer and rich, and rich only inside the commands that print."""

from __future__ import annotations

import signal
import sys
from typing import Annotated

import typer

from smscli import __version__
from smscli.cli.account import balance, headers, report
from smscli.cli.bulk import bulk as bulk_command
from smscli.cli.history import app as history_app
from smscli.cli.profiles import app as profiles_app
from smscli.cli.send import send as send_command

app = typer.Typer(
    name="smscli",
    help="Send SMS, one at a time or in bulk, through HTTP SMS gateways, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"smscli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Send SMS through customersms, vairosms, masgsm or the built-in sandbox."""


app.command("send")(send_command)
app.command("bulk")(bulk_command)
app.command("balance")(balance)
app.command("report")(report)
app.command("headers")(headers)
app.add_typer(history_app, name="history")
app.add_typer(profiles_app, name="profiles")


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM (cron timeouts, CI cancellation) unwinds like Ctrl-C, so the ledger is settled.
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(app())
