"""Sender headers (başlık) and the Turkish-character switch: the rules every command applies
before anything leaves."""

from __future__ import annotations

from smscli.errors import ConfigError, UnsupportedOperation
from smscli.providers.base import Capabilities

TURKISH_LETTERS = frozenset("çğıİşŞĞÇÖÜöü")
TURKISH_SHIFTED = "çğĞıİşŞ"
"""The Turkish letters GSM-7's default alphabet lacks: only the Turkish table (or UCS-2)
carries them. (Ç Ö Ü ö ü are in the default alphabet.)"""


def check_sender(sender: str) -> str | None:
    """Why a sender header (başlık) is malformed, or None. 3 to 11 characters, no Turkish."""
    if not 3 <= len(sender) <= 11:
        return f"sender {sender!r} must be 3 to 11 characters long (it has {len(sender)})"
    bad = sorted({c for c in sender if c in TURKISH_LETTERS or not c.isascii()})
    if bad:
        return f"sender {sender!r} must not contain Turkish or non-ASCII letters ({''.join(bad)})"
    return None


def resolve_sender(provider: str, capabilities: Capabilities, sender: str | None) -> str | None:
    """The sender header to send with: required (else the provider's default header) and
    checked where the provider takes one, dropped where it takes none."""
    if not capabilities.sender:
        return None
    sender = sender or capabilities.default_sender
    if not sender:
        raise ConfigError(
            f"{provider} needs a sender header (başlık)",
            hint="set sender in the profile, SMSCLI_SENDER, or pass --sender",
        )
    problem = check_sender(sender)
    if problem:
        raise ConfigError(problem)
    return sender


def check_turkish_mode(provider: str, capabilities: Capabilities, turkish: bool | None) -> None:
    """``--tr`` asks for a mode the provider must have."""
    if turkish and not capabilities.turkish_mode:
        raise UnsupportedOperation(
            f"{provider} has no Turkish-character mode; drop --tr (the text is sent as UCS-2 "
            "when it needs Turkish letters) or use --ascii"
        )


def turkish_flag(encoding: str, text: str, turkish: bool | None) -> bool:
    """Whether a message goes with the provider's Turkish mode (``lang=tr``, ``tr_char``), for
    a provider that has one: an explicit ``--tr`` always, ``--no-tr`` never; by default any
    text with a letter only the Turkish table carries (ç ğ Ğ ı İ ş Ş), whatever its encoding
    class: a GSM-7+TR text, and a UCS-2 one too (an emoji beside them). The parts are those of
    the text's class either way. (The store computes the default rule in SQL for the engine's
    windows: :meth:`smscli.store.Store.pending_window`.)"""
    if turkish is not None:
        return turkish
    return encoding == "GSM-7+TR" or (
        encoding == "UCS-2" and any(c in TURKISH_SHIFTED for c in text)
    )
