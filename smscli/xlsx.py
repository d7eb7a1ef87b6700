"""An .xlsx (or .xlsm) read a row at a time, in memory that does not grow with the sheet.

python-calamine reads a whole sheet into memory (it cannot stream: dimastbk/python-calamine#42).
The sheet's XML is streamed (smscli/xlsx_rows.py, else ``iterparse``), each row dropped once
read; the shared strings: one UTF-8 buffer and an array of offsets, decoded when asked for.

Rows come as calamine's ``iter_rows`` gives them, so that smscli/sheets.py converts both alike:
from the sheet's first row, from the first column with a value anywhere in the sheet (found by
a first look that stops at a value in column A); floats, dates, times, timedeltas, booleans, a
formula's error and a gap ``""``; but a row ends at its last value. A DOCTYPE is refused (no
entity expanded), so are shared strings over 512 MB and rows over 16,384 cells: XlsxError
(a damaged zip raises its own errors: BadZipFile, zlib.error, OSError; smscli/sheets.py's).
"""

from __future__ import annotations

import datetime
import math
import posixpath
import re
import zipfile
from array import array
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError, fromstring, iterparse

Value = str | float | bool | datetime.date | datetime.time | datetime.timedelta

MAX_STRINGS = 512 * 1024 * 1024
"""The most the shared strings table may take, as XML and as kept here."""
MAX_PART = 64 * 1024 * 1024
"""The most a workbook's small parts (workbook, relationships, styles) may take as XML."""
MAX_COLUMNS = 16_384  # Excel's: A to XFD
_PROLOG = 64 * 1024
_DATE, _DURATION = 1, 2
_BUILTIN = {**dict.fromkeys((*range(14, 23), 45, 47), _DATE), 46: _DURATION}
_EPOCH = datetime.datetime(1899, 12, 30)
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?\d*")


class XlsxError(ValueError):
    """What is wrong with the file, and where."""


@dataclass(frozen=True)
class Sheet:
    name: str
    visible: bool
    worksheet: bool
    """False for a chart sheet or a dialog sheet: no cells to read."""
    part: str


class Strings:
    """The shared strings: one UTF-8 buffer and the offset where each string ends."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("I")  # offsets below MAX_STRINGS < 2**32

    def add(self, text: str) -> None:
        self.data += text.encode("utf-8", "surrogatepass")
        self.ends.append(len(self.data))
        if len(self.data) + 4 * len(self.ends) > MAX_STRINGS:
            raise XlsxError(f"the shared strings take over {MAX_STRINGS / 2**20:g} MB")

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, index: int) -> str:
        start = self.ends[index - 1] if index else 0
        return self.data[start : self.ends[index]].decode("utf-8", "surrogatepass")


def local(tag: str) -> str:
    """An element's or attribute's name without its namespace: strict OOXML has its own."""
    return tag.rpartition("}")[2]


@dataclass
class Book:
    """An open .xlsx: its sheets, shared strings, which styles are dates, its date system."""

    zf: zipfile.ZipFile
    sheets: list[Sheet] = field(default_factory=list)
    strings: Strings = field(default_factory=Strings)
    styles: list[int] = field(default_factory=list)
    """Per cell style (``s``): 0, or _DATE or _DURATION for a date or elapsed-time format."""
    date1904: bool = False
    tags: tuple[str, str, str] = ("c", "v", "is")
    """The sheet's ``c``, ``v`` and ``is`` in its namespace."""

    @classmethod
    def open(cls, source: Path | IO[bytes]) -> Book:
        book = cls(zipfile.ZipFile(source))
        try:
            book.load()
        except (ParseError, KeyError) as exc:
            raise XlsxError(str(exc)) from None
        return book

    def load(self) -> None:
        workbook = self.small("xl/workbook.xml")
        targets, parts = self.relationships(), set(self.zf.namelist())
        for e in workbook.iter():
            if local(e.tag) == "workbookPr":
                self.date1904 = e.get("date1904", "").lower() in ("1", "true")
            elif local(e.tag) == "sheet":
                rid = next((v for k, v in e.attrib.items() if k.endswith("}id")), "")
                kind, target = targets.get(rid, ("", ""))
                if target not in parts:
                    raise XlsxError(f"xl/workbook.xml: sheet {e.get('name')!r} has no part")
                visible = e.get("state", "visible") == "visible"
                self.sheets.append(Sheet(e.get("name", ""), visible, kind == "worksheet", target))
        if "xl/styles.xml" in parts:
            self.read_styles(self.small("xl/styles.xml"))
        shared = next((t for k, t in targets.values() if k == "sharedStrings"), "")
        if (shared := shared or "xl/sharedStrings.xml") in parts:
            self.read_strings(shared)

    def small(self, part: str) -> Element:
        """A small part (workbook, relationships, styles) as a tree."""
        if self.zf.getinfo(part).file_size > MAX_PART:
            raise XlsxError(f"{part} takes over {MAX_PART / 2**20:g} MB")
        data = self.zf.read(part)
        refuse_doctype(part, data[:_PROLOG])
        return fromstring(data)

    def relationships(self) -> dict[str, tuple[str, str]]:
        """The workbook's relationships: id → (type's last word, the part's name in the zip)."""
        found: dict[str, tuple[str, str]] = {}
        if "xl/_rels/workbook.xml.rels" not in self.zf.namelist():
            return found
        for e in self.small("xl/_rels/workbook.xml.rels"):
            target = e.get("Target", "").replace("\\", "/")
            if target.startswith("/"):  # from the package's root: "/xl/worksheets/sheet1.xml"
                name = target.lstrip("/")
            else:  # from xl/: "worksheets/sheet1.xml"
                name = posixpath.normpath(posixpath.join("xl", target))
            found[e.get("Id", "")] = (e.get("Type", "").rpartition("/")[2], name)
        return found

    def read_styles(self, root: Element) -> None:
        custom: dict[str, str] = {}
        for e in root.iter():
            if local(e.tag) == "numFmt":
                custom[e.get("numFmtId", "")] = e.get("formatCode", "")
        xfs = next((e for e in root if local(e.tag) == "cellXfs"), None)
        for xf in xfs if xfs is not None else ():
            fmt = xf.get("numFmtId", "0")
            if fmt in custom:
                self.styles.append(format_kind(custom[fmt]))
            else:
                self.styles.append(_BUILTIN.get(int(fmt) if fmt.isdecimal() else 0, 0))

    def read_strings(self, part: str) -> None:
        """Each ``<si>``'s text: its ``<t>``, or its runs' ``<t>`` joined (not a reading's)."""
        if self.zf.getinfo(part).file_size > MAX_STRINGS:
            raise XlsxError(f"{part}: the shared strings take over {MAX_STRINGS / 2**20:g} MB")
        with self.stream(part) as f:
            root = None
            for event, e in iterparse(f, events=("start", "end")):
                if root is None:
                    root = e
                elif event == "end" and local(e.tag) == "si":
                    self.strings.add(text_of(e))
                    root.clear()

    def stream(self, part: str) -> IO[bytes]:
        with self.zf.open(part) as f:
            refuse_doctype(part, f.read(_PROLOG))
        return self.zf.open(part)

    def rows(self, sheet: Sheet) -> Iterator[list[Value]]:
        """The sheet's rows, as python-calamine's ``iter_rows`` (see the module's doc)."""
        from smscli.xlsx_rows import read  # the fast path, iterparse's where it cannot

        first: int | None = None
        for _, start in read(self, sheet.part):
            first = start if first is None or (start is not None and start < first) else first
            if first == 0:
                break
        for values, _ in read(self, sheet.part):
            yield values[first or 0 :]

    def cells(self, f: IO[bytes], part: str) -> Iterator[tuple[list[Value], int | None]]:
        """Each row's values from column A, and its first value's column (None: none). Only
        start events: a row is read when the next starts (or the sheet ends), whole by then."""
        try:
            events = iterparse(f, events=("start",))
            _, root = next(events)
            ns = root.tag[: root.tag.rfind("}") + 1]  # strict OOXML has a namespace of its own
            row_tag, c_tag, data_tag = ns + "row", ns + "c", ns + "sheetData"
            self.tags = (c_tag, ns + "v", ns + "is")
            data, pending, expected, count = root, None, 0, 0
            for _, e in events:
                if e.tag == c_tag:
                    count += 1
                    if count > MAX_COLUMNS:
                        raise XlsxError(f"{part}: a row of over {MAX_COLUMNS} cells")
                elif e.tag == row_tag:
                    if pending is not None:
                        expected = yield from self.emit(pending, expected, part)
                    data.clear()  # the rows read: memory stays that of a row or two
                    pending, count = e, 0
                elif e.tag == data_tag:
                    data = e
            if pending is not None:
                yield from self.emit(pending, expected, part)
        except (ParseError, StopIteration) as exc:  # the zip's errors are the caller's
            raise XlsxError(f"{part}: {exc or 'no XML'}") from None

    def emit(
        self, e: Element, expected: int, part: str
    ) -> Generator[tuple[list[Value], int | None], None, int]:
        """A row, after an empty one for each row number it skips; the next row's number."""
        r = e.get("r")
        number = int(r) - 1 if r and r.isdecimal() else expected
        if number < expected:
            raise XlsxError(f"{part}: row {number + 1} comes after row {expected}")
        for _ in range(expected, number):
            yield [], None
        yield self.row(e, part)
        return number + 1

    def row(self, e: Element, part: str) -> tuple[list[Value], int | None]:
        values: list[Value] = []
        column, first = 0, None
        for c in e:
            if c.tag != self.tags[0]:
                continue
            ref = c.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                one = len(letters) == 1 and "A" <= letters <= "Z"
                column = ord(letters) - 65 if one else column_of(ref, part)
            value = self.value(c, part)
            if value is not None:
                if column >= len(values):
                    values.extend([""] * (column - len(values) + 1))
                values[column] = value
                first = column if first is None or column < first else first
            column += 1
        return values, first

    def value(self, c: Element, part: str) -> Value | None:
        """A cell's value; None for an empty one (which calamine's range leaves out)."""
        t = c.get("t")
        v = None if t in ("inlineStr", "is") else c.findtext(self.tags[1])
        if v is None:
            node = c.find(self.tags[2])
            return None if node is None else text_of(node)
        return self.value_of(v, t, c.get("s"), part, c.get("r", ""))

    def value_of(self, v: str, t: str | None, s: str | None, part: str, ref: str) -> Value | None:
        """A cell's value from its ``<v>``'s text ``v``, its type ``t`` and its style ``s``."""
        if t == "s" and v.isdecimal() and int(v) < len(self.strings):
            return self.strings[int(v)]
        if (t is None or t == "n") and v and v == v.strip() and "_" not in v:
            try:
                x = float(v)
            except ValueError:
                return self.typed(v, t, part, ref)
            if s is None:
                return x
            kind = self.styles[int(s)] if s.isdecimal() and int(s) < len(self.styles) else 0
            return number(x, kind, self.date1904) if kind else x
        return self.typed(v, t, part, ref)

    def typed(self, v: str, t: str | None, part: str, ref: str) -> Value | None:
        """The cells :meth:`value_of` leaves: formulas' text, booleans, errors, ISO dates."""
        where = f"{part}: cell {ref}"
        if t == "str":
            return v
        if not v:
            return None
        if t == "s":
            raise XlsxError(f"{where}: no shared string {v}")
        if t == "b":
            if v not in ("0", "1"):
                raise XlsxError(f"{where}: {v!r} is not a boolean")
            return v == "1"
        if t == "e":
            return ""  # as calamine: a formula's error (#N/A) is an empty cell
        if t == "d":
            return iso(v, where)
        if t is None:
            return v  # as calamine: no type, and no number: text
        if t == "n":
            raise XlsxError(f"{where}: {v!r} is not a number")
        raise XlsxError(f"{where}: unknown cell type {t!r}")


def refuse_doctype(part: str, head: bytes) -> None:
    """Refuses a DOCTYPE (entities: an XML bomb) in the prolog, before the root element."""
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    while text.startswith(("<?", "<!--")):
        close = "?>" if text.startswith("<?") else "-->"
        end = text.find(close)
        if end < 0:
            raise XlsxError(f"{part}: its XML prolog takes over {_PROLOG >> 10} KB")
        text = text[end + len(close) :].lstrip(" \t\r\n")
    if text.startswith("<!"):
        raise XlsxError(f"{part}: a DOCTYPE, which no spreadsheet has (an XML bomb?)")


def text_of(e: Element) -> str:
    """A string item's text: its ``<t>``s, its runs' ``<t>``s; not a reading's (``<rPh>``)."""
    parts = []
    for child in e:
        name = local(child.tag)
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(t.text or "" for t in child if local(t.tag) == "t")
    return "".join(parts)


def column_of(ref: str, part: str) -> int:
    """``C5`` → 2."""
    m = _REF.match(ref)
    if not m:
        raise XlsxError(f"{part}: {ref!r} is no cell reference")
    column = 0
    for ch in m.group(1).upper():
        column = column * 26 + ord(ch) - 64
    if column > MAX_COLUMNS:
        raise XlsxError(f"{part}: cell {ref} is beyond column XFD")
    return column - 1


def format_kind(code: str) -> int:
    """Whether a custom number format shows a date or time (_DATE), an elapsed time
    (``[h]:mm``, _DURATION), or a number (0): by its first section's letters outside quotes,
    brackets and escapes, as calamine tells them."""
    escaped = quoted = ampm = hms = False
    brackets, prev = 0, " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return 0
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return _DURATION
        elif ch == "]":
            brackets = max(brackets - 1, 0)
        elif brackets == 0 and not ampm and ch in "aA":
            ampm = True
        elif brackets == 0 and ch in ("pmPM/" if ampm else "dmhysDMHYS"):
            return _DATE
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return 0


def number(x: float, kind: int, date1904: bool) -> Value:
    """A numeric cell: a float, or for a date format a date, datetime or time (a serial below
    1), or for an elapsed-time format a timedelta; a float still where out of range."""
    if kind == 0 or not math.isfinite(x):
        return x
    try:
        if kind == _DURATION:
            return datetime.timedelta(milliseconds=_round(x * 86_400_000))
        days = x + 1462 if date1904 else x
        if days < 60:  # Excel's 29 February 1900, which never was: serials before it shift
            days += 1
        moment = _EPOCH + datetime.timedelta(milliseconds=_round(days * 86_400_000))
    except OverflowError:
        return x
    if x < 1:
        return moment.time()
    return moment.date() if x.is_integer() else moment


def _round(x: float) -> int:
    """Half away from zero, as Rust's ``f64::round`` (Python's ``round`` goes to even)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def iso(v: str, where: str) -> Value:
    """A cell of type ``d``: an ISO 8601 date, time or both."""
    try:
        if "T" in v or " " in v:
            return datetime.datetime.fromisoformat(v.rstrip("Z"))
        if ":" in v:
            return datetime.time.fromisoformat(v)
        return datetime.date.fromisoformat(v)
    except ValueError:
        raise XlsxError(f"{where}: {v!r} is not an ISO 8601 date") from None
