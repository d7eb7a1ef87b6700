"""Planning a run: every recipient normalised, every text rendered and priced, every problem
found, and all of it written to the store before anything can leave.

One path for ``send`` and ``bulk``: both describe their input as a :class:`Source` (rows of
fields, the phone field, how a row's text is rendered) and :func:`prepare`
streams them into a new run: ``pending``, ``invalid`` (with why) or ``skipped`` (excluded; later
occurrences of a number become duplicates in the store). Any text that cannot be rendered
deletes the half-prepared run and stops before anything is sent. A helper thread reads and
renders the next chunk of rows while the store writes the last one; no more of the input than
that is held in memory.
"""

from __future__ import annotations

import queue
import threading
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, suppress
from itertools import islice
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from smscli.encoding import Segmentation, analyse, encoding_and_parts, transliterate
from smscli.errors import InputError
from smscli.providers.base import Capabilities, turkish_mobile
from smscli.recipients import normalise
from smscli.senders import TURKISH_LETTERS
from smscli.store import MessageRow
from smscli.store.keys import row_checksum, text_key
from smscli.words import plural

if TYPE_CHECKING:
    from smscli.columns import Detected
    from smscli.store import Store

T = TypeVar("T")
SHOWN_PROBLEMS = 10


class Spec(NamedTuple):
    """What identifies a bulk run, besides the account: everything that changes what is sent."""

    input_sha256: str
    encoding: str
    delimiter: str | None
    phone_column: str | None
    template: str | None
    message_column: str | None
    sender: str | None
    turkish: bool | None
    ascii_only: bool
    exclude_sha256: str | None
    region: str
    sheet: str | None = None
    """``--sheet``: left out of the fingerprint when not given, so that runs made before it
    existed are found again."""

    def fingerprint(self, account: str) -> str:
        import hashlib  # not on a send's path: ~5 ms to load OpenSSL
        import json

        fields = self._asdict()
        if fields["sheet"] is None:
            del fields["sheet"]
        blob = json.dumps([account, fields], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


class Source(NamedTuple):
    """An input as the plan reads it: one pass over its rows, each ``(seq, fields)``."""

    rows: Iterable[tuple[int, Sequence[str]]]
    """``seq`` is the row's place in the input (a CSV's line number), the order of sending."""
    phone: int
    """The field holding the number as written."""
    render: Callable[[Sequence[str]], tuple[str | None, str | None]]
    """Fields → ``(text, None)``, or ``(None, the column whose empty value stopped it)``."""
    name: str | None
    """The file: a row is at "``name`` line ``seq``"; None: the row's last field says where
    (``argument 2``, ``stdin line 3``)."""
    unit: str = "line"
    """What ``seq`` counts, as a row's place is said: ``line``; a spreadsheet's ``row``."""
    detected: Detected | None = None
    """What was found out about the file (encoding, delimiter, phone column), to be shown."""


class Screen(NamedTuple):
    """Who is not sent to although the number is valid: ``skipped``, with why."""

    exclude: frozenset[str] = frozenset()
    """``--exclude``'s numbers (E.164)."""
    optouts: Mapping[str, str] = MappingProxyType({})
    """The ledger's opt-out list: number → the day it was added."""
    repeats_since: float | None = None
    """The repeat guard: the same text to the same number since then (Unix time) is a repeat
    (None: the guard is off)."""


class Pricing(NamedTuple):
    """How texts are made ready: NFC, ``--ascii``, the Turkish switch of the provider."""

    turkish: bool | None
    ascii_only: bool


def pricing(capabilities: Capabilities, turkish: bool | None, ascii_only: bool) -> Pricing:
    return Pricing(turkish if capabilities.turkish_mode else False, ascii_only)


def check_text(text: str, rules: Pricing) -> tuple[str, Segmentation, list[str]]:
    """One text (``send``'s) as it will be sent, its segmentation, and what to warn about."""
    from smscli.encoding import unsupported_chars

    check_decodable(text, "the message")
    text = unicodedata.normalize("NFC", text)
    if rules.ascii_only:
        text = transliterate(text)
    if not text.strip():
        raise InputError("the message is empty")
    seg = analyse(text, rules.turkish)
    warnings = []
    if seg.encoding == "UCS-2":
        odd = "".join(unsupported_chars(text, seg.turkish or bool(rules.turkish)))
        tip = any(c in TURKISH_LETTERS for c in odd)
        warnings.append(
            f"the text needs UCS-2 because of {odd!r}: {plural(seg.parts, 'part')} of up to 67/70 "
            "characters" + ("; --ascii transliterates Turkish letters" if tip else "")
        )
    return text, seg, warnings


def check_decodable(text: str, what: str) -> None:
    """Text that came from bytes that are not valid in the locale's encoding (an argument
    ``$'\\xfe'``: Python keeps such bytes as lone surrogates) cannot be sent: exit 3, saying
    where."""
    bad = next((i for i, c in enumerate(text) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        byte = ord(text[bad]) - 0xDC00 if ord(text[bad]) >= 0xDC80 else None
        shown = f"byte 0x{byte:02x}" if byte is not None else repr(text[bad])
        raise InputError(
            f"{what} is not valid text: {shown} at character {bad + 1} is not UTF-8",
            hint="save or pass the text as UTF-8 (a Windows-1254 script: "
            "iconv -f windows-1254 -t utf-8)",
        )


class _Problems:
    """Rows whose text cannot be rendered: how many, and the first few for the error."""

    def __init__(self) -> None:
        self.count = 0
        self.shown: list[str] = []

    def add(self, where: str, empty: str | None) -> None:
        self.count += 1
        if len(self.shown) < SHOWN_PROBLEMS:
            self.shown.append(f"{where}: {{{empty}}} is empty")

    def error(self) -> InputError:
        more = self.count - len(self.shown)
        return InputError(
            f"{self.count} row{'s' * (self.count > 1)} cannot be rendered; nothing sent:\n  "
            + "\n  ".join(self.shown)
            + (f"\n  … and {more} more" if more > 0 else ""),
            hint="fill the empty values, give a default ({column|text}), or change the template",
        )


def _messages(
    source: Source,
    problems: _Problems,
    *,
    provider: str,
    turkish_only: bool,
    rules: Pricing,
    region: str,
    screen: Screen,
    run_id: str,
) -> Iterator[MessageRow]:
    """Every row as the message to store. Once per row of a campaign of up to millions: one
    generator, plain tuples, locals only, no call that can be saved (a NamedTuple a row, or a
    second generator, cost ~10% of a 100k campaign's preparation)."""
    turkish, ascii_only = rules
    nfc = unicodedata.normalize
    phone, render, name = source.phone, source.render, source.name
    prefix = f"{name} {source.unit} "
    exclude, optouts = screen.exclude, screen.optouts
    for seq, row in source.rows:
        where = f"{prefix}{seq}" if name is not None else row[-1]
        text, empty = render(row)
        if text is None:
            problems.add(where, empty)
            continue
        if not text.isascii():
            text = nfc("NFC", text)
            if ascii_only:
                text = transliterate(text)
        encoding, parts = encoding_and_parts(text, turkish)
        raw = row[phone].strip()
        e164, error = normalise(raw, region)
        if error is None:
            if turkish_only and not turkish_mobile(e164):  # type: ignore[arg-type]
                state = "invalid"
                error = f"invalid number: {provider} sends only to Turkish mobile numbers"
            elif e164 in optouts:
                state, error = "skipped", f"opted out on {optouts[e164]}"  # type: ignore[index]
            elif e164 in exclude:
                state, error = "skipped", "excluded (listed in --exclude)"
            else:
                state = "pending"
        else:
            state, error = "invalid", f"invalid number: {error}"
        if state == "invalid":
            parts = 0  # never sent, never charged
        key = text_key(text)
        yield (
            seq, where, raw, e164, text, encoding, parts, state, error, key,
            row_checksum(run_id, e164, text, key),
        )  # fmt: skip


def prepare(
    store: Store,
    run_id: str,
    source: Source,
    *,
    provider: str,
    capabilities: Capabilities,
    rules: Pricing,
    region: str,
    screen: Screen,
) -> None:
    """Validate, render and price every row into the run ``run_id`` (``preparing``), then make
    it ``ready``; raise before anything could be sent (the caller deletes the run)."""
    problems = _Problems()
    messages = _messages(
        source, problems, provider=provider, turkish_only=capabilities.turkish_numbers_only,
        rules=rules, region=region, screen=screen, run_id=run_id,
    )  # fmt: skip
    with closing(_drawn_ahead(messages, store.insert_chunk_size())) as chunks:
        # problems.count is set by the helper thread: from then on nothing needs writing
        store.add_messages(run_id, (chunk for chunk in chunks if not problems.count))
    if problems.count:
        raise problems.error()
    if screen.repeats_since is not None:
        store.skip_repeats(run_id, screen.repeats_since)
    store.mark_ready(run_id)


def _drawn_ahead(items: Iterator[T], size: int, depth: int = 2) -> Generator[list[T]]:
    """``items`` in lists of ``size``, drawn by a helper thread up to ``depth`` lists ahead of
    the caller. What ``items`` raises is raised here; closing this generator stops the thread
    (after the list it is drawing)."""
    ahead: queue.Queue[list[T] | BaseException] = queue.Queue(depth)
    stop = threading.Event()

    def draw() -> None:
        try:
            while not stop.is_set():
                chunk = list(islice(items, size))
                ahead.put(chunk)
                if not chunk:
                    return
        except BaseException as exc:  # handed to the caller's thread, raised there
            ahead.put(exc)

    thread = threading.Thread(target=draw, name="smscli-prepare", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        with suppress(queue.Empty):  # a put blocked on a full queue goes through, then stops
            while True:
                ahead.get_nowait()
        thread.join()


def send_source(entries: Sequence[tuple[str, str]], text: str) -> Source:
    """``send``'s recipients ``(raw, where)``, all with one text, in the order given."""
    return Source(enumerate(entries), 0, lambda row: (text, None), None)


EXCLUDE_HINT = (
    "the --exclude file lists numbers never to send to: one a line (# starts a comment), or a "
    "CSV or spreadsheet whose numbers' column is named phone, telefon, cep or gsm"
)


def read_exclusions(path: Path, region: str) -> tuple[frozenset[str], str]:
    """Numbers never to message (a CSV or spreadsheet with a phone column, or one per line;
    ``#`` lines are comments) and the file's digest (part of the run's identity). Its errors
    say it is the ``--exclude`` file, and how that file is written."""
    import hashlib

    from smscli.columns import NAME_IT
    from smscli.numberfiles import read_numbers

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the --exclude file {path}: {exc.strerror}") from None
    numbers = set()
    try:
        for raw, _ in read_numbers(data, str(path)):
            e164, _error = normalise(raw, region)
            if e164:
                numbers.add(e164)
    except InputError as exc:
        hint = f"{exc.hint}; {EXCLUDE_HINT}" if exc.hint not in (None, NAME_IT) else EXCLUDE_HINT
        raise InputError(f"--exclude {exc.message}", hint=hint) from None
    return frozenset(numbers), hashlib.sha256(data).hexdigest()
