"""Who never gets a message, and when nothing leaves: the opt-out list and the repeat guard as
a plan's :class:`~smscli.plan.Screen`, ``send``'s idempotency keys, and the hours at which a
run may send (``--not-before``, ``--not-after``, the profile's ``send_window``).

Every rule here is applied before anything leaves, on the one path of ``send`` and ``bulk``:
a dry run applies the same ones against the same ledger, so the two never disagree.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple

from smscli.errors import Unfinished, UsageError
from smscli.plan import Screen

if TYPE_CHECKING:
    from smscli.runs import RunOptions, SendInput
    from smscli.store import Store


def screen(options: RunOptions, exclude: frozenset[str], ledger: Store | None) -> Screen:
    """The plan's screen: ``--exclude``, the ledger's opt-out list (unless ``send
    --ignore-optout``), and the repeat guard when the run has a repeat window. Without a
    ledger (a dry run before anything was ever sent) only ``--exclude``."""
    if ledger is None:
        return Screen(exclude)
    optouts = {} if options.ignore_optout else ledger.optouts()
    since = time.time() - options.repeat_window
    on = options.repeat_window > 0 and ledger.sent_since(since)
    return Screen(exclude, optouts, since if on else None)


def ignored_optouts(given: SendInput, region: str, ledger: Store | None) -> int:
    """How many of ``send``'s recipients are on the opt-out list it ignores."""
    from smscli.recipients import normalise

    listed = ledger.optouts() if ledger is not None else {}
    return len({e for raw, _ in given.entries if (e := normalise(raw, region)[0]) in listed})


def request_digest(given: SendInput, region: str) -> str:
    """What an idempotency key stands for: the text and the recipients (normalised where
    they can be, in order), so that a retried script matches and another message does not."""
    import hashlib
    import json

    from smscli.recipients import normalise

    numbers = [normalise(raw, region)[0] or raw for raw, _ in given.entries]
    blob = json.dumps([given.text, numbers], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def key_lock(identity: str, key: str) -> str:
    """The hold of an idempotency key: one process at a time sends (or replays) it."""
    import hashlib

    return "key-" + hashlib.sha256(f"{identity}\0{key}".encode()).hexdigest()


def mismatch(key: str, run_id: str) -> UsageError:
    return UsageError(
        f"idempotency key {key!r} was used in run {run_id} for another text or other "
        "recipients; nothing sent",
        hint="a key stands for one message: use a new key for a new message",
    )


def check_deadline(options: RunOptions, now: float | None = None) -> None:
    """``--not-after`` already past is said at once (a dry run too): nothing would leave."""
    from smscli.timing import shown

    now = time.time() if now is None else now
    if options.not_after is not None and options.not_after <= now:
        raise Unfinished(
            f"--not-after {shown(options.not_after)} is already past "
            f"(it is {shown(now)}); nothing sent",
            hint="pass a later --not-after, or leave it out",
        )


class Deadline(NamedTuple):
    at: float | None
    what: str
    """For messages: ``--not-after``, or the close of the send window."""


def sending_deadline(options: RunOptions, now: float | None = None) -> Deadline:
    """When this run must stop sending, and what that is: ``--not-after``, or the close of the
    send window (whichever comes first); raises :class:`Unfinished` saying when sending may
    start when it may not now (``--not-before``, a closed window)."""
    from smscli.timing import shown

    now = time.time() if now is None else now
    check_deadline(options, now)
    again = "run the same command again then" if options.command == "bulk" else None
    if options.not_before is not None and now < options.not_before:
        raise Unfinished(
            f"--not-before {shown(options.not_before)}: it is {shown(now)}; nothing sent",
            hint=again or "run it again then, or leave out --not-before",
        )
    deadline = Deadline(options.not_after, "--not-after")
    window = options.send_window
    if window is not None:
        is_open, change = window.next_change(now)
        if not is_open:
            raise Unfinished(
                f"outside the send window {window.text} (local time): it opens at "
                f"{shown(change)}; nothing sent",
                hint=again or "--now sends outside the window (a message that cannot wait)",
            )
        if deadline.at is None or change < deadline.at:
            deadline = Deadline(change, f"the close of the send window {window.text}")
    return deadline
