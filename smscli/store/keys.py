"""What the store keys a message by, besides its id: the text the repeat guard compares, and
the checksum that proves a message's row still holds what was planned. Pure functions, the
same in the plan that writes a row and in the engine that claims it."""

from __future__ import annotations

import hashlib
import unicodedata
import zlib

from smscli.encoding import transliterate


def text_key(text: str) -> int:
    """One key for every spelling of a text the repeat guard takes for the same message: Unicode
    NFC, the fold ``--ascii`` applies (ş→s, İ→I, …), runs of white space made one space, and
    leading and trailing ones trimmed; then a signed 64-bit BLAKE2b digest (an integer: the
    cheapest key both backends index). Two of a number's texts share a key with a chance of
    2⁻⁶⁴: then the later one is taken for a repeat and skipped, never sent twice."""
    if not text.isascii():
        text = transliterate(unicodedata.normalize("NFC", text))
    digest = hashlib.blake2b(" ".join(text.split()).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def row_checksum(run_id: str, recipient: str | None, text: str, key: int | None) -> int:
    """CRC-32 of what defines a message (its run, its number, its text) and of its text key,
    written when it is planned and compared in the claim: a row damaged since (a flipped bit
    that turned its number into another's, or its key into another text's) is never sent. A
    CRC detects every burst of up to 32 flipped bits."""
    return zlib.crc32(f"{run_id}\x1f{recipient or ''}\x1f{text}\x1f{key}".encode())


FREED = 0.0
"""``claimed_at`` of a repeat-guard slot whose message was refused or put back: free."""


def held_since(since: float) -> float:
    """The repeat window's start as the guard's queries compare it: never at or before
    :data:`FREED` (a window longer than the time since 1970 still leaves freed slots free)."""
    return max(since, 1.0)
