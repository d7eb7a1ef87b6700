"""Times as users write them: ``--not-before``/``--not-after`` moments, the profile's
``repeat_window`` durations and its ``send_window`` hours. Local time is the machine's (``TZ``);
every message that names a time names its zone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import NamedTuple

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hour|hours|d|day|days)?\s*")
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "hours": 3600}
_SECONDS |= {"d": 86400, "day": 86400, "days": 86400}
_HOURS = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def parse_duration(value: object, name: str) -> float:
    """``"24h"``, ``"90m"``, ``"2d"``, ``"45s"``, ``0`` or a number of seconds → seconds
    (``0``: off). Raises ValueError naming ``name``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{name} must be a duration like 24h, 90m, 2d or 0 (off), got {value!r}")
    return float(match[1]) * _SECONDS[match[2] or "s"]


def human_duration(seconds: float) -> str:
    """``86400`` → ``24 h``; ``5400`` → ``90 min``; ``172800`` → ``2 d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and (seconds % size == 0 or unit == "min"):
            if unit == "d" and seconds < 3 * 86400:
                continue  # 24 h and 48 h read better than 1 d and 2 d
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def parse_moment(text: str, flag: str, now: datetime | None = None) -> float:
    """``HH:MM`` (today, local time) or an ISO 8601 date-time (local time without an offset)
    → Unix time. Raises ValueError naming ``flag``."""
    try:
        if len(text) <= 5 and ":" in text:
            hour, minute = (int(x) for x in text.split(":"))
            moment = (now or datetime.now()).replace(
                hour=hour, minute=minute, second=0, microsecond=0
            )
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{flag} {text!r}: expected HH:MM or an ISO 8601 time like 2026-11-23T18:00"
        ) from None
    return moment.timestamp()


def shown(at: float) -> str:
    """A moment for messages: local time with its zone (``2026-11-30 09:00 +03``)."""
    moment = datetime.fromtimestamp(at).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M ") + (moment.tzname() or moment.strftime("%z"))


class SendWindow(NamedTuple):
    """The hours of the day (local time) at which messages may leave: ``09:00-20:00``. An
    end before the start spans midnight (``22:00-06:00``)."""

    start: int
    """Minutes after midnight."""
    end: int
    text: str

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        match = _HOURS.fullmatch(text) if isinstance(text, str) else None
        bad = ValueError(f"send_window must look like 09:00-20:00 (local time), got {text!r}")
        if match is None:
            raise bad
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise bad
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start == end:
            raise bad
        return cls(start, end, f"{h1:02}:{m1:02}-{h2:02}:{m2:02}")

    def _open_at(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def next_change(self, at: float) -> tuple[bool, float]:
        """Whether the window is open at ``at``, and when that changes (it opens, or it
        closes), as Unix time."""
        now = datetime.fromtimestamp(at).astimezone()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        minute = now.hour * 60 + now.minute
        is_open = self._open_at(minute)
        edge = self.end if is_open else self.start
        moment = midnight + timedelta(minutes=edge)
        if moment.timestamp() <= at:
            moment += timedelta(days=1)
        # Local wall-clock time: a moment computed across a DST change is re-read as local.
        return is_open, moment.replace(tzinfo=None).astimezone().timestamp()
