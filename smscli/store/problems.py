"""What can go wrong with the disk under a ledger, said for the user: the ledger named, what to
do, and an exit code of the contract (never "internal error": a full disk, a read-only mount, a
lock held too long and a damaged file are things that happen to a user, not bugs)."""

from __future__ import annotations

import errno
import sqlite3

from smscli.errors import ConfigError, SmscliError, Unfinished


class LedgerDamaged(ConfigError):
    """The ledger's file fails SQLite's checks (or holds what no smscli wrote): nothing more
    is sent from it."""

    code = "ledger_damaged"

    def __init__(self, location: str, detail: str) -> None:
        self.location, self.detail = location, detail
        super().__init__(
            f"the ledger {location} is damaged ({detail}); nothing is sent from it",
            hint=f"`smscli ledger check` says which runs can still be read. To start a new, "
            f"empty ledger, move this one aside (mv {location} {location}.damaged): the new "
            "one does not know what this one sent, so do not resume its campaigns blindly",
        )


class LedgerEmpty(ConfigError):
    code = "ledger_empty"

    def __init__(self, location: str) -> None:
        super().__init__(
            f"the ledger {location} is an empty file (0 bytes): whatever it recorded is gone, "
            "so smscli cannot know what was already sent; nothing sent",
            hint=f"restore it from a backup, or, to start a new ledger on purpose, delete the "
            f"empty file (rm {location}) and run the command again",
        )


NOT_UTF8 = "a text in it is not valid UTF-8: bytes changed on the disk"
"""A bit flipped inside a record: SQLite's checks cannot see it, Python's sqlite3 cannot
decode the text (``ledger check`` says which runs it is in)."""
_DECODE = "Could not decode to UTF-8"


def not_utf8(error: BaseException | str) -> bool:
    """Whether ``error`` (or what one said) is sqlite3's for a text that is not UTF-8."""
    return _DECODE in (error if isinstance(error, str) else str(error))


NOT_ITS_KIND = "a value in it is bytes where a text or a number belongs: bytes changed on the disk"
"""A bit flipped in a record's header: the value is read as another kind (the queries that read
rows as JSON, the engine's window, cannot hold it)."""
_NOT_ITS_KIND = "JSON cannot hold BLOB values"
SCHEMA_CHANGED = "its tables are not as smscli made them: bytes changed on the disk"
"""A bit flipped in the text of a table's definition (SQLite keeps it as text, which its
checks do not read): a column or table every query of smscli's names is gone."""
_SCHEMA_LOST = ("no such column", "no such table")

_FULL = (errno.ENOSPC, errno.EDQUOT)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def storage_error(exc: BaseException, location: str) -> SmscliError | None:
    """The user's error for ``exc`` raised while using the ledger at ``location``, or None
    when ``exc`` is not about the storage (a bug, raised as it is)."""
    if isinstance(exc, OSError) and exc.errno in _FULL + _READ_ONLY and _ours(exc, location):
        kind = "SQLITE_FULL" if exc.errno in _FULL else "SQLITE_READONLY"
        return _said(kind, exc.strerror or str(exc), location)
    if not isinstance(exc, sqlite3.Error):
        return None
    if not_utf8(exc):
        return LedgerDamaged(location, NOT_UTF8)
    if _NOT_ITS_KIND in str(exc):
        return LedgerDamaged(location, NOT_ITS_KIND)
    if str(exc).startswith(_SCHEMA_LOST):
        return LedgerDamaged(location, f"{SCHEMA_CHANGED} ({exc})")
    name = getattr(exc, "sqlite_errorname", None)
    return _said(name, str(exc), location) if isinstance(name, str) else None


def _ours(exc: OSError, location: str) -> bool:
    """Whether ``exc`` is about the ledger's own files (the ledger, its journal, its locks),
    not about another file the command reads or writes (which says so itself)."""
    import os

    if exc.filename is None:
        return True
    folder = os.path.dirname(os.path.abspath(location))
    return os.path.abspath(os.fsdecode(exc.filename)).startswith(folder + os.sep)


def _said(name: str, detail: str, location: str) -> SmscliError | None:
    if name.startswith("SQLITE_FULL"):
        return Unfinished(
            f"the disk holding the ledger {location} is full ({detail}); the run stopped",
            hint="free space and run the same command again: it goes on where it stopped and "
            "sends nothing twice (a request on the wire when it stopped is marked unknown)",
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return LedgerDamaged(location, detail)
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")):
        return ConfigError(
            f"the ledger {location} cannot be written ({detail})",
            hint="make the file and its folder writable by this user, or point SMSCLI_LEDGER "
            "at a writable place",
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return Unfinished(
            f"the ledger {location} stayed locked by another process ({detail})",
            hint="run the same command again once the other smscli command is done",
        )
    if name.startswith("SQLITE_IOERR"):
        return Unfinished(
            f"the ledger {location} could not be read or written ({detail})",
            hint="check the disk (free space, the mount, the kernel log), then run the same "
            "command again: it goes on where it stopped",
        )
    return None
