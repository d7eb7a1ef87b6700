"""The opt-out list as a library: numbers that no ``send`` or ``bulk`` ever messages, kept in
the ledger (never in a file next to a campaign), normalised to E.164, with the day, the reason
and where each came from. The plan reads the list (:mod:`smscli.guards`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from smscli.errors import InputError

if TYPE_CHECKING:
    from smscli.store import Store


class Invalid(NamedTuple):
    raw: str
    where: str
    why: str


class Change(NamedTuple):
    """What an ``add``, ``import`` or ``remove`` did."""

    done: list[str]
    """Numbers (E.164) added, or removed."""
    unchanged: list[str]
    """Numbers on the list already (add), or not on it (remove)."""
    invalid: list[Invalid]


def _parse(entries: Iterable[tuple[str, str]], region: str) -> tuple[dict[str, str], list[Invalid]]:
    """``(raw, where)`` → the valid numbers (first place each was given) and the invalid ones."""
    from smscli.recipients import normalise

    numbers: dict[str, str] = {}
    invalid = []
    for raw, where in entries:
        e164, error = normalise(raw, region)
        if e164 is None:
            invalid.append(Invalid(raw, where, error or "not a phone number"))
        else:
            numbers.setdefault(e164, where)
    return numbers, invalid


def add(
    store: Store,
    entries: Iterable[tuple[str, str]],
    region: str,
    *,
    reason: str | None,
    source: str | None = None,
) -> Change:
    """Numbers onto the list. ``source`` names where they came from (default: each number's
    place, as a file's ``NAME line N``); the invalid ones are reported, the others added."""
    numbers, invalid = _parse(entries, region)
    added = store.add_optouts((n, reason, source or where) for n, where in numbers.items())
    fresh = set(added)
    return Change(added, [n for n in numbers if n not in fresh], invalid)


def remove(store: Store, entries: Iterable[tuple[str, str]], region: str) -> Change:
    numbers, invalid = _parse(entries, region)
    removed = store.remove_optouts(numbers)
    gone = set(removed)
    return Change(removed, [n for n in numbers if n not in gone], invalid)


def read_file(path: Path) -> list[tuple[str, str]]:
    """``(raw, where)`` of a file: a CSV with a phone column (detected as ``bulk`` does) or
    one number per line (``#`` lines are comments)."""
    from smscli.csvfile import read_numbers

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    return list(read_numbers(data, str(path)))
