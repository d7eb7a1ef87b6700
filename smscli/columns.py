"""Which column holds the numbers, and what was found out about an input file.

A header looks like a phone column when it is one of :data:`PHONE_HEADERS`, starts or ends
with phone, telefon, gsm, cep or mobile, or has one of those words (``Ev Tel``). When several
do, the most telling wins: a mobile one (cep, gsm, mobile, cell) before a plain one (Telefon),
before a bare number or numara, before a landline-ish one (ev, iş, home, work, office, sabit,
fax): ``Ev Telefonu;Cep Telefonu`` sends to ``Cep Telefonu``, and names ``Ev Telefonu`` as
the other candidate. Two equally telling ones (``Telefon 1;Telefon 2``, ``Cep;GSM``) are
refused, naming both: guessing would send to the wrong one of a person's numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from smscli.errors import InputError

PHONE_HEADERS = (
    "phone", "telefon", "tel", "gsm", "cep", "mobile", "msisdn", "number", "numara",
    "phone_number", "telefon_no", "tel_no", "cep_telefonu", "cep_tel", "gsm_no", "mobile_number",
)  # fmt: skip
_AFFIXES = ("phone", "telefon", "gsm", "cep", "mobile")
_WORDS = {"phone", "telephone", "telefon", "telefonu", "tel", "gsm", "cep", "mobile", "mobil",
          "msisdn", "cell", "cellphone"}  # fmt: skip
_MOBILE = ("cep", "gsm", "mobil", "cell")
_LANDLINE = {"ev", "is", "isyeri", "home", "work", "office", "ofis", "business", "sabit",
             "landline", "fax", "faks"}  # fmt: skip
_WEAK = {"number", "numara"}
NAME_IT = "name the numbers' column phone, telefon, cep or gsm, or list one number a line"


@dataclass(frozen=True)
class Detected:
    """What was found out about an input file (or given by flags), to be shown."""

    encoding: str
    """``utf-8``, ``utf-8-sig``, ``cp1254``, ``utf-16``, ...; ``xlsx``, ``xls``, ``ods``."""
    delimiter: str | None
    """None for a spreadsheet or a list of numbers."""
    phone_column: str | None
    """The header of the numbers' column; None: no header (a list of numbers)."""
    candidates: tuple[str, ...] = ()
    """Other columns that looked like phone columns."""
    sheet: str | None = None
    given: frozenset[str] = frozenset()
    """Which of these came from flags: ``encoding``, ``delimiter``, ``phone_column``,
    ``sheet``."""

    def as_dict(self) -> dict[str, object]:
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "phone_column": self.phone_column,
            "phone_candidates": list(self.candidates),
            "sheet": self.sheet,
        }


def key(header: str) -> str:
    """A header as compared: case, Turkish dotless i and accents folded, spaces as ``_``."""
    folded = unicodedata.normalize("NFKD", header.strip().casefold().replace("ı", "i"))
    return "".join(c for c in folded if not unicodedata.combining(c)).replace(" ", "_")


def _rank(header: str) -> int | None:
    """How telling a phone column ``header`` is (higher wins); None: not one."""
    k = key(header)
    words = [w for w in re.split(r"[^0-9a-z]+", k) if w]
    named = k in PHONE_HEADERS or k.startswith(_AFFIXES) or k.endswith(_AFFIXES)
    if not named and not any(w in _WORDS for w in words):
        return None
    if any(w.startswith(_MOBILE) for w in words):
        return 3
    if any(w in _LANDLINE for w in words):
        return 0
    return 1 if k in _WEAK else 2


def find_phone_column(
    headers: list[str], name: str, option: str | None = "--phone-column"
) -> tuple[int, tuple[str, ...]]:
    """The phone column's index and the other columns that looked like one. ``option``: the
    flag that names a column, if the command has one."""
    ranked = [(r, i) for i, h in enumerate(headers) if (r := _rank(h)) is not None]
    if not ranked:
        raise InputError(
            f"{name}: no phone column among {', '.join(headers)}",
            hint=f"name it with {option}" if option else NAME_IT,
        )
    best = max(r for r, _ in ranked)
    top = [i for r, i in ranked if r == best]
    if len(top) > 1:
        shown = ", ".join(repr(headers[i]) for i in top)
        raise InputError(
            f"{name}: {len(top)} columns look like phone columns alike: {shown}",
            hint=f"name the one to send to with {option} (e.g. {option} {headers[top[0]]!r})"
            if option
            else "keep one of them (or rename the others) so the numbers' column is clear",
        )
    return top[0], tuple(headers[i] for _, i in ranked if i != top[0])
