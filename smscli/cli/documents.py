"""The ``--json`` document of a run (``send`` and ``bulk``, sent or dry), one shape for both
(``schemas/run.json``): the envelope, the run's counts, what was detected in the input, and
a result for every input entry, streamed so a million rows are never all in memory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from smscli.cli.output import error_document, json_text

if TYPE_CHECKING:
    from smscli.cli.common import Cli
    from smscli.runs import RunView
    from smscli.sendstats import SendStats
    from smscli.store import MessageRecord


SAMPLES = 3
"""Rendered messages a dry run shows."""


def number(value: float | None) -> float | int | None:
    """Credits as JSON numbers: ``999`` rather than ``999.0``; null when unknown."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def status(view: RunView, m: MessageRecord) -> str:
    """A message's status as documents and tables show it: a dry run's pending message is
    one that ``would_send``."""
    return "would_send" if view.dry_run and m.state == "pending" else m.state


def segments(m: MessageRecord) -> int:
    """The parts a message costs: none for one never sent."""
    return 0 if m.state in ("invalid", "skipped") else m.segments or 0


def result_item(view: RunView, m: MessageRecord, redact: Any) -> dict[str, Any]:
    return {
        "to": m.recipient,
        "status": status(view, m),
        "message_id": m.provider_message_id,
        "segments": segments(m),
        "error": redact(m.error) if m.error else None,
        "input": m.raw,
        "source": m.source,
    }


def _error(stats: SendStats | None, exit_code: int) -> dict[str, Any] | None:
    """What stopped the run, or failed every request of it; null when it ran its course."""
    if stats is None:
        return None
    if stats.stop is not None:
        e = stats.stop.error
        return error_document(e.code, e.message, e.hint)
    if stats.interrupted:
        hint = "nothing is lost: run the same command again to continue"
        return error_document("interrupted", "interrupted", hint)
    if exit_code >= 2 and stats.errors:
        e = stats.errors[0]
        return error_document(e.code, e.message, e.hint)
    return None


def head(view: RunView, stats: SendStats | None) -> dict[str, Any]:
    """The run's members before its results."""
    t, run, seg = view.totals, view.run, view.text
    detected = view.detected
    return {
        "provider": run.provider,
        "profile": run.profile,
        "run_id": None if view.dry_run and not (view.resumed or view.replayed) else run.id,
        "dry_run": view.dry_run,
        "resumed": view.resumed,
        "replayed": view.replayed,
        "interrupted": bool(stats and stats.interrupted),
        "total": t.rows,
        "would_send": t.pending if view.dry_run else 0,
        "pending": 0 if view.dry_run else t.pending,
        "accepted": t.accepted,
        "delivered": t.delivered,
        "undelivered": t.undelivered,
        "failed": t.failed,
        "unknown": t.unknown,
        "invalid": t.invalid,
        "skipped": t.skipped,
        "duplicate": t.duplicate,
        "excluded": t.excluded,
        "opted_out": t.opted_out,
        "repeat": t.repeat,
        "credits_needed": t.parts_pending if view.dry_run else t.parts_total,
        "credits_remaining": number(run.credits_remaining),
        "requests": stats.requests if stats else 0,
        "input": detected.as_dict() if detected is not None else None,
        "message": seg
        and {
            "encoding": seg.encoding,
            "characters": seg.chars,
            "segments": seg.parts,
            "turkish_mode": seg.turkish,
        },
        "samples": [_sample(s) for s in view.pending(SAMPLES)] if view.dry_run else [],
        "warnings": list(view.notices),
    }


def _sample(m: MessageRecord) -> dict[str, Any]:
    return {
        "source": m.source,
        "to": m.recipient,
        "text": m.text,
        "encoding": m.encoding,
        "segments": m.segments or 0,
    }


def emit_run(cli: Cli, view: RunView, stats: SendStats | None, exit_code: int) -> None:
    """The run's document on stdout, its results streamed row by row."""
    document = cli.envelope(head(view, stats), exit_code, _error(stats, exit_code))
    cli.emitted = True
    write = sys.stdout.write
    write(json_text(document)[:-1] + ', "results": [')
    for i, item in enumerate(_items(view, cli.redactor)):
        write(("" if i == 0 else ", ") + json_text(item))
    write("]}\n")
    sys.stdout.flush()


def _items(view: RunView, redact: Any) -> Iterator[dict[str, Any]]:
    for m in view.messages():
        yield result_item(view, m, redact)
