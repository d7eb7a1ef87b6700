"""``smscli bulk``: a CSV mail-merge, exactly once, resumable."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    print_json,
    rate_limits,
)
from smscli.errors import CreditError, ExitCode, InputError, Unfinished, UsageError

if TYPE_CHECKING:
    import sqlite3

    from smscli.bulk import SendStats, Spec, Totals
    from smscli.csvfile import Table
    from smscli.ledger import Ledger
    from smscli.providers.base import Provider

SHOWN_MESSAGES = 3
SHOWN_PROBLEMS = 10


def bulk(
    file: Annotated[str, typer.Argument(help="The CSV file; - reads it from stdin.")],
    message: Annotated[
        str | None,
        typer.Option("--message", "-m", help="Template with {column} placeholders."),
    ] = None,
    template: Annotated[
        Path | None, typer.Option("--template", help="Read the template from a file.")
    ] = None,
    message_column: Annotated[
        str | None, typer.Option("--message-column", help="Take each text from this column.")
    ] = None,
    phone_column: Annotated[
        str | None, typer.Option("--phone-column", help="The column with the numbers.")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Input encoding (default: detected).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Field separator (default: detected).")
    ] = None,
    exclude: Annotated[
        Path | None, typer.Option("--exclude", help="Numbers never to send to.")
    ] = None,
    sender: SenderOpt = None,
    tr: TurkishOpt = None,
    ascii_only: AsciiOpt = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show totals and samples; send nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send without asking.")] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Send at most N messages now.")
    ] = None,
    retry_unknown: Annotated[
        bool, typer.Option("--retry-unknown", help="Send messages in doubt again.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Send failed messages again.")
    ] = False,
    again: Annotated[
        bool, typer.Option("--again", help="Send a completed campaign once more.")
    ] = False,
    failed_csv: Annotated[
        Path | None,
        typer.Option("--failed-csv", help="Write invalid, skipped and failed rows here."),
    ] = None,
    not_after: Annotated[
        str | None,
        typer.Option("--not-after", help="Send nothing after this time (HH:MM or ISO 8601)."),
    ] = None,
    max_wait: MaxWaitOpt = 600.0,
    force: Annotated[
        bool, typer.Option("--force", help="Send even if the balance looks too low.")
    ] = False,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", min=1, help="Numbers per request.")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", min=1, help="Requests in flight at once.")
    ] = None,
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
        sources = [x for x in (message, template, message_column) if x is not None]
        if len(sources) != 1:
            raise UsageError("give exactly one of -m TEMPLATE, --template FILE, --message-column")
        if delimiter is not None and delimiter not in (",", ";", "\t", "\\t", "tab"):
            raise UsageError("--delimiter must be ',', ';' or tab")
        sep = "\t" if delimiter in ("\\t", "tab") else delimiter
        deadline = _parse_time(not_after) if not_after else None
        interactive = _interactive() and file != "-"
        if not dry_run and not yes and not interactive:
            raise UsageError(
                "refusing to send without a terminal to confirm on; pass --yes (after a --dry-run)"
            )
        with _input(file) as (path, name):
            _bulk(
                cli,
                path=path,
                name=name,
                message=message,
                template=template,
                message_column=message_column,
                phone_column=phone_column,
                encoding=encoding,
                delimiter=sep,
                exclude=exclude,
                tr=tr,
                ascii_only=ascii_only,
                dry_run=dry_run,
                confirm=not yes,
                limit=limit,
                retry_unknown=retry_unknown,
                retry_failed=retry_failed,
                again=again,
                failed_csv=failed_csv,
                not_after=deadline,
                max_wait=max_wait,
                force=force,
                batch_size=batch_size,
                concurrency=concurrency,
            )


def _interactive() -> bool:
    """Whether a person can answer the confirmation question."""
    return sys.stdin.isatty()


def _parse_time(text: str) -> float:
    """``HH:MM`` (today, local time) or an ISO 8601 date-time (local time if no offset)."""
    try:
        if len(text) <= 5 and ":" in text:
            hour, minute = (int(x) for x in text.split(":"))
            moment = datetime.now().replace(hour=hour, minute=minute, second=0, microsecond=0)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--not-after {text!r}: expected HH:MM or an ISO 8601 time like 2026-11-23T18:00"
        ) from None
    return moment.timestamp()


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


def _bulk(cli: Cli, *, path: Path, name: str, **o: Any) -> None:
    from smscli import bulk, providers
    from smscli.csvfile import scan
    from smscli.ledger import Ledger
    from smscli.locks import FileLock
    from smscli.sending import account_id, check_turkish_mode, resolve_sender

    settings = cli.settings
    cls = providers.get(settings.provider)
    caps = cls.capabilities
    account = check_account(cli, cls)
    aid = account_id(account)
    check_turkish_mode(cls.name, caps, o["tr"])
    sender = resolve_sender(cls.name, caps, settings.get("sender"))
    template_text = o["message"]
    if o["template"] is not None:
        try:
            template_text = o["template"].read_text(encoding="utf-8-sig").removesuffix("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the template {o['template']}: {exc}") from None
    scanned = scan(path, name, o["encoding"])
    exclusions: frozenset[str] = frozenset()
    exclude_digest = None
    if o["exclude"] is not None:
        exclusions, exclude_digest = bulk.read_exclusions(o["exclude"], settings.get("region"))
    spec = bulk.Spec(
        input_sha256=scanned.sha256,
        encoding=scanned.encoding,
        delimiter=o["delimiter"],
        phone_column=o["phone_column"],
        template=template_text,
        message_column=o["message_column"],
        sender=sender,
        turkish=o["tr"],
        ascii_only=o["ascii_only"],
        exclude_sha256=exclude_digest,
        region=settings.get("region"),
    )
    fingerprint = spec.fingerprint(aid)

    def prepare_into(ledger: Ledger) -> str:
        with _open_source(path, name, scanned.encoding, spec) as (table, source):
            return bulk.prepare(
                ledger,
                table,
                source,
                spec=spec,
                fingerprint=fingerprint,
                account=aid,
                provider=cls.name,
                profile=settings.profile,
                capabilities=caps,
                exclude=exclusions,
                options={
                    "input": name,
                    "encoding": scanned.encoding,
                    "template": template_text,
                    "message_column": o["message_column"],
                    "phone_column": o["phone_column"],
                    "exclude": str(o["exclude"]) if o["exclude"] else None,
                },
            )

    with Ledger.open(cli.env.ledger_path) as ledger:
        if o["dry_run"]:
            existing = bulk.find_run(ledger, fingerprint)
            if existing is not None and existing["state"] != "preparing" and not o["again"]:
                t = _render_preview(cli, ledger, existing["id"], resumed=existing, dry_run=True)
                raise typer.Exit(_dry_exit(t))
            import tempfile

            with (
                tempfile.TemporaryDirectory(prefix="smscli-dry-") as tmp,
                Ledger.open(Path(tmp) / "dry-run.db") as scratch,
            ):
                run_id = prepare_into(scratch)
                t = _render_preview(cli, scratch, run_id, resumed=None, dry_run=True)
                raise typer.Exit(_dry_exit(t))

        lock = FileLock(cli.env.ledger_path.parent / "locks" / f"{fingerprint[:32]}.lock")
        if not lock.acquire():
            raise Unfinished(
                f"another smscli process (pid {lock.holder() or '?'}) is working on this run; "
                "nothing done",
                hint="run the same command again once it has finished",
            )
        with lock:
            run = bulk.find_run(ledger, fingerprint)
            if run is not None and run["state"] == "preparing":
                bulk.delete_run(ledger, run["id"])  # a preparation that died; nothing was sent
                run = None
            resumed = run
            if run is not None:
                settled = bulk.settle_crashed(ledger, run["id"])
                if settled:
                    cli.warn(
                        f"{settled} message(s) were on the wire when an earlier process ended: "
                        "marked unknown, not re-sent (--retry-unknown re-sends them)"
                    )
                requeued = bulk.requeue(
                    ledger, run["id"], unknown=o["retry_unknown"], failed=o["retry_failed"]
                )
                if run["state"] == "complete" and not requeued:
                    if not o["again"]:
                        t = bulk.totals(ledger, run["id"])
                        raise UsageError(
                            f"this campaign was already sent: run {run['id']} of "
                            f"{run['created_at'][:16].replace('T', ' ')} UTC ({t.sent_ok} "
                            f"accepted, {t.failed} failed, {t.unknown} unknown); nothing sent",
                            hint="--again sends it once more; --retry-failed / --retry-unknown "
                            "re-send only those; `smscli history show RUN` shows it",
                        )
                    run = resumed = None
            run_id = prepare_into(ledger) if run is None else str(run["id"])
            fresh = resumed is None
            t = _render_preview(cli, ledger, run_id, resumed=resumed, dry_run=False)
            if t.pending == 0:
                stats = None
                bulk.complete_if_done(ledger, run_id)
            else:
                with open_driver(cli, cls, account, ledger) as driver:
                    if caps.balance and not o["force"]:
                        _check_credit(driver, ledger, run_id, o["limit"])
                    if o["confirm"] and not typer.confirm(
                        f"Send {t.pending:,} messages ({t.parts_pending:,} parts) through "
                        f"{cls.name}?",
                        default=False,
                        err=True,
                    ):
                        if fresh:
                            bulk.delete_run(ledger, run_id)
                        raise UsageError("not confirmed; nothing sent")
                    stats = _send(cli, ledger, driver, run_id, aid, sender, t, o)
            _finish(cli, ledger, run_id, stats, path, name, scanned.encoding, spec, o)


def _dry_exit(t: Totals) -> int:
    return int(ExitCode.BAD_INPUT if t.invalid else ExitCode.OK)


@contextmanager
def _open_source(path: Path, name: str, encoding: str, spec: Spec) -> Iterator[tuple[Table, Any]]:
    from smscli.bulk import Source
    from smscli.csvfile import find_phone_column, open_table
    from smscli.template import Template

    with open_table(path, name, encoding, spec.delimiter) as table:
        headers = table.headers
        if spec.phone_column is not None:
            if spec.phone_column not in headers:
                raise InputError(
                    f"{name}: no column {spec.phone_column!r}",
                    hint="columns: " + ", ".join(headers),
                )
            phone = headers.index(spec.phone_column)
        else:
            phone = find_phone_column(headers, name)
        if spec.message_column is not None:
            if spec.message_column not in headers:
                raise InputError(
                    f"{name}: no column {spec.message_column!r}",
                    hint="columns: " + ", ".join(headers),
                )
            col, column = headers.index(spec.message_column), spec.message_column

            def render(row: Any) -> tuple[str | None, str | None]:
                text = row[col].strip()
                return (text, None) if text else (None, column)

            yield table, Source(phone, render)
        else:
            assert spec.template is not None
            bound = Template.parse(spec.template).bind(headers)
            yield table, Source(phone, bound.render)


def _check_credit(driver: Provider, ledger: Ledger, run_id: str, limit: int | None) -> None:
    """The provider's balance against the parts this invocation will send."""
    needed = ledger.conn.execute(
        "SELECT COALESCE(SUM(segments), 0) FROM (SELECT segments FROM messages"
        " WHERE run_id = ? AND state = 'pending' ORDER BY seq LIMIT ?)",
        (run_id, -1 if limit is None else limit),
    ).fetchone()[0]
    balance = driver.balance()
    if balance.credits is not None and balance.credits < needed:
        raise CreditError(
            f"{driver.name}: the balance is {balance.credits:g} credits, sending "
            f"{'this run' if limit is None else 'these messages'} needs {needed:,} "
            "(one per SMS part); nothing sent",
            hint="top up, send part of it with --limit, or pass --force",
        )


def _send(
    cli: Cli,
    ledger: Ledger,
    driver: Provider,
    run_id: str,
    aid: str,
    sender: str | None,
    t: Totals,
    o: dict[str, Any],
) -> SendStats:
    from smscli.bulk import BulkEngine, take_lease
    from smscli.ratelimit import JITTER_SECONDS, RateLimiter

    settings = cli.settings
    caps = driver.capabilities
    rates = rate_limits(cli, type(driver))
    take_lease(ledger, run_id)
    total = t.pending if o["limit"] is None else min(t.pending, o["limit"])
    with _progress(cli, total) as advance:
        engine = BulkEngine(
            driver,
            ledger,
            RateLimiter(ledger.conn, aid, rates, covered_delay=JITTER_SECONDS),
            aid,
            batch_size=o["batch_size"] or settings.get("batch_size") or caps.max_batch,
            concurrency=o["concurrency"] or settings.get("concurrency") or 4,
            max_wait=o["max_wait"],
            not_after=o["not_after"],
            limit=o["limit"],
            sender=sender,
            progress=advance,
        )
        return engine.run(run_id)


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


def _render_preview(
    cli: Cli, ledger: Ledger, run_id: str, *, resumed: sqlite3.Row | None, dry_run: bool
) -> Totals:
    """Show the run's totals and first messages (or, with --json, the dry-run document);
    return the totals."""
    from smscli import bulk

    t = bulk.totals(ledger, run_id)
    if resumed is not None and bulk.stale(resumed):
        cli.warn(
            f"RESUMING RUN {run_id} STARTED {resumed['created_at'][:16].replace('T', ' ')} UTC, "
            "MORE THAN 24 HOURS AGO: its messages may be out of date"
        )
    if cli.json or cli.quiet:
        if dry_run and cli.json:
            print_json(_preview_document(ledger, run_id, t, resumed))
        return t
    from rich.table import Table

    grid = Table(box=None, pad_edge=False, show_header=False)
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    rows = [
        ("rows", t.rows),
        ("valid", t.rows - t.invalid),
        ("invalid", t.invalid),
        ("duplicate", t.duplicate),
        ("excluded", t.excluded),
        ("messages", t.messages),
    ]
    if resumed is not None:
        rows.append(("already done", t.messages - t.pending))
    rows += [("to send", t.pending), ("parts (credits) to send", t.parts_pending)]
    for label, value in rows:
        grid.add_row(label, f"{value:,}")
    out = cli.out
    head = "Dry run, nothing sent" if dry_run else "Campaign"
    if resumed is not None:
        state = f"resuming run {run_id}"
    else:
        state = "a new run" if dry_run else f"new run {run_id}"
    out.print(f"{head} · {state}")
    out.print(grid)
    samples = ledger.conn.execute(
        "SELECT source, recipient, text, encoding, segments FROM messages"
        " WHERE run_id = ? AND state = 'pending' ORDER BY seq LIMIT ?",
        (run_id, SHOWN_MESSAGES),
    ).fetchall()
    for s in samples:
        out.print(
            f"\n{s['source']} → {s['recipient']} ({s['encoding']}, {s['segments']} part"
            f"{'s' * (s['segments'] != 1)}):\n  {s['text']}"
        )
    problems = ledger.conn.execute(
        "SELECT source, raw, error FROM messages WHERE run_id = ? AND state = 'invalid'"
        " ORDER BY seq LIMIT ?",
        (run_id, SHOWN_PROBLEMS),
    ).fetchall()
    if problems:
        out.print("\nInvalid rows (not sent):")
        for p in problems:
            out.print(f"  {p['source']}: {p['raw']!r}: {p['error']}")
        if t.invalid > len(problems):
            out.print(f"  … and {t.invalid - len(problems):,} more (--failed-csv writes them all)")
    return t


def _preview_document(
    ledger: Ledger, run_id: str, t: Totals, resumed: sqlite3.Row | None
) -> dict[str, Any]:
    samples = ledger.conn.execute(
        "SELECT source, recipient, text, encoding, segments FROM messages"
        " WHERE run_id = ? AND state = 'pending' ORDER BY seq LIMIT ?",
        (run_id, SHOWN_MESSAGES),
    ).fetchall()
    return {
        "run_id": run_id if resumed is not None else None,
        "dry_run": True,
        "rows": t.rows,
        "valid": t.rows - t.invalid,
        "invalid": t.invalid,
        "duplicate": t.duplicate,
        "excluded": t.excluded,
        "messages": t.messages,
        "to_send": t.pending,
        "segments": t.parts_pending,
        "credits": t.parts_pending,
        "samples": [
            {
                "source": s["source"],
                "to": s["recipient"],
                "text": s["text"],
                "encoding": s["encoding"],
                "segments": s["segments"],
            }
            for s in samples
        ],
    }


def _finish(
    cli: Cli,
    ledger: Ledger,
    run_id: str,
    stats: SendStats | None,
    path: Path,
    name: str,
    encoding: str,
    spec: Spec,
    o: dict[str, Any],
) -> None:
    from smscli import bulk

    t = bulk.totals(ledger, run_id)
    run = ledger.run(run_id)
    assert run is not None
    if o["failed_csv"] is not None:
        written = bulk.write_failed_csv(ledger, run_id, path, name, encoding, spec, o["failed_csv"])
        cli.info(f"{written:,} row(s) written to {o['failed_csv']}")
    code = bulk.exit_code(t, stats)
    stop = stats.stop if stats else None
    if stop is not None:
        cli.error(stop.error.message)
        if stop.error.hint:
            cli.info(f"  {stop.error.hint}")
    if stats is not None and stats.interrupted:
        cli.error("interrupted; run the same command again to continue")
    if cli.json:
        _print_document(ledger, run_id, t, run.credits_remaining, stats)
    elif not cli.quiet:
        _print_summary(cli, ledger, run_id, t, run.credits_remaining, stats)
    raise typer.Exit(int(code))


def _print_summary(
    cli: Cli,
    ledger: Ledger,
    run_id: str,
    t: Totals,
    credits: float | None,
    stats: SendStats | None,
) -> None:
    out = cli.out
    problems = ledger.conn.execute(
        "SELECT source, recipient, state, error FROM messages WHERE run_id = ?"
        " AND state IN ('failed', 'unknown') ORDER BY seq LIMIT ?",
        (run_id, SHOWN_PROBLEMS),
    ).fetchall()
    if problems:
        from rich.table import Table
        from rich.text import Text

        from smscli.cli.render import STYLES

        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("Row", "To", "Status", "Error"):
            table.add_column(col, overflow="fold")
        for p in problems:
            table.add_row(
                p["source"],
                p["recipient"] or "",
                Text(p["state"], style=STYLES.get(p["state"], "")),
                cli.redactor(p["error"] or ""),
            )
        out.print(table)
    parts = [f"{t.sent_ok:,} accepted"]
    for label, n in (
        ("failed", t.failed),
        ("unknown", t.unknown),
        ("invalid", t.invalid),
        ("duplicate", t.duplicate),
        ("excluded", t.excluded),
        ("not yet sent", t.pending),
    ):
        if n:
            parts.append(f"{n:,} {label}")
    line = f"{t.rows:,} rows: " + ", ".join(parts) + f" · run {run_id}"
    if stats is not None:
        line += f" · {stats.requests:,} requests this time"
    if credits is not None:
        line += f" · {credits:g} credits remaining"
    out.print(line)
    if t.pending:
        out.print("Run the same command again to continue.")


def _print_document(
    ledger: Ledger,
    run_id: str,
    t: Totals,
    credits: float | None,
    stats: SendStats | None,
) -> None:
    """The contract's document, streamed: a result for every row, never all in memory."""
    import json as jsonlib

    run = ledger.run(run_id)
    assert run is not None
    head = {
        "run_id": run_id,
        "provider": run.provider,
        "profile": run.profile,
        "dry_run": False,
        "total": t.rows,
        "accepted": t.sent_ok,
        "failed": t.failed + t.invalid,
        "unknown": t.unknown,
        "credits_remaining": credits,
        "pending": t.pending,
        "invalid": t.invalid,
        "duplicate": t.duplicate,
        "excluded": t.excluded,
        "stopped": stats.stop.error.message if stats and stats.stop else None,
    }
    write = sys.stdout.write
    write(jsonlib.dumps(head, ensure_ascii=False)[:-1] + ', "results": [')
    cursor = ledger.conn.execute(
        "SELECT recipient, state, provider_message_id, segments, error, raw, source"
        " FROM messages WHERE run_id = ? ORDER BY seq",
        (run_id,),
    )
    first = True
    for r in cursor:
        item = {
            "to": r["recipient"],
            "status": r["state"],
            "message_id": r["provider_message_id"],
            "segments": r["segments"],
            "error": r["error"],
            "input": r["raw"],
            "source": r["source"],
        }
        write(("" if first else ", ") + jsonlib.dumps(item, ensure_ascii=False))
        first = False
    write("]}\n")
    sys.stdout.flush()
