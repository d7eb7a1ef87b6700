"""Rendering results as rich tables or the contract's JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smscli.cli import documents
from smscli.cli.display import detected_line, plural

if TYPE_CHECKING:
    from smscli.cli.common import Cli
    from smscli.runs import RunView
    from smscli.sendstats import SendStats
    from smscli.store import MessageRecord

STYLES = {
    "accepted": "green",
    "would_send": "green",
    "delivered": "green",
    "failed": "red",
    "invalid": "red",
    "undelivered": "red",
    "unknown": "yellow",
    "pending": "cyan",
    "sending": "yellow",
}


def _results(view: RunView) -> tuple[list[MessageRecord], list[MessageRecord]]:
    """A send's messages, and the duplicates dropped from them."""
    results, duplicates = [], []
    for m in view.messages():
        if m.state == "skipped" and (m.error or "").startswith("duplicate"):
            duplicates.append(m)
        else:
            results.append(m)
    return results, duplicates


def send_result(cli: Cli, view: RunView, stats: SendStats | None, exit_code: int) -> None:
    if cli.json:
        documents.emit_run(cli, view, stats, exit_code)
        return
    results, duplicates = _results(view)
    for warning in view.notices:
        cli.warn(warning)
    errors = [e.message for e in stats.errors] if stats else []
    if stats and stats.stop:
        errors.append(stats.stop.error.message)
    for text in dict.fromkeys(errors):
        cli.error(text)
    if stats and stats.stop and stats.stop.error.hint:
        cli.info(f"  {stats.stop.error.hint}")
    for d in duplicates:
        cli.info(f"duplicate dropped: {d.raw} ({d.source}) is {d.recipient}, already listed")
    if cli.quiet:
        return
    if view.detected is not None:
        cli.out.print(detected_line(view.detected))
    from rich.table import Table
    from rich.text import Text

    from smscli.cli.display import print_table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("#", "To", "Status", "Message ID", "Parts", "Error"):
        wide = col == "Error"
        table.add_column(
            col, overflow="fold", no_wrap=col in ("#", "To", "Status", "Message ID"),
            min_width=16 if wide else None,
        )  # fmt: skip
    for i, m in enumerate(results, start=1):
        status = documents.status(view, m)
        table.add_row(
            str(i),
            m.recipient or m.raw or "",
            Text(status, style=STYLES.get(status, "")),
            m.provider_message_id or "",
            str(documents.segments(m) or ""),
            cli.redactor(m.error) if m.error else "",
        )
    print_table(cli.out, table, optional=("Parts", "Message ID", "#"))
    cli.out.print(_summary(view, stats, len(results), len(duplicates)))


def _summary(view: RunView, stats: SendStats | None, n: int, duplicates: int) -> str:
    seg, t = view.text, view.totals
    assert seg is not None
    skipped = f"{t.skipped - t.duplicate} skipped, " if t.skipped - t.duplicate else ""
    mode = f"{seg.encoding}, {seg.chars} characters, {plural(seg.parts, 'part')}"
    if view.dry_run:
        return (
            f"Dry run, nothing sent: {t.pending} to send, {t.invalid} invalid, "
            f"{skipped}{duplicates} duplicate · {mode} · "
            f"{plural(t.parts_total, 'credit')} needed · {view.run.provider}"
        )
    counts = ", ".join(
        f"{c} {s}"
        for s, c in (("accepted", t.sent_ok), ("failed", t.failed), ("invalid", t.invalid),
                     ("unknown", t.unknown), ("skipped", t.skipped - t.duplicate))
        if c
    )  # fmt: skip
    line = f"{n} message{'s' * (n != 1)}: {counts} · {mode} · {view.run.provider}"
    if view.run.credits_remaining is not None:
        line += f" · {view.run.credits_remaining:g} credits remaining"
    line += f" · run {view.run.id}"
    if stats and stats.interrupted:
        line += " · interrupted"
    if view.replayed:
        line += " · a replay: nothing sent now"
    return line
