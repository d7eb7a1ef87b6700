"""Reading spreadsheets as people save them: UTF-8 (with or without BOM) or Windows-1254
(Turkish Excel), separated by ``,`` ``;`` or tab, with a phone column to find.

``csv.Sniffer`` guesses wrong on short or quoted headers, so the delimiter is the one that
occurs most often outside quotes in the header line. A line ends at ``\\n``, ``\\r\\n`` or a
lone ``\\r`` (old Mac files), as csv reads one; every line number in an error counts so.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from smscli.errors import InputError, UsageError
from smscli.recipients import read_numbers as read_numbers  # it lives there now

DELIMITERS = (",", ";", "\t")
PHONE_HEADERS = (
    "phone", "telefon", "tel", "gsm", "cep", "mobile", "msisdn", "number", "numara",
    "phone_number", "telefon_no", "tel_no", "cep_telefonu", "cep_tel", "gsm_no", "mobile_number",
)  # fmt: skip

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
_CP1254_UNDEFINED = re.compile(b"[\x81\x8d\x8e\x8f\x90\x9d\x9e]")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # Excel's "Unicode Text" writes one
_NOT_FOR_FILES = {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
"""Text codecs that no spreadsheet is saved in: each fails on, or rewrites, ordinary text."""
_ENCODING_HINT = (
    "name the encoding the file was saved in (utf-8, cp1254 for Turkish Excel, utf-16, ...), "
    "or leave --encoding out to detect it"
)


def check_encoding(name: str) -> str:
    """``name``, if it is an encoding text files are saved in; else a usage error. Python's
    codecs also name byte transforms (base64, zip, rot13) and codecs for other things than
    files (idna, punycode, unicode_escape)."""
    shown = f"--encoding {name[:40]!r}"
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, UnicodeError):  # ValueError: a NUL in the name
        raise UsageError(f"{shown}: no such encoding", hint=_ENCODING_HINT) from None
    if not info._is_text_encoding or info.name in _NOT_FOR_FILES:
        raise UsageError(f"{shown} is not an encoding files are saved in", hint=_ENCODING_HINT)
    return name


def _breaks(text: str | bytes, after_cr: bool = False) -> int:
    """Line ends in ``text`` (``\\n``, ``\\r\\n``, a lone ``\\r``); ``after_cr``: what came
    before ended with ``\\r``, so a ``\\n`` at the start ends no other line."""
    if isinstance(text, str):
        n = text.count("\n") + text.count("\r") - text.count("\r\n")
        return n - (after_cr and text.startswith("\n"))
    n = text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")
    return n - (after_cr and text.startswith(b"\n"))


def _undecodable(
    name: str, line: int, offset: int, bad: bytes, what: str, *, option: bool = True
) -> InputError:
    """Bytes that are not text; ``option``: the command has ``--encoding``."""
    one = len(bad) == 1
    return InputError(
        f"{name} line {line}: byte{'s' * (not one)} {' '.join(f'0x{b:02x}' for b in bad)} "
        f"at offset {offset} {'is' if one else 'are'} {what}",
        hint="pass the file's own --encoding (cp1254 for Turkish Excel), or save it as CSV UTF-8"
        if option
        else "save it as CSV UTF-8",
    )


def _nul_byte(name: str, line: int, offset: int, *, option: bool) -> InputError:
    """A NUL byte in a file whose encoding we guess: never text, most often UTF-16 without
    its byte order mark (and then NULs between every letter of the header). ``option``:
    the command has ``--encoding``."""
    return InputError(
        f"{name} line {line}: a NUL byte (0x00) at offset {offset}, which no text file in "
        "UTF-8 or Windows-1254 has",
        hint=(
            "if it was saved as UTF-16, pass --encoding utf-16-le (or utf-16-be); "
            "or save it as CSV UTF-8"
            if option
            else "save it as CSV UTF-8 (or as UTF-16 with its byte order mark)"
        ),
    )


class _Decoding:
    """A file decoded with one encoding, chunk by chunk: the first bytes that are not valid in
    it are an error naming their line and their offset in the file."""

    def __init__(self, name: str, encoding: str, *, option: bool = True) -> None:
        self.name, self.encoding, self.option = name, encoding, option
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.line, self.offset, self.cr = 1, 0, False

    def feed(self, chunk: bytes, final: bool = False) -> str:
        pending = len(self.decoder.getstate()[0])  # bytes kept from the chunk before
        try:
            text = self.decoder.decode(chunk, final)
        except UnicodeError as exc:
            raise self._error(chunk, pending, exc) from None
        self._count(text)
        self.offset += len(chunk)
        return text

    def _count(self, text: str) -> None:
        self.line += _breaks(text, self.cr)
        self.cr = text.endswith("\r") if text else self.cr

    def _error(self, chunk: bytes, pending: int, exc: UnicodeError) -> InputError:
        if not isinstance(exc, UnicodeDecodeError):
            if "BOM" in str(exc):  # utf-16 and utf-32 without a byte order mark
                base = codecs.lookup(self.encoding).name
                return InputError(
                    f"{self.name}: no byte order mark, which --encoding {self.encoding} needs",
                    hint=f"pass --encoding {base}-le or {base}-be, as the file was saved",
                )
            return InputError(f"{self.name}: cannot be read as {self.encoding}: {exc}")
        at = exc.start - pending  # in this chunk (negative: in the bytes kept from before)
        with suppress(UnicodeError):  # the decoder is as it was before the failed call
            self._count(self.decoder.decode(chunk[: max(at, 0)]))
        bad = bytes(exc.object[exc.start : exc.end][:4])
        what = f"not valid {self.encoding}"
        return _undecodable(self.name, self.line, self.offset + at, bad, what, option=self.option)


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str]:
    """Text and the encoding used: the given one, else UTF-16 by its byte order mark, else
    UTF-8 (BOM stripped), else cp1254."""
    if encoding or data.startswith(_UTF16_BOMS):
        chosen = check_encoding(encoding) if encoding else "utf-16"
        return _Decoding(name, chosen, option=False).feed(data, final=True), chosen
    sniff = _Sniff()
    sniff.feed(data, final=True)
    chosen = sniff.choose(name, data[:3], option=False)
    return data.decode(chosen), "utf-8" if chosen == "utf-8-sig" else chosen


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


class _Sniff:
    """What settles a file's encoding when none is given, seen chunk by chunk: whether it is
    UTF-8, and where its first byte that Windows-1254 lacks and its first NUL are."""

    def __init__(self) -> None:
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.utf8_ok = True
        self.cp1254_bad: tuple[int, int, bytes] | None = None  # line, offset, byte
        self.nul: tuple[int, int] | None = None  # line, offset
        self.line, self.offset, self.cr = 1, 0, False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.utf8_ok:
            try:
                self.utf8.decode(chunk, final)
            except UnicodeDecodeError:
                self.utf8_ok = False
        if self.cp1254_bad is None and (bad := _CP1254_UNDEFINED.search(chunk)):
            self.cp1254_bad = (*self._at(chunk, bad.start()), bad.group())
        if self.nul is None and (nul := chunk.find(b"\x00")) >= 0:
            self.nul = self._at(chunk, nul)
        self.line += _breaks(chunk, self.cr)
        self.offset += len(chunk)
        self.cr = chunk.endswith(b"\r") if chunk else self.cr

    def _at(self, chunk: bytes, i: int) -> tuple[int, int]:
        return self.line + _breaks(chunk[:i], self.cr), self.offset + i

    def choose(self, name: str, first: bytes, *, option: bool = True) -> str:
        """The encoding; ``option``: the command has ``--encoding``."""
        if self.nul is not None:
            raise _nul_byte(name, *self.nul, option=option)
        if self.utf8_ok:
            return "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
        if self.cp1254_bad is None:  # cp1254 maps all but these few bytes
            return "cp1254"
        what = "neither UTF-8 nor Windows-1254"
        raise _undecodable(name, *self.cp1254_bad, what, option=option)


def scan(path: Path, name: str, encoding: str | None = None) -> Scan:
    """Settle the encoding and hash the content in one pass, reading the file in chunks (a
    1M-row file is never held in memory): ``encoding`` if given, else UTF-16 by its byte order
    mark (both checked to the last byte), else UTF-8 (with or without BOM), else Windows-1254."""
    decoding = _Decoding(name, check_encoding(encoding)) if encoding is not None else None
    sniff = _Sniff()
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            chunk = first = f.read(3)  # a byte order mark
            if decoding is None and first.startswith(_UTF16_BOMS):
                decoding = _Decoding(name, "utf-16")
            while chunk:
                digest.update(chunk)
                (decoding or sniff).feed(chunk)
                chunk = f.read(_CHUNK)
            (decoding or sniff).feed(b"", final=True)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None
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
                    f"{name} line {line}: {len(row)} field{'s' * (len(row) != 1)}, "
                    f"the header has {width}"
                )
            yield line, row
    except UnicodeError:
        raise _unreadable(path, name, encoding) from None
