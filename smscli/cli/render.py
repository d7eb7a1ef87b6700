"""Rendering results as rich tables or the contract's JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smscli.cli.common import print_json

if TYPE_CHECKING:
    from smscli.cli.common import Cli
    from smscli.sending import Draft, Report

STYLES = {
    "accepted": "green",
    "valid": "green",
    "delivered": "green",
    "failed": "red",
    "invalid": "red",
    "undelivered": "red",
    "unknown": "yellow",
    "pending": "cyan",
    "sending": "yellow",
}


def send_document(report: Report, draft: Draft, redact: Any) -> dict[str, Any]:
    seg = draft.segmentation
    return {
        "run_id": report.run_id,
        "provider": report.provider,
        "profile": report.profile,
        "dry_run": report.dry_run,
        "total": len(report.results),
        "accepted": report.count("accepted"),
        "failed": report.count("failed") + report.count("invalid"),
        "unknown": report.count("unknown"),
        "credits_remaining": report.credits_remaining,
        "results": [
            {
                "to": r.to,
                "status": r.status,
                "message_id": r.message_id,
                "segments": r.segments,
                "error": redact(r.error) if r.error else None,
                "input": r.raw,
                "source": r.source,
            }
            for r in report.results
        ],
        "message": {
            "encoding": seg.encoding,
            "characters": seg.chars,
            "segments": seg.parts,
            "turkish_mode": seg.turkish,
        },
        "credits_needed": draft.credits_needed,
        "duplicates": [
            {"input": d.raw, "to": d.e164, "source": d.source} for d in draft.recipients.duplicates
        ],
        "warnings": [redact(w) for w in report.warnings],
        "interrupted": report.interrupted,
    }


def send_report(cli: Cli, report: Report, draft: Draft) -> None:
    if cli.json:
        print_json(send_document(report, draft, cli.redactor))
        return
    for warning in report.warnings:
        cli.warn(warning)
    for text in dict.fromkeys(e.message for e in report.errors):
        cli.error(text)
    for d in draft.recipients.duplicates:
        cli.info(f"duplicate dropped: {d.raw} ({d.source}) is {d.e164}, already listed")
    if cli.quiet:
        return
    from rich.table import Table
    from rich.text import Text

    seg = draft.segmentation
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("#", "To", "Status", "Message ID", "Parts", "Error"):
        table.add_column(col, overflow="fold", no_wrap=col in ("To", "Message ID"))
    for i, r in enumerate(report.results, start=1):
        table.add_row(
            str(i),
            r.to or r.raw,
            Text(r.status, style=STYLES.get(r.status, "")),
            r.message_id or "",
            str(r.segments) if r.segments else "",
            cli.redactor(r.error) if r.error else "",
        )
    out = cli.out
    out.print(table)
    mode = f"{seg.encoding}, {seg.chars} characters, {seg.parts} part{'s' * (seg.parts != 1)}"
    if report.dry_run:
        valid = report.count("valid")
        line = (
            f"Dry run, nothing sent: {valid} to send, {report.count('invalid')} invalid, "
            f"{len(draft.recipients.duplicates)} duplicate · {mode} · "
            f"{draft.credits_needed} credits needed · {report.provider}"
        )
    else:
        counts = ", ".join(
            f"{report.count(s)} {s}"
            for s in ("accepted", "failed", "invalid", "unknown")
            if report.count(s)
        )
        n = len(report.results)
        line = f"{n} message{'s' * (n != 1)}: {counts} · {mode} · {report.provider}"
        if report.credits_remaining is not None:
            line += f" · {report.credits_remaining:g} credits remaining"
        line += f" · run {report.run_id}"
        if report.interrupted:
            line += " · interrupted"
    out.print(line)
