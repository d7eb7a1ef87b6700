"""Mail-merge templates: placeholders filled per row from the CSV's columns.

Syntax:

- ``{column}``: the row's value of that column, trimmed; an empty (or blank) value is an error
  naming the row's line.
- ``{column|default text}``: the default is used where the value is empty. Everything after
  the first ``|`` is the default (a later ``|`` is part of it), trimmed like a value; it cannot
  hold a brace. An empty default, ``{column|}``, means "empty is allowed". A column whose name
  holds ``|`` therefore cannot be a placeholder.
- ``{{`` and ``}}`` are literal braces, anywhere outside a placeholder.

Column names are trimmed on both sides. A placeholder names a column when:

1. it is spelt as in the header (Turkish letters and spaces included); else
2. exactly one column has the same name regardless of case, the Turkish dotted and dotless i
   (``İ``, ``I``, ``ı`` and ``i`` are one letter) and runs of spaces: ``{ad}`` fills from
   ``Ad``, ``{isim}`` from ``İSİM``. Where several columns match so (``Ad`` and ``AD``), it is
   an error listing them: guessing would pick one silently.

Any other placeholder is an error before anything is sent, suggesting up to three columns with
a similar name, compared also without diacritics (``{sehir}``: did you mean ``{Şehir}``?), and
listing the columns when none is similar. Letters that differ only by their diacritics
(``s``/``ş``) are not matched silently: they are different letters in Turkish.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from smscli.errors import InputError

SUGGESTIONS = 3
LISTED_COLUMNS = 12
"""Columns named in an error before the rest are only counted."""

_DOTTED_I = str.maketrans({"İ": "i", "I": "i", "ı": "i"})


def fold(name: str) -> str:
    """``name`` regardless of case, of the Turkish dotted/dotless i and of runs of spaces."""
    return " ".join(unicodedata.normalize("NFC", name).translate(_DOTTED_I).casefold().split())


def _loose(name: str) -> str:
    """:func:`fold` without diacritics, ``_`` and ``-`` read as spaces: for suggestions."""
    letters = unicodedata.normalize("NFKD", fold(name.replace("_", " ").replace("-", " ")))
    return "".join(c for c in letters if not unicodedata.combining(c))


class Placeholder(NamedTuple):
    name: str
    default: str | None
    """Text used where the value is empty; ``None``: an empty value is an error."""


class Template(NamedTuple):
    source: str
    parts: tuple[str | int, ...]
    """Literal text, or the index of a placeholder in ``placeholders``."""
    placeholders: tuple[Placeholder, ...]

    @classmethod
    def parse(cls, text: str, where: str = "template") -> Template:
        parts: list[str | int] = []
        found: list[Placeholder] = []
        literal: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch in "{}" and text.startswith(ch * 2, i):
                literal.append(ch)
                i += 2
            elif ch == "{":
                placeholder, i = _placeholder(text, i, where)
                if literal:
                    parts.append("".join(literal))
                    literal = []
                if placeholder not in found:
                    found.append(placeholder)
                parts.append(found.index(placeholder))
            elif ch == "}":
                last = parts[-1] if parts and not literal else None
                just_closed = isinstance(last, int) and found[last].default is not None
                raise InputError(
                    f"{where}: '}}' at character {i + 1} has no opening brace",
                    hint="write }} for a literal brace"
                    + ("; a default ({column|text}) cannot hold a brace" * just_closed),
                )
            else:
                literal.append(ch)
                i += 1
        if literal:
            parts.append("".join(literal))
        return cls(text, tuple(parts), tuple(found))

    def bind(self, headers: Sequence[str], where: str = "template") -> BoundTemplate:
        """Resolve placeholders to column positions (see the module's docstring); an unknown
        or ambiguous one is an error."""
        names = list(dict.fromkeys(p.name for p in self.placeholders))
        columns = {n: _match(n, headers) for n in names}
        unknown = [n for n in names if columns[n] == []]
        if unknown:
            raise _unknown(unknown, headers, where)
        ambiguous = [n for n in names if len(columns[n]) > 1]
        if ambiguous:
            name = ambiguous[0]
            choices = [f"{{{headers[c]}}}" for c in columns[name]]
            raise InputError(
                f"{where}: placeholder {{{name}}} matches more than one column: "
                + ", ".join(headers[c] for c in columns[name]),
                hint=f"write it as the header spells it: {_either(choices)}",
            )
        return BoundTemplate(self, tuple(columns[p.name][0] for p in self.placeholders))


def _placeholder(text: str, start: int, where: str) -> tuple[Placeholder, int]:
    """The placeholder whose ``{`` is at ``start``, and the position after its ``}``."""
    end = text.find("}", start + 1)
    inner = text[start + 1 : end] if end != -1 else ""
    if end == -1 or "{" in inner:
        with_default = "|" in text[start + 1 : end if end != -1 else len(text)]
        raise InputError(
            f"{where}: '{{' at character {start + 1} is not closed",
            hint="write {{ for a literal brace"
            + ("; a default ({column|text}) cannot hold a brace" * with_default),
        )
    name, bar, default = inner.partition("|")
    name = name.strip()
    if not name:
        raise InputError(
            f"{where}: empty placeholder {{{inner}}} at character {start + 1}",
            hint="name a column of the file: {column} or {column|default text}",
        )
    return Placeholder(name, default.strip() if bar else None), end + 1


def _match(name: str, headers: Sequence[str]) -> list[int]:
    """Positions of the columns ``name`` may mean: the exact one, else those equal when
    folded (several: ambiguous; none: unknown)."""
    stripped = [h.strip() for h in headers]
    if name in stripped:
        return [stripped.index(name)]
    key = fold(name)
    return [i for i, h in enumerate(stripped) if fold(h) == key]


def suggest(name: str, headers: Sequence[str]) -> list[str]:
    """Up to :data:`SUGGESTIONS` columns with a name like ``name``: close by difflib without
    case or diacritics, then those holding it as a word (``{soyad}``: ``Ad Soyad``)."""
    import difflib

    by_key: dict[str, list[str]] = {}
    for h in headers:
        by_key.setdefault(_loose(h), []).append(h.strip())
    key = _loose(name)
    keys = difflib.get_close_matches(key, list(by_key), n=SUGGESTIONS, cutoff=0.6)
    keys += [k for k in by_key if k not in keys and key in k.split()]
    found = [h for k in keys for h in by_key[k]]
    return list(dict.fromkeys(found))[:SUGGESTIONS]


def _either(choices: Sequence[str]) -> str:
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]


def _column_list(headers: Sequence[str]) -> str:
    shown = ", ".join(h.strip() for h in headers[:LISTED_COLUMNS])
    more = len(headers) - LISTED_COLUMNS
    return f"columns: {shown}" + (f" and {more} more" if more > 0 else "")


def _unknown(unknown: Sequence[str], headers: Sequence[str], where: str) -> InputError:
    """The error for placeholders naming no column: what each may have meant, and the columns
    when some has no similar one."""
    hints: list[str] = []
    lost = False
    for name in unknown:
        near = suggest(name, headers)
        lost = lost or not near
        if near:
            mean = "did you mean " + _either([f"{{{h}}}" for h in near]) + "?"
            hints.append(mean if len(unknown) == 1 else f"{{{name}}}: {mean}")
    if lost:
        hints.append(_column_list(headers))
    return InputError(
        f"{where}: unknown placeholder{'s' * (len(unknown) > 1)} "
        + ", ".join(f"{{{n}}}" for n in unknown),
        hint="; ".join(hints),
    )


@dataclass(frozen=True)
class BoundTemplate:
    template: Template
    columns: tuple[int, ...]
    """The column of each placeholder, in the order of ``template.placeholders``."""
    pattern: str = field(init=False, repr=False)
    """The template as a ``str.format`` pattern over the placeholder values (C speed)."""

    def __post_init__(self) -> None:
        pattern = "".join(
            p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else f"{{{p}}}"
            for p in self.template.parts
        )
        object.__setattr__(self, "pattern", pattern)

    def render(self, row: Sequence[str]) -> tuple[str | None, str | None]:
        """``(text, None)``, or ``(None, name of the first empty placeholder)``: one without a
        default, or one whose default leaves no text at all."""
        values = [row[col].strip() for col in self.columns]
        if all(values):
            return self.pattern.format(*values), None
        return self._with_defaults(values)

    def _with_defaults(self, values: list[str]) -> tuple[str | None, str | None]:
        """The rare row with an empty value: its defaults, unless one has none, or the text
        would be blank (``{Ad|}`` alone)."""
        first = None
        for i, placeholder in enumerate(self.template.placeholders):
            if not values[i]:
                if placeholder.default is None:
                    return None, placeholder.name
                values[i] = placeholder.default
                first = first or placeholder.name
        text = self.pattern.format(*values)
        return (text, None) if text.strip() else (None, first)
