"""Phone numbers: one number however it is written; duplicates and invalid ones reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscli.csvfile import decode, detect_delimiter, read_numbers
from smscli.errors import InputError
from smscli.recipients import _fast, collect, normalise, split_arguments


@pytest.mark.parametrize(
    "raw",
    [
        "05321234567",
        "5321234567",
        "905321234567",
        "+905321234567",
        "+90 532 123 45 67",
        "(0532) 123-45-67",
        "0090 532 123 45 67",
    ],
)
def test_turkish_forms_are_one_number(raw):
    assert normalise(raw, "TR") == ("+905321234567", None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("123", "too short"), ("abc", "no digits"), ("+9999", "country"), ("", "empty")],
)
def test_invalid_numbers_have_a_reason(raw, reason):
    e164, error = normalise(raw, "TR")
    assert e164 is None
    assert reason in (error or "")


def test_region_applies_to_national_numbers_only():
    assert normalise("030 123456", "DE")[0] == "+4930123456"
    assert normalise("+12125551234", "TR")[0] == "+12125551234"


def test_collect_keeps_first_of_duplicates_and_reports_the_rest():
    entries = list(split_arguments(["05321234567,+90 532 123 45 67", "xx", "5321112233"]))
    s = collect(entries, "TR")
    assert [r.e164 for r in s.valid] == ["+905321234567", "+905321112233"]
    assert [(r.raw, r.source) for r in s.duplicates] == [("+90 532 123 45 67", "argument 1")]
    assert [(r.raw, r.source) for r in s.invalid] == [("xx", "argument 2")]


def test_delimiter_is_counted_outside_quotes():
    assert detect_delimiter('"Ad, Soyad";telefon;tutar') == ";"
    assert detect_delimiter("name\tphone") == "\t"
    assert detect_delimiter("phone") is None


def test_decode_detects_bom_and_windows_1254():
    assert decode("\ufeffad;telefon\nŞükrü;1".encode(), "f") == ("ad;telefon\nŞükrü;1", "utf-8")
    assert decode("ad;telefon\nŞükrü;1".encode("cp1254"), "f") == ("ad;telefon\nŞükrü;1", "cp1254")


def test_decode_reads_utf16_by_its_bom_and_refuses_nul_bytes_without_one():
    text = "ad;telefon\nŞükrü;1"
    assert decode(text.encode("utf-16"), "f") == (text, "utf-16")
    assert decode(b"\xfe\xff" + text.encode("utf-16-be"), "f") == (text, "utf-16")
    with pytest.raises(InputError, match=r"f\.csv line 1: a NUL byte") as caught:
        decode(text.encode("utf-16-le"), "f.csv")
    assert "UTF-16 with its byte order mark" in (caught.value.hint or "")  # send has no --encoding


def test_undecodable_bytes_name_the_line():
    data = b"phone\n5321234567\n\x81\x8d\n"
    with pytest.raises(InputError, match=r"f\.csv line 3"):
        decode(data, "f.csv")


def test_read_numbers_from_csv_with_detected_column():
    data = "Ad Soyad;Cep Telefonu;Tutar\nAyşe;0532 123 45 67;1.234,50\n\nAli;5321112233;5\n"
    got = list(read_numbers(data.encode("cp1254"), "m.csv"))
    assert got == [("0532 123 45 67", "m.csv line 2"), ("5321112233", "m.csv line 4")]


def test_read_numbers_one_per_line():
    got = list(read_numbers(b"05321234567\n# comment\n\n+905321112233\n", "n.txt"))
    assert got == [("05321234567", "n.txt line 1"), ("+905321112233", "n.txt line 4")]


def test_missing_phone_column_is_an_input_error():
    with pytest.raises(InputError, match="no phone column among name, city"):
        list(read_numbers(b"name,city\nA,B\n", "x.csv"))


def test_short_row_names_file_and_line():
    with pytest.raises(InputError, match=r"x\.csv line 3"):
        list(read_numbers(b"name,phone\nA,5321234567\nB\n", "x.csv"))


def _slow(raw: str, region: str) -> str | None:
    import phonenumbers

    try:
        n = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(n):
        return None
    return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164)


def _examples() -> list[tuple[str, str]]:
    import phonenumbers
    from phonenumbers import PhoneNumberType as T

    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (T.MOBILE, T.FIXED_LINE, T.TOLL_FREE, T.PREMIUM_RATE, T.VOIP, T.PAGER):
            n = phonenumbers.example_number_for_type(region, kind)
            if n is not None:
                out.append((region, phonenumbers.national_significant_number(n)))
    return out


EXAMPLES = _examples()


@settings(max_examples=3000, deadline=None)
@given(
    example=st.sampled_from(EXAMPLES),
    tail=st.text("0123456789", max_size=4),
    cut=st.integers(0, 3),
    prefix=st.sampled_from(
        ["", "0", "+", "00", "+90", "0090", "90", "+49", "0049", "+44", "01", "011", "019"]
    ),
    sep=st.sampled_from(["", " ", "-", "."]),
)
def test_fast_path_always_agrees_with_phonenumbers(example, tail, cut, prefix, sep):
    region, national = example
    digits = national[: len(national) - cut] + tail if cut or tail else national
    code = str(__import__("phonenumbers").country_code_for_region(region))
    if prefix == "+":
        prefix = "+" + code
    elif prefix == "00":
        prefix = "00" + code
    raw = prefix + sep.join(digits[i : i + 3] for i in range(0, len(digits), 3))
    fast = _fast(raw, region)
    if fast is not None:
        assert fast == _slow(raw, region), raw
    assert normalise(raw, region)[0] == _slow(raw, region), raw


def test_fast_path_leaves_a_patterned_international_prefix_to_phonenumbers():
    # Israel's international prefix is a pattern: 019… dials abroad (+1 here), although
    # 1919123457 alone is a valid Israeli number.
    assert _fast("01919123457", "IL") is None
    assert normalise("01919123457", "IL")[0] == _slow("01919123457", "IL")


def test_fast_path_covers_the_usual_turkish_forms():
    for raw in ("05321234567", "5321234567", "905321234567", "+90 532 123 45 67",
                "(0532) 123-45-67", "0090 532 123 45 67"):  # fmt: skip
        assert _fast(raw, "TR") == "+905321234567", raw


def _normalise_in_a_new_process(cache: Path, raw: str) -> tuple[str, bool]:
    """(E.164, whether phonenumbers was imported) from a fresh interpreter."""
    code = (
        "import sys; from smscli.recipients import normalise; "
        f"print(normalise({raw!r}, 'TR')[0], 'phonenumbers' in sys.modules)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], out[1] == "True"


def test_region_rules_are_cached_so_the_usual_number_needs_no_phonenumbers(
    tmp_path: Path,
) -> None:
    assert _normalise_in_a_new_process(tmp_path, "0532 123 45 67") == ("+905321234567", True)
    cache = tmp_path / "smscli" / "phonenumbers-rules.json"
    assert "TR" in json.loads(cache.read_text())["regions"]
    assert _normalise_in_a_new_process(tmp_path, "0532 123 45 67") == ("+905321234567", False)
    # A number the fast path does not take still gets phonenumbers' answer.
    assert _normalise_in_a_new_process(tmp_path, "+49 30 123456") == ("+4930123456", True)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"key": "stale", "regions": {"TR": ["1", null, null, null, "(?!)"]}}',
        '{"regions": {}}',
        "[]",
    ],
)
def test_a_broken_or_stale_rules_cache_is_recomputed(tmp_path: Path, content: str) -> None:
    cache = tmp_path / "smscli" / "phonenumbers-rules.json"
    cache.parent.mkdir(parents=True)
    cache.write_text(content)
    assert _normalise_in_a_new_process(tmp_path, "05321234567") == ("+905321234567", True)
    assert _normalise_in_a_new_process(tmp_path, "05321234567") == ("+905321234567", False)


# --- issue 16: files of numbers with comments; the --exclude file's own errors ----------------


def test_comment_lines_are_skipped_anywhere_in_a_csv_of_numbers():
    data = b"# kara liste\nad,numara\n# Ali asked, 2024\nAli,05321112233\n\n#\nVeli,5321112234\n"
    got = list(read_numbers(data, "x.csv"))
    assert got == [("05321112233", "x.csv line 4"), ("5321112234", "x.csv line 7")]


def test_a_numbers_file_without_a_phone_column_gives_no_flag_it_lacks():
    with pytest.raises(InputError) as caught:
        list(read_numbers(b"isim\nAli\n", "x.csv"))
    assert "--phone-column" not in (caught.value.hint or "")


def test_what_a_numbers_file_was_found_to_be_is_told():
    from smscli.columns import Detected

    found: list[Detected] = []
    data = "Ad;Ev Tel;Cep Tel\nAyşe;02121112233;05321112233\n".encode("cp1254")
    got = list(read_numbers(data, "x.csv", found=found.append))
    assert got == [("05321112233", "x.csv line 2")]
    assert found == [Detected("cp1254", ";", "Cep Tel", ("Ev Tel",))]
    found.clear()
    list(read_numbers(b"05321112233\n", "n.txt", found=found.append))
    assert found == [Detected("utf-8", None, None)]


@pytest.mark.parametrize(
    "content",
    [
        "ad,numara\n# removed on request\nAli,05321112233\n",
        "# numbers never to message\n\n05321112233\n# 05321112234 came back\n",
        "telefon\n  # a comment, indented\n05321112233\n",
    ],
)
def test_an_exclude_file_may_have_comment_lines(proc, home, content):
    (home.cwd / "f.csv").write_text("ad;telefon\nAli;05321112233\nVeli;05321112234\n")
    (home.cwd / "ex.txt").write_text(content)
    out = proc("bulk", "f.csv", "-m", "hi {ad}", "--exclude", "ex.txt", "--provider", "sandbox",
               "--dry-run")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert "hi Veli" in out.stdout
    assert "hi Ali" not in out.stdout  # excluded


def test_an_exclude_file_error_names_the_exclude_file_not_the_csv_s_flags(proc, home):
    (home.cwd / "f.csv").write_text("ad;telefon\nAli;05321112233\n")
    (home.cwd / "ex.txt").write_text("# opted out\nMehmet Bey\n")
    out = proc("bulk", "f.csv", "-m", "hi", "--exclude", "ex.txt", "--provider", "sandbox",
               "--dry-run")  # fmt: skip
    assert out.exit_code == 3
    assert "--exclude ex.txt: no phone column among Mehmet Bey" in out.stderr
    assert "--phone-column" not in out.stderr
    assert "the --exclude file lists numbers never to send to" in out.stderr


def test_an_exclude_file_may_be_a_spreadsheet(proc, home):
    from tests.xlsx import write_xlsx

    (home.cwd / "f.csv").write_text("ad;telefon\nAli;05321112233\nVeli;05321112234\n")
    write_xlsx(home.cwd / "ex.xlsx", {"S": [["Cep Telefonu"], [5321112233.0]]})
    out = proc("bulk", "f.csv", "-m", "hi {ad}", "--exclude", "ex.xlsx", "--provider", "sandbox",
               "--dry-run")  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert "hi Veli" in out.stdout
    assert "hi Ali" not in out.stdout
