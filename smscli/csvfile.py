"""Reading spreadsheets as people save them: UTF-8 (with or without BOM) or Windows-1254
(Turkish Excel), separated by ``,`` ``;`` or tab, with a phone column to find.

``csv.Sniffer`` guesses wrong on short or quoted headers, so the delimiter is the one that
occurs most often outside quotes in the header line. A line ends at ``\\n``, ``\\r\\n`` or a
lone ``\\r`` (old Mac files), as csv reads one; every line number in an error counts so.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from smscli.columns import PHONE_HEADERS as PHONE_HEADERS
from smscli.columns import find_phone_column as find_phone_column
from smscli.errors import InputError, UsageError
from smscli.numberfiles import read_numbers as read_numbers  # it lives there now
from smscli.textfiles import UTF16_BOMS, Decoding, Sniff
from smscli.textfiles import check_encoding as check_encoding
from smscli.textfiles import decode as decode
from smscli.words import plural

DELIMITERS = (",", ";", "\t")

FIELD_LIMIT = 1 << 18
"""The longest field read: 262,144 characters, twice csv's default (which is process-wide).
No name, number or SMS text comes near it. Measured on a 1M-row dry run (48 MB alone): the
three sample texts and ten invalid numbers of the preview at this length in 4-byte letters
take it to about 100 MB, at twice this length past the 150 MB a 1M-row bulk may use."""
LINE_LIMIT = 2 * FIELD_LIMIT
"""The longest line read, in characters: a line is held whole while csv splits it (a file
without line ends would otherwise be read into memory whole, and a line of many short fields
costs ~60 bytes a field)."""
_CHUNK = 1 << 20
"""Bytes read at a time when a file is scanned."""
LINE_END = re.compile("\r\n|\r|\n")
"""What ends a line, as csv reads one."""


def detect_delimiter(header: str) -> str | None:
    """The delimiter seen most often outside quotes in the header line, or None."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def records(
    lines: Iterable[str], delimiter: str, name: str, offset: int = 0
) -> Iterator[tuple[int, list[str]]]:
    """The rows of CSV ``lines`` (each with its line end), ``(line where the row starts,
    fields)`` (a quoted field may span lines); csv's errors as input errors naming the line.
    ``offset``: lines before the first."""
    csv.field_size_limit(FIELD_LIMIT)  # process-wide: set where every CSV here is read
    reader = csv.reader(lines, delimiter=delimiter)
    before = 0
    try:
        for row in reader:
            yield offset + before + 1, row
            before = reader.line_num
    except csv.Error as exc:
        line, start = offset + reader.line_num, offset + before + 1
        if "field larger than field limit" not in str(exc):
            raise InputError(f"{name} line {line}: {exc}") from None
        raise InputError(
            f"{name} line {line}: a field longer than {FIELD_LIMIT:,} characters"
            + (f"; its row starts on line {start} (a quote left open?)" if start < line else ""),
            hint="close the quote, or save the spreadsheet as CSV again",
        ) from None


class Scan(NamedTuple):
    """What one streaming pass over a file found: its encoding and content digest."""

    encoding: str
    sha256: str
    size: int


def scan(path: Path, name: str, encoding: str | None = None) -> Scan:
    """Settle the encoding and hash the content in one pass, reading the file in chunks (a
    1M-row file is never held in memory): ``encoding`` if given, else UTF-16 by its byte order
    mark (both checked to the last byte), else UTF-8 (with or without BOM), else Windows-1254.
    A spreadsheet (known by its first bytes, whatever its name) is only hashed: its "encoding"
    is its kind, ``xlsx``, ``xls`` or ``ods``."""
    from smscli.sheets import is_spreadsheet

    decoding = Decoding(name, check_encoding(encoding)) if encoding is not None else None
    sniff, sheet = Sniff(), False
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            chunk = first = f.read(8)  # a byte order mark, a spreadsheet's signature
            if sheet := is_spreadsheet(first):
                if encoding is not None:
                    raise UsageError(f"--encoding: {name} is a spreadsheet, not a text file")
            elif decoding is None and first.startswith(UTF16_BOMS):
                decoding = Decoding(name, "utf-16")
            while chunk:
                digest.update(chunk)
                if not sheet:
                    (decoding or sniff).feed(chunk)
                chunk = f.read(_CHUNK)
            if not sheet:
                (decoding or sniff).feed(b"", final=True)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None
    if sheet:
        from smscli.sheets import kind

        return Scan(kind(path, name), digest.hexdigest(), path.stat().st_size)
    chosen = decoding.encoding if decoding is not None else sniff.choose(name, first)
    return Scan(chosen, digest.hexdigest(), (decoding or sniff).offset)


def _unreadable(path: Path, name: str, encoding: str) -> InputError:
    """The error for a file that failed to decode as it was read: where it fails. (:func:`scan`
    read it whole before, so the file changed since.)"""
    try:
        scan(path, name, encoding)
    except InputError as exc:
        return exc
    return InputError(f"{name} changed while it was read", hint="run the command again")


@dataclass
class Table:
    name: str
    encoding: str
    delimiter: str
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    """``(line number, fields)``; blank lines are skipped."""
    unit: str = "line"
    """What a row's number counts, as errors say it: ``line``; ``row``, ``Sheet2!row``."""
    sheet: str | None = None
    start: int = 1
    """The header's line (row)."""


def _lines(f: io.TextIOBase, name: str) -> Iterator[str]:
    """``f``'s lines, each at most :data:`LINE_LIMIT` characters long."""
    readline, number = f.readline, 0
    while line := readline(LINE_LIMIT + 1):
        number += 1
        if len(line) > LINE_LIMIT and not line.endswith("\n"):
            raise InputError(
                f"{name} line {number}: a line longer than {LINE_LIMIT:,} characters",
                hint="is it a CSV file? save the spreadsheet as CSV again",
            )
        yield line


@contextmanager
def open_table(
    path: Path, name: str, encoding: str, delimiter: str | None = None
) -> Iterator[Table]:
    """Stream a CSV file: header first, then rows of exactly as many fields."""
    try:
        f = path.open("r", encoding=check_encoding(encoding), newline="")
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None
    with f:
        lines = _lines(f, name)
        try:
            first, offset = next(lines, ""), 1
            while first and not first.strip():
                first, offset = next(lines, ""), offset + 1
        except UnicodeError:
            raise _unreadable(path, name, encoding) from None
        if not first.strip():
            raise InputError(f"{name} is empty: no header line")
        header_line = first.lstrip("\ufeff")
        sep = delimiter or detect_delimiter(header_line) or ","
        headers = _header(header_line, sep, name, offset)
        rows = _rows(records(lines, sep, name, offset), path, name, encoding, len(headers))
        yield Table(name, encoding, sep, headers, rows)


def _header(line: str, sep: str, name: str, number: int) -> list[str]:
    """The column names of the header ``line`` (line ``number``): each named, none twice."""
    _, fields = next(records([line], sep, name, number - 1), (number, []))
    headers = [h.strip() for h in fields]
    seen: set[str] = set()
    for h in headers:
        if not h:
            raise InputError(f"{name} line {number}: a column has no name ({line.strip()!r})")
        if h in seen:
            raise InputError(f"{name} line {number}: column {h!r} appears twice")
        seen.add(h)
    return headers


def _rows(
    rows: Iterator[tuple[int, list[str]]], path: Path, name: str, encoding: str, width: int
) -> Iterator[tuple[int, list[str]]]:
    try:
        for line, row in rows:
            joined = "".join(row)
            if not joined.strip():  # no field but whitespace (or no field at all)
                continue
            if "\x00" in joined:  # a file decoded with the wrong --encoding
                field = next(n for n, v in enumerate(row, start=1) if "\x00" in v)
                raise InputError(
                    f"{name} line {line}, field {field}: a NUL character (0x00); "
                    f"is {encoding} the file's encoding?",
                    hint="pass the right --encoding, or save the file as CSV UTF-8",
                )
            while len(row) > width and not row[-1].strip():
                row.pop()  # trailing separators, as spreadsheets write them
            if len(row) != width:
                raise InputError(
                    f"{name} line {line}: {plural(len(row), 'field')}, the header has {width}"
                )
            yield line, row
    except UnicodeError:
        raise _unreadable(path, name, encoding) from None
