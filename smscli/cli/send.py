"""``smscli send``: one text to one or many numbers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from smscli.cli.common import (
    AsciiOpt,
    Cli,
    DebugOpt,
    JsonOpt,
    MaxWaitOpt,
    ProfileOpt,
    ProviderOpt,
    QuietOpt,
    SenderOpt,
    TurkishOpt,
    account_state,
    command,
    confirm,
    open_driver,
    run_options,
)
from smscli.cli.guarding import (
    AllowRepeatOpt,
    IdempotencyKeyOpt,
    IgnoreOptoutOpt,
    NoRepeatOpt,
    NowOpt,
    existing_ledger,
    guard_fields,
)
from smscli.errors import ExitCode, InputError, UsageError

if TYPE_CHECKING:
    from smscli.campaign import Campaign
    from smscli.columns import Detected
    from smscli.providers.base import Provider
    from smscli.runs import RunOptions, RunResult


FileOpt = Annotated[
    Path | None,
    typer.Option(
        "--file", "-f",
        help="Numbers from a CSV or spreadsheet (phone column) or one per line; - is stdin.",
    ),
]  # fmt: skip
SheetOpt = Annotated[
    str | None,
    typer.Option("--sheet", help="The sheet of an .xlsx, .xls or .ods --file (default: first)."),
]


def send(
    recipients: Annotated[
        list[str] | None,
        typer.Argument(
            help="Numbers (each may be a comma-separated list); - reads numbers from stdin.",
            show_default=False,
        ),
    ] = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="The text; - reads it from stdin.")
    ] = None,
    message_file: Annotated[
        Path | None, typer.Option("--message-file", help="Read the text from a file.")
    ] = None,
    file: FileOpt = None,
    sheet: SheetOpt = None,
    sender: SenderOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show the cost; send nothing.")
    ] = False,
    tr: TurkishOpt = None,
    ascii_only: AsciiOpt = False,
    max_wait: MaxWaitOpt = 600.0,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Send to more than 50 numbers without asking.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send even if the balance looks too low.")
    ] = False,
    ignore_optout: IgnoreOptoutOpt = False,
    no_repeat: NoRepeatOpt = False,
    allow_repeat: AllowRepeatOpt = False,
    idempotency_key: IdempotencyKeyOpt = None,
    now: NowOpt = False,
    profile: ProfileOpt = None,
    provider: ProviderOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Send one message to one or more numbers."""
    cli = Cli(json=json, quiet=quiet, debug=debug, profile=profile)
    cli.flags = {"provider": provider, "sender": sender}
    with command(cli):
        from smscli.runs import SendInput

        text = _read_message(message, message_file)
        entries, found = _entries(recipients or [], file, message == "-", sheet)
        options = run_options(
            cli, SendInput(tuple(entries), text, found), turkish=tr, ascii_only=ascii_only,
            max_wait=max_wait, force=force,
        )._replace(**guard_fields(
            cli, command="send", allow_repeat=allow_repeat, no_repeat=no_repeat,
            ignore_optout=ignore_optout, idempotency_key=idempotency_key, now=now,
        ))  # fmt: skip
        if dry_run:
            _preview(cli, options)
        _deliver(cli, options, ask=not yes and sys.stdin.isatty())


def _read_message(message: str | None, message_file: Path | None) -> str:
    if message is not None and message_file is not None:
        raise UsageError("give the text with -m or --message-file, not both")
    if message == "-":
        return _stdin_text("the message on stdin").removesuffix("\n")
    if message is not None:
        return message
    if message_file is not None:  # its encoding detected as a CSV's is
        from smscli.textfiles import read_text

        return read_text(str(message_file), "the message file")
    raise UsageError("no message: pass -m TEXT, -m - (stdin) or --message-file PATH")


def _stdin_text(what: str) -> str:
    """stdin as UTF-8 text (a BOM dropped), whatever the locale; bytes that are not UTF-8 are
    exit 3, saying where (a Windows-1254 script piping its text in)."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} is not valid text: byte 0x{data[exc.start]:02x} at byte {exc.start + 1} "
            "is not UTF-8",
            hint="pass the text as UTF-8 (a Windows-1254 script: iconv -f windows-1254 -t utf-8)",
        ) from None


def _entries(
    args: list[str], file: Path | None, stdin_used_for_message: bool, sheet: str | None = None
) -> tuple[list[tuple[str, str]], Detected | None]:
    """The recipients, and what was found out about ``--file``."""
    from smscli.recipients import split_arguments

    if sheet is not None and file is None:
        raise UsageError("--sheet names a sheet of --file: give --file")
    found: list[Detected] = []

    entries = list(split_arguments(a for a in args if a != "-"))
    from_stdin = file is not None and str(file) == "-"
    if from_stdin and ("-" in args or stdin_used_for_message):
        raise UsageError("stdin holds one thing: --file -, or the numbers (-), or -m -")
    if "-" in args:
        if stdin_used_for_message:
            raise UsageError("stdin cannot hold both the message (-m -) and the numbers (-)")
        for i, line in enumerate(_stdin_text("the numbers on stdin").splitlines(), start=1):
            entries.extend(
                (part.strip(), f"stdin line {i}") for part in line.split(",") if part.strip()
            )
    if file is not None:
        from smscli.numberfiles import read_numbers

        try:
            data = sys.stdin.buffer.read() if from_stdin else file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
        name = "stdin" if from_stdin else str(file)
        entries.extend(read_numbers(data, name, sheet=sheet, found=found.append))
    if not entries:
        raise UsageError("no recipients: give numbers as arguments, - for stdin, or --file")
    return entries, found[0] if found else None


CONFIRM_ABOVE = 50
"""A ``send`` to more recipients than this asks first on a terminal, as ``bulk`` does."""


def _preview(cli: Cli, options: RunOptions) -> NoReturn:
    from smscli import runs
    from smscli.cli import render

    with existing_ledger(cli) as ledger, runs.dry_run(options, ledger) as view:
        code = ExitCode.BAD_INPUT if view.totals.invalid else ExitCode.OK
        render.send_result(cli, view, None, code)
    raise typer.Exit(int(code))


def _deliver(cli: Cli, options: RunOptions, *, ask: bool) -> NoReturn:
    from smscli.campaign import Campaign
    from smscli.cli import render
    from smscli.store import open_store

    cls, account = options.driver, options.account
    with open_store(cli.ledger) as store, Campaign.open(store, options) as campaign:
        if campaign.replayed:
            result = campaign.replay()
            render.send_result(cli, result.view, None, result.exit_code)
            raise typer.Exit(int(result.exit_code))
        with open_driver(cli, cls, account, account_state(store, cls, account)) as driver:
            result = _send(campaign, driver, ask=ask)
        render.send_result(cli, result.view, result.stats, result.exit_code)
    raise typer.Exit(int(result.exit_code))


def _send(campaign: Campaign, driver: Provider, *, ask: bool) -> RunResult:
    """Checked (the hours, the balance), confirmed on a terminal above 50 numbers, sent."""
    campaign.check_ready(driver)
    if ask and campaign.view.totals.pending > CONFIRM_ABOVE and not confirm(campaign.view):
        campaign.cancel()
        raise UsageError("not confirmed; nothing sent")
    return campaign.send(driver)
