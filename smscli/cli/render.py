"""Rendering results as rich tables or the contract's JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smscli.cli.common import Cli
    from smscli.engine import SendStats
    from smscli.runs import RunView
    from smscli.store import MessageRecord

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


def _results(view: RunView) -> tuple[list[MessageRecord], list[MessageRecord]]:
    """A send's messages, and the duplicates dropped from them."""
    results, duplicates = [], []
    for m in view.messages():
        if m.state == "skipped" and (m.error or "").startswith("duplicate"):
            duplicates.append(m)
        else:
            results.append(m)
    return results, duplicates


def _status(view: RunView, m: MessageRecord) -> str:
    return "valid" if view.dry_run and m.state == "pending" else m.state


def _parts(m: MessageRecord) -> int:
    return 0 if m.state in ("invalid", "skipped") else m.segments or 0


def send_document(
    view: RunView, stats: SendStats | None, results: list[MessageRecord],
    duplicates: list[MessageRecord], redact: Any,
) -> dict[str, Any]:  # fmt: skip
    seg, t = view.text, view.totals
    assert seg is not None
    return {
        "run_id": None if view.dry_run else view.run.id,
        "provider": view.run.provider,
        "profile": view.run.profile,
        "dry_run": view.dry_run,
        "total": len(results),
        "accepted": t.sent_ok,
        "failed": t.failed + t.invalid,
        "unknown": t.unknown,
        "credits_remaining": view.run.credits_remaining,
        "results": [
            {
                "to": m.recipient,
                "status": _status(view, m),
                "message_id": m.provider_message_id,
                "segments": _parts(m),
                "error": redact(m.error) if m.error else None,
                "input": m.raw,
                "source": m.source,
            }
            for m in results
        ],
        "message": {
            "encoding": seg.encoding,
            "characters": seg.chars,
            "segments": seg.parts,
            "turkish_mode": seg.turkish,
        },
        "credits_needed": t.parts_total,
        "duplicates": [{"input": d.raw, "to": d.recipient, "source": d.source} for d in duplicates],
        "skipped": t.skipped - t.duplicate,
        "warnings": [redact(w) for w in view.notices],
        "interrupted": bool(stats and stats.interrupted),
        "replayed": view.replayed,
    }


def send_result(cli: Cli, view: RunView, stats: SendStats | None) -> None:
    results, duplicates = _results(view)
    if cli.json:
        cli.emit(send_document(view, stats, results, duplicates, cli.redactor))
        return
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
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("#", "To", "Status", "Message ID", "Parts", "Error"):
        table.add_column(col, overflow="fold", no_wrap=col in ("To", "Message ID"))
    for i, m in enumerate(results, start=1):
        status = _status(view, m)
        table.add_row(
            str(i),
            m.recipient or m.raw or "",
            Text(status, style=STYLES.get(status, "")),
            m.provider_message_id or "",
            str(_parts(m) or ""),
            cli.redactor(m.error) if m.error else "",
        )
    cli.out.print(table)
    cli.out.print(_summary(view, stats, len(results), len(duplicates)))


def _summary(view: RunView, stats: SendStats | None, n: int, duplicates: int) -> str:
    seg, t = view.text, view.totals
    assert seg is not None
    skipped = f"{t.skipped - t.duplicate} skipped, " if t.skipped - t.duplicate else ""
    mode = f"{seg.encoding}, {seg.chars} characters, {seg.parts} part{'s' * (seg.parts != 1)}"
    if view.dry_run:
        return (
            f"Dry run, nothing sent: {t.pending} to send, {t.invalid} invalid, "
            f"{skipped}{duplicates} duplicate · {mode} · {t.parts_total} credits needed · "
            f"{view.run.provider}"
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
