"""Recipients: where numbers come from, how they are normalised, which are dropped and why.

Numbers are parsed by phonenumbers with the profile's region, so ``0532…``, ``532…``,
``90532…``, ``+90 532 …`` and ``(0532) 123-45-67`` are one number, written as E.164.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple


class Recipient(NamedTuple):
    raw: str
    """As the user wrote it."""
    source: str
    """Where it was written: ``argument 2``, ``stdin line 3``, ``numbers.csv line 4``."""
    e164: str | None = None
    error: str | None = None


@dataclass
class RecipientSet:
    valid: list[Recipient] = field(default_factory=list)
    invalid: list[Recipient] = field(default_factory=list)
    duplicates: list[Recipient] = field(default_factory=list)
    """Later occurrences of a number already in ``valid`` (the first is kept)."""


_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE]\+?\d+")
"""How Excel shows a long number in a cell too narrow, or writes it to a CSV: 5.32123E+09."""
SCIENTIFIC = (
    "Excel wrote this number in scientific notation and lost digits: format the column as "
    "Text in Excel and save again"
)
_SEPARATORS = str.maketrans("", "", " -.()/\t\u00a0")


class _Region(NamedTuple):
    """Phonenumbers' validity rules of one region, compiled once (see :func:`_fast`)."""

    code: str
    national_prefix: str | None
    international_prefix: str | None
    plus_code: str
    """``+`` and the calling code."""
    idd_code: str | None
    """The international prefix and the calling code (``0090``), if the prefix is digits."""
    idd_pattern: re.Pattern[str] | None
    """The international prefix when it is a pattern (Israel: ``0(?:0|1(?:05|[2-9]))``)."""
    pattern: re.Pattern[str]
    """``phonenumbers.is_valid_number`` for a national number of this region, as one regular
    expression: it matches the general description and at least one number type, each with
    its possible lengths (checked first, as phonenumbers does)."""

    def valid(self, national: str) -> bool:
        return self.pattern.fullmatch(national) is not None


_Desc = tuple[frozenset[int], str]


def _lengths(lengths: frozenset[int]) -> str | None:
    """A look-ahead for the possible lengths ('' when any length goes; None when none does)."""
    if not lengths:
        return ""
    usable = sorted(n for n in lengths if n > 0)  # phonenumbers writes -1 for "no numbers"
    if not usable:
        return None
    return "(?=(?:" + "|".join(f".{{{n}}}" for n in usable) + r")\Z)"


def _validity(general: _Desc, types: Iterable[_Desc]) -> str:
    first = _lengths(general[0])
    alternatives = [
        f"{ahead}(?:{pattern})"
        for lengths, pattern in types
        if (ahead := _lengths(lengths)) is not None
    ]
    if first is None or not alternatives:
        return r"(?!)"  # nothing is valid
    return f"{first}(?=(?:{general[1]})\\Z)(?:{'|'.join(alternatives)})"


_Rules = tuple[str, "str | None", "str | None", "str | None", str]
"""A region's rules as plain data: calling code, national prefix, international prefix when it
is digits, international prefix when it is a pattern, validity pattern."""

_RULES_FORMAT = 1  # bump when _rules() changes: the cached rules are then recomputed


@lru_cache(maxsize=64)
def _region(region: str) -> _Region | None:
    """The compiled rules of a region that the fast path can handle exactly, else None."""
    rules = _cached_rules(region)
    if rules is None:
        return None
    code, national_prefix, idd, idd_pattern, validity = rules
    return _Region(
        code,
        national_prefix,
        idd,
        "+" + code,
        idd + code if idd else None,
        re.compile(idd_pattern) if idd_pattern else None,
        re.compile(validity),
    )


def _cached_rules(region: str) -> _Rules | None:
    """:func:`_rules`, kept in the user's cache directory: importing phonenumbers costs ~35 ms
    of every start, and the usual number needs only these few strings from it. The cache is
    keyed by the installed phonenumbers' files (an upgrade recomputes) and is only a cache:
    when it cannot be read or written, the rules are computed."""
    import importlib.util
    import json
    import os

    from platformdirs import user_cache_path

    spec = importlib.util.find_spec("phonenumbers")
    origin = spec.origin if spec else None
    try:
        st = os.stat(origin) if origin else None
    except OSError:
        st = None
    if st is None:
        return _rules(region)
    key = f"{_RULES_FORMAT}:{origin}:{st.st_mtime_ns}:{st.st_size}"
    path = user_cache_path("smscli") / "phonenumbers-rules.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        regions = cached["regions"] if cached["key"] == key else {}
        found = regions.get(region, False)
        if found is None:
            return None
        if isinstance(found, list) and len(found) == 5:
            code, national_prefix, idd, idd_pattern, validity = found
            if all(isinstance(x, str) for x in (code, validity)) and all(
                x is None or isinstance(x, str) for x in (national_prefix, idd, idd_pattern)
            ):
                return code, national_prefix, idd, idd_pattern, validity
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        regions = {}
    rules = _rules(region)
    regions[region] = rules
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "regions": regions}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return rules


def _rules(region: str) -> _Rules | None:
    """Phonenumbers' rules for ``region`` if the fast path can apply them exactly, else None."""
    import phonenumbers

    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code is None:
        return None
    if len(phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(meta.country_code, ())) != 1:
        return None  # a calling code shared by several regions (+1, +7, ...): slow path
    if meta.national_prefix_transform_rule or (
        meta.national_prefix_for_parsing not in (None, meta.national_prefix)
    ):
        return None  # carrier codes and rewriting rules: slow path
    if meta.leading_digits:
        return None

    def desc(d: object) -> _Desc | None:
        pattern = getattr(d, "national_number_pattern", None)
        if not pattern:
            return None
        return frozenset(getattr(d, "possible_length", ()) or ()), pattern

    general = desc(meta.general_desc)
    if general is None:
        return None
    # Any match makes a number valid, so the common types go first.
    names = ("mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip",
             "personal_number", "pager", "uan", "voicemail")  # fmt: skip
    types = tuple(d for d in (desc(getattr(meta, n)) for n in names) if d is not None)
    idd = meta.international_prefix or None
    prefix = idd if idd and idd.isdigit() else None
    pattern = idd if idd and not prefix else None
    code = str(meta.country_code)
    return code, meta.national_prefix, prefix, pattern, _validity(general, types)


def _fast(raw: str, region: str) -> str | None:
    """The E.164 form of a number of the default region written in one of the usual ways
    (``+90 532…``, ``0090532…``, ``90532…``, ``0532…``, ``532…``), without a full parse;
    None whenever anything is unusual (the caller then asks phonenumbers). A test checks that
    it always agrees with phonenumbers."""
    rules = _region(region)
    if rules is None:
        return None
    prefix = rules.national_prefix
    text = raw if raw.isdigit() else raw.translate(_SEPARATORS)
    if text.startswith("+"):
        if not text.startswith(rules.plus_code):
            return None
        national = text[len(rules.plus_code) :]
    elif not text.isdigit() or not text.isascii():
        return None
    elif rules.idd_pattern and rules.idd_pattern.match(text):
        return None  # maybe an international call: let phonenumbers decide
    elif (idd := rules.international_prefix) and text.startswith(idd):
        if not (rules.idd_code and text.startswith(rules.idd_code)):
            return None
        national = text[len(rules.idd_code) :]
    elif prefix and text.startswith(prefix):
        national = text[len(prefix) :]
    elif text.startswith(rules.code):
        if rules.valid(text):
            return None  # phonenumbers may read it either way: let it decide
        national = text[len(rules.code) :]
    else:
        national = text
    if not national.isdigit() or not national.isascii() or not rules.valid(national):
        return None
    if prefix and national.startswith(prefix):
        return None
    return rules.plus_code + national


def normalise(raw: str, region: str) -> tuple[str | None, str | None]:
    """``(e164, None)`` for a valid number, ``(None, reason)`` otherwise."""
    fast = _fast(raw, region)
    if fast is not None:
        return fast, None
    import phonenumbers
    from phonenumbers import NumberParseException

    text = raw.strip()
    if not text:
        return None, "empty"
    if not any(c.isdigit() for c in text):
        return None, "no digits"
    if _SCIENTIFIC.fullmatch(text):
        return None, SCIENTIFIC
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        reasons = {
            NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
            NumberParseException.NOT_A_NUMBER: "not a phone number",
            NumberParseException.TOO_SHORT_NSN: "too short",
            NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
            NumberParseException.TOO_LONG: "too long",
        }
        return None, reasons.get(exc.error_type, "not a phone number")
    if not phonenumbers.is_possible_number(number):
        reason = phonenumbers.is_possible_number_with_reason(number)
        if reason == phonenumbers.ValidationResult.TOO_SHORT:
            return None, "too short"
        if reason == phonenumbers.ValidationResult.TOO_LONG:
            return None, "too long"
        return None, "not a possible number"
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        return None, f"not a valid number in {where}"
    e164: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, None


def split_arguments(args: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(raw, source)`` for each number in arguments that may hold comma-separated lists."""
    for i, arg in enumerate(args, start=1):
        for part in arg.split(","):
            if part.strip():
                yield part.strip(), f"argument {i}"


def collect(entries: Iterable[tuple[str, str]], region: str) -> RecipientSet:
    """Normalise ``(raw, source)`` pairs, keeping the first of each number."""
    result = RecipientSet()
    seen: set[str] = set()
    for raw, source in entries:
        e164, error = normalise(raw, region)
        if e164 is None:
            result.invalid.append(Recipient(raw, source, None, error))
        elif e164 in seen:
            result.duplicates.append(Recipient(raw, source, e164, "duplicate"))
        else:
            seen.add(e164)
            result.valid.append(Recipient(raw, source, e164))
    return result
