"""How times and credits are shown to a person (the core keeps ISO times and numbers)."""

from __future__ import annotations

from datetime import UTC, datetime


def credits_text(value: float | None) -> str:
    """``1,000`` or ``12.50``; ``unknown`` for None."""
    if value is None:
        return "unknown"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def local_time(iso: str | None) -> str:
    """``2025-11-23 10:24:01`` in the local time zone, from a ledger timestamp."""
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{when.astimezone():%Y-%m-%d %H:%M:%S}"


def ago(iso: str, now: datetime | None = None) -> str:
    """How long ago, roughly: ``just now``, ``5 minutes ago``, ``3 days ago``."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' * (n != 1)} ago"
    return ""  # pragma: no cover
