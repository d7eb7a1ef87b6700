"""A campaign's CSV as rows for the plan (phone column, template or message column), and the
CSV of rows worth a second look that a run writes back in the input's own shape."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from smscli.errors import InputError, UsageError
from smscli.plan import Source, Spec

if TYPE_CHECKING:
    from smscli.csvfile import Table
    from smscli.store import Store


def _column(name: str, headers: list[str], column: str) -> int:
    if column not in headers:
        raise InputError(f"{name}: no column {column!r}", hint="columns: " + ", ".join(headers))
    return headers.index(column)


@contextmanager
def open_rows(
    path: Path, name: str, encoding: str, delimiter: str | None, sheet: str | None = None
) -> Iterator[Table]:
    """The file's rows: a spreadsheet's (``encoding`` is its kind, see
    :func:`smscli.csvfile.scan`) or a CSV's."""
    from smscli.sheets import KINDS, open_sheet

    if encoding in KINDS:
        with open_sheet(path, name, sheet) as table:
            yield table
        return
    from smscli.csvfile import open_table

    if sheet is not None:
        raise UsageError(f"--sheet {sheet!r}: {name} is not a spreadsheet")
    with open_table(path, name, encoding, delimiter) as table:
        yield table


@contextmanager
def open_source(
    path: Path, name: str, encoding: str, spec: Spec, given: frozenset[str] = frozenset()
) -> Iterator[Source]:
    """The file as the plan reads it, streamed: its rows by line number, the phone column and
    the template (or message column) that renders a row's text; ``given``: which of the
    encoding, delimiter, phone column and sheet came from flags."""
    from smscli.columns import Detected, find_phone_column
    from smscli.template import Template

    with open_rows(path, name, encoding, spec.delimiter, spec.sheet) as table:
        headers, others = table.headers, tuple[str, ...]()
        if spec.phone_column is not None:
            phone = _column(name, headers, spec.phone_column)
        else:
            phone, others = find_phone_column(headers, name)
        if spec.message_column is not None:
            col, column = _column(name, headers, spec.message_column), spec.message_column

            def render(row: Sequence[str]) -> tuple[str | None, str | None]:
                text = row[col].strip()
                return (text, None) if text else (None, column)

        else:
            assert spec.template is not None
            render = Template.parse(spec.template).bind(headers).render
        sheet = table.sheet is not None
        detected = Detected(
            encoding, None if sheet else table.delimiter, headers[phone], others, table.sheet,
            given,
        )  # fmt: skip
        yield Source(table.rows, phone, render, name, table.unit, detected)


UNKNOWN_NOTE = "may have been delivered: check `smscli report` first"


def write_failed_csv(
    store: Store,
    run_id: str,
    path: Path,
    name: str,
    encoding: str,
    spec: Spec,
    out: Path,
    *,
    unknown: bool = False,
) -> int:
    """The input rows worth sending again: ``invalid`` and ``failed`` (and ``unknown`` ones,
    marked "may have been delivered", when asked), with an error column, in the input's
    encoding and delimiter. Never a skipped row (excluded, opted out, duplicate, repeat): a
    file made to be sent again must not hold anyone who must not get the message. Streams the
    input and the store side by side."""
    import csv

    from smscli.sheets import KINDS

    states = ("invalid", "failed", "unknown") if unknown else ("invalid", "failed")
    problems = store.messages(run_id, states)
    count = 0
    nxt = next(problems, None)
    try:
        with (
            open_rows(path, name, encoding, spec.delimiter, spec.sheet) as table,
            # a spreadsheet's rows: UTF-8 with a BOM, which Excel opens as UTF-8
            out.open("w", encoding="utf-8-sig" if encoding in KINDS else encoding,
                     errors="replace", newline="") as f,
        ):  # fmt: skip
            writer = csv.writer(f, delimiter=table.delimiter)
            column = "error" if "error" not in table.headers else "smscli_error"
            writer.writerow([*table.headers, column])
            for line, row in table.rows:
                while nxt is not None and nxt.seq < line:
                    nxt = next(problems, None)
                if nxt is not None and nxt.seq == line:
                    note = UNKNOWN_NOTE if nxt.state == "unknown" else nxt.error
                    writer.writerow([*row, f"{nxt.state}: {note}"])
                    count += 1
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    return count
