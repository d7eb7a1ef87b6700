"""The fast path of smscli/xlsx.py: a sheet's rows read with one compiled regex over decoded
chunks, the cells as spreadsheet programs write them, without an element built for any.

Exactly what the ``iterparse`` path yields, or :class:`Fallback`: the part before
``<sheetData>`` and the part after ``</sheetData>`` go through expat as they are (the XML is
well formed, the namespaces as the slow path reads them), and the rows between are tokenized
by a pattern that recognises only well-formed cells, rows and whitespace. Anything else
(comments, rich or inline text with runs, character references, other attribute orders, a
damaged zip, a value the slow path would refuse) raises :class:`Fallback` before the row it is
in is yielded: the caller then reads the sheet with ``iterparse``, skipping the rows already
yielded, so that what is yielded, and any error, are the slow path's. A row is yielded when
the next row's start tag is read, or once the whole sheet is read, as the slow path does.
"""

from __future__ import annotations

import codecs
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING
from xml.parsers import expat

from smscli.xlsx import MAX_COLUMNS, XlsxError

if TYPE_CHECKING:
    from smscli.xlsx import Book, Value

CHUNK = 1 << 20
"""Bytes read from the zip at a time (tests make it tiny to split values between chunks)."""
_MAX_HEAD = 16 << 20  # what comes before <sheetData>, and the most a row may take
_CACHE = 4096  # entries in each cache of decoded values
_NONE = 1 << 20  # the first column with a value, in a row with none so far

_WS = "[ \t\r\n]"
_TEXT = "[^<>&\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]*"
_TEXT += rf"(?:&(?:amp|lt|gt|quot|apos);{_TEXT})*"
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"
_FLAG = '="[a-z0-9]+"'
_F = (  # a formula, its attributes in the schema's order (as Excel writes them): once each
    rf'<f(?: t="[a-zA-Z]+")?(?: aca{_FLAG})?(?: ref="[A-Z0-9:$]+")?(?: dt2D{_FLAG})?'
    rf'(?: dtr{_FLAG})?(?: del1{_FLAG})?(?: del2{_FLAG})?(?: r1="[A-Z0-9$]+")?'
    rf'(?: r2="[A-Z0-9$]+")?(?: ca{_FLAG})?(?: si="[0-9]+")?(?: bx{_FLAG})?{_WS}*'
    rf"(?:/>|>{_TEXT}</f>){_WS}*"
)
_CELL = (
    rf'<c(?: r="([A-Z]{{1,3}})[0-9]+")?(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?{_WS}*'
    rf"(?:/>|>{_WS}*(?:(?:{_F})?<v(?:>({_NUMBER})</v>|(>{_TEXT}</v>|/>))"
    rf'|<is>{_WS}*<t(?: xml:space="preserve")?(>{_TEXT})</t>{_WS}*</is>|{_F})?{_WS}*</c>)'
)
_ROW = rf'<row(?: r="([0-9]+)")?((?:{_WS}+[^ \t\r\n=<>/"\']+{_WS}*={_WS}*"[^"<>]*")*){_WS}*(/?>)'
TOKEN = re.compile(rf"{_WS}*(?:{_CELL}|{_ROW}|(</row>|</sheetData>)|([\s\S]))")
"""Groups: a cell's column letters, style, type, number, other value (``>text</v>`` or
``/>``), inline text (``>text``); a row's number, its other attributes, ``/`` if empty;
an end tag; anything else (a :class:`Fallback`)."""


class Fallback(Exception):
    """The fast path does not read this sheet (from here on): the slow path does."""


class _Sheet:
    """The sheet's part: an expat parser for all but the rows, and the rows' text."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.parser = expat.ParserCreate(namespace_separator="}")
        self.stack: list[str] = []
        self.ns, self.opened = "", False
        self.tags: tuple[str, ...] = ("",)
        self.scope: list[tuple[str | None, str]] = []
        self.parser.StartNamespaceDeclHandler = lambda p, uri: self.scope.append((p, uri))
        self.parser.EndNamespaceDeclHandler = self.undeclare
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = lambda name: self.stack.pop()
        self.parser.XmlDeclHandler = self.declared
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.rows: dict[str, bool] = {}
        """A row's attributes but ``r`` → whether they are well formed, as the slow path
        reads them."""

    def undeclare(self, prefix: str | None) -> None:
        del self.scope[max(i for i, (p, _) in enumerate(self.scope) if p == prefix)]

    def declared(self, version: str, encoding: str | None, standalone: int) -> None:
        if encoding is not None and encoding.lower() not in ("utf-8", "utf8"):
            raise Fallback

    def start(self, name: str, _: object) -> None:
        name = "{" + name if "}" in name else name
        if not self.tags[0]:  # the root
            self.ns = name[: name.rfind("}") + 1]
            self.tags = (self.ns + "sheetData", self.ns + "row", self.ns + "c")
        elif name == self.tags[0] and len(self.stack) == 1 and not self.opened:
            self.opened = True  # the root's child: the rows follow
        elif name in self.tags:
            raise Fallback  # rows or cells outside <sheetData>, or a second one
        self.stack.append(name)

    def head(self) -> str:
        """Parses the part up to ``<sheetData>``; the text after it, decoded."""
        data = self.f.read(CHUNK)
        if not data.startswith((b"<", b"\xef\xbb\xbf<")):
            raise Fallback  # not UTF-8 (or empty): for the slow path to read or refuse
        pattern = re.compile(rb"<sheetData(?:[ \t\r\n][^<>]*)?>")
        while (found := pattern.search(data)) is None:
            more = self.f.read(CHUNK)
            if not more or len(data) > _MAX_HEAD:
                raise Fallback
            data += more
        self.parser.Parse(data[: found.end()], False)
        opened = self.opened and self.stack[1:] == [self.tags[0]]
        if not opened or dict(self.scope).get(None, "") != self.ns[1:-1]:
            raise Fallback  # not the root's child, or its rows in another namespace
        return self.decoder.decode(data[found.end() :])

    def segments(self, text: str) -> Iterator[str]:
        """The rows' text: whole rows, the last ending with ``</sheetData>``."""
        carry = text
        while (end := carry.find("</sheetData>")) < 0:
            cut = carry.rfind("</row>") + 6
            if cut > 6:
                yield carry[:cut]
                carry = carry[cut:]
            elif len(carry) > _MAX_HEAD:
                raise Fallback  # a row of over 16 MB: the slow path's to read
            data = self.f.read(CHUNK)
            if not data:
                raise Fallback  # no </sheetData>: for the slow path to say so
            carry += self.decoder.decode(data)
        yield carry[: end + 12]
        self.tail(carry[end + 12 :])

    def tail(self, text: str) -> None:
        """Parses the rest of the part, after ``</sheetData>``."""
        self.parser.Parse(b"</sheetData>" + text.encode() + self.decoder.getstate()[0], False)
        while data := self.f.read(CHUNK):
            self.parser.Parse(data, False)
        self.parser.Parse(b"", True)

    def well_formed(self, attrs: str) -> bool:
        """Whether a row's other attributes are well formed, with no ``r`` and no namespace
        declared (which would make it no row for the slow path)."""
        known = self.rows.get(attrs)
        if known is not None:
            return known
        declared = "".join(
            f' xmlns{":" + p if p else ""}="{uri}"' for p, uri in self.scope if p != "xml"
        )
        check = expat.ParserCreate(namespace_separator="}")
        seen: list[dict[str, str]] = []
        check.StartElementHandler = lambda name, a: seen.append(a)
        try:
            check.Parse(f"<x{declared}><row{attrs}/></x>", True)
            ok = "r" not in seen[1] and "xmlns" not in attrs
        except expat.ExpatError:
            ok = False
        if len(self.rows) < _CACHE:
            self.rows[attrs] = ok
        return ok


def read(book: Book, part: str) -> Iterator[tuple[list[Value], int | None]]:
    """``book.cells`` of the part: by :func:`cells` where it can; where it cannot, from there
    on by ``book.cells`` (past the rows already yielded)."""
    done = 0
    try:
        with book.stream(part) as f:
            for row in cells(book, f, part):
                yield row
                done += 1
        return
    except Fallback:
        pass
    with book.stream(part) as f:
        for row in book.cells(f, part):
            if done:
                done -= 1
            else:
                yield row


def cells(book: Book, f: IO[bytes], part: str) -> Iterator[tuple[list[Value], int | None]]:
    """As ``Book.cells`` (each row's values from column A and its first value's column), or
    :class:`Fallback` before the first row it would yield otherwise."""
    sheet = _Sheet(f)
    try:
        reader = _Rows(book, sheet, part)
        for segment in sheet.segments(sheet.head()):
            yield from reader.read(segment)
        yield from reader.finish()  # the sheet is well formed, to its end
    except (expat.ExpatError, UnicodeDecodeError, zipfile.BadZipFile, zlib.error, EOFError):
        raise Fallback from None
    except XlsxError:  # one the slow path raises, where it raises it
        raise Fallback from None


class _Rows:
    """The rows read so far; the last one, yielded when the next one starts (or the sheet
    ends, well formed)."""

    def __init__(self, book: Book, sheet: _Sheet, part: str) -> None:
        self.book, self.sheet, self.part = book, sheet, part
        self.pending: tuple[list[Value], int | None, int] | None = None
        self.expected = 0
        self.strings: dict[str, Value] = {}
        self.columns: dict[str, int] = {}

    def finish(self) -> Iterator[tuple[list[Value], int | None]]:
        if self.pending is not None:
            values, first, number = self.pending
            yield from self.gap(number)
            yield values, first

    def gap(self, number: int) -> Iterator[tuple[list[Value], int | None]]:
        """An empty row for each row number before ``number`` that has none."""
        if number < self.expected:
            raise Fallback  # the slow path's error, "row 3 comes after row 5"
        for _ in range(self.expected, number):
            yield [], None
        self.expected = number + 1

    def read(self, segment: str) -> Iterator[tuple[list[Value], int | None]]:
        """The rows a segment ends (each whole) but the last, and the one before its first.
        A long function: the loop over every cell, with no call for the common ones."""
        values: list[Value] = []
        first, column, count, number, none = _NONE, 0, 0, -1, _NONE
        strings, columns = self.strings, self.columns
        for col, s, t, num, other, inline, r, attrs, tag, end, unknown in TOKEN.findall(segment):
            if not (tag or end or unknown):  # a cell
                count += 1
                if col:
                    try:
                        column = columns[col]
                    except KeyError:
                        column = self.column(col)
                if num and not t and not s:
                    value: Value = float(num)
                elif t == "s" and num in strings:
                    value = strings[num]
                else:
                    if (got := self.value(s, t, num, other, inline)) is None:
                        column += 1
                        continue
                    value = got
                if column == len(values):
                    values.append(value)
                else:
                    values.extend([""] * (column - len(values) + 1))
                    values[column] = value
                if column < first:
                    first = column
                column += 1
            elif tag:  # a row starts
                if count or number >= 0 or (attrs and not self.sheet.well_formed(attrs)):
                    raise Fallback  # cells out of a row, a row in a row
                if self.pending is not None:
                    pending, first_of, at = self.pending
                    if at != self.expected:
                        yield from self.gap(at)
                    yield pending, first_of
                    self.expected = at + 1
                number = int(r) - 1 if r else self.expected
                if tag == "/>":
                    self.pending, number = ([], None, number), -1
            elif end == "</row>" and number >= 0 and count <= MAX_COLUMNS:
                self.pending = (values, None if first == none else first, number)
                values, first, column, count, number = [], none, 0, 0, -1
            elif end == "</sheetData>" and number < 0 and not count:
                pass  # the last token: the part's rest is the sheet's to parse
            else:
                raise Fallback  # not a cell, row or whitespace; a row or cells not ended
        if number >= 0 or count:
            raise Fallback

    def column(self, letters: str) -> int:
        """``C`` → 2."""
        column = 0
        for ch in letters:
            column = column * 26 + ord(ch) - 64
        if column > MAX_COLUMNS:
            raise Fallback  # beyond column XFD
        self.columns[letters] = column - 1
        return column - 1

    def value(self, s: str, t: str, num: str, other: str, inline: str) -> Value | None:
        """A cell's value, as ``Book.value`` reads it."""
        if inline:  # no <v>: its <is>
            return unescape(inline[1:])
        if num:
            v = num
        elif other:
            v = unescape(other[1:-4]) if other[0] == ">" else ""
        else:
            return None  # no <v>, no <is>
        if t in ("inlineStr", "is"):
            return None
        value = self.book.value_of(v, t or None, s or None, self.part, "")
        if t == "s" and value is not None and len(self.strings) < _CACHE:
            self.strings[num] = value
        return value


def unescape(text: str) -> str:
    """Text with the five entities XML predefines (the only references the pattern takes)."""
    if "&" not in text:
        return text
    for entity, ch in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&apos;", "'")):
        text = text.replace(entity, ch)
    return text.replace("&amp;", "&")
