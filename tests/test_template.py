"""Templates: placeholders, literal braces, and errors that say where."""

from __future__ import annotations

import pytest

from smscli.errors import InputError
from smscli.template import Template


def test_placeholders_with_spaces_and_turkish_letters_and_literal_braces():
    bound = Template.parse("{{kod}} Sayın {Ad Soyad}, {Tutar} ₺ ({Ad Soyad})").bind(
        ["Telefon", "Ad Soyad", "Tutar"]
    )
    assert bound.render(["0532", " Ayşe Şahin ", "1.234,50"]) == (
        "{kod} Sayın Ayşe Şahin, 1.234,50 ₺ (Ayşe Şahin)",
        None,
    )
    assert bound.render(["0532", "Ali", " "]) == (None, "Tutar")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Merhaba {ad", "'{' at character 9 is not closed"),
        ("Merhaba ad}", "'}' at character 11 has no opening brace"),
        ("Merhaba {}", "empty placeholder {} at character 9"),
        ("a {b {c}", "'{' at character 3 is not closed"),
    ],
)
def test_malformed_templates_say_where(text, message):
    with pytest.raises(InputError) as err:
        Template.parse(text)
    assert message in err.value.message


def test_unknown_placeholders_are_listed_with_the_columns():
    with pytest.raises(InputError) as err:
        Template.parse("{ad} {soyad} {x}").bind(["ad", "telefon"])
    assert err.value.message == "template: unknown placeholders {soyad}, {x}"
    assert err.value.hint == "columns: ad, telefon"
