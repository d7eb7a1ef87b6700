"""Text files as people save them: which encoding, settled chunk by chunk, and every byte that
is not text named by its line and its offset in the file.

Without ``--encoding``: UTF-16 by its byte order mark, else UTF-8 (with or without BOM), else
Windows-1254 (Turkish Excel). A file that is mostly UTF-8 but has lines that are not (a line
pasted from a Windows-1254 file) is an error naming those lines: read as Windows-1254 it would
turn every other Turkish letter into two wrong ones (``AyÅŸe``), silently. A file with more
lines that are not UTF-8 than lines that are UTF-8 with a letter beyond ASCII is Windows-1254:
a Windows-1254 line can be valid UTF-8 by chance (``Ş’`` is).
"""

from __future__ import annotations

import codecs
import re
from contextlib import suppress
from dataclasses import dataclass, field

from smscli.errors import InputError, UsageError

_CP1254_UNDEFINED = re.compile(b"[\x81\x8d\x8e\x8f\x90\x9d\x9e]")
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # Excel's "Unicode Text" writes one
_NOT_FOR_FILES = {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
"""Text codecs that no spreadsheet is saved in: each fails on, or rewrites, ordinary text."""
_ENCODING_HINT = (
    "name the encoding the file was saved in (utf-8, cp1254 for Turkish Excel, utf-16, ...), "
    "or leave --encoding out to detect it"
)
_WIDE = re.compile(r"utf[-_]?(16|32)", re.IGNORECASE)
_NON_ASCII_REST = re.compile(r"[^\x00-\x7f][^\r\n]*")
"""From a line's first letter beyond ASCII to its end."""
_ESCAPED = re.compile("[\udc80-\udcff]")
"""A byte that is not UTF-8, as ``surrogateescape`` keeps it."""
_BAD_REST = re.compile("[\udc80-\udcff][^\r\n]*")
_MARKS = bytes(range(128)).translate(None, b"\r\n") + b"\r"
_TO_MARKS = bytes.maketrans(bytes(range(128, 256)) + b"\r", b"\x80" * 128 + b"\n")
"""Every byte beyond ASCII becomes 0x80 and every line end \\n (the rest deleted): a line
with a letter beyond ASCII then ends in ``\\x80\\n``."""
SHOWN_LINES = 10


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


def wide(encoding: str) -> bool:
    """UTF-16 or UTF-32: every ASCII letter, digit and separator has a NUL byte."""
    return _WIDE.match(codecs.lookup(encoding).name) is not None


def breaks(text: str | bytes, after_cr: bool = False) -> int:
    """Line ends in ``text`` (``\\n``, ``\\r\\n``, a lone ``\\r``); ``after_cr``: what came
    before ended with ``\\r``, so a ``\\n`` at the start ends no other line."""
    if isinstance(text, str):
        n = text.count("\n") + text.count("\r") - text.count("\r\n")
        return n - (after_cr and text.startswith("\n"))
    n = text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")
    return n - (after_cr and text.startswith(b"\n"))


def undecodable(
    name: str, line: int, offset: int, bad: bytes, what: str, *, option: bool = True,
    save_as: str = "CSV UTF-8",
) -> InputError:  # fmt: skip
    """Bytes that are not text; ``option``: the command has ``--encoding``."""
    one = len(bad) == 1
    return InputError(
        f"{name} line {line}: byte{'s' * (not one)} {' '.join(f'0x{b:02x}' for b in bad)} "
        f"at offset {offset} {'is' if one else 'are'} {what}",
        hint=f"pass the file's own --encoding (cp1254 for Turkish Excel), or save it as {save_as}"
        if option
        else f"save it as {save_as}",
    )


def nul_byte(name: str, line: int, offset: int, *, option: bool) -> InputError:
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
            else "save it as UTF-8 (or as UTF-16 with its byte order mark)"
        ),
    )


def no_nul(name: str, encoding: str) -> InputError:
    """``--encoding utf-16…`` (or utf-32) for a file of 8-bit text: it decodes, into nonsense."""
    return InputError(
        f"{name} is not {encoding}: its start has no NUL byte, which every ASCII letter, digit "
        f"and separator has in {encoding}",
        hint="leave --encoding out to detect it (UTF-8, Windows-1254 or UTF-16 with its byte "
        "order mark), or pass --encoding cp1254 for Turkish Excel",
    )


class Decoding:
    """A file decoded with one encoding, chunk by chunk: the first bytes that are not valid in
    it are an error naming their line and their offset in the file."""

    def __init__(self, name: str, encoding: str, *, option: bool = True) -> None:
        self.name, self.encoding, self.option = name, encoding, option
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.line, self.offset, self.cr = 1, 0, False
        self.head: bytes | None = b"" if wide(encoding) else None  # see :func:`no_nul`

    def feed(self, chunk: bytes, final: bool = False) -> str:
        if self.head is not None:
            self.head += chunk[:4096]
            if len(self.head) >= 4096 or final:
                if self.head and b"\x00" not in self.head:
                    raise no_nul(self.name, self.encoding)
                self.head = None
        pending = len(self.decoder.getstate()[0])  # bytes kept from the chunk before
        try:
            text = self.decoder.decode(chunk, final)
        except UnicodeError as exc:
            if self.head is not None and b"\x00" not in self.head:
                raise no_nul(self.name, self.encoding) from None
            raise self._error(chunk, pending, exc) from None
        self._count(text)
        self.offset += len(chunk)
        return text

    def _count(self, text: str) -> None:
        self.line += breaks(text, self.cr)
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
        return undecodable(self.name, self.line, self.offset + at, bad, what, option=self.option)


@dataclass
class _Lines:
    """Lines of one kind: how many, and the first few line numbers."""

    count: int = 0
    shown: list[int] = field(default_factory=list)
    last: int = 0

    def add(self, line: int) -> None:
        if line == self.last:  # a line cut by the end of a chunk, seen again
            return
        self.last = line
        self.count += 1
        if len(self.shown) < SHOWN_LINES:
            self.shown.append(line)


class Sniff:
    """What settles a file's encoding when none is given, seen chunk by chunk: which lines are
    UTF-8 with a letter beyond ASCII and which are not UTF-8, and where the first byte that
    Windows-1254 lacks and the first NUL are. While the file is valid UTF-8 only lines are
    counted (in C, :data:`_TO_MARKS`); from the first byte that is not, each line beyond ASCII
    is looked at."""

    def __init__(self) -> None:
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.escaped: codecs.IncrementalDecoder | None = None  # after the first bad byte
        self.letters = 0  # lines that are UTF-8 with a letter beyond ASCII
        self.bad = _Lines()  # lines that are not UTF-8
        self.cp1254_bad: tuple[int, int, bytes] | None = None  # line, offset, byte
        self.nul: tuple[int, int] | None = None  # line, offset
        self.line, self.offset, self.cr = 1, 0, False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.escaped is None:
            pending = self.utf8.getstate()[0]
            try:
                self.utf8.decode(chunk, final)
                if not chunk.isascii():
                    marks = chunk.translate(_TO_MARKS, _MARKS)
                    self.letters += marks.count(b"\x80\n") + marks.endswith(b"\x80")
            except UnicodeDecodeError:
                self.escaped = codecs.getincrementaldecoder("utf-8")("surrogateescape")
                self._lines(self.escaped.decode(pending + chunk, final), chunk)
        else:
            self._lines(self.escaped.decode(chunk, final), chunk)
        if self.cp1254_bad is None and (bad := _CP1254_UNDEFINED.search(chunk)):
            self.cp1254_bad = (*self._at(chunk, bad.start()), bad.group())
        if self.nul is None and (nul := chunk.find(b"\x00")) >= 0:
            self.nul = self._at(chunk, nul)
        self.line += breaks(chunk, self.cr)
        self.offset += len(chunk)
        self.cr = chunk.endswith(b"\r") if chunk else self.cr

    def _lines(self, text: str, chunk: bytes) -> None:
        """Each line of ``text`` (``chunk``, as ``surrogateescape`` decodes it) beyond ASCII:
        UTF-8 with a letter beyond ASCII, or not UTF-8. Once the first few lines that are not
        are known, only counted (in C: a Windows-1254 file has one in every line)."""
        if text.isascii():
            return
        if len(self.bad.shown) == SHOWN_LINES:
            bad = _BAD_REST.subn("", text)[1]
            marks = chunk.translate(_TO_MARKS, _MARKS)
            self.bad.count += bad
            self.letters += max(marks.count(b"\x80\n") + marks.endswith(b"\x80") - bad, 0)
            return
        line, pos, cr = self.line, 0, self.cr
        for m in _NON_ASCII_REST.finditer(text):
            line += breaks(text[pos : m.start()], cr and pos == 0)
            pos = m.start()
            if _ESCAPED.search(m.group()):
                self.bad.add(line)
            else:
                self.letters += 1

    def _at(self, chunk: bytes, i: int) -> tuple[int, int]:
        return self.line + breaks(chunk[:i], self.cr), self.offset + i

    def choose(self, name: str, first: bytes, *, option: bool = True, save_as: str = "CSV UTF-8"
               ) -> str:  # fmt: skip
        """The encoding; ``option``: the command has ``--encoding``."""
        if self.nul is not None:
            raise nul_byte(name, *self.nul, option=option)
        if not self.bad.count:
            return "utf-8-sig" if first.startswith(codecs.BOM_UTF8) else "utf-8"
        if self.letters >= self.bad.count:
            raise self._mixed(name, option=option, save_as=save_as)
        if self.cp1254_bad is None:  # cp1254 maps all but these few bytes
            return "cp1254"
        what = "neither UTF-8 nor Windows-1254"
        raise undecodable(name, *self.cp1254_bad, what, option=option, save_as=save_as)

    def _mixed(self, name: str, *, option: bool, save_as: str) -> InputError:
        bad = self.bad
        lines = ", ".join(str(n) for n in bad.shown)
        more = f" and {bad.count - len(bad.shown):,} more" if bad.count > len(bad.shown) else ""
        some = "1 line is" if bad.count == 1 else f"{bad.count:,} lines are"
        return InputError(
            f"{name}: {some} not UTF-8 (line{'s' * (bad.count > 1)} {lines}{more}), while "
            f"{self.letters:,} other line{'s' * (self.letters > 1)} with letters beyond ASCII "
            "are UTF-8: the file mixes two encodings (a line pasted from a Windows-1254 file?)",
            hint="retype those lines, or save the file again as "
            f"{save_as}"
            + (
                "; if the whole file is Turkish Excel (Windows-1254), pass --encoding cp1254"
                if option
                else ""
            ),
        )


def decode(
    data: bytes, name: str, encoding: str | None = None, *, save_as: str = "CSV UTF-8"
) -> tuple[str, str]:
    """Text and the encoding used: the given one, else UTF-16 by its byte order mark, else
    UTF-8 (BOM stripped), else cp1254; errors as :func:`smscli.csvfile.scan`'s."""
    if encoding or data.startswith(UTF16_BOMS):
        chosen = check_encoding(encoding) if encoding else "utf-16"
        return Decoding(name, chosen, option=False).feed(data, final=True), chosen
    sniff = Sniff()
    sniff.feed(data, final=True)
    chosen = sniff.choose(name, data[:3], option=False, save_as=save_as)
    return data.decode(chosen), "utf-8" if chosen == "utf-8-sig" else chosen


TEXT_LIMIT = 1 << 20
"""The largest template or message file read: no SMS text comes near a megabyte."""


def read_text(path: str, what: str) -> str:
    """A template or a message file, detected as a CSV is (UTF-8, BOM, Windows-1254, UTF-16
    with its BOM); line ends become ``\\n`` and one at the end is dropped."""
    try:
        with open(path, "rb") as f:
            data = f.read(TEXT_LIMIT + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > TEXT_LIMIT:
        raise InputError(f"{what} {path} is larger than {TEXT_LIMIT:,} bytes: not an SMS text")
    text, _ = decode(data, path, save_as="UTF-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.removeprefix("\ufeff").removesuffix("\n")
