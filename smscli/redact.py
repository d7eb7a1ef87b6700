"""Keep secrets out of everything a user or a log can see.

A provider's reply is redacted once, where it enters the process (:mod:`smscli.http`), by the
driver's :class:`Redactor`; the CLI redacts what it prints with one too. A secret is removed in
every form a provider may echo it back in. The text is cut into pieces at delimiters no
encoding of a secret produces (whitespace, ``,:{}[]()<>'"=`` and such, unless a secret holds
one), and a piece is redacted when it holds or hides a window of a secret (8 characters of it
in a row, or all of a shorter one):

1. Literal forms: a run of 8 or more characters (a prefix cut short, or the whole) of the
   secret raw, URL-encoded (either hex case, ``+`` for a space, twice), JSON-escaped (with
   ``\\/``, non-ASCII as it is or ``\\uXXXX``, twice) or HTML-escaped is replaced by ``***``
   exactly where it is; in a piece with escapes (``%``, ``\\``, ``&``) only a whole form is,
   else the whole piece goes.
2. Any chain of encodings: a piece that could hide one (a ``%``, ``\\``, ``&`` or a base64 run)
   is decoded breadth first: URL-unquoted, JSON-unescaped, HTML-unescaped (named entities too),
   base64-decoded at every alignment (standard and url-safe). If a decoding holds a window, the
   whole piece becomes ``***``.

The values of ``key=``-like query parameters are masked too, whatever they are.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

if TYPE_CHECKING:
    import logging

MASK = "***"
WINDOW = 8
"""A run of this many characters of a secret is redacted wherever it shows."""

_QUERY_SECRET = re.compile(r"(?i)(?<=[?&])(api_key|apikey|key|password|pass|p|token)=([^&\s\"']+)")
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
_B64_FLAT = bytes(0x61 if b in _B64 else 0x20 for b in range(256))
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}")
_B64_HIGH = "0123456789+/_-"  # a run of these only: every 3rd byte >= 0xD0, no text < U+0400
_JSON_ESCAPE = re.compile(
    r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\(.)",
    re.DOTALL,
)
_JSON_CHARS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_MASKS = re.compile(r"(?:\*\*\*){2,}")
_URLSAFE = str.maketrans("-_", "+/")
_DELIMITERS = " \t\r\n\f\v,:{}[]()<>'\"`!?*|^$@="
"""Characters no encoding of a secret produces (URL: ``%``, hex, ``+``; JSON: ``\\``; HTML: ``&#;``
and letters; base64: letters, digits, ``+/-_``), unless the secret itself holds them."""
_RAW = "surrogatepass"  # a secret read from a file or the environment may hold any code point
_MAX_DULL = 4096
_MAX_VARIANTS = 256
"""Decodings tried per piece of text; a piece with more is redacted as it may hide anything."""


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _json(text: str, ascii_only: bool = True) -> str:
    import json

    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def _forms(text: str) -> list[str]:
    """The ways ``text`` (a piece of a secret) is written on the wire or echoed back, always in
    the same order. Each encoding works character by character, so the form of a window of a
    secret is a window of the secret's form."""
    import html

    urls = [quote(text, safe="", errors=_RAW), quote(text, errors=_RAW)]
    urls += [quote_plus(text, errors=_RAW), quote(urls[0], safe="")]
    jsons = [_json(text), _json(text, False)]
    jsons += [_json(jsons[0]), _json(jsons[1])]
    return [
        text,
        *urls,
        *(_lower_hex(f) for f in urls),
        *jsons,
        *(f.replace("/", "\\/") for f in jsons),
        html.escape(text),
        html.escape(text, quote=False),
    ]


_Spot = tuple[str, int, frozenset[int]]
"""Where a needle is in a form of a secret: the form, the offset, where its characters start."""


@functools.lru_cache(maxsize=512)
def _widths(char: str) -> tuple[int, ...]:
    """How long each of the forms of one character is."""
    return tuple(len(f) for f in _forms(char))


class _Secret:
    """What is looked for of one secret, computed once."""

    def __init__(self, secret: str) -> None:
        size = min(WINDOW, len(secret))
        starts = range(len(secret) - size + 1)
        self.windows = frozenset(secret[i : i + size] for i in starts)
        # Every window holds one of these (the 4 characters from each 4th one on): in a long
        # text, fewer needles to look for before the windows themselves.
        half = max(size // 2, 1)
        self.anchors = frozenset(
            secret[k : k + half] for k in range(0, len(secret) - half + 1, half)
        )
        # Each form is the forms of the characters one after the other: where every character's
        # form starts in the secret's, and a window's form is a slice of it.
        forms = _forms(secret)
        starts_in = [[0] * len(forms)]
        for char in secret:
            starts_in.append([o + w for o, w in zip(starts_in[-1], _widths(char), strict=True)])
        # where each character's form starts in the secret's form
        edges = [frozenset(column) for column in zip(*starts_in, strict=True)]
        self.needles: dict[str, list[_Spot]] = {}  # needle -> (form, where in it, edges)
        for i in starts:
            for k, form in enumerate(forms):
                begin, end = starts_in[i][k], starts_in[i + size][k]
                spots = self.needles.setdefault(form[begin:end], [])
                if (form, begin, edges[k]) not in spots:
                    spots.append((form, begin, edges[k]))


class Redactor:
    """Replaces every known secret (in all its encodings) and secret-looking query values."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = [_Secret(s) for s in dict.fromkeys(secrets) if s and len(s) >= 3]
        self._needles: dict[str, list[_Spot]] = {}
        for secret in self._secrets:
            for needle, spots in secret.needles.items():
                self._needles.setdefault(needle, []).extend(spots)
        # Only a form with an encoded character differs from the raw secret, and every such
        # character is written with one of these: a text without it needs no such needle.
        groups: dict[str, list[str]] = {}
        for needle in self._needles:
            groups.setdefault(next((c for c in "%\\&+" if c in needle), ""), []).append(needle)
        self._groups = sorted((marker, tuple(n)) for marker, n in groups.items())
        self._anchors = tuple(frozenset().union(*(s.anchors for s in self._secrets)))
        self._windows = frozenset().union(*(s.windows for s in self._secrets))
        self._size = min((len(w) for w in self._windows), default=0)
        held = "".join(self._windows)
        delimiters = "".join(c for c in _DELIMITERS if c not in held)
        self._pieces = re.compile(f"[^{re.escape(delimiters)}]+") if delimiters else None
        # What a window looks like once encoded: printable ASCII and the bytes of the secrets'
        # own characters; a base64 decoding with no such run of bytes hides nothing.
        own_bytes = set(held.encode("utf-8", _RAW))
        extra = b"".join(re.escape(bytes([b])) for b in own_bytes if not 32 <= b < 127)
        self._plausible = re.compile(b"[ -~" + extra + b"]{%d}" % max(self._size, 1))
        self._wide = any(ord(c) >= 0x400 for c in held)
        self._spaces = " " in held
        # An escape of a character no window's encoding holds (``\\u0131`` where no secret has
        # a dotless i) only splits the text where it stands already: not worth unescaping.
        own = {e for c in held if not 32 <= ord(c) < 127 for e in (_json(c), f"\\u{ord(c):04x}")}
        self._escapes = re.compile(
            "|".join([r'\\["\\/bfnrt]|\\u00[2-7][0-9a-fA-F]', *map(re.escape, own)]), re.I
        )
        self._dull: set[str] = set()  # base64 runs known to decode to nothing like a window

    def __call__(self, text: str) -> str:
        if self._secrets and (
            self._found(text) or (_suspect(text) and self._hides(text, checked=True))
        ):
            text = self._redacted(text)
        if "=" in text:
            text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}={MASK}", text)
        return text

    def reply(self, text: str) -> str:
        """A provider's reply without secrets. A JSON reply stays JSON (each string redacted
        alone) so that the driver still reads it; returns ``text`` itself when it is clean."""
        redacted = self(text)
        if redacted == text:
            return text
        import json

        try:
            data = json.loads(text.lstrip("\ufeff \t\r\n"))
        except ValueError:
            return redacted
        if not isinstance(data, dict | list):
            return redacted
        return self(json.dumps(self._walk(data), ensure_ascii=False))

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, dict):
            return {self(k): self._walk(v) for k, v in value.items()}
        return value

    def _found(self, text: str) -> bool:
        """Whether ``text`` holds a window of a literal form of a secret."""
        for marker, needles in self._groups:
            if marker:
                if marker not in text:
                    continue
            elif len(text) > 512 and not any(map(text.__contains__, self._anchors)):
                continue  # the raw windows (the group without a marker)
            if any(map(text.__contains__, needles)):
                return True
        return False

    def _redacted(self, text: str) -> str:
        """``text`` with each piece that holds or hides a secret redacted (:meth:`_piece`)."""
        if self._pieces is None:
            return self._piece(text)
        redacted = self._pieces.sub(lambda m: self._piece(m[0]), text)
        return _MASKS.sub(MASK, redacted) if redacted != text else text

    def _piece(self, piece: str) -> str:
        """A piece of text (between delimiters) without secrets: a literal form masked exactly
        where it is, else the whole piece. Within escapes (``%``, ``\\``, ``&``) only a whole
        form is masked exactly: a prefix or a window may stop inside an escape of another
        encoding than its own, and the rest of the piece would then decode askew."""
        if self._found(piece):
            spans = self._spans(piece)
            if any(c in piece for c in "%\\&") and not _within_wholes(spans):
                return MASK
            piece = _mask(piece, [(start, end) for start, end, _ in spans])
        return MASK if _suspect(piece) and self._hides(piece, checked=True) else piece

    def _spans(self, text: str) -> list[tuple[int, int, bool]]:
        """Every run of a literal form of a secret that holds one of its windows, and whether
        it is the whole form."""
        spans: list[tuple[int, int, bool]] = []
        for needle, spots in self._needles.items():
            at = text.find(needle)
            while at >= 0:
                spans += (_extent(text, at, len(needle), *spot) for spot in spots)
                at = text.find(needle, at + 1)
        return spans

    def _hides(self, piece: str, *, checked: bool = False) -> bool:
        """Whether ``piece`` (``checked``: known to hold no window as it is) or a chain of
        decodings of it holds a window of a secret; breadth first, bounded."""
        seen = {piece}
        queue = [piece]
        for variant in queue:
            if (variant is not piece or not checked) and self._holds(variant):
                return True
            for decoded in self._decodings(variant):
                if decoded not in seen:
                    if len(seen) >= _MAX_VARIANTS:
                        return True
                    seen.add(decoded)
                    queue.append(decoded)
        return False

    def _holds(self, text: str) -> bool:
        """Whether ``text`` holds a window of a secret, as it is."""
        return len(text) >= self._size and any(map(text.__contains__, self._windows))

    def _decodings(self, text: str) -> Iterator[str]:
        if "%" in text:
            yield unquote(text)
        if "+" in text and self._spaces:
            yield unquote_plus(text)
        if "\\" in text and self._escapes.search(text):
            yield _JSON_ESCAPE.sub(_unescape, text)
        if "&" in text:
            import html

            yield html.unescape(text)
        for run in _B64_RUN.findall(text):
            if (self._wide or run.strip(_B64_HIGH)) and run not in self._dull:
                yield from self._base64(run)

    def _base64(self, run: str) -> Iterator[str]:
        """``run`` decoded from each of its 4 alignments (standard or url-safe alike) where that
        may hold a window; a run with none is remembered (JSON keys come back in every reply)."""
        found = False
        std = run.translate(_URLSAFE)
        for start in range(4):
            end = start + (len(std) - start) // 4 * 4
            if end - start >= 12:
                decoded = binascii.a2b_base64(std[start:end])
                if self._plausible.search(decoded):
                    found = True
                    yield decoded.decode("utf-8", "replace")
        if not found and len(run) <= 256:
            if len(self._dull) >= _MAX_DULL:
                self._dull.clear()
            self._dull.add(run)


def _suspect(text: str) -> bool:
    """Whether ``text`` may hide an encoding: a ``%``, ``\\`` or ``&``, or a run of 12 base64
    characters (found with C loops: a regex takes ~15 ns a character)."""
    if "%" in text or "\\" in text or "&" in text:
        return True
    flat = text.encode("utf-8", "surrogatepass").translate(_B64_FLAT)
    return b"aaaaaaaaaaaa" in flat


def _unescape(m: re.Match[str]) -> str:
    high, low, single, char = m.groups()
    if high:
        return chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + int(low, 16) - 0xDC00)
    if single:
        return chr(int(single, 16))
    return _JSON_CHARS.get(char, char)


def _extent(
    text: str, at: int, size: int, form: str, offset: int, edges: frozenset[int]
) -> tuple[int, int, bool]:
    """The span of ``text`` around the needle at ``at`` that matches ``form`` (where the needle
    is ``form[offset:offset + size]``), as far as it goes either way in whole characters of the
    secret (``edges``), and whether that is all of ``form``."""
    start, first = at, offset
    while start > 0 and first > 0 and text[start - 1] == form[first - 1]:
        start -= 1
        first -= 1
    while first not in edges:
        start += 1
        first += 1
    end, last = at + size, offset + size
    while end < len(text) and last < len(form) and text[end] == form[last]:
        end += 1
        last += 1
    while last not in edges:
        end -= 1
        last -= 1
    return start, end, first == 0 and last == len(form)


def _within_wholes(spans: list[tuple[int, int, bool]]) -> bool:
    """Whether every span lies within one that is a whole form."""
    wholes = [(start, end) for start, end, whole in spans if whole]
    return all(any(s <= start and end <= e for s, e in wholes) for start, end, _ in spans)


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span (merged where they touch or overlap) replaced by one mask."""
    out: list[str] = []
    done = -1
    for start, end in sorted(spans):
        if start > done:
            out += [text[max(done, 0) : start], MASK]
        done = max(done, end)
    return "".join(out) + text[max(done, 0) :]


def mask(secret: str | None) -> str:
    """How a configured secret is shown in ``profiles show``."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return MASK
    return f"{secret[:2]}{MASK}{secret[-2:]}"


def excerpt(text: str, limit: int = 120) -> str:
    """A short, single-line quote of a reply body (already redacted where it came in)."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty body)"
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class RedactingFilter:
    """Redacts every record that passes through a handler (httpx logs full URLs) with the
    redactor of the moment (``redactor()``: the secrets known so far, which grow once a
    profile is resolved). A handler takes any object with a ``filter`` method, so this module
    need not import logging."""

    def __init__(self, redactor: Callable[[], Redactor]) -> None:
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor()(record.getMessage())
        record.args = None
        return True
