"""``smscli bulk``: a CSV mail-merge, exactly once, resumable."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

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
    NotAfterOpt,
    NotBeforeOpt,
    NowOpt,
    existing_ledger,
    guard_fields,
)
from smscli.cli.runview import show_preview, show_result
from smscli.errors import ExitCode, InputError, UsageError

if TYPE_CHECKING:
    from smscli.runs import RunOptions


FileArg = Annotated[
    str, typer.Argument(help="The CSV or spreadsheet (.xlsx, .xls, .ods); - reads it from stdin.")
]
MessageOpt = Annotated[
    str | None,
    typer.Option(
        "--message",
        "-m",
        help="Template with {column} placeholders ({column|default} where a value may be empty).",
    ),
]
TemplateOpt = Annotated[
    Path | None, typer.Option("--template", help="Read the template from a file.")
]
MessageColumnOpt = Annotated[
    str | None, typer.Option("--message-column", help="Take each text from this column.")
]
PhoneColumnOpt = Annotated[
    str | None, typer.Option("--phone-column", help="The column with the numbers.")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="Input encoding (default: detected).")
]
DelimiterOpt = Annotated[
    str | None, typer.Option("--delimiter", help="Field separator (default: detected).")
]
ExcludeOpt = Annotated[Path | None, typer.Option("--exclude", help="Numbers never to send to.")]
SheetOpt = Annotated[
    str | None,
    typer.Option("--sheet", help="The sheet of an .xlsx, .xls or .ods file (default: the first)."),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show totals and samples; send nothing.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Send without asking.")]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, help="Send at most N messages now.")
]
RetryUnknownOpt = Annotated[
    bool, typer.Option("--retry-unknown", help="Send messages in doubt again.")
]
RetryFailedOpt = Annotated[bool, typer.Option("--retry-failed", help="Send failed messages again.")]
AgainOpt = Annotated[bool, typer.Option("--again", help="Send a completed campaign once more.")]
FailedCsvOpt = Annotated[
    Path | None,
    typer.Option("--failed-csv", help="Write the invalid and failed rows here, to send again."),
]
FailedCsvUnknownOpt = Annotated[
    bool,
    typer.Option(
        "--failed-csv-unknown",
        help="Add unknown rows to --failed-csv (they may have been delivered).",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Send even if the balance looks too low.")]
BatchSizeOpt = Annotated[
    int | None, typer.Option("--batch-size", min=1, help="Numbers per request.")
]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", min=1, help="Requests in flight at once.")
]


def bulk(
    file: FileArg,
    message: MessageOpt = None,
    template: TemplateOpt = None,
    message_column: MessageColumnOpt = None,
    phone_column: PhoneColumnOpt = None,
    encoding: EncodingOpt = None,
    delimiter: DelimiterOpt = None,
    exclude: ExcludeOpt = None,
    sheet: SheetOpt = None,
    sender: SenderOpt = None,
    tr: TurkishOpt = None,
    ascii_only: AsciiOpt = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    limit: LimitOpt = None,
    retry_unknown: RetryUnknownOpt = False,
    retry_failed: RetryFailedOpt = False,
    again: AgainOpt = False,
    failed_csv: FailedCsvOpt = None,
    failed_csv_unknown: FailedCsvUnknownOpt = False,
    allow_repeat: AllowRepeatOpt = False,
    not_before: NotBeforeOpt = None,
    not_after: NotAfterOpt = None,
    now: NowOpt = False,
    max_wait: MaxWaitOpt = 600.0,
    force: ForceOpt = False,
    batch_size: BatchSizeOpt = None,
    concurrency: ConcurrencyOpt = None,
    profile: ProfileOpt = None,
    provider: ProviderOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Send a personalised message to every row of a CSV file, exactly once."""
    cli = Cli(json=json, quiet=quiet, debug=debug, profile=profile)
    cli.flags = {"provider": provider, "sender": sender}
    with command(cli):
        from smscli.runs import BulkInput

        text = _text(message, template, message_column, failed_csv, failed_csv_unknown, encoding)
        sep = _separator(delimiter)
        _check_confirmable(file, dry_run=dry_run, yes=yes)
        with _input(file) as (path, name):
            given = BulkInput(
                path, name, text, message_column, phone_column, encoding, sep, exclude,
                failed_csv, failed_csv_unknown, sheet,
            )  # fmt: skip
            options = run_options(
                cli, given, turkish=tr, ascii_only=ascii_only, max_wait=max_wait, force=force,
                limit=limit, retry_unknown=retry_unknown, retry_failed=retry_failed, again=again,
                batch_size=batch_size, concurrency=concurrency,
            )._replace(**guard_fields(
                cli, command="bulk", allow_repeat=allow_repeat, not_before=not_before,
                not_after=not_after, now=now,
            ))  # fmt: skip
            if dry_run:
                _preview(cli, options)
            _deliver(cli, options, ask=not yes)


def _text(
    message: str | None,
    template: Path | None,
    message_column: str | None,
    failed_csv: Path | None,
    failed_csv_unknown: bool,
    encoding: str | None,
) -> str | None:
    """The template (``-m``, or read from ``--template``; None: ``--message-column``), once the
    flags are checked: the texts come from exactly one of the template, its file and a column;
    what adds to ``--failed-csv`` needs it; ``--encoding`` names an encoding files are saved
    in."""
    sources = [x for x in (message, template, message_column) if x is not None]
    if len(sources) != 1:
        raise UsageError("give exactly one of -m TEMPLATE, --template FILE, --message-column")
    if failed_csv_unknown and failed_csv is None:
        raise UsageError("--failed-csv-unknown adds to --failed-csv: give --failed-csv PATH")
    if encoding is not None:
        from smscli.csvfile import check_encoding

        check_encoding(encoding)
    return _read_template(template) if template is not None else message


def _separator(delimiter: str | None) -> str | None:
    """The field separator ``--delimiter`` names (``None``: detect it)."""
    if delimiter is not None and delimiter not in (",", ";", "\t", "\\t", "tab"):
        raise UsageError("--delimiter must be ',', ';' or tab")
    return "\t" if delimiter in ("\\t", "tab") else delimiter


def _check_confirmable(file: str, *, dry_run: bool, yes: bool) -> None:
    """A run that sends needs --yes, or a terminal to ask on (stdin is not one when it is the
    input)."""
    interactive = _interactive() and file != "-"
    if not dry_run and not yes and not interactive:
        raise UsageError(
            "refusing to send without a terminal to confirm on; pass --yes (after a --dry-run)"
        )


def _read_template(path: Path) -> str:
    """The template file, its encoding detected as a CSV's is."""
    from smscli.textfiles import read_text

    return read_text(str(path), "the template")


def _preview(cli: Cli, options: RunOptions) -> NoReturn:
    from smscli import runs

    with existing_ledger(cli) as ledger, runs.dry_run(options, ledger) as view:
        for notice in view.notices:
            cli.warn(notice)
        code = ExitCode.BAD_INPUT if view.totals.invalid else ExitCode.OK
        show_preview(cli, view, code)
    raise typer.Exit(int(code))


def _deliver(cli: Cli, options: RunOptions, *, ask: bool) -> NoReturn:
    from smscli.campaign import Campaign
    from smscli.store import open_store

    cls, account = options.driver, options.account
    with open_store(cli.ledger) as store, Campaign.open(store, options) as campaign:
        for notice in campaign.view.notices:
            cli.warn(notice)
        show_preview(cli, campaign.view)
        if campaign.view.totals.pending == 0:
            result = campaign.finish(None)
        else:
            with open_driver(cli, cls, account, account_state(store, cls, account)) as driver:
                campaign.check_ready(driver)
                if ask and not confirm(campaign.view):
                    campaign.cancel()
                    raise UsageError("not confirmed; nothing sent")
                total = campaign.view.totals.pending
                with _progress(
                    cli, total if options.limit is None else min(total, options.limit)
                ) as advance:
                    result = campaign.send(driver, advance)
        show_result(cli, result)
    raise typer.Exit(int(result.exit_code))


def _interactive() -> bool:
    """Whether a person can answer the confirmation question."""
    return sys.stdin.isatty()


@contextmanager
def _input(file: str) -> Iterator[tuple[Path, str]]:
    """The input as a file on disk: stdin is spooled to a temporary file (never to memory)."""
    if file != "-":
        path = Path(file)
        if not path.is_file():
            raise InputError(f"{file}: no such file")
        yield path, file
        return
    import shutil
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="smscli-stdin-", suffix=".csv") as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
        spool.flush()
        yield Path(spool.name), "stdin"


@contextmanager
def _progress(cli: Cli, total: int) -> Iterator[Any]:
    """A rich progress bar on a terminal; a plain line every few seconds otherwise."""
    if cli.quiet:
        yield None
        return
    err = cli.err
    if err.is_terminal:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        ) as bar:
            task = bar.add_task("send", total=total, rate="0")
            started = time.monotonic()
            done = 0

            def advance(n: int) -> None:
                nonlocal done
                done += n
                rate = done / max(time.monotonic() - started, 1e-6)
                bar.update(task, advance=n, rate=f"{rate:,.0f}")

            yield advance
        return
    started = last = time.monotonic()
    done = 0

    def plain(n: int) -> None:
        nonlocal done, last
        done += n
        moment = time.monotonic()
        if moment - last >= 5 or done == total:
            last = moment
            rate = done / max(moment - started, 1e-6)
            eta = (total - done) / rate if rate else 0
            print(
                f"smscli bulk: {done:,}/{total:,} sent, {rate:,.0f}/s, ETA {eta:,.0f}s",
                file=sys.stderr,
                flush=True,
            )

    yield plain
