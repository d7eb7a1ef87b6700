"""The account surface as a library: balance, sender headers, delivery reports, and the history
of runs in the ledger. No typer, no rich: the commands in :mod:`smscli.cli.account` and
:mod:`smscli.cli.history` parse arguments, call one function here and render what it returns.

Where a provider offers no call for something, what it does instead is decided here, once:

- balance: the last ``credits_remaining`` the provider reported with a send (kept in the ledger
  by the sending engine), labelled with its time; nothing recorded is the driver's own
  :class:`UnsupportedOperation` (exit 2).
- headers: the profile's ``senders``, labelled "configured in profile"; when the provider's call
  fails (masgsm's legacy ``apiNo=3``) the same, with a note saying why.
- reports: what the ledger knows, labelled "from the ledger".
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from smscli.errors import (
    InputError,
    NotSent,
    ProviderError,
    RateLimited,
    SmscliError,
    Unfinished,
    UnsupportedOperation,
    UsageError,
)
from smscli.sending import check_sender

if TYPE_CHECKING:
    import sqlite3

    from smscli.ledger import Ledger
    from smscli.providers.base import Delivery, Provider
    from smscli.ratelimit import RateLimiter

Source = Literal["provider", "ledger", "profile", "simulated"]

SIMULATED = "sandbox (simulated)"
ASKABLE = ("accepted", "delivered", "undelivered", "unknown")
"""Ledger states of messages that may have reached the provider, so a report can tell.
``unknown`` is included: masgsm's code 3 leaves messages in doubt that only a report resolves."""
CREDITED = ("accepted", "delivered", "undelivered")
"""States whose parts the provider charged (``credits used`` in the history)."""
NOT_SENT = ("invalid", "skipped")
REPORT_CHUNK = 100
"""Most numbers asked about in one driver call: the granularity of progress and of storing."""
NO_ID = "no id to ask the provider about (the provider answered the send without one)"


def _is_simulated(driver: Provider) -> bool:
    return not getattr(type(driver), "network", True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- balance ----------------------------------------------------------------------------------


class BalanceReport(NamedTuple):
    provider: str
    credits: float | None
    raw: str | None
    source: Source
    label: str
    as_of: str
    """ISO time (UTC) the value is from: now for a live call, the send's time from the ledger."""


def balance(driver: Provider, ledger: Ledger, account: str) -> BalanceReport:
    """The remaining credit: live where the provider has a call, else the last value it
    reported with a send (recorded in the ledger), else the driver's UnsupportedOperation."""
    name = driver.name
    try:
        found = driver.balance()
    except UnsupportedOperation as exc:
        stored = ledger.get_state(account, "credits_remaining")
        if stored is None:
            raise UnsupportedOperation(
                exc.message,
                hint="no send through this account has reported remaining credits yet",
            ) from None
        value, updated_at = stored
        credits = float(value)
        return BalanceReport(
            name, credits, f"{credits:g}", "ledger", f"last reported by {name}", updated_at
        )
    if _is_simulated(driver):
        return BalanceReport(name, found.credits, found.raw, "simulated", SIMULATED, _now())
    return BalanceReport(name, found.credits, found.raw, "provider", f"{name} balance call", _now())


# --- checking credentials ---------------------------------------------------------------------

PROBE_ID = "0"
PROBE_NUMBER = "+905000000000"


class CredentialCheck(NamedTuple):
    checked: bool
    """Whether a call was made; False where the provider has no harmless call."""
    how: str
    detail: str


def check_credentials(driver: Provider) -> CredentialCheck:
    """Check the credentials live through a call that costs nothing and changes nothing.

    The balance call where there is one; else a report on a send id that does not exist
    (``0``): a rejected key is an :class:`AuthError`, any other answer means the key was not
    rejected. No call at all could reach the provider: the error is raised (nothing checked).
    A provider with neither call cannot be checked without sending, which costs credit.
    """
    name = driver.name
    caps = driver.capabilities
    if caps.balance:
        found = driver.balance()
        return CredentialCheck(
            True, f"{name} balance call", f"{credits_text(found.credits)} credits"
        )
    if caps.report:
        how = f"{name} report call for send id {PROBE_ID}, which does not exist"
        try:
            driver.report(PROBE_ID, [PROBE_NUMBER])
        except (NotSent, RateLimited):
            raise
        except ProviderError as exc:
            return CredentialCheck(True, how, f"credentials not rejected ({exc.message})")
        return CredentialCheck(True, how, "credentials not rejected")
    return CredentialCheck(
        False,
        "",
        f"{name} offers no call that checks credentials without sending (a send costs "
        "credit); the profile was saved untested",
    )


def credits_text(value: float | None) -> str:
    """``1,000`` or ``12.50``; ``unknown`` for None."""
    if value is None:
        return "unknown"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


# --- sender headers ---------------------------------------------------------------------------


class HeaderRow(NamedTuple):
    name: str
    source: str
    problem: str | None
    """Why the header's shape would be refused before any send (3 to 11 characters, no
    Turkish letters), or None."""


@dataclass(frozen=True)
class HeaderList:
    provider: str
    source: Source
    label: str
    headers: list[HeaderRow]
    sender: str | None
    """The profile's sender."""
    note: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def sender_listed(self) -> bool | None:
        if not self.sender or not self.headers:
            return None
        return self.sender in {h.name for h in self.headers}


CONFIGURED = "configured in profile"


def list_headers(
    driver: Provider,
    *,
    senders: Sequence[str],
    sender: str | None,
    configure_hint: str,
) -> HeaderList:
    """The sender headers usable with the account, with where they came from.

    ``senders`` and ``sender`` are the profile's; ``configure_hint`` says how to set ``senders``
    (named in the error when there is nothing to show).
    """
    name = driver.name
    note = None
    source: Source
    try:
        found = driver.headers()
    except UnsupportedOperation as exc:
        if not senders:
            raise UnsupportedOperation(exc.message, hint=configure_hint) from None
        rows, source, label = _configured(senders), "profile", CONFIGURED
    except ProviderError as exc:
        # AuthError is a ConfigError, not a ProviderError: wrong credentials are not papered over.
        if not senders:
            raise ProviderError(exc.message, hint=configure_hint) from None
        note = f"{exc.message}; showing the profile's senders instead"
        rows, source, label = _configured(senders), "profile", CONFIGURED
    else:
        simulated = _is_simulated(driver)
        source = "simulated" if simulated else "provider"
        label = found[0].source if found else (SIMULATED if simulated else f"{name} header list")
        rows = [HeaderRow(h.name, h.source, check_sender(h.name)) for h in found]
    result = HeaderList(name, source, label, rows, sender, note)
    if source == "profile" and not driver.capabilities.sender:
        result.warnings.append(f"{name} takes no sender header; these are only what is configured")
    for row in rows:
        if row.problem:
            result.warnings.append(f"{row.problem}; smscli refuses it before sending")
    if sender and driver.capabilities.sender:
        problem = check_sender(sender)
        if problem:
            result.warnings.append(f"the profile's {problem}")
        if result.sender_listed is False:
            result.warnings.append(
                f"the profile's sender {sender!r} is not among these headers; {name} may refuse it"
            )
    return result


def _configured(senders: Iterable[str]) -> list[HeaderRow]:
    return [HeaderRow(s, CONFIGURED, check_sender(s)) for s in dict.fromkeys(senders)]


# --- which messages a report is about ----------------------------------------------------------


@dataclass
class Selection:
    messages: list[sqlite3.Row]
    """Messages joined with their run (``run_provider``, ``run_profile``, ``run_created_at``)."""
    runs: list[str]
    not_found: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


_SELECT = (
    "SELECT m.*, r.provider AS run_provider, r.profile AS run_profile, r.account AS run_account,"
    " r.created_at AS run_created_at FROM messages m JOIN runs r ON r.id = m.run_id"
)
_ORDER = " ORDER BY r.created_at, m.run_id, m.seq"


def find_run(ledger: Ledger, run_id: str) -> str:
    """A run id from an exact id or an unambiguous prefix of one."""
    if ledger.run(run_id) is not None:
        return run_id
    like = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = ledger.conn.execute(
        "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT 6",
        (like,),
    ).fetchall()
    if not rows:
        raise InputError(
            f"no run {run_id!r} in the ledger {ledger.path}", hint="`smscli history` lists runs"
        )
    if len(rows) > 1:
        shown = ", ".join(r[0] for r in rows[:5])
        more = ", ..." if len(rows) > 5 else ""
        raise UsageError(f"run {run_id!r} is ambiguous: it matches {shown}{more}")
    found: str = rows[0][0]
    return found


def select(
    ledger: Ledger,
    account: str,
    *,
    message_ids: Sequence[str] = (),
    run_id: str | None = None,
    last: bool = False,
) -> Selection:
    """The messages to report on: by provider message id, a run, or the account's last run
    (the default). Only runs of ``account`` are reported on: another account's ids mean
    nothing to this provider."""
    given = sum((bool(message_ids), run_id is not None, last))
    if given > 1:
        raise UsageError("give message ids, --run or --last, not more than one of them")
    if message_ids:
        return _select_ids(ledger, account, list(dict.fromkeys(message_ids)))
    if run_id is not None:
        rid = find_run(ledger, run_id)
        rows = ledger.conn.execute(_SELECT + " WHERE m.run_id = ?" + _ORDER, (rid,)).fetchall()
        run = ledger.run(rid)
        assert run is not None
        if run.account != account:
            raise UsageError(
                f"run {rid} was sent through {run.provider}"
                + (f" (profile {run.profile})" if run.profile else "")
                + ", another account than the selected profile's",
                hint="select its profile with -p (or its provider with --provider)",
            )
        return Selection(list(rows), [rid])
    row = ledger.conn.execute(
        "SELECT id FROM runs WHERE account = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (account,),
    ).fetchone()
    if row is None:
        raise InputError(
            "no run through this account in the ledger yet",
            hint="send something first, or pass --run RUN or message ids",
        )
    rows = ledger.conn.execute(_SELECT + " WHERE m.run_id = ?" + _ORDER, (row[0],)).fetchall()
    return Selection(list(rows), [row[0]])


def _select_ids(ledger: Ledger, account: str, ids: list[str]) -> Selection:
    rows: list[sqlite3.Row] = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        rows += ledger.conn.execute(
            _SELECT + f" WHERE m.provider_message_id IN ({','.join('?' * len(part))})" + _ORDER,
            part,
        ).fetchall()
    mine = [r for r in rows if r["run_account"] == account]
    mine_ids = {r["provider_message_id"] for r in mine}
    elsewhere = {
        r["provider_message_id"]: r
        for r in rows
        if r["run_account"] != account and r["provider_message_id"] not in mine_ids
    }
    known = {r["provider_message_id"] for r in rows}
    not_found = [i for i in ids if i not in known]
    warnings = [
        f"message id {i} belongs to run {r['run_id']}, sent through {r['run_provider']}"
        + (f" (profile {r['run_profile']})" if r["run_profile"] else "")
        + "; select that profile to report on it"
        for i, r in elsewhere.items()
    ]
    if not mine:
        if elsewhere:
            raise UsageError(
                "; ".join(warnings),
                hint="select the profile with -p or the provider with --provider",
            )
        raise InputError(
            f"no message with id {', '.join(not_found)} in the ledger {ledger.path}",
            hint="`smscli history show RUN` lists the message ids of a run",
        )
    if not_found:
        warnings.append(f"not in the ledger: {', '.join(not_found)}")
    runs = list(dict.fromkeys(r["run_id"] for r in mine))
    return Selection(mine, runs, not_found, warnings)


# --- delivery reports -------------------------------------------------------------------------


@dataclass
class ReportLine:
    message: int
    """The message's row id in the ledger."""
    run_id: str
    seq: int
    to: str | None
    raw: str | None
    message_id: str | None
    state: str
    """The ledger state, after this report."""
    reported: str | None = None
    """What the provider said now: delivered, undelivered, pending, unknown; None if not asked."""
    detail: str | None = None
    """The provider's own word (this report's), else the last stored report detail."""
    reported_at: str | None = None
    note: str | None = None
    """Why the message was not asked about, or an error from sending."""


@dataclass
class DeliveryReport:
    provider: str
    source: Source
    label: str
    runs: list[str]
    lines: list[ReportLine]
    not_found: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: SmscliError | None = None
    """The error that stopped the report; what was reported before it is stored."""

    def counts(self) -> dict[str, int]:
        """Messages per ledger state, after this report."""
        return _count(line.state for line in self.lines)

    def reported(self) -> dict[str, int]:
        """Messages per status the provider reported now (those asked about)."""
        return _count(line.reported for line in self.lines if line.reported)


def _count(keys: Iterable[str]) -> dict[str, int]:
    return dict(Counter(keys))


class Throttle:
    """Waits for a rate-limit permit before each request (a report is not time-critical), and
    turns a provider's 429/Retry-After into a block every process of the account respects.

    ``before_request`` is called before every HTTP request of the report; waiting more than
    ``max_wait`` seconds in all stops the report with :class:`Unfinished` (exit 8)."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        max_wait: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limiter = limiter
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.waited = 0.0
        self._backoff = 1.0

    def before_request(self) -> None:
        while True:
            wait = self.limiter.try_acquire()
            if wait <= 0:
                return
            self._wait(wait)

    def rate_limited(self, exc: RateLimited) -> None:
        pause = exc.retry_after if exc.retry_after else self._backoff
        self._backoff = min(self._backoff * 2, 60.0)
        self.limiter.block_until(self.clock() + pause)

    def _wait(self, seconds: float) -> None:
        if self.waited + seconds > self.max_wait:
            at = datetime.fromtimestamp(self.clock() + seconds).astimezone()
            raise Unfinished(
                f"rate limit: the report would wait {seconds:.0f}s more, beyond --max-wait "
                f"{self.max_wait:.0f}s; what was reported so far is stored",
                hint=f"run the report again after {at:%H:%M:%S}",
            )
        self.sleep(seconds)
        self.waited += seconds


def targets(selection: Selection) -> int:
    """How many messages of ``selection`` a report asks the provider about."""
    return sum(1 for r in selection.messages if _askable(r) and _ask_id(r))


def report(
    driver: Provider,
    ledger: Ledger,
    selection: Selection,
    *,
    throttle: Throttle | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DeliveryReport:
    """Ask the provider about every message of ``selection`` that reached it and store the
    answers in the ledger. A provider without a report call gets what the ledger knows."""
    name = driver.name
    lines = {r["id"]: _line(r) for r in selection.messages}
    result = DeliveryReport(
        name,
        "simulated" if _is_simulated(driver) else "provider",
        SIMULATED if _is_simulated(driver) else f"{name} delivery report",
        selection.runs,
        list(lines.values()),
        selection.not_found,
        list(selection.warnings),
    )
    if not driver.capabilities.report:
        result.source, result.label = (
            "ledger",
            f"from the ledger: {name} offers no delivery reports",
        )
        return result
    groups: dict[str, list[sqlite3.Row]] = {}
    for row in selection.messages:
        if not _askable(row):
            continue
        key = _ask_id(row)
        if key is None:
            if row["state"] != "unknown":  # an unknown one keeps its own story (its error)
                lines[row["id"]].note = NO_ID
            continue
        groups.setdefault(key, []).append(row)
    chunks = deque(
        (key, rows[start : start + REPORT_CHUNK])
        for key, rows in groups.items()
        for start in range(0, len(rows), REPORT_CHUNK)
    )
    try:
        while chunks:
            key, chunk = chunks.popleft()
            try:
                deliveries = _ask(driver, key, [r["recipient"] for r in chunk])
            except RateLimited as exc:
                if throttle is None:
                    raise
                # Wait it out, then ask again in halves: the provider may allow fewer requests
                # per window than a whole chunk takes (vairosms asks once per number).
                throttle.rate_limited(exc)
                half = (len(chunk) + 1) // 2
                parts = [chunk[:half], chunk[half:]] if len(chunk) > 1 else [chunk]
                chunks.extendleft((key, part) for part in reversed(parts))
                continue
            for row, delivery, state in apply_report(ledger, chunk, deliveries):
                line = lines[row["id"]]
                line.state, line.reported = state, delivery.status
                line.detail, line.reported_at = delivery.detail, _now()
            if on_progress:
                on_progress(len(chunk))
    except UnsupportedOperation:
        raise
    except SmscliError as exc:
        result.error = exc
    return result


def _askable(row: sqlite3.Row) -> bool:
    return row["state"] in ASKABLE and bool(row["recipient"])


def _ask_id(row: sqlite3.Row) -> str | None:
    """The id the provider's report call takes: the request's id (vairosms, masgsm), else the
    message's own (the sandbox)."""
    found: str | None = row["batch_id"] or row["provider_message_id"]
    return found


def _line(row: sqlite3.Row) -> ReportLine:
    detail = row["report_detail"]
    note = row["error"] if row["state"] in ("failed", "invalid", "skipped", "unknown") else None
    return ReportLine(
        row["id"], row["run_id"], row["seq"], row["recipient"], row["raw"],
        row["provider_message_id"], row["state"], None, detail, row["reported_at"], note,
    )  # fmt: skip


def _ask(driver: Provider, key: str, numbers: list[str]) -> list[Delivery]:
    deliveries = driver.report(key, numbers)
    if len(deliveries) != len(numbers):
        by_number = {d.to: d for d in deliveries}
        missing = [n for n in numbers if n not in by_number]
        if missing:
            raise ProviderError(
                f"{driver.name}: the report of id {key!r} says nothing about {missing[0]}"
            )
        deliveries = [by_number[n] for n in numbers]
    return deliveries


def apply_report(
    ledger: Ledger, rows: Sequence[sqlite3.Row], deliveries: Sequence[Delivery]
) -> list[tuple[sqlite3.Row, Delivery, str]]:
    """Store deliveries (matched to ``rows`` by position) in one transaction; return each
    message's new state.

    ``delivered``/``undelivered`` become the state. ``pending`` keeps ``accepted`` (and settles
    an ``unknown`` message as ``accepted``: the provider has it). ``unknown`` changes no state.
    ``report_detail`` is ``"<status>: <provider's word>"``, ``reported_at`` the time asked.
    """
    stamp = _now()
    out = []
    for row, delivery in zip(rows, deliveries, strict=True):
        state = row["state"]
        if delivery.status in ("delivered", "undelivered"):
            state = delivery.status
        elif delivery.status == "pending" and state == "unknown":
            state = "accepted"
        out.append((row, delivery, state))
    with ledger.transaction() as db:
        db.executemany(
            "UPDATE messages SET state = ?, report_detail = ?, reported_at = ?,"
            " updated_at = CASE WHEN state = ? THEN updated_at ELSE ? END WHERE id = ?",
            (
                (
                    state,
                    f"{d.status}: {d.detail}" if d.detail else d.status,
                    stamp,
                    state,
                    stamp,
                    row["id"],
                )
                for row, d, state in out
            ),
        )
    return out


# --- history ----------------------------------------------------------------------------------


class RunSummary(NamedTuple):
    id: str
    created_at: str
    finished_at: str | None
    command: str
    provider: str
    profile: str | None
    sender: str | None
    source: str | None
    state: str
    credits_remaining: float | None
    counts: dict[str, int]
    """Messages per ledger state."""
    parts: int
    """SMS parts of every message meant to be sent (not invalid or skipped ones)."""
    credits_used: int
    """Parts of the messages the provider took (accepted, delivered, undelivered); ``unknown``
    ones may have been charged too and are not counted."""

    @property
    def messages(self) -> int:
        return sum(self.counts.values())


def history(
    ledger: Ledger,
    *,
    limit: int | None = 20,
    provider: str | None = None,
    profile: str | None = None,
) -> list[RunSummary]:
    """The most recent runs first, optionally only one provider's or profile's."""
    where: list[str] = []
    args: list[Any] = []
    if provider:
        where.append("provider = ?")
        args.append(provider)
    if profile:
        where.append("profile = ?")
        args.append(profile)
    sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY created_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    runs = ledger.conn.execute(sql, args).fetchall()
    return [_summary(ledger, r) for r in runs]


def run_messages(ledger: Ledger, run_id: str) -> tuple[RunSummary, list[sqlite3.Row]]:
    """One run (an id or an unambiguous prefix) and its messages in order."""
    rid = find_run(ledger, run_id)
    run = ledger.conn.execute("SELECT * FROM runs WHERE id = ?", (rid,)).fetchone()
    return _summary(ledger, run), ledger.messages(rid)


def _summary(ledger: Ledger, run: sqlite3.Row) -> RunSummary:
    counts: dict[str, int] = {}
    parts = credits = 0
    for state, count, segments in ledger.conn.execute(
        "SELECT state, COUNT(*), COALESCE(SUM(segments), 0) FROM messages WHERE run_id = ?"
        " GROUP BY state",
        (run["id"],),
    ):
        counts[state] = count
        if state not in NOT_SENT:
            parts += segments
        if state in CREDITED:
            credits += segments
    keys: Any = run.keys()
    return RunSummary(
        run["id"], run["created_at"], run["finished_at"], run["command"], run["provider"],
        run["profile"], run["sender"], run["source"],
        run["state"] if "state" in keys else "complete", run["credits_remaining"],
        counts, parts, credits,
    )  # fmt: skip


# --- showing times ----------------------------------------------------------------------------


def local_time(iso: str | None) -> str:
    """``2025-11-23 10:24:01`` in the local time zone, from a ledger timestamp."""
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{when.astimezone():%Y-%m-%d %H:%M:%S}"


def ago(iso: str, now: datetime | None = None) -> str:
    """How long ago, roughly: ``just now``, ``5 minutes ago``, ``3 days ago``."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' * (n != 1)} ago"
    return ""  # pragma: no cover
