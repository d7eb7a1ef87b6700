"""``smscli optout add|import|remove|list``: the numbers no ``send`` or ``bulk`` messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smscli.cli.common import Cli, JsonOpt, ProfileOpt, QuietOpt, command
from smscli.cli.output import error_document
from smscli.errors import ExitCode
from smscli.words import plural

if TYPE_CHECKING:
    from smscli.optouts import Change
    from smscli.store import Store

app = typer.Typer(help="The opt-out list: numbers no send or bulk ever messages.")

NumbersArg = Annotated[
    list[str], typer.Argument(help="Numbers (each may be a comma-separated list).")
]
SHOWN_INVALID = 20


@app.command("add")
def add(
    numbers: NumbersArg,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (a STOP reply, a call, a request).")
    ] = None,
    profile: ProfileOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Put numbers on the opt-out list."""
    cli = Cli(json=json, quiet=quiet, profile=profile)
    with command(cli):
        from smscli import optouts
        from smscli.recipients import split_arguments

        entries = list(split_arguments(numbers))
        _change(
            cli, lambda store, region: optouts.add(
                store, entries, region, reason=reason, source="smscli optout add"
            ), "added", "already on the list",
        )  # fmt: skip


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV with a phone column, or one number a line.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for every number.")] = None,
    profile: ProfileOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Put every number of a file on the opt-out list."""
    cli = Cli(json=json, quiet=quiet, profile=profile)
    with command(cli):
        from smscli import optouts

        entries = optouts.read_file(file)
        _change(
            cli, lambda store, region: optouts.add(store, entries, region, reason=reason),
            "added", "already on the list",
        )  # fmt: skip


@app.command("remove")
def remove(
    numbers: NumbersArg,
    profile: ProfileOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Take numbers off the opt-out list."""
    cli = Cli(json=json, quiet=quiet, profile=profile)
    with command(cli):
        from smscli import optouts
        from smscli.recipients import split_arguments

        entries = list(split_arguments(numbers))
        _change(
            cli, lambda store, region: optouts.remove(store, entries, region),
            "removed", "not on the list",
        )  # fmt: skip


@app.command("list")
def list_(json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """The numbers on the opt-out list, oldest first."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.cli.guarding import existing_ledger

        with existing_ledger(cli) as store:
            listed = store.list_optouts() if store is not None else []
        if cli.json:
            cli.emit({"optouts": [o._asdict() for o in listed], "total": len(listed)})
            return
        if cli.quiet:
            return
        if not listed:
            from smscli.store import shown

            cli.out.print(f"The opt-out list is empty ({shown(cli.ledger)})")
            return
        from rich.table import Table

        from smscli.cli.display import local_time, print_table

        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("Number", "Added", "Reason", "Source"):
            table.add_column(col, overflow="fold")
        for o in listed:
            table.add_row(o.number, local_time(o.added_at), o.reason or "", o.source)
        print_table(cli.out, table, optional=("Source", "Reason"))
        cli.out.print(f"{plural(len(listed), 'number')} on the opt-out list")


def _change(cli: Cli, apply: Callable[[Store, str], Change], done: str, unchanged: str) -> None:
    """``apply(ledger, region)`` (the profile's region reads numbers without +country), then
    its summary."""
    from smscli.store import open_store

    region: str = cli.settings.get("region")
    with open_store(cli.ledger) as store:
        change = apply(store, region)
    _done(cli, change, done, unchanged)


def _done(cli: Cli, change: Change, done: str, unchanged: str) -> None:
    """The summary (or its JSON); exit 3 when some numbers were invalid (the rest is done)."""
    bad = change.invalid
    if cli.json:
        document: dict[str, Any] = {
            done: change.done,
            unchanged.replace(" ", "_"): change.unchanged,
            "invalid": [i._asdict() for i in bad],
        }
        code = ExitCode.BAD_INPUT if bad else ExitCode.OK
        first = bad[0] if bad else None
        error = first and error_document(
            "bad_input",
            f"{plural(len(bad), 'number')} invalid, the first {first.where}: {first.why}",
            None,
        )
        cli.emit(document, code, error)
    elif not cli.quiet:
        cli.out.print(
            f"{len(change.done):,} {done}, {len(change.unchanged):,} {unchanged}, "
            f"{len(bad):,} invalid"
        )
    for i in bad[:SHOWN_INVALID]:
        cli.error(f"{i.where}: {i.raw!r}: {i.why}; not {done}")
    if len(bad) > SHOWN_INVALID:
        cli.error(f"… and {len(bad) - SHOWN_INVALID:,} more invalid numbers")
    if bad:
        raise typer.Exit(int(ExitCode.BAD_INPUT))
