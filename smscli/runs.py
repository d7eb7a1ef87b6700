"""Runs as a library: ``send`` and ``bulk`` take the same path, plan → store → engine.

The CLI builds one frozen :class:`RunOptions`, then either previews it (:func:`dry_run`) or opens
it (:meth:`Campaign.open`: held by this process, found again or planned into the store), checks
credit, asks on a terminal, and sends (:meth:`Campaign.send`). No typer, no rich.

A ``bulk`` run is identified by its fingerprint (account, input content, template, sender,
options): the same command resumes it, and a completed one refuses unless ``--again``. A
``send`` run has no fingerprint: each ``send`` is a run of its own, and what it did not send
(an interrupt, a rate quota beyond ``--max-wait``) is settled ``failed``, "not sent", since no
later command resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from smscli.accounts import account_id
from smscli.encoding import Segmentation
from smscli.errors import CreditError, ExitCode, InputError, SmscliError, UsageError
from smscli.plan import Pricing, Source, Spec, check_text, prepare, pricing, send_source
from smscli.senders import check_turkish_mode, resolve_sender

if TYPE_CHECKING:
    from smscli.engine import SendStats
    from smscli.providers.base import Account, Provider
    from smscli.ratelimit import Rate
    from smscli.store import MessageRecord, RunRecord, Store, Totals

STALE_AFTER = 24 * 3600
SHOWN_INVALID = 5


class BulkInput(NamedTuple):
    path: Path
    name: str
    template: str | None = None
    message_column: str | None = None
    phone_column: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    exclude: Path | None = None
    failed_csv: Path | None = None


class SendInput(NamedTuple):
    entries: tuple[tuple[str, str], ...]
    """``(number as written, where)``."""
    text: str


class RunOptions(NamedTuple):
    """Everything a run needs, resolved by the CLI from flags, environment and profile."""

    input: BulkInput | SendInput
    driver: type[Provider]
    account: Account
    profile: str | None
    region: str
    sender: str | None = None
    turkish: bool | None = None
    ascii_only: bool = False
    limit: int | None = None
    retry_unknown: bool = False
    retry_failed: bool = False
    again: bool = False
    not_after: float | None = None
    max_wait: float = 600.0
    force: bool = False
    batch_size: int | None = None
    concurrency: int = 4
    rates: tuple[Rate, ...] = ()

    @property
    def command(self) -> Literal["send", "bulk"]:
        return "send" if isinstance(self.input, SendInput) else "bulk"


class RunView(NamedTuple):
    """A run in the store, for rendering: its record, totals and messages."""

    store: Store
    run: RunRecord
    totals: Totals
    resumed: bool
    dry_run: bool
    text: Segmentation | None
    """``send``'s one text."""
    notices: list[str]
    """What to tell the user before the results: warnings about the text, resumed runs."""

    def pending(self, limit: int) -> list[MessageRecord]:
        return list(self.store.messages(self.run.id, ("pending",), limit))

    def messages(self, *states: str, limit: int | None = None) -> Iterator[MessageRecord]:
        return self.store.messages(self.run.id, states, limit)


class RunResult(NamedTuple):
    view: RunView
    stats: SendStats | None
    exit_code: ExitCode
    failed_csv_rows: int | None = None
    failed_csv: Path | None = None


class _Plan:
    """What the options resolve to before the store is touched: sender, texts, the input's
    encoding and digest, the fingerprint."""

    def __init__(self, o: RunOptions) -> None:
        caps = o.driver.capabilities
        check_turkish_mode(o.driver.name, caps, o.turkish)
        self.options = o
        self.sender = resolve_sender(o.driver.name, caps, o.sender)
        self.rules: Pricing = pricing(caps, o.turkish, o.ascii_only)
        self.account = account_id(o.account, caps)
        self.text: Segmentation | None = None
        self.warnings: list[str] = []
        self.fingerprint: str | None = None
        self.exclusions: frozenset[str] = frozenset()
        if isinstance(o.input, SendInput):
            self.message, self.text, self.warnings = check_text(o.input.text, self.rules)
        else:
            self._bulk(o.input)

    def _bulk(self, given: BulkInput) -> None:
        from smscli.csvfile import scan
        from smscli.plan import read_exclusions

        o = self.options
        self.scanned = scan(given.path, given.name, given.encoding)
        digest = None
        if given.exclude is not None:
            self.exclusions, digest = read_exclusions(given.exclude, o.region)
        self.spec = Spec(
            self.scanned.sha256, self.scanned.encoding, given.delimiter, given.phone_column,
            given.template, given.message_column, self.sender, o.turkish, o.ascii_only, digest,
            o.region,
        )  # fmt: skip
        self.fingerprint = self.spec.fingerprint(self.account)

    @contextmanager
    def source(self) -> Iterator[Source]:
        given = self.options.input
        if isinstance(given, SendInput):
            yield send_source(given.entries, self.message)
            return
        from smscli.bulkinput import open_source

        with open_source(given.path, given.name, self.scanned.encoding, self.spec) as source:
            yield source

    def into(self, store: Store) -> str:
        """A new run, planned into ``store``; raises (leaving nothing) on any input error."""
        o = self.options
        given = o.input
        origin = given.name if isinstance(given, BulkInput) else None
        run_id = store.create_run(
            command=o.command, provider=o.driver.name, profile=o.profile, account=self.account,
            sender=self.sender, source=origin, fingerprint=self.fingerprint, options=None,
        )  # fmt: skip
        with self.source() as source:
            prepare(
                store, run_id, source, provider=o.driver.name, capabilities=o.driver.capabilities,
                rules=self.rules, region=o.region, exclude=self.exclusions,
            )  # fmt: skip
        if o.command == "send" and not store.totals(run_id).pending:
            invalid = list(store.messages(run_id, ("invalid",), SHOWN_INVALID))
            store.delete_run(run_id)
            detail = "; ".join(f"{m.raw!r} ({m.source}): {_reason(m)}" for m in invalid)
            raise InputError("no valid recipient" + (f": {detail}" if detail else ""))
        return run_id

    def view(
        self,
        store: Store,
        run_id: str,
        *,
        resumed: bool = False,
        dry_run: bool = False,
        totals: Totals | None = None,
    ) -> RunView:
        run = store.run(run_id)
        assert run is not None
        totals = totals or store.totals(run_id)  # a count of a whole run: once where it can
        notices = list(self.warnings)
        return RunView(store, run, totals, resumed, dry_run, self.text, notices)


def _reason(m: MessageRecord) -> str:
    return (m.error or "").removeprefix("invalid number: ")


@contextmanager
def dry_run(options: RunOptions, store: Callable[[], Store] | None = None) -> Iterator[RunView]:
    """What the options would send, planned into a scratch store (nothing leaves, the ledger
    is not written). A bulk run that exists already (``store``, the ledger) is shown as it is."""
    from smscli.store.sqlite import SqliteStore

    plan = _Plan(options)
    if plan.fingerprint is not None and store is not None and not options.again:
        ledger = store()
        try:
            found = ledger.find_run(plan.fingerprint)
            if found is not None and found.state != "preparing":
                yield plan.view(ledger, found.id, resumed=True, dry_run=True)
                return
        finally:
            ledger.close()
    with ExitStack() as stack:
        path = None
        if isinstance(options.input, BulkInput):  # a campaign's rows: on disk, not in memory
            import tempfile

            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smscli-dry-")))
        scratch = SqliteStore.scratch(path and path / "dry-run.db")
        stack.callback(scratch.close)
        yield plan.view(scratch, plan.into(scratch), dry_run=True)


class Campaign:
    """A run opened for sending, held by this process (no other works on it meanwhile)."""

    def __init__(self, store: Store, plan: _Plan, run_id: str, *, fresh: bool) -> None:
        self.store, self.plan, self.run_id, self.fresh = store, plan, run_id, fresh
        self.view = plan.view(store, run_id, resumed=not fresh)

    @classmethod
    @contextmanager
    def open(cls, store: Store, options: RunOptions) -> Iterator[Campaign]:
        plan = _Plan(options)
        with store.hold(plan.fingerprint):
            notices: list[str] = []
            found = cls._resume(store, plan, notices)
            run_id = plan.into(store) if found is None else found
            campaign = cls(store, plan, run_id, fresh=found is None)
            campaign.view.notices[:0] = notices
            yield campaign

    @staticmethod
    def _resume(store: Store, plan: _Plan, notices: list[str]) -> str | None:
        """The run this bulk command continues, settled and requeued as asked; None for a new
        one."""
        o = plan.options
        run = store.find_run(plan.fingerprint) if plan.fingerprint else None
        if run is not None and run.state == "preparing":
            store.delete_run(run.id)  # a preparation that died; nothing was sent
            run = None
        if run is None:
            return None
        store.keep_holding(run.id)  # refuses while a live process on another path holds it
        settled = store.settle(
            run.id, ["sending"], "unknown", "the sending process ended while the request was "
            "on the wire",
        )  # fmt: skip
        if settled:
            notices.append(
                f"{settled} message(s) were on the wire when an earlier process ended: "
                "marked unknown, not re-sent (--retry-unknown re-sends them)"
            )
        states = [s for s, on in (("unknown", o.retry_unknown), ("failed", o.retry_failed)) if on]
        requeued = store.requeue(run.id, states)
        if run.state == "complete" and not requeued:
            if not o.again:
                t = store.totals(run.id)
                raise UsageError(
                    f"this campaign was already sent: run {run.id} of "
                    f"{run.created_at[:16].replace('T', ' ')} UTC ({t.sent_ok} accepted, "
                    f"{t.failed} failed, {t.unknown} unknown); nothing sent",
                    hint="--again sends it once more; --retry-failed / --retry-unknown "
                    "re-send only those; `smscli history show RUN` shows it",
                )
            return None
        if time.time() - datetime.fromisoformat(run.created_at).timestamp() > STALE_AFTER:
            notices.append(
                f"RESUMING RUN {run.id} STARTED {run.created_at[:16].replace('T', ' ')} UTC, "
                "MORE THAN 24 HOURS AGO: its messages may be out of date"
            )
        return run.id

    def cancel(self) -> None:
        """Nothing is sent: a run planned by this command is forgotten."""
        if self.fresh:
            self.store.delete_run(self.run_id)

    def check_credit(self, driver: Provider) -> None:
        """The provider's balance against the parts this invocation will send (where the
        provider reports one, unless ``--force``); nothing is sent when it is too low."""
        o = self.plan.options
        if o.force or not driver.capabilities.balance:
            return
        needed = self.store.pending_parts(self.run_id, o.limit)
        try:
            balance = driver.balance()
        except SmscliError as exc:
            self.refused(exc)
            raise
        if balance.credits is not None and balance.credits < needed:
            raise self.refused(
                CreditError(
                    f"{driver.name}: the balance is {balance.credits:g} credits, sending "
                    f"{'this run' if o.limit is None else 'these messages'} needs {needed:,} "
                    "(one per SMS part); nothing sent",
                    hint="top up"
                    + (", send part of it with --limit" if o.command == "bulk" else "")
                    + ", or pass --force",
                )
            )

    def refused(self, error: SmscliError) -> SmscliError:
        """Nothing of a send is sent: its messages are recorded as not sent, with why (a bulk
        run stays as it is, to resume)."""
        if self.plan.options.command == "send":
            self.store.settle(self.run_id, ["pending"], "failed", f"not sent: {error.message}")
            self.store.finish(self.run_id, None)
        return error

    def send(self, driver: Provider, progress: Callable[[int], None] | None = None) -> RunResult:
        from smscli.engine import Engine
        from smscli.ratelimit import JITTER_SECONDS, Gate

        o, store = self.plan.options, self.store
        send = o.command == "send"
        gate = Gate(
            max_wait=o.max_wait, not_after=o.not_after, what="this " + o.command,
            again="send the rest after {time}" if send else Gate.AGAIN,
        )  # fmt: skip
        engine = Engine(
            driver, store, store.permits(self.plan.account, o.rates, covered_delay=JITTER_SECONDS),
            gate, self.plan.account, batch_size=o.batch_size or driver.capabilities.max_batch,
            concurrency=o.concurrency, limit=o.limit, sender=self.plan.sender, progress=progress,
        )  # fmt: skip
        stats = engine.run(self.run_id)
        return self.finish(stats)

    def finish(self, stats: SendStats | None) -> RunResult:
        """The run's outcome: a send settles what it did not send; the failed-rows CSV."""
        from smscli.engine import exit_code

        o, store = self.plan.options, self.store
        counted = store.totals(self.run_id)
        code = exit_code(counted, stats)
        totals: Totals | None = counted  # still the run's, unless messages are settled below
        if o.command == "send" and counted.pending:
            why = "interrupted" if stats and stats.interrupted else None
            if stats and stats.stop:
                why = stats.stop.error.message
            store.settle(self.run_id, ["pending"], "failed", f"not sent: {why or 'stopped'}")
            totals = None
        store.finish(self.run_id, stats.credits_remaining if stats else None)
        written, given = None, o.input
        failed_csv = given.failed_csv if isinstance(given, BulkInput) else None
        if isinstance(given, BulkInput) and failed_csv is not None:
            from smscli.bulkinput import write_failed_csv

            written = write_failed_csv(
                store, self.run_id, given.path, given.name, self.plan.scanned.encoding,
                self.plan.spec, failed_csv,
            )  # fmt: skip
        view = self.plan.view(store, self.run_id, resumed=not self.fresh, totals=totals)
        return RunResult(view._replace(notices=self.view.notices), stats, code, written, failed_csv)
