"""Issue 16: input that says what it found. A file that mixes UTF-8 with Windows-1254 lines is
an error naming those lines; a wrong --encoding is exit 3 saying where; the phone column is
chosen (mobile before landline) or refused when two are alike; what was detected reaches the
run's view; templates and message files are read as CSVs are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from smscli.columns import Detected
from smscli.errors import InputError
from tests.conftest import Home

DRY = ("--provider", "sandbox", "--dry-run")
BULK = ("-m", "Merhaba {ad}", *DRY)


def mixed(rows: int, bad: list[int]) -> bytes:
    """A UTF-8 CSV (header on line 1) whose lines ``bad`` were pasted from a Windows-1254 file."""
    lines = ["ad;telefon"] + [f"Ayşe {i};0532{1000000 + i:07d}" for i in range(2, rows + 2)]
    out = [ln.encode("cp1254") if n in bad else ln.encode() for n, ln in enumerate(lines, 1)]
    return b"\n".join(out) + b"\n"


def detected(home: Home, name: str, **given: Any) -> Detected | None:
    """What a bulk dry run of ``name`` (in ``home``'s working directory) found."""
    from smscli import providers, runs
    from smscli.providers.base import Account

    cls = providers.get("sandbox")
    path = home.cwd / name
    given.setdefault("template", "Merhaba {ad}")
    options = runs.RunOptions(
        runs.BulkInput(path, name, **given),
        cls,
        Account("sandbox", cls.default_base_url),
        None,
        "TR",
    )
    with runs.dry_run(options) as view:
        return view.detected


# --- a mostly UTF-8 file with lines that are not --------------------------------------------


def test_a_utf8_file_with_one_windows_1254_line_is_an_error_naming_it(
    proc: Any, home: Home
) -> None:
    (home.cwd / "liste.csv").write_bytes(mixed(20_000, [502]))
    out = proc("bulk", "liste.csv", *BULK)
    assert out.exit_code == 3, out.stdout
    assert "liste.csv: 1 line is not UTF-8 (line 502)" in out.stderr
    assert "--encoding cp1254" in out.stderr
    assert "AyÅŸe" not in out.stdout


def test_the_error_names_the_first_ten_lines_and_counts_the_rest(proc: Any, home: Home) -> None:
    bad = [3, 40, 41, 500, 900, 1200, 1500, 1501, 1800, 1900, 1950, 1999]
    (home.cwd / "liste.csv").write_bytes(mixed(2_000, bad))
    out = proc("bulk", "liste.csv", *BULK)
    assert out.exit_code == 3
    shown = ", ".join(str(n) for n in bad[:10])
    assert f"12 lines are not UTF-8 (lines {shown} and 2 more)" in out.stderr


def test_a_send_file_that_mixes_encodings_is_an_error_too(proc: Any, home: Home) -> None:
    (home.cwd / "n.csv").write_bytes(mixed(50, [7]))
    out = proc("send", "-f", "n.csv", "-m", "hi", *DRY)
    assert out.exit_code == 3
    assert "n.csv: 1 line is not UTF-8 (line 7)" in out.stderr
    assert "--encoding" not in out.stderr  # send has no such flag


@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 20])
def test_mixed_lines_are_found_whatever_the_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    from smscli import csvfile

    monkeypatch.setattr(csvfile, "_CHUNK", chunk)
    path = tmp_path / "f.csv"
    path.write_bytes(mixed(30, [2, 17, 31]))
    with pytest.raises(InputError, match=re.escape("3 lines are not UTF-8 (lines 2, 17, 31)")):
        csvfile.scan(path, "f.csv")


def test_a_wholly_windows_1254_file_is_read_as_before(proc: Any, home: Home) -> None:
    text = "ad;telefon\nAyşe;05321112233\nÇağrı;05321112234\nGÜNEŞ’in;05321112235\n"
    (home.cwd / "borclar.csv").write_bytes(text.encode("cp1254"))  # "Ş’" is UTF-8 by chance
    out = proc("bulk", "borclar.csv", *BULK)
    assert out.exit_code == 0, out.stderr
    assert "Merhaba Ayşe" in out.stdout
    assert "Merhaba GÜNEŞ’in" in out.stdout
    assert detected(home, "borclar.csv") == Detected("cp1254", ";", "telefon")


# --- a wrong --encoding ---------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["utf-16-le", "utf-16-be", "utf-32-le"])
@pytest.mark.parametrize("saved", ["utf-8", "cp1254"])
def test_a_utf16_encoding_for_a_file_of_8_bit_text_says_so(
    proc: Any, home: Home, wrong: str, saved: str
) -> None:
    text = "ad;telefon\nAyşe;05321112233\nAli;05321112234\n"
    (home.cwd / "borclar.csv").write_bytes(text.encode(saved))
    out = proc("bulk", "borclar.csv", *BULK, "--encoding", wrong)
    assert out.exit_code == 3
    assert f"borclar.csv is not {wrong}" in out.stderr
    assert "leave --encoding out" in out.stderr
    assert "internal error" not in out.stderr


def test_utf8_for_a_windows_1254_file_names_line_and_offset(proc: Any, home: Home) -> None:
    (home.cwd / "borclar.csv").write_bytes("ad;telefon\nAyşe;05321112233\n".encode("cp1254"))
    out = proc("bulk", "borclar.csv", *BULK, "--encoding", "utf-8")
    assert out.exit_code == 3
    assert "borclar.csv line 2: byte 0xfe at offset 13 is not valid utf-8" in out.stderr
    assert "cp1254" in out.stderr


# --- the phone column -----------------------------------------------------------------------


def test_a_mobile_column_wins_over_a_home_one(proc: Any, home: Home) -> None:
    (home.cwd / "f.csv").write_text(
        "ad;Ev Telefonu;Cep Telefonu\nAyşe;02121112233;05321112233\n", encoding="utf-8"
    )
    out = proc("bulk", "f.csv", *BULK)
    assert out.exit_code == 0, out.stderr
    assert "+905321112233" in out.stdout
    assert "+902121112233" not in out.stdout
    assert detected(home, "f.csv") == Detected("utf-8", ";", "Cep Telefonu", ("Ev Telefonu",))


@pytest.mark.parametrize(
    "header", ["ad;Telefon 1;Telefon 2", "ad;Cep;GSM", "ad;Ev Tel;İş Tel"]
)  # fmt: skip
def test_two_alike_phone_columns_are_refused_naming_both(
    proc: Any, home: Home, header: str
) -> None:
    (home.cwd / "f.csv").write_text(f"{header}\nAyşe;05321112233;05321112234\n", encoding="utf-8")
    out = proc("bulk", "f.csv", *BULK)
    assert out.exit_code == 3
    first, second = header.split(";")[1:]
    assert f"2 columns look like phone columns alike: {first!r}, {second!r}" in out.stderr
    assert "--phone-column" in out.stderr
    named = proc("bulk", "f.csv", *BULK, "--phone-column", second)
    assert named.exit_code == 0, named.stderr
    assert "+905321112234" in named.stdout


def test_what_was_given_by_flags_is_marked(home: Home) -> None:
    (home.cwd / "f.csv").write_bytes("ad,cep\r\nŞule,05321112233\r\n".encode("cp1254"))
    found = detected(home, "f.csv", encoding="cp1254", phone_column="cep")
    assert found == Detected("cp1254", ",", "cep", given=frozenset({"encoding", "phone_column"}))
    assert found.as_dict() == {
        "encoding": "cp1254", "delimiter": ",", "phone_column": "cep",
        "phone_candidates": [], "sheet": None,
    }  # fmt: skip


def test_a_utf8_file_with_a_bom_is_said_to_have_one(home: Home) -> None:
    (home.cwd / "f.csv").write_bytes("\ufeffad\tTelefon\tnumara\nAli\t05321112233\t1\n".encode())
    assert detected(home, "f.csv") == Detected("utf-8-sig", "\t", "Telefon", ("numara",))


def test_a_resumed_run_says_what_was_detected_too(home: Home) -> None:
    from smscli import providers, runs
    from smscli.campaign import Campaign
    from smscli.providers.base import Account
    from smscli.store import open_store

    (home.cwd / "f.csv").write_text("ad;Ev Tel;Cep Tel\nAli;02121112233;05321112233\n")
    cls = providers.get("sandbox")
    options = runs.RunOptions(
        runs.BulkInput(home.cwd / "f.csv", "f.csv", "hi"), cls,
        Account("sandbox", cls.default_base_url), None, "TR",
    )  # fmt: skip
    want = Detected("utf-8", ";", "Cep Tel", ("Ev Tel",))
    with open_store(home.ledger) as store:
        with Campaign.open(store, options) as campaign:
            assert campaign.view.detected == want
        with Campaign.open(store, options) as campaign:  # found again, not planned
            assert not campaign.fresh
            assert campaign.view.detected == want


# --- templates and message files ------------------------------------------------------------


@pytest.mark.parametrize(
    "saved",
    [
        lambda t: t.encode("cp1254"),
        lambda t: t.replace("\n", "\r\n").encode("cp1254"),  # Notepad's "ANSI"
        lambda t: t.encode("utf-16"),
        lambda t: "\ufeff".encode() + t.encode(),
    ],
)
def test_a_template_file_is_read_as_a_csv_is(proc: Any, home: Home, saved: Any) -> None:
    (home.cwd / "f.csv").write_text("ad;telefon\nŞule;05321112233\n", encoding="utf-8")
    (home.cwd / "t.txt").write_bytes(saved("Sayın {ad}, borcunuz ödendi.\n"))
    out = proc("bulk", "f.csv", "--template", "t.txt", *DRY)
    assert out.exit_code == 0, out.stderr
    assert "Sayın Şule, borcunuz ödendi." in out.stdout


def test_a_message_file_in_windows_1254_is_read(proc: Any, home: Home) -> None:
    (home.cwd / "m.txt").write_bytes("Günaydın, ödemeniz alındı.\r\n".encode("cp1254"))
    out = proc("send", "05321112233", "--message-file", "m.txt", *DRY)
    assert out.exit_code == 0, out.stderr
    assert "codec" not in out.stderr


@pytest.mark.parametrize("command", ["bulk", "send"])
def test_a_template_file_that_mixes_encodings_names_its_line(
    proc: Any, home: Home, command: str
) -> None:
    (home.cwd / "f.csv").write_text("ad;telefon\nAli;05321112233\n", encoding="utf-8")
    pasted = "ödemeniz alındı\n".encode("cp1254")
    text = "Sayın {ad},\n".encode() + pasted + "Teşekkürler\n".encode()
    (home.cwd / "t.txt").write_bytes(text)
    if command == "bulk":
        out = proc("bulk", "f.csv", "--template", "t.txt", *DRY)
    else:
        out = proc("send", "05321112233", "--message-file", "t.txt", *DRY)
    assert out.exit_code == 3
    assert "t.txt: 1 line is not UTF-8 (line 2)" in out.stderr
    assert "codec" not in out.stderr
