"""Sender headers (başlık) and the Turkish-character switch: the rules every command applies
before anything leaves."""

from __future__ import annotations

from smscli.errors import ConfigError, UnsupportedOperation
from smscli.providers.base import Capabilities

TURKISH_LETTERS = frozenset("çğıİşŞĞÇÖÜöü")


def check_sender(sender: str) -> str | None:
    """Why a sender header (başlık) is malformed, or None. 3 to 11 characters, no Turkish."""
    if not 3 <= len(sender) <= 11:
        return f"sender {sender!r} must be 3 to 11 characters long (it has {len(sender)})"
    bad = sorted({c for c in sender if c in TURKISH_LETTERS or not c.isascii()})
    if bad:
        return f"sender {sender!r} must not contain Turkish or non-ASCII letters ({''.join(bad)})"
    return None


def resolve_sender(provider: str, capabilities: Capabilities, sender: str | None) -> str | None:
    """The sender header to send with: required and checked where the provider takes one,
    dropped where it takes none."""
    if not capabilities.sender:
        return None
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
