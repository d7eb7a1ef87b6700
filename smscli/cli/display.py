"""How times and credits are shown to a person (the core keeps ISO times and numbers)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from smscli.words import plural as plural  # the command line counts as the core does

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from smscli.columns import Detected

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""What a file's data must not send to a terminal as it is: C0 and C1 control characters
(ESC starts colour, title and cursor sequences; CR overwrites the line) but newline and tab,
and the bidirectional overrides that reorder what a person reads."""


def escaped(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\u202e``)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def credits_text(value: float | None) -> str:
    """``1,000`` or ``12.50``; ``unknown`` for None."""
    if value is None:
        return "unknown"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def local_time(iso: str | None) -> str:
    """``2025-11-23 10:24:01 +03`` in the local time zone, labelled with it, from a ledger
    timestamp (every time a person reads is local and says so; JSON keeps ISO with offset)."""
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    local = when.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} {local:%Z}".rstrip() or iso


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
            return f"{plural(n, unit)} ago"
    return ""  # pragma: no cover


def print_table(out: Console, table: Table, optional: Sequence[str] = ()) -> None:
    """``table`` on ``out``; where it does not fit the width, the ``optional`` columns are left
    out in that order until it does, and a line says which (never a column cut off unsaid).
    What still does not fit folds inside its cells."""
    from rich.measure import Measurement

    for column in table.columns:  # a header folds no more than a number does
        column.min_width = max(column.min_width or 0, len(str(column.header)))
    dropped = []
    for name in optional:
        if Measurement.get(out, out.options.update_width(1 << 20), table).minimum <= out.width:
            break
        index = next((i for i, c in enumerate(table.columns) if c.header == name), None)
        if index is not None:
            del table.columns[index]
            dropped.append(name)
    for column in table.columns:
        column.overflow = "fold"
    out.print(table)
    if dropped:
        out.print(
            f"(not shown at {out.width} columns: {', '.join(dropped)}; a wider terminal or "
            "--json shows everything)"
        )


def detected_line(found: Detected) -> str:
    """What was read from an input file: ``Read as cp1254, ';'-separated, phone column
    'Cep Telefonu' (also: 'Ev Telefonu')``; a value a flag gave is marked so."""

    def given(name: str, text: str) -> str:
        return f"{text} (given)" if name in found.given else text

    parts = []
    if found.sheet is not None:
        parts.append(given("sheet", f"{found.encoding} sheet {found.sheet!r}"))
    else:
        parts.append(given("encoding", f"encoding {found.encoding}"))
    if found.delimiter is not None:
        shown = "tab" if found.delimiter == "\t" else repr(found.delimiter)
        parts.append(given("delimiter", f"delimiter {shown}"))
    if found.phone_column is not None:
        column = given("phone_column", f"phone column {found.phone_column!r}")
        if found.candidates:
            column += f" (also: {', '.join(repr(c) for c in found.candidates)})"
        parts.append(column)
    else:
        parts.append("no header: one number a line")
    return "Read as " + " · ".join(parts)
