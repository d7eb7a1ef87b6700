"""Issue 16: spreadsheets as people have them. ``bulk`` and ``send --file`` read .xlsx and .ods
directly (written here by hand, tests/xlsx.py), known by their first bytes whatever their
name; cells read as a person means them; rows named by their row (and sheet)."""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path
from typing import Any

import pytest

from smscli.columns import Detected
from tests.conftest import Home
from tests.test_detection import detected
from tests.xlsx import Error, Formula, Raw, Rich, Styled, write_ods, write_xlsx

DRY = ("--provider", "sandbox", "--dry-run")
WRITERS = {"xlsx": write_xlsx, "ods": write_ods}
ROWS = [
    ["ad", "Ev Telefonu", "Cep Telefonu", "tutar", "son gün"],
    ["Ayşe", 2121112233.0, 5321234567.0, 1250.0, datetime.date(2024, 5, 1)],
    [None, None, None, None, None],
    ["Ali", None, "0532 111 22 34", 99.5, datetime.date(2024, 6, 30)],
]


@pytest.fixture(params=sorted(WRITERS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def write(home: Home, name: str, kind: str, sheets: dict[str, list[list[Any]]]) -> Path:
    return WRITERS[kind](home.cwd / name, sheets)


def test_a_spreadsheet_is_read_as_a_person_reads_it(proc: Any, home: Home, kind: str) -> None:
    write(home, f"liste.{kind}", kind, {"Liste": ROWS})
    out = proc("bulk", f"liste.{kind}", "-m", "Sayın {ad}, {tutar} TL, son gün {son gün}", *DRY)
    assert out.exit_code == 0, out.stderr
    assert "Sayın Ayşe, 1250 TL, son gün 2024-05-01" in out.stdout
    assert "Sayın Ali, 99.5 TL, son gün 2024-06-30" in out.stdout
    assert f"liste.{kind} row 2 → +905321234567" in out.stdout  # the leading 0 Excel dropped
    assert f"liste.{kind} row 4 → +905321112234" in out.stdout
    assert "a NUL byte" not in out.stderr
    want = Detected(kind, None, "Cep Telefonu", ("Ev Telefonu",), "Liste")
    assert detected(home, f"liste.{kind}") == want


def test_an_xlsx_named_csv_is_read_by_its_content(proc: Any, home: Home) -> None:
    write(home, "liste.csv", "xlsx", {"Liste": ROWS})
    out = proc("bulk", "liste.csv", "-m", "Sayın {ad}", *DRY)
    assert out.exit_code == 0, out.stderr
    assert "Sayın Ayşe" in out.stdout


def test_scientific_notation_is_an_invalid_row_that_says_why(
    proc: Any, home: Home, kind: str
) -> None:
    rows = [["ad", "telefon"], ["Ayşe", "5.32123E+09"], ["Ali", 5321112234.0]]
    write(home, f"l.{kind}", kind, {"S": rows})
    out = proc("bulk", f"l.{kind}", "-m", "Merhaba {ad}", *DRY)
    assert out.exit_code == 3
    assert "Excel wrote this number in scientific notation and lost digits" in out.stdout
    assert "format the column as Text" in out.stdout


def test_scientific_notation_in_a_csv_says_why_too(proc: Any, home: Home) -> None:
    (home.cwd / "f.csv").write_text("ad;telefon\nAli;5,32123E+09\n", encoding="utf-8")
    out = proc("bulk", "f.csv", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert "scientific notation and lost digits" in out.stdout


def test_sheet_chooses_a_sheet_and_names_it_in_rows(proc: Any, home: Home, kind: str) -> None:
    sheets = {"Liste": ROWS, "Ekim": [[None], ["ad", "gsm"], ["Veli", "05321112299"]]}
    write(home, f"l.{kind}", kind, sheets)
    out = proc("bulk", f"l.{kind}", "-m", "Merhaba {ad}", "--sheet", "Ekim", *DRY)
    assert out.exit_code == 0, out.stderr
    assert f"l.{kind} Ekim!row 3 → +905321112299" in out.stdout
    assert "Ayşe" not in out.stdout
    found = detected(home, f"l.{kind}", sheet="Ekim")
    assert found is not None and (found.sheet, found.given) == ("Ekim", frozenset({"sheet"}))


def test_an_unknown_sheet_lists_the_sheets(proc: Any, home: Home, kind: str) -> None:
    write(home, f"l.{kind}", kind, {"Liste": ROWS, "Ekim": ROWS})
    for command in (
        ("bulk", f"l.{kind}", "-m", "hi", "--sheet", "Kasım", *DRY),
        ("send", "-f", f"l.{kind}", "-m", "hi", "--sheet", "Kasım", *DRY),
    ):
        out = proc(*command)
        assert out.exit_code == 3
        assert f"l.{kind}: no sheet 'Kasım'; its sheets: Liste, Ekim" in out.stderr


def test_send_file_reads_a_spreadsheet(proc: Any, home: Home, kind: str) -> None:
    write(home, f"n.{kind}", kind, {"Numaralar": ROWS})
    out = proc("send", "-f", f"n.{kind}", "-m", "hi", *DRY, "--json")
    assert out.exit_code == 0, out.stderr
    assert "+905321234567" in out.stdout and "+905321112234" in out.stdout
    assert "+902121112233" not in out.stdout


def test_send_file_reads_a_column_of_numbers_without_a_header(proc: Any, home: Home) -> None:
    write(home, "n.xlsx", "xlsx", {"S": [[5321112233.0], [5321112234.0]]})
    out = proc("send", "-f", "n.xlsx", "-m", "hi", *DRY, "--json")
    assert out.exit_code == 0, out.stderr
    assert "+905321112233" in out.stdout and "+905321112234" in out.stdout


def test_flags_of_the_other_kind_of_file_are_refused(proc: Any, home: Home) -> None:
    write(home, "l.xlsx", "xlsx", {"S": ROWS})
    (home.cwd / "f.csv").write_text("ad;telefon\nAli;05321112233\n", encoding="utf-8")
    for args, said in (
        (("l.xlsx", "--delimiter", ";"), "--delimiter: l.xlsx is a spreadsheet"),
        (("l.xlsx", "--encoding", "cp1254"), "--encoding: l.xlsx is a spreadsheet"),
        (("f.csv", "--sheet", "S"), "--sheet 'S': f.csv is not a spreadsheet"),
    ):
        out = proc("bulk", *args, "-m", "hi", *DRY)
        assert out.exit_code == 2, out.stderr
        assert said in out.stderr


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"PK\x03\x04" + b"\x00" * 40, "l.xlsx is a damaged zip file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "l.xlsx cannot be read as a spread"),
    ],
)
def test_a_damaged_spreadsheet_is_bad_input_not_a_nul_byte(
    proc: Any, home: Home, content: bytes, said: str
) -> None:
    (home.cwd / "l.xlsx").write_bytes(content)
    out = proc("bulk", "l.xlsx", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert said in out.stderr
    assert "NUL byte" not in out.stderr and "internal error" not in out.stderr


def test_a_zip_that_is_no_spreadsheet_says_so(proc: Any, home: Home) -> None:
    import zipfile

    with zipfile.ZipFile(home.cwd / "l.csv", "w") as z:
        z.writestr("liste.csv", "ad;telefon\n")
    out = proc("bulk", "l.csv", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert "l.csv is a zip file, but not a spreadsheet" in out.stderr


def test_header_problems_name_the_row(proc: Any, home: Home) -> None:
    write(home, "l.xlsx", "xlsx", {"S": [[None], ["ad", "telefon", "ad"], ["A", "0532", "B"]]})
    out = proc("bulk", "l.xlsx", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert "l.xlsx row 2: column 'ad' appears twice" in out.stderr


def test_a_value_beyond_the_header_names_its_row(proc: Any, home: Home) -> None:
    rows = [["ad", "telefon"], ["A", "05321112233"], ["B", "05321112234", "?"]]
    write(home, "l.xlsx", "xlsx", {"S": rows})
    out = proc("bulk", "l.xlsx", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert "l.xlsx row 3: a value in column 3, which has no name" in out.stderr


def test_failed_csv_of_a_spreadsheet_is_a_utf8_csv(proc: Any, home: Home) -> None:
    rows = [["ad", "telefon"], ["Şule", "12"], ["Ali", "05321112233"]]
    write(home, "l.xlsx", "xlsx", {"S": rows})
    out = proc("bulk", "l.xlsx", "-m", "hi {ad}", "--provider", "sandbox", "--yes",
               "--failed-csv", "bad.csv")  # fmt: skip
    assert out.exit_code == 1, out.stderr  # partial: one invalid row
    written = (home.cwd / "bad.csv").read_text(encoding="utf-8-sig")
    assert written.splitlines()[0] == "ad,telefon,error"
    assert written.splitlines()[1].startswith("Şule,12,invalid")


@pytest.mark.parametrize("name", ["f.csv", "l.xlsx"])
def test_reading_a_csv_or_an_xlsx_imports_no_calamine(home: Home, name: str) -> None:
    import subprocess
    import sys

    (home.cwd / "f.csv").write_text("ad;telefon\nAli;05321112233\n", encoding="utf-8")
    write_xlsx(home.cwd / "l.xlsx", {"S": ROWS})
    code = (
        "import sys; from smscli.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'python_calamine' not in sys.modules, 'calamine imported'\n"
    )
    args = ["bulk", name, "-m", "hi", *DRY]
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=home.cwd, env=home.env(), capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


# The .xlsx reader (smscli/xlsx.py) against python-calamine on the same files.

DATES = [
    [datetime.date(2024, 5, 1), datetime.datetime(2024, 5, 1, 12, 30), datetime.time(6, 0)],
    [Styled(1.0, 14), Styled(59.0, 14), Styled(60.0, 14), Styled(61.0, 14), Styled(0.0, 14)],
    [Styled(45000.123456789, 22), Styled(0.99999999, 21), Styled(-0.25, 21), Styled(1.5, 46)],
    [Styled(45000.25, "dd.mm.yyyy hh:mm"), Styled(3.5, "[h]:mm"), Styled(45000.0, '"d"0')],
    [Styled(45000.0, "General"), Styled(45000.0, "[Red]0.00"), Styled(45000.0, "0;[Red]d")],
    [Styled(75.5, 45), Styled(0.5, 47), Styled(1e300, 14), Styled(2958466.0, 14)],
]
_ = None
GAPS = [[], [_, _], [_, "ad", _, "tel"], [], [_, "A", _, _, _, "z"], [_, 1]]
ODD = [("A", " 12 "), ("B", "1e5"), ("C", "abc"), ("D", "-0"), ("E", "1_0")]
CASES: dict[str, tuple[list[list[Any]], dict[str, Any]]] = {
    "shared strings and types": (
        [["ad", "tel", "x"], ["Ayşe", 5321234567.0, True], ["Ali", 2, False], ["", 0.1, "&<>"]],
        {},
    ),
    "inline strings": ([["ad", "tel"], ["Ayşe", "0532"], [" boşluk ", ""]], {"strings": "inline"}),
    "errors and formula text": ([[Error("#N/A"), Formula("a&b"), Error("#DIV/0!")]], {}),
    "dates": (DATES, {}),
    "1904 dates": (
        [[datetime.date(2024, 5, 1), Styled(0.5, 14), Styled(1.0, 14)]],
        {"date1904": True},
    ),
    "gaps": (GAPS, {}),
    "an empty string makes a column": ([[None, None, "a"], [None, ""]], {}),
    "an error makes a column": ([[None, None, "a"], [None, Error("#N/A")]], {}),
    "an empty cell does not": (
        [[Raw('<c r="A1" s="0"/>'), "a"], [Raw('<c r="A2" t="s"><v/></c>')]],
        {},
    ),
    "rich text": ([[Rich(("Ay", "şe")), Rich(("a",), phonetic="エー")]], {}),
    "no references": ([["a", None, "b"], [None, None, None, 3.0], ["x"]], {"refs": False}),
    "absolute targets": ([["ad"], ["Ali"]], {"absolute": True}),
    "strict namespaces": (
        [["ad", "tel"], ["Ali", 5321234567.0], [datetime.date(2024, 5, 1)]],
        {"strict": True},
    ),
    "odd numbers": ([[Raw(f'<c r="{c}1"><v>{v}</v></c>') for c, v in ODD]], {}),
}


def trimmed(rows: Any) -> list[list[Any]]:
    """Without trailing empty cells and rows: calamine pads rows to the widest (see xlsx.py)."""
    out = [list(r) for r in rows]
    for r in out:
        while r and r[-1] == "":
            r.pop()
    while out and not out[-1]:
        out.pop()
    return out


def both(path: Path, sheet: str) -> tuple[list[list[Any]], list[list[Any]]]:
    import python_calamine

    from smscli.xlsx import Book

    with python_calamine.CalamineWorkbook.from_path(str(path)) as book:
        want = trimmed(book.get_sheet_by_name(sheet).iter_rows())
    streamed = Book.open(path)
    with streamed.zf:
        got = trimmed(streamed.rows(next(s for s in streamed.sheets if s.name == sheet)))
    return want, got


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_xlsx_reader_yields_what_calamine_yields(tmp_path: Path, case: str) -> None:
    rows, options = CASES[case]
    path = write_xlsx(tmp_path / "l.xlsx", {"Gizli": [["x"]], "S": rows}, **options)
    want, got = both(path, "S")
    assert got == want
    assert want  # not both empty by accident


def test_a_hidden_first_sheet_is_passed_over(proc: Any, home: Home) -> None:
    sheets = {"Gizli": [["ad", "gsm"], ["Gül", "05321112200"]], "Liste": ROWS}
    write_xlsx(home.cwd / "l.xlsx", sheets, hidden={"Gizli": "veryHidden"}, absolute=True)
    out = proc("bulk", "l.xlsx", "-m", "Sayın {ad}", *DRY)
    assert out.exit_code == 0, out.stderr
    assert "Sayın Ayşe" in out.stdout and "Gül" not in out.stdout
    assert "l.xlsx Liste!row 2 → +905321234567" in out.stdout


def test_a_table_that_starts_in_b2_is_read_with_its_row_numbers(proc: Any, home: Home) -> None:
    rows = [
        [],
        [None, "ad", "telefon"],
        [None, "Ali", 5321112234.0],
        [],
        [None, "Veli", "0532 111 22 35"],
    ]
    write_xlsx(home.cwd / "l.xlsx", {"S": rows})
    out = proc("bulk", "l.xlsx", "-m", "Merhaba {ad}", *DRY)
    assert out.exit_code == 0, out.stderr
    assert "l.xlsx row 3 → +905321112234" in out.stdout
    assert "l.xlsx row 5 → +905321112235" in out.stdout


def _rezip(path: Path, part: str, change: Any) -> None:
    """The .xlsx at ``path`` with one part's bytes changed."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    parts[part] = change(parts[part])
    with zipfile.ZipFile(path, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)


BOMB = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'


@pytest.mark.parametrize(
    ("part", "change", "said"),
    [
        ("xl/worksheets/sheet1.xml", lambda b: b[: len(b) // 2],
         "xl/worksheets/sheet1.xml: no element found: line 1, column"),
        ("xl/sharedStrings.xml", lambda b: BOMB + b[b.index(b"<sst"):].replace(b"Ali", b"&b;"),
         "xl/sharedStrings.xml: a DOCTYPE, which no spreadsheet has"),
        ("xl/worksheets/sheet1.xml", lambda b: b.replace(b'B2" t="s"><v>3', b'B2" t="s"><v>99'),
         "cell B2: no shared string 99"),
        ("xl/worksheets/sheet1.xml", lambda b: b.replace(b'B2" t="s"', b'B2" t="q"'),
         "cell B2: unknown cell type \'q\'"),
    ],
)  # fmt: skip
def test_a_damaged_xlsx_says_what_is_wrong_and_where(
    proc: Any, home: Home, part: str, change: Any, said: str
) -> None:
    rows = [["ad", "telefon"], ["Ali", "05321112234"], ["Veli", "05321112235"]]
    path = write_xlsx(home.cwd / "l.xlsx", {"S": rows})
    _rezip(path, part, change)
    out = proc("bulk", "l.xlsx", "-m", "hi", *DRY)
    assert out.exit_code == 3, out.stderr
    assert "l.xlsx cannot be read as a spreadsheet: " in out.stderr
    assert said in out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr


def test_shared_strings_over_the_cap_are_refused(
    cli: Any, home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smscli.xlsx

    monkeypatch.setattr(smscli.xlsx, "MAX_STRINGS", 1000)
    rows = [["ad", "telefon"], *([f"Kişi {i}", "05321112234"] for i in range(100))]
    write_xlsx(home.cwd / "l.xlsx", {"S": rows})
    out = cli("bulk", "l.xlsx", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert "l.xlsx cannot be read as a spreadsheet: " in out.stderr
    assert "the shared strings take over 0.000953674 MB" in out.stderr


def _traced(path: Path, read: bool) -> tuple[int, Any]:
    """Bytes traced while the .xlsx is opened (and its first sheet read): the peak after
    reading, what is kept after opening; and the book."""
    import tracemalloc

    from smscli.xlsx import Book

    tracemalloc.start()
    try:
        book = Book.open(path)
        with book.zf:
            if not read:
                return tracemalloc.get_traced_memory()[0], book
            assert sum(1 for _ in book.rows(book.sheets[0])) > 1
            return tracemalloc.get_traced_memory()[1], book
    finally:
        tracemalloc.stop()


def test_reading_an_xlsx_takes_memory_that_does_not_grow_with_its_rows(tmp_path: Path) -> None:
    """Shared strings (names, as Excel saves them) and numbers: 4× the rows, not 4× the
    peak (each row kept instead of dropped: 18 MB, then 74 MB)."""
    names = ("Ayşe", "Mehmet", "Fatma", "Ali", "Zeynep", "Mustafa", "Elif", "Emre")

    def sheet(n: int) -> Any:
        yield ["telefon", "ad", "kod"]
        yield from ([5320000000.0 + i, names[i % 8], float(100000 + i)] for i in range(n))

    small, _ = _traced(write_xlsx(tmp_path / "s.xlsx", {"S": sheet(10_000)}), read=True)
    big, _ = _traced(write_xlsx(tmp_path / "b.xlsx", {"S": sheet(40_000)}), read=True)
    assert big < small * 1.5 + 256 * 1024, (small, big)


def test_shared_strings_are_kept_compactly(tmp_path: Path) -> None:
    """100,000 distinct strings of 12 characters: about 16 bytes each, where a list of str
    takes some 60 (and calamine's ``String``s more)."""
    rows = [[f"Kişi {i:07d}"] for i in range(100_000)]
    kept, book = _traced(write_xlsx(tmp_path / "l.xlsx", {"S": rows}), read=False)
    assert len(book.strings) == 100_000 and book.strings[12_345] == "Kişi 0012345"
    assert kept < 100_000 * 24, kept


# The fast path (smscli/xlsx_rows.py: a regex over the sheet's XML) against calamine too, on
# the shapes it reads and those it leaves to iterparse, mid-sheet as well.

WS = "\n  "
KEPT = '<t xml:space="preserve">'  # calamine trims the text of a <t> without it; iterparse does not
FAST: dict[str, tuple[list[Any], dict[str, Any]]] = {
    "entities": (
        [
            ["a&b <c> \"d\" 'e'", Formula("<&>"), Raw('<c r="C1" t="str"><v>&quot;&apos;</v></c>')],
            [Raw('<c r="A2" t="inlineStr"><is><t>x &amp;amp; y&gt;</t></is></c>')],
            [Raw('<c r="A3" t="str"><v>&#65;&#x42;</v></c>'), "after a character reference"],
        ],
        {},
    ),
    "formulas with cached values": (
        [
            [Raw('<c r="A1"><f>SUM(B1:C1)</f><v>3</v></c>'), 1.0, 2.0],
            [Raw('<c r="A2"><f t="shared" ref="A2:A3" si="0">B2*2</f><v>4</v></c>'), 2.0],
            [Raw('<c r="A3"><f t="shared" si="0"/><v>6</v></c>'), 3.0],
            [Raw('<c r="A4" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>')],
            [Raw('<c r="A5" t="b"><f>TRUE()</f><v>1</v></c>'), Raw('<c r="B5"><f>NOW()</f></c>')],
            [Raw('<c r="A6" t="e"><f>1/0</f><v>#DIV/0!</v></c>'), "x"],
            [Raw('<c r="A7" t="str"><f>""</f><v></v></c>'), Raw('<c r="B7" t="str"><v/></c>')],
        ],
        {},
    ),
    "whitespace between tags": (
        [
            [
                Raw(f'{WS}<c r="A1"{WS}>{WS}<v>1</v>{WS}</c>'),
                Raw('\r\n<c r="B1" t="str"><v> a </v></c>'),
            ],
            [Raw(f'<c r="A2" t="inlineStr">{WS}<is>{WS}{KEPT} b </t>{WS}</is>{WS}</c>{WS}')],
            Raw(f'{WS}<row r="3"{WS}spans="1:2">{WS}<c r="A3"><v>3</v></c>{WS}</row>{WS}'),
        ],
        {},
    ),
    "attributes in another order, single quotes": (
        [
            [Raw('<c s="0" r="A1"><v>1</v></c>'), Raw("<c r='B1' t='str'><v>x</v></c>")],
            [Raw('<c t="str" r="A2"><v>y</v></c>'), Raw('<c r="B2" t="str" s="0"><v>z</v></c>')],
            Raw("<row r='3'><c r='A3'><v>3</v></c></row>"),
            Raw('<row spans="1:1" r="4"><c r="A4"><v>4</v></c></row>'),
        ],
        {},
    ),
    "rows as Excel writes them": (
        [
            Raw('<row r="1" spans="1:2" ht="20" customHeight="1"><c r="A1"><v>1</v></c></row>'),
            Raw('<row r="2" spans="1:2" ht="20" customHeight="1"/>'),
            Raw(
                '<row r="3" hidden="1"><c r="A3" s="0"/><c r="B3"></c><c r="C3"><v>3</v></c></row>'
            ),
            Raw("<row><c><v>4</v></c></row>"),
        ],
        {},
    ),
    "a comment, after rows the fast path read": (
        [*([float(i), f"n{i % 3}"] for i in range(300)), Raw("<!-- a comment --><row/>"), ["z"]],
        {},
    ),
    "rich inline text, after rows the fast path read": (
        [
            *([float(i), "n"] for i in range(300)),
            [Raw('<c r="A301" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r></is></c>')],
            ["after it"],
        ],
        {},
    ),
}
MODES = ("fast", "tiny chunks", "iterparse")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How the .xlsx reader reads: its fast path in 1 MB chunks or in 5-byte ones (every
    value split between chunks somewhere), or iterparse only."""
    import smscli.xlsx_rows

    if request.param == "tiny chunks":
        monkeypatch.setattr(smscli.xlsx_rows, "CHUNK", 5)
    if request.param == "iterparse":

        def none(*_: Any) -> Any:
            raise smscli.xlsx_rows.Fallback
            yield

        monkeypatch.setattr(smscli.xlsx_rows, "cells", none)
    return str(request.param)


@pytest.mark.parametrize("case", sorted(CASES) + sorted(FAST))
def test_the_xlsx_reader_yields_what_calamine_yields_whichever_path(
    tmp_path: Path, case: str, mode: str
) -> None:
    rows, options = CASES[case] if case in CASES else FAST[case]
    path = write_xlsx(tmp_path / "l.xlsx", {"Gizli": [["x"]], "S": rows}, **options)
    want, got = both(path, "S")
    assert got == want
    assert want


def _fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows the fast path yielded before each time it fell back to iterparse."""
    import smscli.xlsx_rows

    fell: list[int] = []
    fast = smscli.xlsx_rows.cells

    def counted(*args: Any) -> Any:
        n = 0
        try:
            for row in fast(*args):
                yield row
                n += 1
        except smscli.xlsx_rows.Fallback:
            fell.append(n)
            raise

    monkeypatch.setattr(smscli.xlsx_rows, "cells", counted)
    return fell


@pytest.mark.parametrize(
    ("case", "falls_back"),
    [*((c, False) for c in sorted(CASES)), ("formulas with cached values", False),
     ("whitespace between tags", False), ("rows as Excel writes them", False),
     ("entities", True), ("a comment, after rows the fast path read", True),
     ("rich inline text, after rows the fast path read", True)],
)  # fmt: skip
def test_the_fast_path_reads_what_excel_writes_and_leaves_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, falls_back: bool
) -> None:
    fell = _fallbacks(monkeypatch)
    rows, options = CASES[case] if case in CASES else FAST[case]
    want, got = both(write_xlsx(tmp_path / "l.xlsx", {"S": rows}, **options), "S")
    assert got == want
    assert bool(fell) == falls_back, fell
    if "after rows" in case:
        assert fell[-1] >= 299  # then iterparse, from the row it stopped at


def _outcome(path: Path) -> tuple[list[list[Any]], str]:
    """The rows read until an error, and the error."""
    from smscli.xlsx import Book, XlsxError

    rows: list[list[Any]] = []
    try:
        book = Book.open(path)
        with book.zf:
            rows.extend(book.rows(book.sheets[0]))
    except XlsxError as exc:
        return rows, str(exc)
    return rows, ""


DAMAGE = [
    ("a duplicate attribute", b'<row r="3"', b'<row r="3" ht="1" ht="2"'),
    ("an unbound prefix", b'<row r="3"', b'<row r="3" x14ac:dyDescent="0.25"'),
    ("an undefined entity", b"<v>1", b"<v>&bogus;1"),
    ("a control character", b"<v>1", b"<v>\x011"),
    ("]]> in text", b'<c r="A3"><v>', b'<c r="A3" t="str"><v>a]]>b'),
    ("a row number going back", b'<row r="3"', b'<row r="1"'),
    ("rows after the sheet's data", b"</sheetData>", b'</sheetData><row r="9"/>'),
    ("a cell outside a row", b'<row r="3">', b'<c r="Z9"><v>1</v></c><row r="3">'),
    ("garbage between rows", b'<row r="3"', b'x<row r="3"'),
    ("a row not ended", b"</row></sheetData>", b"</sheetData>"),
    ("no shared string", b'<c r="B3" t="s"><v>', b'<c r="B3" t="s"><v>9'),
    ("latin-1", b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
]


@pytest.mark.parametrize(("damage", "old", "new"), DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_damaged_sheet_reads_alike_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, old: bytes, new: bytes
) -> None:
    """The rows before the error and the error, or the rows: as iterparse reads them."""
    import smscli.xlsx_rows

    rows = [["ad", "tel"], [1.0, 2.0], ["Ali", 3.0], [4.0, 5.0]]
    path = write_xlsx(tmp_path / "l.xlsx", {"S": rows})
    _rezip(path, "xl/worksheets/sheet1.xml", lambda b: b.replace(old, new, 1))
    fast = _outcome(path)

    def none(*_: Any) -> Any:
        raise smscli.xlsx_rows.Fallback
        yield

    monkeypatch.setattr(smscli.xlsx_rows, "cells", none)
    assert fast == _outcome(path)


def test_a_sheet_cut_anywhere_reads_alike_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smscli.xlsx_rows

    rows = [["ad", "tel"], [1.0, Formula("x")], [], ["Ali", Error("#N/A")], [4.0, 5.0]]
    path = write_xlsx(tmp_path / "l.xlsx", {"S": rows})
    with zipfile.ZipFile(path) as z:
        whole = z.read("xl/worksheets/sheet1.xml")
    start = whole.index(b"<sheetData")
    fast: list[Any] = []
    for cut in range(start, len(whole), 3):
        _rezip(path, "xl/worksheets/sheet1.xml", lambda b, cut=cut: whole[:cut])
        fast.append(_outcome(path))
    monkeypatch.setattr(smscli.xlsx_rows, "CHUNK", 4)
    tiny = []
    for cut in range(start, len(whole), 3):
        _rezip(path, "xl/worksheets/sheet1.xml", lambda b, cut=cut: whole[:cut])
        tiny.append(_outcome(path))

    def none(*_: Any) -> Any:
        raise smscli.xlsx_rows.Fallback
        yield

    monkeypatch.setattr(smscli.xlsx_rows, "cells", none)
    slow = []
    for cut in range(start, len(whole), 3):
        _rezip(path, "xl/worksheets/sheet1.xml", lambda b, cut=cut: whole[:cut])
        slow.append(_outcome(path))
    assert fast == slow and tiny == slow
    assert any(rows and error for rows, error in slow)  # some rows, then "no element found"
