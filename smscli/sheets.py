"""Spreadsheets (.xlsx, .xls, .ods) read as people mean their cells: an .xlsx (or .xlsm) with
smscli/xlsx.py, which streams its sheet in memory that does not grow with it; an .xls, an .ods
or an .xlsb with python-calamine (imported only then: never on a CSV's path, nor at start-up),
which reads a whole sheet into memory. Both give rows alike and they are converted alike.

A spreadsheet is known by its first bytes, whatever its name (a zip holding ``xl/`` or an
OpenDocument spreadsheet's ``mimetype``; an OLE2 compound file for .xls): ``liste.csv`` that
is really an .xlsx is read as one, and ``liste.xlsx`` that is really text as a CSV. Cells
become the text a person sees: ``5321234567.0`` (Excel keeps numbers as floats and drops the
leading 0) is ``5321234567``, 3.5 is ``3.5``, a date ``2024-05-01``. The first visible
worksheet is read unless ``--sheet`` names one. An .xlsx that smscli/xlsx.py finds damaged is
an error, not handed to calamine: one reader answers for a kind of file.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from smscli.errors import InputError

if TYPE_CHECKING:
    from smscli.csvfile import Table

ZIP = b"PK\x03\x04"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
KINDS = ("xlsx", "xls", "ods")
_ODS = b"application/vnd.oasis.opendocument.spreadsheet"
_SAVE = "save it again as .xlsx (or as CSV UTF-8)"
_DAMAGED = "open it where it was made and save it again as .xlsx (or CSV UTF-8), or use a good copy"
_OTHER = "name one of them with --sheet"

Source = Path | bytes
"""A spreadsheet on disk, or its bytes (``send --file``, ``--exclude``)."""


def is_spreadsheet(head: bytes) -> bool:
    """Whether the file's first bytes are a zip's or an OLE2 compound file's."""
    return head.startswith((ZIP, OLE2))


def kind(source: Source, name: str) -> str:
    """``xlsx``, ``xls`` or ``ods``, by content; an error for another zip (a .docx)."""
    import zipfile

    head = source[:8] if isinstance(source, bytes) else _head(source)
    if head.startswith(OLE2):
        return "xls"
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as z:
            names = set(z.namelist())
            if "mimetype" in names and z.read("mimetype").startswith(_ODS):
                return "ods"
            if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                return "xlsx"
    except Exception as exc:
        if not damage(exc):
            raise
        raise InputError(f"{name} is a damaged zip file ({exc})", hint=_DAMAGED) from None
    raise InputError(f"{name} is a zip file, but not a spreadsheet (.xlsx or .ods)", hint=_SAVE)


def _head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(8)


def cell(value: object) -> str:
    """A cell as the text a person means by it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # Integral: no ".0", and a phone number of 10+ digits keeps every digit.
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


@contextmanager
def open_sheet(source: Source, name: str, sheet: str | None = None) -> Iterator[Table]:
    """A sheet as a :class:`~smscli.csvfile.Table`: the first row with a value is the header,
    empty rows are skipped, each row as many fields as the header; rows by their number."""
    from smscli.csvfile import Table

    what = kind(source, name)
    with ExitStack() as stack:
        rows, chosen, many = _load(source, name, sheet, stack, what)
        unit = f"{chosen}!row" if many else "row"
        number, header = 0, None
        for number, raw in enumerate(rows, start=1):  # noqa: B007
            if any(v != "" for v in raw):
                header = [cell(v).strip() for v in raw]
                break
        if header is None:
            raise InputError(f"{name}: sheet {chosen!r} is empty: no header row")
        while header and not header[-1]:
            header.pop()
        _check_header(header, f"{name} {unit} {number}")
        rows_of = _rows(rows, number, name, unit, len(header))
        yield Table(name, what, ",", header, rows_of, unit, chosen, number)


def _load(
    source: Source, name: str, sheet: str | None, stack: ExitStack, what: str
) -> tuple[Iterator[Sequence[object]], str, bool]:
    """The sheet's rows, its name, and whether the workbook has several sheets."""
    from smscli import xlsx

    if what == "xlsx":
        f = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
        stack.callback(f.close)  # the zip's file, closed whatever the zip says
        with reading(name):
            book = xlsx.Book.open(f)
        if "xl/workbook.xml" in book.zf.namelist():
            names = [s.name for s in book.sheets]
            shown = [s.name for s in book.sheets if s.visible and s.worksheet]
            chosen = _choose(names, shown, sheet, name)
            found = next(s for s in book.sheets if s.name == chosen)
            if not found.worksheet:
                raise InputError(f"{name}: sheet {chosen!r} is a chart, not cells", hint=_OTHER)
            return _guarded(book.rows(found), name), chosen, len(names) > 1
    return _calamine(source, name, sheet)


def _guarded(rows: Iterator[list[xlsx.Value]], name: str) -> Iterator[Sequence[object]]:
    with reading(name):
        yield from rows


@contextmanager
def reading(name: str) -> Iterator[None]:
    """An .xlsx read: what its XML says wrong (XlsxError), and its zip damaged under it (a bad
    CRC, a member's offset outside the file), each the user's error naming the file."""
    from smscli.xlsx import XlsxError

    try:
        yield
    except XlsxError as exc:
        raise InputError(f"{name} cannot be read as a spreadsheet: {exc}", hint=_SAVE) from None
    except Exception as exc:
        if not damage(exc):
            raise
        raise InputError(
            f"{name} is damaged ({exc or type(exc).__name__})", hint=_DAMAGED
        ) from None


def damage(exc: BaseException) -> bool:
    """Whether ``exc`` is what a zip's reader raises for a file damaged under it: BadZipFile
    (a bad CRC), zlib's, lzma's or bz2's errors, EOF, an OSError or ValueError (a seek to a
    negative offset), an unknown compression method, an encryption flag."""
    kinds = (OSError, EOFError, ValueError, NotImplementedError, RuntimeError)
    return isinstance(exc, kinds) or type(exc).__module__ in ("zipfile", "zlib", "_lzma", "lzma")


def _choose(names: list[str], shown: list[str], sheet: str | None, name: str) -> str:
    """The sheet ``--sheet`` names, or the first visible worksheet (or the first sheet)."""
    if sheet is None:
        return (shown or names or [""])[0]
    if sheet not in names:
        raise InputError(f"{name}: no sheet {sheet!r}; its sheets: {', '.join(names)}", hint=_OTHER)
    return sheet


def _calamine(
    source: Source, name: str, sheet: str | None
) -> tuple[Iterator[Sequence[object]], str, bool]:
    import python_calamine as calamine

    try:
        with calamine.CalamineWorkbook.from_object(
            io.BytesIO(source) if isinstance(source, bytes) else source
        ) as book:
            names = book.sheet_names
            shown = [
                m.name
                for m in book.sheets_metadata
                if m.visible == calamine.SheetVisibleEnum.Visible
                and m.typ == calamine.SheetTypeEnum.WorkSheet
            ]
            sheet = _choose(names, shown, sheet, name)
            return iter(book.get_sheet_by_name(sheet).iter_rows()), sheet, len(names) > 1
    except calamine.PasswordError:
        hint = _SAVE + " without one"
        raise InputError(f"{name} is protected by a password", hint=hint) from None
    except (calamine.CalamineError, OSError, ValueError, RuntimeError) as exc:
        raise InputError(f"{name} cannot be read as a spreadsheet: {exc}", hint=_SAVE) from None


if TYPE_CHECKING:
    from smscli import xlsx


def _check_header(header: list[str], where: str) -> None:
    seen: set[str] = set()
    for i, h in enumerate(header, start=1):
        if not h:
            raise InputError(f"{where}: column {i} has no name, though a later one has")
        if h in seen:
            raise InputError(f"{where}: column {h!r} appears twice")
        seen.add(h)


def _rows(
    rows: Iterator[Sequence[object]], number: int, name: str, unit: str, width: int
) -> Iterator[tuple[int, list[str]]]:
    for number, raw in enumerate(rows, start=number + 1):  # noqa: B020
        row = [cell(v) for v in raw]
        if not "".join(row).strip():
            continue
        while len(row) > width and not row[-1].strip():
            row.pop()
        if len(row) > width:
            raise InputError(
                f"{name} {unit} {number}: a value in column {len(row)}, "
                f"which has no name (the header has {width} columns)",
                hint="name that column in the header row, or clear the cell",
            )
        row += [""] * (width - len(row))
        yield number, row
