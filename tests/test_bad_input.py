"""Issue 18: every input the fuzzer found is a clear error with exit 2 (a bad flag or argument)
or 3 (a bad file), never 70. Each case runs the real program in a process of its own (the last
ones call the scan of a file directly)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from smscli.csvfile import FIELD_LIMIT, LINE_LIMIT
from tests.conftest import Home, Outcome

DRY = ("--provider", "sandbox", "--dry-run")
BULK = ("-m", "Merhaba {ad}", *DRY)


def assert_no_bug(out: Outcome) -> None:
    assert "internal error" not in out.stderr
    assert "Traceback" not in out.stderr


# --- long fields --------------------------------------------------------------------------


def test_a_header_field_longer_than_csv_s_default_limit_is_read(proc: Any, home: Home) -> None:
    long = "n" * 140_000  # csv's default limit is 131,072
    (home.cwd / "f.csv").write_text(f"ad,telefon,{long}\nAli,05321112233,x\n", encoding="utf-8")
    out = proc("bulk", "f.csv", *BULK)
    assert out.exit_code == 0, out.stderr
    assert "Merhaba Ali" in out.stdout


def test_a_long_field_in_a_send_file_is_read(proc: Any, home: Home) -> None:
    note = "x" * 140_000
    (home.cwd / "f.csv").write_text(f"telefon,not\n05321112233,{note}\n", encoding="utf-8")
    out = proc("send", "-f", "f.csv", "-m", "Merhaba", *DRY)
    assert out.exit_code == 0, out.stderr
    assert "1 to send" in out.stdout


@pytest.mark.parametrize(
    ("command", "content", "line"),
    [
        (("bulk", "f.csv", *BULK), "ad,telefon,{big}\nAli,05321112233,x\n", 1),
        (("bulk", "f.csv", *BULK), "ad,telefon\nAli,05321112233\nVeli,{big}\n", 3),
        (("send", "-f", "f.csv", "-m", "hi", *DRY), "telefon,not\n1,2\n05321112233,{big}\n", 3),
        (("send", "-f", "f.csv", "-m", "hi", *DRY), "ad,telefon{big}\n", 1),
    ],
)
def test_a_field_longer_than_the_limit_names_its_line_and_the_limit(
    proc: Any, home: Home, command: tuple[str, ...], content: str, line: int
) -> None:
    big = "y" * (FIELD_LIMIT + 1)
    (home.cwd / "f.csv").write_text(content.format(big=big), encoding="utf-8")
    out = proc(*command)
    assert_no_bug(out)
    assert out.exit_code == 3
    assert f"f.csv line {line}: a field longer than {FIELD_LIMIT:,} characters" in out.stderr


def test_an_unclosed_quote_names_the_line_where_its_row_starts(proc: Any, home: Home) -> None:
    rows = "".join(f"A{i},0532{i:07d}\n" for i in range(FIELD_LIMIT // 10))
    content = 'ad,telefon\nAli,"05321112233\n' + rows
    (home.cwd / "f.csv").write_text(content, encoding="utf-8")
    out = proc("bulk", "f.csv", *BULK)
    assert out.exit_code == 3
    assert "f.csv line " in out.stderr
    assert "; its row starts on line 2 (a quote left open?)" in out.stderr


def test_a_line_longer_than_the_limit_is_an_error_not_memory(proc: Any, home: Home) -> None:
    many = ",a" * (LINE_LIMIT // 2 + 1)  # many short fields: no one field over the limit
    (home.cwd / "f.csv").write_text(f"ad,telefon\nAli,05321112233{many}\n", encoding="utf-8")
    out = proc("bulk", "f.csv", *BULK)
    assert out.exit_code == 3
    assert f"f.csv line 2: a line longer than {LINE_LIMIT:,} characters" in out.stderr


# --- CR-only line endings (old Mac) ---------------------------------------------------------


def test_cr_only_line_endings_are_line_endings_in_a_send_file(proc: Any, home: Home) -> None:
    (home.cwd / "f.csv").write_bytes(b"ad,telefon\rAli,05321112233\rVeli,0532\x81\x8d\r")
    out = proc("send", "-f", "f.csv", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert "f.csv line 3: byte 0x81 at offset 36 is neither UTF-8 nor Windows-1254" in out.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"ad,telefon\rAli,05321112233\rVeli,0532\x81\x8d\r", "line 3: byte 0x81 at offset 36"),
        (b"ad,telefon\r\rAli,05321112233\rVeli,0532\x00\r", "line 4: a NUL byte"),
    ],
)
def test_cr_only_line_endings_are_line_endings_in_bulk(
    proc: Any, home: Home, content: bytes, message: str
) -> None:
    (home.cwd / "f.csv").write_bytes(content)
    out = proc("bulk", "f.csv", *BULK)
    assert out.exit_code == 3
    assert f"f.csv {message}" in out.stderr


def test_a_cr_only_campaign_is_sent_row_by_row(proc: Any, home: Home) -> None:
    """(It was already, unlike the line numbers in errors: a guard.)"""
    (home.cwd / "f.csv").write_bytes(b"ad,telefon\rAli,05321112233\rVeli,05321112234\r")
    out = proc("bulk", "f.csv", *BULK, "--json")
    assert out.exit_code == 0, out.stderr
    assert "f.csv line 3" in out.stdout


# --- --encoding -----------------------------------------------------------------------------


NOT_FOR_FILES = [
    "base64", "rot13", "zip", "hex", "bz2", "quopri", "uu", "punycode", "idna",
    "unicode_escape", "raw_unicode_escape", "undefined", "nonesuch",
]  # fmt: skip
"""Byte transforms, codecs for other things than files, and no codec at all."""


@pytest.mark.parametrize("name", NOT_FOR_FILES)
def test_encoding_must_be_a_text_encoding_files_are_saved_in(
    proc: Any, home: Home, name: str
) -> None:
    (home.cwd / "f.csv").write_text("ad,telefon\nAli,05321112233\n", encoding="utf-8")
    out = proc("bulk", "f.csv", *BULK, "--encoding", name)
    assert_no_bug(out)
    assert out.exit_code == 2
    assert f"--encoding {name!r}" in out.stderr


@pytest.mark.parametrize("name", ["utf-16", "utf-32"])
def test_utf16_and_utf32_without_a_byte_order_mark(proc: Any, home: Home, name: str) -> None:
    data = "ad,telefon\nAli,05321112233\n".encode(f"{name}-le")
    (home.cwd / "f.csv").write_bytes(data)
    out = proc("bulk", "f.csv", *BULK, "--encoding", name)
    assert_no_bug(out)
    assert out.exit_code == 3
    assert f"f.csv: no byte order mark, which --encoding {name} needs" in out.stderr
    assert f"--encoding {name}-le" in out.stderr


@pytest.mark.parametrize("name", ["ascii", "utf-8", "utf-7"])
@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"\xffad,telefon\nAli,05321112233\n", "line 1: byte 0xff at offset 0"),
        (b"ad,telefon\nAli,05321112233\nVeli,\xff\n", "line 3: byte 0xff at offset 32"),
        (b"ad,telefon\r\nAli,05321112233\r\n" + b"V,0\n" * 5000 + b"\xff\n", "line 5003:"),
    ],
)
def test_undecodable_bytes_are_named_by_line_and_offset_whatever_the_encoding(
    proc: Any, home: Home, name: str, content: bytes, where: str
) -> None:
    (home.cwd / "f.csv").write_bytes(content)
    out = proc("bulk", "f.csv", *BULK, "--encoding", name)
    assert_no_bug(out)
    assert out.exit_code == 3
    assert f"f.csv {where}" in out.stderr
    assert f"not valid {name}" in out.stderr


def test_a_bad_utf16_surrogate_after_the_bom(proc: Any, home: Home) -> None:
    # a low surrogate (U+DC00) with no high one before it, on line 2
    data = (
        b"\xff\xfe" + "ad,telefon\nA".encode("utf-16-le") + b"\x00\xdc" + ",1\n".encode("utf-16-le")
    )
    (home.cwd / "f.csv").write_bytes(data)
    for command in (("bulk", "f.csv", *BULK), ("send", "-f", "f.csv", "-m", "hi", *DRY)):
        out = proc(*command)
        assert_no_bug(out)
        assert out.exit_code == 3
        assert "f.csv line 2: bytes 0x00 0xdc at offset 26 are not valid utf-16" in out.stderr


# --- arguments that are not text -----------------------------------------------------------


def run_bytes(home: Home, *args: bytes) -> Outcome:
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"smscli", *args],
        capture_output=True,
        cwd=home.cwd,
        env=home.env(),
        timeout=60,
        check=False,
    )
    return Outcome(
        done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )


D = tuple(a.encode() for a in DRY)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ((b"send", b"05321112233", b"-m", b"\xff", *D), "argument 4 (after -m)"),
        ((b"bulk", b"f.csv", b"-m", b"hi", b"--phone-column", b"\xff", *D),
         "argument 6 (after --phone-column)"),
        ((b"bulk", b"f.csv", b"-m", b"hi", b"--phone-column=Tel\xff", *D),
         "argument 5 (the value of --phone-column)"),
        ((b"history", b"show", b"\xff"), "argument 3"),
        ((b"report", b"--run", b"\xff", b"--provider", b"sandbox"), "argument 3 (after --run)"),
        ((b"send", b"0532\xfe", b"-m", b"hi", *D), "argument 2"),
    ],
)  # fmt: skip
def test_arguments_that_are_not_text_are_named(
    home: Home, args: tuple[bytes, ...], said: str
) -> None:
    (home.cwd / "f.csv").write_text("ad,telefon\nAli,05321112233\n", encoding="utf-8")
    out = run_bytes(home, *args)
    assert_no_bug(out)
    assert out.exit_code == 2
    assert f"error: {said} is not valid UTF-8 text" in out.stderr
    assert "iconv" in out.stderr


# --- where a file is read in chunks -----------------------------------------------------------


ROWS = "ad;tel\r\nŞü;1\r\r"  # CRLF, Turkish letters, CR-only
UTF16 = b"\xff\xfe" + "ad;tel\rŞü;1\n".encode("utf-16-le")


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
@pytest.mark.parametrize(
    ("data", "encoding", "message"),
    [
        (ROWS.encode("cp1254") + b"x;0\x81\r\n", None, "line 4: byte 0x81 at offset 17 is neither"),
        (
            ROWS.encode() + b"x;0\x81\r\n",
            "utf-8",
            "line 4: byte 0x81 at offset 19 is not valid utf-8",
        ),
        (ROWS.encode() + b"\x00;0532\r\n", None, "line 4: a NUL byte (0x00) at offset 16"),
        (UTF16 + b"\x00\xd8x\x00", None, "line 3: bytes 0x00 0xd8 at offset 26 are not valid"),
        (UTF16 + b"\x00\xd8x\x00", "utf-16", "line 3: bytes 0x00 0xd8 at offset 26 are not"),
    ],
)
def test_the_line_and_offset_do_not_depend_on_where_chunks_end(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, chunk: int, data: bytes,
    encoding: str | None, message: str,
) -> None:  # fmt: skip
    from smscli import csvfile
    from smscli.errors import InputError

    monkeypatch.setattr(csvfile, "_CHUNK", chunk)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(InputError, match=re.escape(f"f.csv {message}")):
        csvfile.scan(path, "f.csv", encoding)


# --- issue 16: templates that forgive ------------------------------------------------------

PEOPLE = "Ad;Telefon;Şehir\nAli;05321112233;İzmir\n  ;05321112234;\n"


def test_a_default_fills_an_empty_value_in_bulk(proc: Any, home: Home) -> None:
    (home.cwd / "f.csv").write_bytes(PEOPLE.encode("cp1254"))
    out = proc("bulk", "f.csv", "-m", "Merhaba {Ad|Değerli müşterimiz}, {Şehir|}", *DRY, "--json")
    assert out.exit_code == 0, out.stderr
    assert "Merhaba Ali, İzmir" in out.stdout
    assert "Merhaba Değerli müşterimiz, " in out.stdout


def test_without_a_default_an_empty_value_still_stops_bulk_naming_the_line(
    proc: Any, home: Home
) -> None:
    (home.cwd / "f.csv").write_bytes(PEOPLE.encode("cp1254"))
    out = proc("bulk", "f.csv", "-m", "Merhaba {Ad|müşterimiz}, {Şehir}", *DRY)
    assert_no_bug(out)
    assert out.exit_code == 3
    assert "f.csv line 3: {Şehir} is empty" in out.stderr
    assert "Merhaba" not in out.stdout


def test_a_placeholder_in_another_case_or_i_fills_from_its_column(proc: Any, home: Home) -> None:
    (home.cwd / "f.csv").write_text("İSİM,telefon\nAyşe,05321112233\n", encoding="utf-8")
    out = proc("bulk", "f.csv", "-m", "Merhaba {isim}", *DRY, "--json")
    assert out.exit_code == 0, out.stderr
    assert "Merhaba Ayşe" in out.stdout


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("Merhaba {sehir}", "unknown placeholder {sehir}\n  did you mean {Şehir}?"),
        ("Merhaba {Soyad}", "unknown placeholder {Soyad}\n  columns: Ad, Telefon, Şehir"),
        ("Merhaba {Ad|a{b}", "'{' at character 9 is not closed"),
    ],
)
def test_an_unknown_placeholder_in_bulk_suggests_columns(
    proc: Any, home: Home, template: str, said: str
) -> None:
    (home.cwd / "f.csv").write_bytes(PEOPLE.encode("cp1254"))
    out = proc("bulk", "f.csv", "-m", template, *DRY)
    assert_no_bug(out)
    assert out.exit_code == 3
    assert said in out.stderr


def test_a_placeholder_matching_two_columns_stops_bulk(proc: Any, home: Home) -> None:
    (home.cwd / "f.csv").write_text("ad,AD,telefon\nAli,Veli,05321112233\n", encoding="utf-8")
    out = proc("bulk", "f.csv", "-m", "Merhaba {Ad}", *DRY)
    assert_no_bug(out)
    assert out.exit_code == 3
    assert "placeholder {Ad} matches more than one column: ad, AD" in out.stderr


# --- issue 16: a wrong --encoding, wherever the file is decoded -------------------------------


@pytest.mark.parametrize("wrong", ["utf-8", "ascii", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("failed_csv", [False, True])
def test_no_wrong_encoding_of_a_windows_1254_file_is_an_internal_error(
    proc: Any, home: Home, wrong: str, failed_csv: bool
) -> None:
    text = "ad;telefon\nAyşe;05321112233\nÇağrı;12\n" * 3
    (home.cwd / "borclar.csv").write_bytes(text.encode("cp1254"))
    extra = ("--failed-csv", "bad.csv") if failed_csv else ()
    out = proc("bulk", "borclar.csv", *BULK, "--encoding", wrong, *extra)
    assert_no_bug(out)
    assert out.exit_code == 3
    assert out.stderr.startswith("error: borclar.csv")
    assert "--encoding" in out.stderr  # the hint: which one, or to leave it out
