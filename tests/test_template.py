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


# --- defaults: {column|text} ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Ayşe", "Merhaba Ayşe!"),
        ("", "Merhaba Değerli müşterimiz!"),
        ("  \t", "Merhaba Değerli müşterimiz!"),
    ],
)
def test_a_default_fills_an_empty_value(value, text):
    bound = Template.parse("Merhaba {Ad|Değerli müşterimiz}!").bind(["Telefon", "Ad"])
    assert bound.render(["0532", value]) == (text, None)


def test_a_placeholder_without_a_default_still_requires_a_value():
    bound = Template.parse("{Ad|Müşterimiz} {Tutar} TL").bind(["Ad", "Tutar"])
    assert bound.render(["", "5"]) == ("Müşterimiz 5 TL", None)
    assert bound.render(["Ali", " "]) == (None, "Tutar")


def test_the_same_column_with_and_without_a_default():
    bound = Template.parse("{Ad|Müşteri}, {Ad}").bind(["Ad"])
    assert bound.render(["Ali"]) == ("Ali, Ali", None)
    assert bound.render([""]) == (None, "Ad")


@pytest.mark.parametrize(
    ("template", "row", "text"),
    [
        ("Sayın {Unvan|}{Ad}", ["", "Ali"], "Sayın Ali"),  # an empty default: empty allowed
        ("{ Ad | Değerli müşterimiz }.", ["", ""], "Değerli müşterimiz."),  # trimmed
        ("{Ad|a|b}", ["", ""], "a|b"),  # a later bar is part of the default
        ("{{{Ad|x}}} {{Ad|y}}", ["", ""], "{x} {Ad|y}"),  # literal braces around and as text
        ("%s {{0}} {Ad|50%}", ["", " "], "%s {0} 50%"),  # format-like text is text
    ],
)
def test_default_syntax(template, row, text):
    assert Template.parse(template).bind(["Unvan", "Ad"]).render(row) == (text, None)


def test_a_text_left_blank_by_empty_defaults_is_an_empty_value():
    bound = Template.parse(" {Ad|} {Soyad|}").bind(["Ad", "Soyad"])
    assert bound.render(["", "Yılmaz"]) == ("  Yılmaz", None)
    assert bound.render(["", " "]) == (None, "Ad")


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        ("Merhaba {Ad|a{b}", "'{' at character 9 is not closed", "cannot hold a brace"),
        ("Merhaba {Ad|müşteri", "'{' at character 9 is not closed", "cannot hold a brace"),
        ("Merhaba { |müşteri}", "empty placeholder { |müşteri} at character 9", "{column|"),
        ("Merhaba {Ad|müşteri}}x}", "'}' at character 21 has no opening brace", "cannot hold"),
    ],
)
def test_malformed_defaults_say_where(text, message, hint):
    with pytest.raises(InputError) as err:
        Template.parse(text)
    assert message in err.value.message
    assert hint in (err.value.hint or "")


# --- which column a placeholder names ------------------------------------------------------


@pytest.mark.parametrize(
    ("placeholder", "headers", "column"),
    [
        ("ad", ["Telefon", "AD"], 1),
        ("isim", ["Telefon", "İSİM"], 1),
        ("ISIM", ["ısım", "Telefon"], 0),
        ("İl", ["Telefon", "il"], 1),
        ("ad  soyad", ["Telefon", "Ad Soyad"], 1),
        ("Ad", ["ad", "Ad", "AD"], 1),  # the exact spelling first
    ],
)
def test_case_and_the_dotted_i_do_not_matter_when_one_column_matches(placeholder, headers, column):
    bound = Template.parse(f"Merhaba {{{placeholder}}}").bind(headers)
    row = ["x"] * len(headers)
    row[column] = "Ali"
    assert bound.render(row) == ("Merhaba Ali", None)


def test_a_placeholder_matching_several_columns_names_them():
    with pytest.raises(InputError) as err:
        Template.parse("{ad}").bind(["Telefon", "Ad", "AD"])
    assert err.value.message == "template: placeholder {ad} matches more than one column: Ad, AD"
    assert err.value.hint == "write it as the header spells it: {Ad} or {AD}"


@pytest.mark.parametrize(
    ("placeholder", "headers", "hint"),
    [
        ("sehir", ["Telefon", "Şehir"], "did you mean {Şehir}?"),  # diacritics: suggested only
        ("Sehır", ["Telefon", "ŞEHİR"], "did you mean {ŞEHİR}?"),
        ("soyad", ["Telefon", "Ad Soyad"], "did you mean {Ad Soyad}?"),
        ("ad_soyad", ["Telefon", "Ad Soyad", "Tutar"], "did you mean {Ad Soyad}?"),
        ("tutr", ["Telefon", "Tutar", "Tutar2", "Tutarlar", "Tutar3"], "did you mean "),
    ],
)
def test_an_unknown_placeholder_suggests_the_nearest_columns(placeholder, headers, hint):
    with pytest.raises(InputError) as err:
        Template.parse(f"{{{placeholder}|x}}").bind(headers)
    assert err.value.message == f"template: unknown placeholder {{{placeholder}}}"
    assert err.value.hint is not None
    assert err.value.hint.startswith(hint)
    assert "columns:" not in err.value.hint
    assert err.value.hint.count("{") <= 3


def test_several_unknown_placeholders_each_get_their_suggestions_and_the_columns_are_listed():
    with pytest.raises(InputError) as err:
        Template.parse("{sehir} {ad} {qqq}").bind(["Şehir", "Telefon"])
    assert err.value.message == "template: unknown placeholders {sehir}, {ad}, {qqq}"
    assert err.value.hint == "{sehir}: did you mean {Şehir}?; columns: Şehir, Telefon"


def test_a_long_list_of_columns_is_trimmed():
    headers = [f"Alan {n}" for n in range(30)]
    with pytest.raises(InputError) as err:
        Template.parse("{qqq}").bind(headers)
    assert err.value.hint == "columns: " + ", ".join(headers[:12]) + " and 18 more"
