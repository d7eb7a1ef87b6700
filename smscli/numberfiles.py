"""Files of numbers (``send --file``, ``--exclude``, ``optout import``): a CSV or a spreadsheet
with a phone column (found as ``bulk`` finds it), or one number per line. Blank lines and
``#`` comment lines are skipped wherever they are."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator

from smscli.columns import Detected, find_phone_column
from smscli.errors import InputError
from smscli.words import plural

Found = Callable[[Detected], None]


def read_numbers(
    data: bytes,
    name: str,
    phone_column: str | None = None,
    *,
    sheet: str | None = None,
    option: str | None = None,
    found: Found | None = None,
) -> Iterator[tuple[str, str]]:
    """``(raw number, source)`` from a file. ``option``: the flag that names the phone column,
    if the command has one; ``found`` is told what was detected before the first number."""
    from smscli.sheets import is_spreadsheet

    if is_spreadsheet(data[:8]):
        yield from _sheet(data, name, phone_column, sheet, option, found)
        return
    if sheet is not None:
        from smscli.errors import UsageError

        raise UsageError(f"--sheet {sheet!r}: {name} is not a spreadsheet")
    yield from _text(data, name, phone_column, option, found)


def _text(
    data: bytes, name: str, phone_column: str | None, option: str | None, found: Found | None
) -> Iterator[tuple[str, str]]:
    from smscli.csvfile import LINE_END, decode, detect_delimiter, records

    text, encoding = decode(data, name)
    if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    # Comment lines stay, empty (a quote in a comment opens nothing; line numbers hold).
    lines = ["" if _comment(ln) else ln for ln in LINE_END.split(text)]
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = detect_delimiter(first)
    if delimiter is None and phone_column is None and any(c.isdigit() for c in first):
        if found is not None:
            found(Detected(encoding, None, None))
        for i, line in enumerate(lines, start=1):
            if line.strip():
                yield line.strip(), f"{name} line {i}"
        return
    rows = records((f"{ln}\n" for ln in lines), delimiter or ",", name)
    rows = (r for r in rows if any(v.strip() for v in r[1]))
    if (header := next(rows, None)) is None:
        return
    headers = [h.strip() for h in header[1]]
    col, others = _column(headers, name, phone_column, option)
    if found is not None:
        given = frozenset({"phone_column"}) if phone_column is not None else frozenset()
        found(Detected(encoding, delimiter or ",", headers[col], others, given=given))
    for line, row in rows:
        if not any(v.strip() for v in row):
            continue
        if col >= len(row):
            raise InputError(
                f"{name} line {line}: {plural(len(row), 'field')}, the phone "
                f"column ({headers[col]!r}) is field {col + 1}"
            )
        yield row[col], f"{name} line {line}"


def _sheet(
    data: bytes,
    name: str,
    phone_column: str | None,
    sheet: str | None,
    option: str | None,
    found: Found | None,
) -> Iterator[tuple[str, str]]:
    from smscli.sheets import open_sheet

    with open_sheet(data, name, sheet) as table:
        given = frozenset({"sheet"} if sheet is not None else ())
        headers, prefix = table.headers, f"{name} {table.unit} "
        if phone_column is None and len(headers) == 1 and any(c.isdigit() for c in headers[0]):
            if found is not None:  # a column of numbers, no header
                found(Detected(table.encoding, None, None, sheet=table.sheet, given=given))
            yield headers[0], prefix + str(table.start)
            for number, row in table.rows:
                yield row[0], prefix + str(number)
            return
        col, others = _column(headers, name, phone_column, option)
        if found is not None:
            given |= {"phone_column"} if phone_column is not None else set()
            found(Detected(table.encoding, None, headers[col], others, table.sheet, given))
        for number, row in table.rows:
            if row[col].strip():
                yield row[col], prefix + str(number)


def _column(
    headers: list[str], name: str, phone_column: str | None, option: str | None
) -> tuple[int, tuple[str, ...]]:
    if phone_column is None:
        return find_phone_column(headers, name, option)
    if phone_column not in headers:
        raise InputError(f"{name}: no column {phone_column!r} among {', '.join(headers)}")
    return headers.index(phone_column), ()


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")
