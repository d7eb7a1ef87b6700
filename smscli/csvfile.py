"""Reading spreadsheets as people save them: UTF-8 (with or without BOM) or Windows-1254
(Turkish Excel), separated by ``,`` ``;`` or tab, with a phone column to find.

``csv.Sniffer`` guesses wrong on short or quoted headers, so the delimiter is the one that
occurs most often outside quotes in the header line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from smscli.errors import InputError

DELIMITERS = (",", ";", "\t")
PHONE_HEADERS = (
    "phone",
    "telefon",
    "tel",
    "gsm",
    "cep",
    "mobile",
    "msisdn",
    "number",
    "numara",
    "phone_number",
    "telefon_no",
    "tel_no",
    "cep_telefonu",
    "cep_tel",
    "gsm_no",
    "mobile_number",
)


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """Text and the encoding used: the given one, else UTF-8 (BOM stripped), else cp1254."""
    if encoding:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(
                f"{name} line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding}"
            ) from None
    if data.startswith(_UTF16_BOMS):
        return decode(data, name, "utf-16")
    if (nul := data.find(b"\x00")) >= 0:
        raise _nul_byte(name, data[:nul].count(b"\n") + 1, option=False)
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    # cp1254 maps all but five bytes; those five mean the file is neither.
    try:
        return data.decode("cp1254"), "cp1254"
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{name} line {line}: byte 0x{data[exc.start]:02x} is neither UTF-8 nor Windows-1254",
            hint="save it as CSV UTF-8",  # the commands that read it this way have no --encoding
        ) from None


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # Excel's "Unicode Text" writes one


def _nul_byte(name: str, line: int, *, option: bool) -> InputError:
    """A NUL byte in a file whose encoding we guess: never text, most often UTF-16 without
    its byte order mark (and then NULs between every letter of the header). ``option``:
    the command has ``--encoding``."""
    return InputError(
        f"{name} line {line}: a NUL byte (0x00), which no text file in UTF-8 or Windows-1254 has",
        hint=(
            "if it was saved as UTF-16, pass --encoding utf-16-le (or utf-16-be); "
            "or save it as CSV UTF-8"
            if option
            else "save it as CSV UTF-8 (or as UTF-16 with its byte order mark)"
        ),
    )


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


def _key(header: str) -> str:
    folded = unicodedata.normalize("NFKD", header.strip().casefold().replace("ı", "i"))
    return "".join(c for c in folded if not unicodedata.combining(c)).replace(" ", "_")


def find_phone_column(headers: list[str], name: str) -> int:
    keys = [_key(h) for h in headers]
    for candidate in PHONE_HEADERS:
        if candidate in keys:
            return keys.index(candidate)
    for i, key in enumerate(keys):
        if any(key.startswith(c) or key.endswith(c) for c in ("phone", "telefon", "gsm", "cep")):
            return i
    raise InputError(
        f"{name}: no phone column among {', '.join(headers)}",
        hint="name it with --phone-column",
    )


def read_numbers(
    data: bytes, name: str, phone_column: str | None = None
) -> Iterator[tuple[str, str]]:
    """``(raw number, source)`` from a CSV with a header or from one number per line."""
    text, _ = decode(data, name)
    lines = text.splitlines()
    # Blank and ``#`` comment lines before the first line of data or the header are skipped.
    skip = next((i for i, ln in enumerate(lines) if ln.strip() and not _comment(ln)), 0)
    first = lines[skip] if lines else ""
    delimiter = detect_delimiter(first)
    if delimiter is None and phone_column is None and any(c.isdigit() for c in first):
        for i, line in enumerate(lines, start=1):
            if line.strip() and not _comment(line):
                yield line.strip(), f"{name} line {i}"
        return
    reader = csv.reader(
        io.StringIO("\n" * skip + "\n".join(lines[skip:])), delimiter=delimiter or ","
    )
    for _ in range(skip):
        next(reader, None)
    try:
        headers = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    if phone_column is not None:
        if phone_column not in headers:
            raise InputError(f"{name}: no column {phone_column!r} among {', '.join(headers)}")
        col = headers.index(phone_column)
    else:
        col = find_phone_column(headers, name)
    for row in reader:
        if not any(v.strip() for v in row):
            continue
        if col >= len(row):
            raise InputError(
                f"{name} line {reader.line_num}: {len(row)} fields, "
                f"the phone column is field {col + 1}"
            )
        yield row[col], f"{name} line {reader.line_num}"


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


_CP1254_UNDEFINED = frozenset(b"\x81\x8d\x8e\x8f\x90\x9d\x9e")


class Scan(NamedTuple):
    """What one streaming pass over a file found: its encoding and content digest."""

    encoding: str
    sha256: str
    size: int


def scan(path: Path, name: str, encoding: str | None = None) -> Scan:
    """Detect the encoding (UTF-8 with or without BOM, else Windows-1254) and hash the
    content, reading the file in chunks (a 1M-row file is never held in memory)."""
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    cp1254_bad: tuple[int, int] | None = None  # (line, byte)
    nul_line: int | None = None
    line = 1
    size = 0
    first = b""
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                if not first:
                    first = chunk[:3]
                digest.update(chunk)
                size += len(chunk)
                if utf8_ok:
                    try:
                        utf8.decode(chunk)
                    except UnicodeDecodeError:
                        utf8_ok = False
                if cp1254_bad is None and not _CP1254_UNDEFINED.isdisjoint(chunk):
                    for i, b in enumerate(chunk):
                        if b in _CP1254_UNDEFINED:
                            cp1254_bad = (line + chunk[:i].count(b"\n"), b)
                            break
                if nul_line is None and (nul := chunk.find(b"\x00")) >= 0:
                    nul_line = line + chunk[:nul].count(b"\n")
                line += chunk.count(b"\n")
            if utf8_ok:
                try:
                    utf8.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8_ok = False
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}") from None
        chosen = encoding
    elif first.startswith(_UTF16_BOMS):
        chosen = "utf-16"
    elif nul_line is not None:
        raise _nul_byte(name, nul_line, option=True)
    elif utf8_ok:
        chosen = "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
    elif cp1254_bad is None:
        chosen = "cp1254"
    else:
        bad_line, byte = cp1254_bad
        raise InputError(
            f"{name} line {bad_line}: byte 0x{byte:02x} is neither UTF-8 nor Windows-1254",
            hint="pass --encoding",
        )
    return Scan(chosen, digest.hexdigest(), size)


@dataclass
class Table:
    name: str
    encoding: str
    delimiter: str
    headers: list[str]
    rows: Iterator[tuple[int, list[str]]]
    """``(line number, fields)``; blank lines are skipped."""


@contextmanager
def open_table(
    path: Path, name: str, encoding: str, delimiter: str | None = None
) -> Iterator[Table]:
    """Stream a CSV file: header first, then rows of exactly as many fields."""
    try:
        f = path.open("r", encoding=encoding, newline="")
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None
    with f:
        first = f.readline()
        offset = 1
        while first and not first.strip():
            first = f.readline()
            offset += 1
        if not first.strip():
            raise InputError(f"{name} is empty: no header line")
        header_line = first.lstrip("\ufeff")
        sep = delimiter or detect_delimiter(header_line) or ","
        headers = [h.strip() for h in next(csv.reader([header_line], delimiter=sep))]
        seen: set[str] = set()
        for h in headers:
            if not h:
                raise InputError(
                    f"{name} line {offset}: a column has no name ({header_line.strip()!r})"
                )
            if h in seen:
                raise InputError(f"{name} line {offset}: column {h!r} appears twice")
            seen.add(h)
        yield Table(name, encoding, sep, headers, _rows(f, name, sep, len(headers), offset))


def _rows(
    f: io.TextIOBase, name: str, sep: str, width: int, offset: int
) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(f, delimiter=sep)
    before = 0
    try:
        for row in reader:
            line = offset + before + 1  # where the record starts (quoted fields may span lines)
            before = reader.line_num
            joined = "".join(row)
            if not joined.strip():  # no field but whitespace (or no field at all)
                continue
            if "\x00" in joined:  # a file decoded with the wrong --encoding
                field = next(n for n, v in enumerate(row, start=1) if "\x00" in v)
                raise InputError(
                    f"{name} line {line}, field {field}: a NUL character (0x00); "
                    f"is {f.encoding} the file's encoding?",
                    hint="pass the right --encoding, or save the file as CSV UTF-8",
                )
            while len(row) > width and not row[-1].strip():
                row.pop()  # trailing separators, as spreadsheets write them
            if len(row) != width:
                raise InputError(
                    f"{name} line {line}: {len(row)} field{'s' * (len(row) != 1)}, "
                    f"the header has {width}"
                )
            yield line, row
    except csv.Error as exc:
        raise InputError(f"{name} line {offset + reader.line_num}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name} line {offset + reader.line_num + 1}: cannot decode as {f.encoding}: "
            f"{exc.reason}"
        ) from None
