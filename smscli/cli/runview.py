"""Rendering a ``bulk`` run: the preview (totals and first messages) and the result (summary
table, or the contract's JSON document streamed row by row)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smscli.cli import documents
from smscli.cli.display import detected_line, plural

if TYPE_CHECKING:
    from smscli.cli.common import Cli
    from smscli.runs import RunResult, RunView

SHOWN_MESSAGES = 3
SHOWN_PROBLEMS = 10


def show_preview(cli: Cli, view: RunView, exit_code: int = 0) -> None:
    """The run's totals and first messages (or, with --json, the dry-run document)."""
    if cli.json or cli.quiet:
        if view.dry_run and cli.json:
            documents.emit_run(cli, view, None, exit_code)
        return
    from rich.table import Table

    t = view.totals
    grid = Table(box=None, pad_edge=False, show_header=False)
    grid.add_column(style="bold")
    grid.add_column(justify="right")
    rows = [
        ("rows", t.rows),
        ("valid", t.rows - t.invalid),
        ("invalid", t.invalid),
        ("duplicate", t.duplicate),
        ("excluded", t.excluded),
        ("opted out", t.opted_out),
        ("repeat", t.repeat),
        ("messages", t.messages),
    ]
    if view.resumed:
        rows.append(("already done", t.messages - t.pending))
    rows += [("to send", t.pending), ("parts (credits) to send", t.parts_pending)]
    for label, value in rows:
        grid.add_row(label, f"{value:,}")
    out = cli.out
    head = "Dry run, nothing sent" if view.dry_run else "Campaign"
    if view.resumed:
        state = f"resuming run {view.run.id}"
    else:
        state = "a new run" if view.dry_run else f"new run {view.run.id}"
    out.print(f"{head} · {state}")
    if view.detected is not None:
        out.print(detected_line(view.detected))
    out.print(grid)
    for s in view.pending(SHOWN_MESSAGES):
        parts = s.segments or 0
        out.print(
            f"\n{s.source} → {s.recipient} ({s.encoding}, {plural(parts, 'part')}):\n  {s.text}"
        )
    problems = list(view.messages("invalid", limit=SHOWN_PROBLEMS))
    if problems:
        out.print("\nInvalid rows (not sent):")
        for p in problems:
            out.print(f"  {p.source}: {p.raw!r}: {p.error}")
        if t.invalid > len(problems):
            out.print(f"  … and {t.invalid - len(problems):,} more (--failed-csv writes them all)")


def show_result(cli: Cli, result: RunResult) -> None:
    stats = result.stats
    if result.failed_csv_rows is not None:
        cli.info(f"{plural(result.failed_csv_rows, 'row')} written to {result.failed_csv}")
    stop = stats.stop if stats else None
    if stop is not None:
        cli.error(stop.error.message)
        if stop.error.hint:
            cli.info(f"  {stop.error.hint}")
    if stats is not None and stats.interrupted:
        cli.error("interrupted; run the same command again to continue")
    if cli.json:
        documents.emit_run(cli, result.view, stats, int(result.exit_code))
    elif not cli.quiet:
        _print_summary(cli, result)


def _print_summary(cli: Cli, result: RunResult) -> None:
    view, stats = result.view, result.stats
    t, out = view.totals, cli.out
    problems = list(view.messages("failed", "unknown", limit=SHOWN_PROBLEMS))
    if problems:
        from rich.table import Table
        from rich.text import Text

        from smscli.cli.display import print_table
        from smscli.cli.render import STYLES

        table = Table(box=None, pad_edge=False, header_style="bold")
        for col in ("Row", "To", "Status", "Error"):
            table.add_column(col, overflow="fold")
        for p in problems:
            table.add_row(
                p.source or "",
                p.recipient or "",
                Text(p.state, style=STYLES.get(p.state, "")),
                cli.redactor(p.error or ""),
            )
        print_table(out, table)
    parts = [f"{t.sent_ok:,} accepted"]
    for label, n in (
        ("failed", t.failed),
        ("unknown", t.unknown),
        ("invalid", t.invalid),
        ("duplicate", t.duplicate),
        ("excluded", t.excluded),
        ("opted out", t.opted_out),
        ("repeat", t.repeat),
        ("not yet sent", t.pending),
    ):
        if n:
            parts.append(f"{n:,} {label}")
    line = f"{t.rows:,} rows: " + ", ".join(parts) + f" · run {view.run.id}"
    if stats is not None:
        line += f" · {plural(stats.requests, 'request')} this time"
    if view.run.credits_remaining is not None:
        line += f" · {view.run.credits_remaining:g} credits remaining"
    out.print(line)
    if t.pending:
        out.print("Run the same command again to continue.")
