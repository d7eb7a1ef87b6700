"""What a run's sending did, and the contract's exit code for it: kept apart from the engine
that fills it in, for the views that show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smscli.errors import ExitCode, SmscliError

if TYPE_CHECKING:
    from smscli.store import Totals


@dataclass
class Stop:
    """Why a run stopped before every message was sent."""

    error: SmscliError
    resume_at: float | None = None


@dataclass
class SendStats:
    claimed: int = 0
    requests: int = 0
    rate_limited: int = 0
    stop: Stop | None = None
    interrupted: bool = False
    credits_remaining: float | None = None
    unknown_in_a_row: int = 0
    screened: int = 0
    """Messages the claim's guard skipped (opted out, or a repeat, since the run was planned)."""
    reached: int = 0
    """Messages whose request left and may have been processed (accepted, refused or in
    doubt): none, and nothing of the run has left (an idempotency key is kept only then)."""
    errors: list[SmscliError] = field(default_factory=list)
    """Errors that failed or put in doubt whole requests, in the order they came."""


def exit_code(t: Totals, stats: SendStats | None) -> ExitCode:
    """The contract's exit code for a run, over the whole run (earlier invocations too)."""
    if stats is not None and stats.stop is not None:
        code = stats.stop.error.exit_code
        if code != ExitCode.UNFINISHED and t.unknown:
            return ExitCode.UNKNOWN
        return code
    if t.unknown:
        return ExitCode.UNKNOWN
    if stats is not None and stats.interrupted and t.pending:
        return ExitCode.UNFINISHED
    if not t.failed + t.invalid:
        return ExitCode.OK
    if t.sent_ok:
        return ExitCode.PARTIAL
    refused = stats is not None and any(e.exit_code == ExitCode.BAD_INPUT for e in stats.errors)
    if not t.failed or refused:
        return ExitCode.BAD_INPUT  # only invalid input, or the provider refused the numbers
    return ExitCode.PROVIDER
