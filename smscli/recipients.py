"""Recipients: where numbers come from, how they are normalised, which are dropped and why.

Numbers are parsed by phonenumbers with the profile's region, so ``0532…``, ``532…``,
``90532…``, ``+90 532 …`` and ``(0532) 123-45-67`` are one number, written as E.164.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipient:
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


def normalise(raw: str, region: str) -> tuple[str | None, str | None]:
    """``(e164, None)`` for a valid number, ``(None, reason)`` otherwise."""
    import phonenumbers
    from phonenumbers import NumberParseException

    text = raw.strip()
    if not text:
        return None, "empty"
    if not any(c.isdigit() for c in text):
        return None, "no digits"
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
