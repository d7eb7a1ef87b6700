"""``smscli send``: one text to one or many numbers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    check_account,
    command,
    open_driver,
)
from smscli.errors import InputError, UsageError

if TYPE_CHECKING:
    from smscli.providers.base import Account, Provider
    from smscli.sending import Draft, Report


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
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Numbers from a CSV (phone column) or one per line."),
    ] = None,
    sender: SenderOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show the cost; send nothing.")
    ] = False,
    tr: TurkishOpt = None,
    ascii_only: AsciiOpt = False,
    max_wait: MaxWaitOpt = 600.0,
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
        _send(cli, recipients or [], message, message_file, file, dry_run, tr, ascii_only, max_wait)


def _read_message(message: str | None, message_file: Path | None) -> str:
    if message is not None and message_file is not None:
        raise UsageError("give the text with -m or --message-file, not both")
    if message == "-":
        return sys.stdin.read().removesuffix("\n")
    if message is not None:
        return message
    if message_file is not None:
        try:
            return message_file.read_text(encoding="utf-8-sig").removesuffix("\n")
        except OSError as exc:
            raise InputError(f"cannot read {message_file}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{message_file}: not UTF-8 (byte {exc.start})") from None
    raise UsageError("no message: pass -m TEXT, -m - (stdin) or --message-file PATH")


def _entries(
    args: list[str], file: Path | None, stdin_used_for_message: bool
) -> list[tuple[str, str]]:
    from smscli.recipients import split_arguments

    entries = list(split_arguments(a for a in args if a != "-"))
    if "-" in args:
        if stdin_used_for_message:
            raise UsageError("stdin cannot hold both the message (-m -) and the numbers (-)")
        for i, line in enumerate(sys.stdin.read().splitlines(), start=1):
            entries.extend(
                (part.strip(), f"stdin line {i}") for part in line.split(",") if part.strip()
            )
    if file is not None:
        from smscli.csvfile import read_numbers

        try:
            data = file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror}") from None
        entries.extend(read_numbers(data, str(file)))
    if not entries:
        raise UsageError("no recipients: give numbers as arguments, - for stdin, or --file")
    return entries


def _send(
    cli: Cli,
    args: list[str],
    message: str | None,
    message_file: Path | None,
    file: Path | None,
    dry_run: bool,
    tr: bool | None,
    ascii_only: bool,
    max_wait: float,
) -> None:
    from smscli import providers
    from smscli.cli import render
    from smscli.providers.base import check_turkish_mobile
    from smscli.recipients import collect
    from smscli.sending import dry_run_report, prepare

    settings = cli.settings
    name = settings.provider
    cls = providers.get(name)
    text = _read_message(message, message_file)
    recipient_set = collect(_entries(args, file, message == "-"), settings.get("region"))
    caps = cls.capabilities
    draft = prepare(
        provider=name,
        profile=settings.profile,
        capabilities=caps,
        check_recipient=(
            (lambda e: check_turkish_mobile(name, e))
            if caps.turkish_numbers_only
            else lambda e: None
        ),
        text=text,
        recipients=recipient_set,
        sender=settings.get("sender"),
        sender_from_flag=settings.values.get("sender") is not None
        and settings.values["sender"].origin == "flag",
        turkish=tr,
        ascii_only=ascii_only,
    )
    account = check_account(cli, cls)
    report = dry_run_report(draft) if dry_run else _deliver(cli, cls, account, draft, max_wait)
    render.send_report(cli, report, draft)
    raise typer.Exit(int(report.exit_code))


def _deliver(
    cli: Cli, cls: type[Provider], account: Account, draft: Draft, max_wait: float
) -> Report:
    from smscli.ledger import Ledger
    from smscli.sending import Engine, account_id

    with (
        Ledger.open(cli.env.ledger_path) as ledger,
        open_driver(cli, cls, account, ledger) as driver,
    ):
        engine = Engine(
            driver,
            ledger,
            account_id(account),
            batch_size=cli.settings.get("batch_size"),
            max_wait=max_wait,
        )
        return engine.send(draft, command="send")
