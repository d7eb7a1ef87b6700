"""Counted words, for every message a person reads (core and command line alike)."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 credit``, ``2 credits``, ``1,000 messages``, ``1 entry`` / ``2 entries`` (given)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
