"""Spreadsheets written by hand, so that no test needs a spreadsheet library: an .xlsx (a zip of
SpreadsheetML) and an .ods (a zip of OpenDocument XML), each sheet streamed row by row (the
benchmark writes a million rows with it).

The .xlsx is written as Excel writes one: text in the shared strings table (``strings="inline"``
for inline strings instead), numbers as numeric cells, dates as numbers with a date style. Its
options make the variants a reader meets: hidden sheets, absolute relationship targets, the
"strict" OOXML namespaces, the 1904 date system, cells without their ``r`` reference."""

from __future__ import annotations

import datetime
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class Error:
    """A formula's error (``t="e"``): ``#N/A``, ``#DIV/0!``."""

    text: str


@dataclass(frozen=True)
class Formula:
    """A formula whose result is text (``t="str"``)."""

    text: str


@dataclass(frozen=True)
class Rich:
    """A shared string of formatted runs; ``phonetic``: a reading (``<rPh>``) beside them."""

    runs: tuple[str, ...]
    phonetic: str = ""


@dataclass(frozen=True)
class Styled:
    """A number shown with a number format: a custom code, or a built-in format's id."""

    value: float
    format: str | int


@dataclass(frozen=True)
class Raw:
    """A cell's XML as it is (``<c t="b"><v>1</v></c>``: a cell without ``r``)."""

    xml: str


Cell = (
    str | int | float | datetime.date | datetime.time | Error | Formula | Rich | Styled | Raw | None
)
Sheets = Mapping[str, Iterable[Sequence[Cell] | Raw]]
"""A sheet's rows: cells, or a row's XML as it is (a ``Raw``, counted as a row)."""

_MAIN = {
    False: "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    True: "http://purl.oclc.org/ooxml/spreadsheetml/main",
}
_REL = {
    False: "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    True: "http://purl.oclc.org/ooxml/officeDocument/relationships",
}
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_EPOCH = {False: datetime.date(1899, 12, 30), True: datetime.date(1904, 1, 1)}
_BUILTIN = {datetime.datetime: 22, datetime.date: 14, datetime.time: 21}


@dataclass
class _Book:
    """What a workbook's sheets gathered as they were written: strings and styles."""

    strict: bool = False
    date1904: bool = False
    inline: bool = False
    strings: dict[str | Rich, int] = field(default_factory=dict)
    formats: dict[str | int, int] = field(default_factory=lambda: {0: 0})
    """A number format (code or built-in id) → its style's index in ``cellXfs``."""

    def string(self, ref: str, value: str | Rich) -> str:
        if self.inline and isinstance(value, str):
            body = f'<t xml:space="preserve">{escape(value)}</t>'
            return f'<c{ref} t="inlineStr"><is>{body}</is></c>'
        index = self.strings.setdefault(value, len(self.strings))
        return f'<c{ref} t="s"><v>{index}</v></c>'

    def number(self, ref: str, value: float, fmt: str | int) -> str:
        style = self.formats.setdefault(fmt, len(self.formats))
        return f'<c{ref} s="{style}"><v>{value!r}</v></c>'

    def cell(self, ref: str, value: Cell) -> str:
        if value is None:
            return "" if ref else "<c/>"
        if isinstance(value, bool):
            return f'<c{ref} t="b"><v>{int(value)}</v></c>'
        if isinstance(value, int | float):
            return f"<c{ref}><v>{value!r}</v></c>"
        if isinstance(value, str | Rich):
            return self.string(ref, value)
        if isinstance(value, Styled):
            return self.number(ref, value.value, value.format)
        if isinstance(value, Error):
            return f'<c{ref} t="e"><v>{escape(value.text)}</v></c>'
        if isinstance(value, Formula):
            return f'<c{ref} t="str"><f>"x"</f><v>{escape(value.text)}</v></c>'
        if isinstance(value, Raw):
            return value.xml
        return self.number(ref, self.serial(value), _BUILTIN[type(value)])

    def serial(self, value: datetime.date | datetime.time) -> float:
        if isinstance(value, datetime.time):
            return (value.hour * 3600 + value.minute * 60 + value.second) / 86400
        day = value.date() if isinstance(value, datetime.datetime) else value
        days = (day - _EPOCH[self.date1904]).days
        if not self.date1904 and days < 61:
            days -= 1  # before 1900-03-01: Excel counts a 29 February 1900 that never was
        if isinstance(value, datetime.datetime):
            return days + self.serial(value.time())
        return float(days)

    def styles(self) -> str:
        custom = [f for f in self.formats if isinstance(f, str)]
        ids = {code: 164 + i for i, code in enumerate(custom)}
        fmts = "".join(f"<numFmt numFmtId={quoteattr(str(ids[c]))} formatCode={quoteattr(c)}/>"
                       for c in custom)  # fmt: skip
        xfs = "".join(
            f'<xf numFmtId="{ids[f] if isinstance(f, str) else f}" applyNumberFormat="1"/>'
            for f in self.formats
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{_MAIN[self.strict]}">'
            f'<numFmts count="{len(custom)}">{fmts}</numFmts>'
            f'<cellXfs count="{len(self.formats)}">{xfs}</cellXfs></styleSheet>'
        )

    def shared_strings(self) -> str:
        items = []
        for s in self.strings:
            if isinstance(s, str):
                items.append(f'<si><t xml:space="preserve">{escape(s)}</t></si>')
                continue
            runs = "".join(
                f'<r><rPr><b/></rPr><t xml:space="preserve">{escape(t)}</t></r>' for t in s.runs
            )
            reading = f'<rPh sb="0" eb="1"><t>{escape(s.phonetic)}</t></rPh>' if s.phonetic else ""
            items.append(f"<si>{runs}{reading}</si>")
        n = len(items)
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN[self.strict]}" '
            f'count="{n}" uniqueCount="{n}">{"".join(items)}</sst>'
        )


def _column(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def _sheet(f: IO[bytes], book: _Book, rows: Iterable[Sequence[Cell] | Raw], refs: bool) -> None:
    f.write(
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN[book.strict]}">'
        "<sheetData>".encode()
    )
    for r, row in enumerate(rows, start=1):
        if isinstance(row, Raw):
            f.write(row.xml.encode())
            continue
        cells = "".join(
            book.cell(f' r="{_column(c)}{r}"' if refs else "", v) for c, v in enumerate(row)
        )
        f.write((f'<row r="{r}">' if refs else "<row>").encode() + f"{cells}</row>".encode())
    f.write(b"</sheetData></worksheet>")


def _parts(
    book: _Book, names: list[str], hidden: Mapping[str, str], absolute: bool
) -> dict[str, str]:
    """The workbook's parts but its sheets, styles and shared strings."""
    rel, strict = _REL[book.strict], book.strict
    kind = rel
    where = "/xl/" if absolute else ""
    sheet_rels = "".join(
        f'<Relationship Id="rId{n}" Type="{kind}/worksheet" '
        f'Target="{where}worksheets/sheet{n}.xml"/>'
        for n in range(1, len(names) + 1)
    )
    extra = (
        f'<Relationship Id="rIdS" Type="{kind}/styles" Target="{where}styles.xml"/>'
        f'<Relationship Id="rIdT" Type="{kind}/sharedStrings" Target="{where}sharedStrings.xml"/>'
    )
    listed = "".join(
        f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"'
        + (f' state="{hidden[name]}"' if name in hidden else "")
        + "/>"
        for n, name in enumerate(names, start=1)
    )
    pr = '<workbookPr date1904="1"/>' if book.date1904 else ""
    types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_CT}.worksheet+xml"/>'
        for n in range(1, len(names) + 1)
    )
    return {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
            'org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            f'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            f'ContentType="{_CT}.sheet.main+xml"/>{types}</Types>'
        ),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}"><Relationship '
            f'Id="rId1" Type="{kind}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
            f"{sheet_rels}{extra}</Relationships>"
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN[strict]}" '
            f'xmlns:r="{rel}">{pr}<sheets>{listed}</sheets></workbook>'
        ),
    }


def write_xlsx(
    path: Path,
    sheets: Sheets,
    *,
    strings: str = "shared",
    hidden: Mapping[str, str] | None = None,
    absolute: bool = False,
    strict: bool = False,
    date1904: bool = False,
    refs: bool = True,
) -> Path:
    """``hidden``: sheet name → its state (``hidden``, ``veryHidden``); ``absolute``:
    relationship targets from the package's root (``/xl/worksheets/sheet1.xml``); ``refs``:
    False writes cells and rows without ``r`` (an empty cell as ``<c/>``)."""
    book = _Book(strict=strict, date1904=date1904, inline=strings == "inline")
    names = list(sheets)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for part, text in _parts(book, names, hidden or {}, absolute).items():
            z.writestr(part, text)
        for n, name in enumerate(names, start=1):
            with z.open(f"xl/worksheets/sheet{n}.xml", "w", force_zip64=True) as f:
                _sheet(f, book, sheets[name], refs)
        z.writestr("xl/styles.xml", book.styles())
        z.writestr("xl/sharedStrings.xml", book.shared_strings())
    return path


_ODS_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)
_MIME = "application/vnd.oasis.opendocument.spreadsheet"
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:'
    'tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry '
    f'manifest:full-path="/" manifest:media-type="{_MIME}"/><manifest:file-entry '
    'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
)


def _ods_cell(value: Cell) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, bool | int | float):
        return (
            f'<table:table-cell office:value-type="float" office:value="{value!r}">'
            f"<text:p>{value!r}</text:p></table:table-cell>"
        )
    if isinstance(value, datetime.date):
        return (
            f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
            f"<text:p>{value.isoformat()}</text:p></table:table-cell>"
        )
    text = escape(str(value))
    return (
        f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'
    )


def write_ods(path: Path, sheets: Sheets) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), _MIME)  # first and stored, as ODF requires
        z.writestr("META-INF/manifest.xml", _MANIFEST)
        with z.open("content.xml", "w", force_zip64=True) as f:
            f.write(
                f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} '
                'office:version="1.2"><office:body><office:spreadsheet>'.encode()
            )
            for name, rows in sheets.items():
                f.write(f'<table:table table:name="{escape(name)}">'.encode())
                for row in rows:
                    assert not isinstance(row, Raw), "a raw row is SpreadsheetML"
                    cells = "".join(_ods_cell(v) for v in row)
                    f.write(f"<table:table-row>{cells}</table:table-row>".encode())
                f.write(b"</table:table>")
            f.write(b"</office:spreadsheet></office:body></office:document-content>")
    return path
