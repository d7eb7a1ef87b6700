"""Request rate limits with several windows ("100/minute, 5,000/hour"), and the one place
that waits for a permit (:class:`Gate`). The permits themselves are kept by the store
(:meth:`smscli.store.Store.permits`), shared by every process that sends for the same provider
account; see :mod:`smscli.store.sqlite_permits` for how SQLite counts them.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from smscli.errors import Unfinished

UNITS: dict[str, float] = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
}
# Used by Rate.__str__, largest first: (seconds, name for one unit, suffix for a multiple).
_NAMES = (
    (86400.0, "day", "d"),
    (3600.0, "hour", "h"),
    (60.0, "minute", "min"),
    (1.0, "second", "s"),
)
_RATE = re.compile(
    r"\s*(?P<limit>\d{1,3}(?:,\d{3})+|\d+)\s*/\s*(?P<multiple>\d+(?:\.\d+)?)?\s*(?P<unit>[a-z]+)\s*",
    re.IGNORECASE,
)
MAX_LIMIT = 1_000_000_000
"""The most requests a rate may allow in its period: the ledger counts permits in integers."""
MAX_PERIOD = 1e12
"""The longest period, in seconds (some 31,700 years): the time a permit would come back must
be a date the clock can say."""
_ACCEPTED = (
    "expected LIMIT/PERIOD such as '100/minute', '5,000/hour', '50000/day' or '3/10s'; "
    "periods: second (s, sec), minute (m, min), hour (h, hr), day (d), optionally preceded "
    "by a multiple; LIMIT must be at least 1 and the period more than 0"
)


@dataclass(frozen=True)
class Rate:
    limit: int
    period: float  # seconds

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ValueError(f"rate limit must be an integer >= 1, not {self.limit!r}")
        if not (math.isfinite(self.period) and self.period > 0):
            raise ValueError(
                f"rate period must be a finite number of seconds > 0, not {self.period!r}"
            )

    def __str__(self) -> str:
        for seconds, name, suffix in _NAMES:
            count = self.period / seconds
            if count.is_integer() and count * seconds == self.period:
                period = name if count == 1 else f"{int(count)}{suffix}"
                return f"{self.limit}/{period}"
        from decimal import Decimal  # ~3 ms of every send's start-up otherwise

        return f"{self.limit}/{Decimal(repr(self.period)):f}s"  # no exponent: parse_rate


def parse_rate(text: str) -> Rate:
    """``"100/minute"``, ``"5,000/hour"``, ``"3/10s"``, ``"20/5min"`` → :class:`Rate`."""
    match = _RATE.fullmatch(text)
    unit = UNITS.get(match["unit"].lower()) if match else None
    if match is None or unit is None:
        raise ValueError(f"invalid rate {text!r}: {_ACCEPTED}")
    limit = int(match["limit"].replace(",", ""))
    period = float(match["multiple"] or 1) * unit
    if limit < 1 or not (math.isfinite(period) and period > 0):
        raise ValueError(f"invalid rate {text!r}: {_ACCEPTED}")
    if limit > MAX_LIMIT or period > MAX_PERIOD:
        raise ValueError(
            f"invalid rate {text!r}: out of range; LIMIT may be 1 to {MAX_LIMIT:,} and the "
            "period at most 1e12 seconds (some 31,000 years), as in '100/minute' or '50,000/day'"
        )
    return Rate(limit, period)


JITTER_SHARE = 0.001
JITTER_SECONDS = 0.005


def guarded(rates: Sequence[Rate]) -> list[Rate]:
    """The windows widened by 0.1% + 5 ms. A permit counts from the moment its request was
    written (:meth:`RateLimiter.sent`), but the provider counts when it arrives; without this
    margin, network jitter (and the provider's own delay in stamping a request) can make it
    see one request too many in a window, and answer 429, although we never sent one. A delay
    longer than the 5 ms shows in the request's round trip, and moves its permit
    (:meth:`RateLimiter.replied`, with ``covered_delay=JITTER_SECONDS``), so the margin need
    not grow with the window: its 0.1% is for clocks, twice the fastest rate at which NTP
    slews one (500 ppm), so that the provider's clock and ours cannot disagree on the length
    of a window by more."""
    return [Rate(r.limit, r.period * (1 + JITTER_SHARE) + JITTER_SECONDS) for r in rates]


class RateWait(Unfinished):
    """A permit would come later than ``--max-wait`` or ``--not-after`` allow."""

    def __init__(self, message: str, *, hint: str | None, resume_at: float | None) -> None:
        super().__init__(message, hint=hint)
        self.resume_at = resume_at


class Gate:
    """The one place that waits for a rate-limit permit, for every command.

    :meth:`until_permitted` asks ``take`` (which tries to take permits and returns the wait
    until the next one, 0.0 when it got them) until it gets them, and spends each wait in
    ``idle`` (by default sleeping; the engine collects replies meanwhile). A wait that would
    pass ``max_wait`` seconds or ``not_after`` (a time) is not waited: it raises
    :class:`RateWait`, saying when to try again. A 429 or a 503 with Retry-After becomes a
    block every process of the account respects (:meth:`rate_limited`)."""

    AGAIN = "run the same command again after {time} to continue"

    def __init__(
        self,
        *,
        max_wait: float = 600.0,
        not_after: float | None = None,
        deadline: str = "--not-after",
        what: str = "this run",
        again: str = AGAIN,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # A plain class: a dataclass compiles its methods on every start (~1 ms of a send).
        self.max_wait, self.not_after, self.what, self.again = max_wait, not_after, what, again
        self.deadline = deadline
        """What ``not_after`` is, for messages: ``--not-after``, the send window's close."""
        self.clock, self.sleep = clock, sleep
        self._backoff = 1.0

    def until_permitted(
        self, take: Callable[[], float], idle: Callable[[float], bool] | None = None
    ) -> bool:
        """True once ``take`` got its permits; False when ``idle`` (which returns whether to go
        on waiting) gave up."""
        started = self.clock()
        while True:
            pause = take()
            if pause <= 0:
                return True
            self._check(pause, self.clock() - started)
            if idle is None:
                self.sleep(pause)
            elif not idle(pause):
                return False

    def take_one(self, permits: Acquirable) -> None:
        """Wait for one permit and take it: a request outside the engine (a report's, the
        balance checked before sending) counts against the account's limits like a send."""

        def take() -> float:
            taken, wait = permits.acquire(1)
            return 0.0 if taken else wait

        self.until_permitted(take)

    def _check(self, pause: float, waited: float) -> None:
        resume = self.clock() + pause
        if self.not_after is not None and resume >= self.not_after:
            raise RateWait(
                f"the rate limit allows no more requests before {self.deadline}; the rest of "
                f"{self.what} was not sent",
                hint=None,
                resume_at=None,
            )
        if waited + pause > self.max_wait:
            raise RateWait(
                f"the rate limit would make {self.what} wait {pause:.0f}s more, beyond "
                f"--max-wait {self.max_wait:.0f}s",
                hint=self.again.format(
                    time=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(resume))
                ),
                resume_at=resume,
            )

    def rate_limited(self, permits: Blockable, retry_after: float | None) -> None:
        """A 429 (or 503 with Retry-After): nobody on the account asks before it is over
        (without a Retry-After, for a back-off that doubles each time, up to a minute)."""
        pause = retry_after if retry_after else self._backoff
        self._backoff = min(self._backoff * 2, 60.0)
        permits.block_until(self.clock() + pause)


class Blockable(Protocol):
    def block_until(self, until: float) -> None: ...


class Acquirable(Protocol):
    def acquire(self, wanted: int) -> tuple[list[int | None], float]: ...
