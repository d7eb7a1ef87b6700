"""The fuzzer of issue 18: whatever bytes a CSV holds, whatever ``--encoding`` names and
whatever bytes the arguments are, smscli answers with an exit code of the contract (0-8) and a
message: never a traceback, an "internal error" or a hang.

Bounded to seconds: the files go through typer's runner in this process (``--dry-run``, the
sandbox provider: no network), the argument bytes through a few real processes (only a real
``argv`` carries bytes that are not UTF-8). ``derandomize`` makes every CI run try the same
inputs."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from smscli.csvfile import FIELD_LIMIT
from tests.conftest import Home, Outcome
from tests.test_bad_input import NOT_FOR_FILES

CALL_SECONDS = 20
"""The most one call may take: beyond it the call hangs (a dry run of a small file takes
tens of milliseconds)."""

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NAMES = st.one_of(st.sampled_from(["Ali", "Şükrü Öztürk", "Ayşe Yılmaz", ""]), st.text(max_size=8))
PHONES = st.sampled_from(["05321112233", "+90 533 444 55 66", "5321112234", "0532 111 22 35", "12"])
ODD = st.sampled_from(
    [
        '"',
        '"a,b;c"',
        '""',
        " ",
        "{ad}",
        "#",
        "\x00",
        "\ufeff",
        "\u2028",
        "\x85",
        "\r",
        "x" * 140_000,  # over csv's default field limit (131,072)
        "y" * (FIELD_LIMIT + 1),  # over ours
        '"' + "z" * (FIELD_LIMIT + 1),  # a quote left open that swallows the rest
    ]
)
FIELDS = st.one_of(NAMES, PHONES, ODD)
ROWS = st.one_of(
    st.tuples(NAMES, PHONES).map(list),  # as the header says, most of the time
    st.tuples(NAMES, PHONES).map(list),
    st.lists(FIELDS, max_size=4),
)
HEADERS = st.one_of(
    st.just("ad{}telefon"),
    st.sampled_from(
        [
            "Ad Soyad{}Telefon{}Tutar",
            "telefon",
            "phone{}name",
            "",
            "ad{}ad",
            "a{}{}b",
            "# yorum\nad{}telefon",
            "\nad{}telefon",
        ]
    ),
    st.lists(FIELDS, max_size=3).map("{}".join),
)
CODECS = ["utf-8", "utf-8-sig", "cp1254", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-7"]
ENCODINGS = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from([*CODECS, "ascii", "latin-1", "utf-32-be", "cp037", "iso2022_jp", "hz"]),
    st.sampled_from([*NOT_FOR_FILES, "charmap", ""]),
    st.text(max_size=10),
)
JUNK = st.one_of(
    st.sampled_from([b"\xff", b"\x81", b"\x00", b"\xd8\x00", b"\x00\xdc", b"+\xff", b"\r"]),
    st.binary(min_size=1, max_size=4),
)


class File:
    """A file's bytes, shown short: a failing example with a 140 kB field stays readable."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        if len(self.data) <= 400:
            return f"File({self.data!r})"
        return f"File({self.data[:300]!r} + ... ({len(self.data):,} bytes) + {self.data[-60:]!r})"


@st.composite
def csv_files(draw: st.DrawFn) -> File:
    """A spreadsheet as people (and programs gone wrong) save one: a header and rows, any
    line ending, any of the usual encodings with or without a BOM, sometimes with raw bytes
    spliced in."""
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(HEADERS).replace("{}", sep).replace("\n", eol)
    rows = draw(st.lists(ROWS.map(sep.join), max_size=5))
    text = eol.join([header, *rows]) + draw(st.sampled_from(["", eol, eol * 2]))
    data = text.encode(draw(st.sampled_from(CODECS)), errors="replace")
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(JUNK) + data[at:]
    return File(data)


class Hang(BaseException):
    """A call took longer than :data:`CALL_SECONDS` (a BaseException, so that the command's
    error edge lets it through)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds} s")

    before = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def assert_clean(out: Outcome, what: object) -> None:
    event(f"exit {out.exit_code}")  # pytest --hypothesis-show-statistics: what was reached
    said = out.stdout + out.stderr
    assert 0 <= out.exit_code <= 8, f"exit {out.exit_code} for {what!r}: {said[-2000:]}"
    assert "Traceback" not in said, what
    assert "internal error" not in said, what


DRY = ("--provider", "sandbox", "--dry-run")


@settings(FUZZ, max_examples=400)
@given(
    file=csv_files(),
    encoding=ENCODINGS,
    template=st.sampled_from(["Merhaba", "Merhaba {ad}", "{telefon} {Tutar}", "{", "{}"]),
    phone_column=st.sampled_from([None, None, None, "telefon", "Telefon", "yok"]),
)
def test_bulk_reads_any_file_with_any_encoding(
    cli: Any,
    home: Home,
    file: File,
    encoding: str | None,
    template: str,
    phone_column: str | None,
) -> None:
    (home.cwd / "in.csv").write_bytes(file.data)
    args = ["bulk", "in.csv", "-m", template, *DRY]
    if encoding is not None:
        args += ["--encoding", encoding]
    if phone_column is not None:
        args += ["--phone-column", phone_column]
    with time_limit(CALL_SECONDS):
        assert_clean(cli(*args), (file, encoding))


@settings(FUZZ, max_examples=250)
@given(file=csv_files())
def test_send_reads_any_file(cli: Any, home: Home, file: File) -> None:
    (home.cwd / "in.csv").write_bytes(file.data)
    with time_limit(CALL_SECONDS):
        assert_clean(cli("send", "-f", "in.csv", "-m", "Merhaba", *DRY), file)


ARGV_BYTES = st.one_of(
    st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3", b"a\x81b", b"\xed\xa0\x80", b"-\xff"]),
    st.binary(min_size=1, max_size=6).filter(lambda b: b"\x00" not in b),
)
COMMANDS = [
    [b"send", b"05321112233", b"-m", b"?", *(a.encode() for a in DRY)],
    [b"send", b"?", b"-m", b"hi", *(a.encode() for a in DRY)],
    [b"send", b"05321112233", b"-m", b"hi", b"--sender", b"?", *(a.encode() for a in DRY)],
    [b"bulk", b"in.csv", b"-m", b"hi", b"--phone-column", b"?", *(a.encode() for a in DRY)],
    [b"bulk", b"in.csv", b"-m", b"hi", b"--encoding=?", *(a.encode() for a in DRY)],
    [b"bulk", b"?", b"-m", b"hi", *(a.encode() for a in DRY)],
    [b"history", b"show", b"?"],
    [b"report", b"--run", b"?", b"--provider", b"sandbox"],
    [b"?"],
]


@settings(FUZZ, max_examples=30)
@given(command=st.sampled_from(COMMANDS), junk=ARGV_BYTES)
def test_any_argument_bytes(home: Home, command: list[bytes], junk: bytes) -> None:
    (home.cwd / "in.csv").write_bytes(b"ad,telefon\nAli,05321112233\n")
    argv = [a.replace(b"?", junk) for a in command]
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"smscli", *argv],
        capture_output=True,
        cwd=home.cwd,
        env=home.env(),
        timeout=CALL_SECONDS,
        check=False,
    )
    out = Outcome(
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )
    assert_clean(out, argv)
