"""The options of ``send`` and ``bulk`` that decide who is never sent to and when nothing
leaves, resolved with the profile's ``repeat_window``, ``send_repeat_window`` and
``send_window`` into the run's options (the rules are in :mod:`smscli.guards`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smscli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from smscli.cli.common import Cli
    from smscli.store import Store

DEFAULT_REPEAT_WINDOW = "24h"

AllowRepeatOpt = Annotated[
    bool,
    typer.Option(
        "--allow-repeat",
        help="Send the same text again to numbers that got it within the repeat window.",
    ),
]
NotBeforeOpt = Annotated[
    str | None,
    typer.Option("--not-before", help="Send nothing before this time (HH:MM or ISO 8601)."),
]
NotAfterOpt = Annotated[
    str | None,
    typer.Option("--not-after", help="Send nothing after this time (HH:MM or ISO 8601)."),
]
NowOpt = Annotated[bool, typer.Option("--now", help="Send outside the profile's send_window.")]
IgnoreOptoutOpt = Annotated[
    bool,
    typer.Option(
        "--ignore-optout",
        help="Send to numbers on the opt-out list too (one-time codes, order updates).",
    ),
]
NoRepeatOpt = Annotated[
    bool,
    typer.Option(
        "--no-repeat",
        help="Skip numbers sent the same text within the repeat window (default 24h).",
    ),
]
IdempotencyKeyOpt = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key",
        help="A retried command with the same key sends nothing and replays the first result"
        " (also SMSCLI_IDEMPOTENCY_KEY).",
        show_default=False,
    ),
]


def guard_fields(
    cli: Cli,
    *,
    command: str,
    allow_repeat: bool = False,
    no_repeat: bool = False,
    ignore_optout: bool = False,
    idempotency_key: str | None = None,
    not_before: str | None = None,
    not_after: str | None = None,
    now: bool = False,
) -> dict[str, Any]:
    """The :class:`smscli.runs.RunOptions` fields these flags and the profile decide."""
    from smscli.timing import SendWindow, parse_duration, parse_moment

    if allow_repeat and no_repeat:
        raise UsageError("--allow-repeat and --no-repeat contradict each other; give one")
    settings = cli.settings
    try:
        window = None if allow_repeat else _repeat_window(settings.get, command, no_repeat)
        repeat = parse_duration(window, "repeat_window") if window is not None else 0.0
        hours = settings.get("send_window")
        send_window = SendWindow.parse(hours) if hours is not None and not now else None
    except ValueError as exc:
        raise ConfigError(str(exc), hint=f"fix it in {settings.config.path}") from None
    try:
        before = parse_moment(not_before, "--not-before") if not_before else None
        after = parse_moment(not_after, "--not-after") if not_after else None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if idempotency_key is None:
        idempotency_key = cli.env.variables.get("SMSCLI_IDEMPOTENCY_KEY") or None
    if idempotency_key is not None and not idempotency_key.strip():
        raise UsageError("--idempotency-key must not be empty")
    return {
        "ignore_optout": ignore_optout,
        "repeat_window": repeat,
        "idempotency_key": idempotency_key,
        "not_before": before,
        "not_after": after,
        "send_window": send_window,
    }


def _repeat_window(get: Any, command: str, asked: bool) -> Any:
    """The repeat window that applies: ``bulk`` the profile's (default 24h); ``send`` only when
    asked (``--no-repeat``: the profile's ``send_repeat_window``, else its ``repeat_window``,
    else 24h; or ``send_repeat_window`` set in the profile)."""
    if command == "bulk":
        return get("repeat_window", DEFAULT_REPEAT_WINDOW)
    own = get("send_repeat_window")
    if asked:
        candidates = (own, get("repeat_window"), DEFAULT_REPEAT_WINDOW)
        return next(w for w in candidates if w not in (None, 0, "0"))
    return own


@contextmanager
def existing_ledger(cli: Cli) -> Iterator[Store | None]:
    """The ledger, if there is one, for a dry run to screen against (never created by it)."""
    from smscli.store import open_existing

    store = open_existing(cli.ledger)
    if store is None:
        yield None
        return
    with store:
        yield store
