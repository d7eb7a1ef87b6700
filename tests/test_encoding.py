"""Boundary tests for smscli.encoding, written from 3GPP TS 23.038 and the published tables."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscli.encoding import (
    Encoding,
    analyse,
    encoding_and_parts,
    needs_turkish_shift,
    transliterate,
    unsupported_chars,
)

EMOJI = "\U0001f600"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts", "per_part"),
    [
        # GSM-7: 160 alone, 153 per part.
        ("a" * 160, "GSM-7", 160, 1, 160),
        ("a" * 161, "GSM-7", 161, 2, 153),
        ("a" * 306, "GSM-7", 306, 2, 153),
        ("a" * 307, "GSM-7", 307, 3, 153),
        # Extension table characters are ESC + code.
        ("€" * 80, "GSM-7", 160, 1, 160),
        ("€" * 81, "GSM-7", 162, 2, 153),
        ("{}[]~|^\\\x0c€", "GSM-7", 20, 1, 160),
        # TR: 155 alone, 149 per part (Verimor: 155 / 298 / 447), ş and ğ cost 2.
        ("ş" + "a" * 153, "GSM-7+TR", 155, 1, 155),
        ("ş" + "a" * 154, "GSM-7+TR", 156, 2, 149),
        ("ğ" + "a" * 296, "GSM-7+TR", 298, 2, 149),
        ("ğ" + "a" * 297, "GSM-7+TR", 299, 3, 149),
        ("ş" + "a" * 445, "GSM-7+TR", 447, 3, 149),
        ("ş" + "a" * 446, "GSM-7+TR", 448, 4, 149),
        ("ş" * 77, "GSM-7+TR", 154, 1, 155),
        ("ş" * 78, "GSM-7+TR", 156, 2, 149),
        # UCS-2: 70 alone, 67 per part.
        ("✓" * 70, "UCS-2", 70, 1, 70),
        ("✓" * 71, "UCS-2", 71, 2, 67),
        ("✓" * 134, "UCS-2", 134, 2, 67),
        ("✓" * 135, "UCS-2", 135, 3, 67),
        (EMOJI * 35, "UCS-2", 70, 1, 70),
        (EMOJI * 36, "UCS-2", 72, 2, 67),
        # Empty text: no parts, single-part capacity of the default encoding.
        ("", "GSM-7", 0, 0, 160),
    ],
)
def test_boundaries(text: str, encoding: Encoding, units: int, parts: int, per_part: int) -> None:
    seg = analyse(text)
    assert (seg.encoding, seg.units, seg.parts, seg.per_part) == (encoding, units, parts, per_part)
    assert seg.chars == len(text)
    assert seg.turkish == (encoding == "GSM-7+TR")


@pytest.mark.parametrize(
    ("text", "units", "parts", "per_part"),
    [
        # Part 1 has one septet left when '€' comes, so '€' opens part 2: 152 | 153 | 1.
        ("a" * 152 + "€" + "a" * 152, 306, 3, 153),
        # A part of 149 holds 74 'ş' (148 septets), never 74.5: 149 'ş' need 3 parts.
        ("ş" * 149, 298, 3, 149),
        # The surrogate pair cannot straddle parts: 66 | 2 + 65 | 1.
        ("a" * 66 + EMOJI + "a" * 66, 134, 3, 67),
    ],
)
def test_pairs_are_never_split(text: str, units: int, parts: int, per_part: int) -> None:
    seg = analyse(text)
    assert (seg.units, seg.parts, seg.per_part) == (units, parts, per_part)
    assert math.ceil(units / per_part) < parts  # a plain ceil() would get this wrong


def test_emoji_is_two_units_one_char() -> None:
    seg = analyse(EMOJI)
    assert (seg.encoding, seg.chars, seg.units, seg.parts) == ("UCS-2", 1, 2, 1)


def test_full_default_alphabet_costs_one_septet_each() -> None:
    alphabet = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    assert len(alphabet) == 127  # 128 codes minus ESC
    seg = analyse(alphabet)
    assert (seg.encoding, seg.units, seg.parts) == ("GSM-7", 127, 1)


@pytest.mark.parametrize("char", ["\x1b", "`", "ç", "ı", "á", "\u00a0"])
def test_not_in_gsm7(char: str) -> None:
    assert analyse(char, turkish=False).encoding == "UCS-2"


@pytest.mark.parametrize("text", ["Ç", "Ö", "Ü", "ö", "ü", "ÇÖÜöü"])
def test_default_letters_cost_one_and_do_not_trigger_tr(text: str) -> None:
    seg = analyse(text)
    assert (seg.encoding, seg.units, seg.turkish) == ("GSM-7", len(text), False)
    assert not needs_turkish_shift(text)
    assert analyse(text, turkish=True).units == len(text)


@pytest.mark.parametrize(
    ("text", "turkish", "encoding"),
    [
        ("Şişli'de ılık", None, "GSM-7+TR"),
        ("ok ✓", None, "UCS-2"),
        ("kâr", None, "UCS-2"),
        ("مرحبا", None, "UCS-2"),
        ("hello", None, "GSM-7"),
        ("ş", False, "UCS-2"),
        ("Şişli", False, "UCS-2"),
        ("hello €", False, "GSM-7"),
        ("hello", True, "GSM-7+TR"),
        ("ok ✓", True, "UCS-2"),
    ],
)
def test_mode_selection(text: str, turkish: bool | None, encoding: Encoding) -> None:
    assert analyse(text, turkish=turkish).encoding == encoding


def test_forced_turkish_counts_ascii_with_tr_capacity() -> None:
    assert analyse("a" * 155, turkish=True).parts == 1
    seg = analyse("a" * 156, turkish=True)
    assert (seg.encoding, seg.parts, seg.per_part, seg.turkish) == ("GSM-7+TR", 2, 149, True)
    assert analyse("a" * 156).parts == 1  # the same text without the Turkish header
    empty = analyse("", turkish=True)
    assert (empty.parts, empty.per_part) == (0, 155)


def test_needs_turkish_shift() -> None:
    assert needs_turkish_shift("Şişli'de ılık")
    assert needs_turkish_shift("çay {€}")
    assert not needs_turkish_shift("plain {€}")
    assert not needs_turkish_shift("ş ✓")  # UCS-2 anyway
    assert not needs_turkish_shift("")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Şişli Çarşı ğüİı", "Sisli Carsi guIi"),
        ("şŞğĞıİçÇöÖüÜ", "sSgGiIcCoOuU"),
        ("âîûÂÎÛ", "aiuAIU"),
        ("hello €✓ ñ", "hello €✓ ñ"),
    ],
)
def test_transliterate(text: str, expected: str) -> None:
    assert transliterate(text) == expected
    assert analyse(expected).encoding == analyse(expected, turkish=False).encoding


def test_unsupported_chars() -> None:
    text = "✓ ş ✓ â 😀 ş"
    assert unsupported_chars(text, turkish=False) == ["✓", "ş", "â", EMOJI]
    assert unsupported_chars(text, turkish=True) == ["✓", "â", EMOJI]
    assert unsupported_chars("Şişli {€}", turkish=True) == []
    assert unsupported_chars("", turkish=False) == []


SINGLE_PART: dict[Encoding, int] = {"GSM-7": 160, "GSM-7+TR": 155, "UCS-2": 70}
MODES = st.sampled_from([None, True, False])
TURKISH_ASCII = st.text(
    alphabet=st.sampled_from([chr(c) for c in range(0x20, 0x7F)] + list("\nşŞğĞıİçÇöÖüÜâîûÂÎÛ")),
    max_size=500,
)


@given(text=st.text(max_size=400) | TURKISH_ASCII, turkish=MODES)
def test_parts_are_consistent(text: str, turkish: bool | None) -> None:
    seg = analyse(text, turkish=turkish)
    single = SINGLE_PART[seg.encoding]
    assert seg.chars == len(text)
    assert (seg.parts == 0) == (text == "")
    assert seg.units <= seg.parts * seg.per_part or seg.parts == 0
    assert seg.units >= seg.chars - sum(ord(c) > 0xFFFF for c in text)
    if seg.parts > 1:
        assert seg.units > single
        # Greedy filling leaves at most one unit free in every part but the last.
        assert seg.units > (seg.parts - 1) * (seg.per_part - 1)
    assert seg.turkish == (seg.encoding == "GSM-7+TR")


@given(text=st.text(max_size=400) | TURKISH_ASCII, turkish=MODES)
def test_encoding_and_parts_agrees_with_analyse(text: str, turkish: bool | None) -> None:
    seg = analyse(text, turkish=turkish)
    assert encoding_and_parts(text, turkish) == (seg.encoding, seg.parts)


@pytest.mark.parametrize("turkish", [None, True, False])
@pytest.mark.parametrize("length", [0, 1, 149, 150, 155, 156, 160, 161, 306, 307, 459, 460])
def test_encoding_and_parts_at_the_part_boundaries(length: int, turkish: bool | None) -> None:
    text = "a" * length
    seg = analyse(text, turkish=turkish)
    assert encoding_and_parts(text, turkish) == (seg.encoding, seg.parts)


@given(text=TURKISH_ASCII)
def test_transliteration_never_costs_more_parts(text: str) -> None:
    assert analyse(transliterate(text)).parts <= analyse(text).parts
    assert not needs_turkish_shift(transliterate(text))
