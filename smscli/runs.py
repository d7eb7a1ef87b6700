"""Runs as a library: ``send`` and ``bulk`` take the same path, plan → store → engine.

The CLI builds one frozen :class:`RunOptions`, then either previews it (:func:`dry_run`) or opens
it (:meth:`Campaign.open`: held by this process, found again or planned into the store), checks
credit, asks on a terminal, and sends (:meth:`Campaign.send`). No typer, no rich.

A ``bulk`` run is identified by its fingerprint (provider, input content, template, sender,
options; never a secret, nor how ``base_url`` is spelt): the same command resumes it, after a
key rotation too, and a completed one refuses unless ``--again``. A ``send`` run has no
fingerprint: each ``send`` is a run of its own (or the replay of the first one with its
idempotency key), and what it did not send (an interrupt, a rate quota beyond ``--max-wait``)
is settled ``failed``, "not sent", since no later command resumes it. Who is never sent to
(opt-outs, repeats) and when nothing leaves is in :mod:`smscli.guards`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from smscli.accounts import account_id, legacy_account_id
from smscli.encoding import Segmentation
from smscli.errors import ExitCode, InputError
from smscli.plan import (
    Pricing,
    Screen,
    Source,
    Spec,
    check_decodable,
    check_text,
    prepare,
    pricing,
    send_source,
)
from smscli.senders import check_turkish_mode, resolve_sender, turkish_flag
from smscli.words import plural

if TYPE_CHECKING:
    from smscli.columns import Detected
    from smscli.providers.base import Account, Provider
    from smscli.ratelimit import Rate
    from smscli.sendstats import SendStats
    from smscli.store import MessageRecord, RunRecord, Store, Totals
    from smscli.timing import SendWindow

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
    failed_csv_unknown: bool = False
    """``unknown`` rows go to the failed CSV too (marked "may have been delivered")."""
    sheet: str | None = None
    """A spreadsheet's sheet (None: the first)."""

    def given(self) -> frozenset[str]:
        """Which of what is otherwise detected came from flags."""
        flags = zip(
            ("encoding", "delimiter", "phone_column", "sheet"),
            (self.encoding, self.delimiter, self.phone_column, self.sheet),
            strict=True,
        )
        return frozenset(name for name, value in flags if value is not None)


class SendInput(NamedTuple):
    entries: tuple[tuple[str, str], ...]
    """``(number as written, where)``."""
    text: str
    detected: Detected | None = None
    """What was found out about ``--file`` (None: no file)."""


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
    ignore_optout: bool = False
    """``send --ignore-optout`` (a transactional message): recorded on the run."""
    repeat_window: float = 0.0
    """Seconds within which the same text to the same number is a repeat (0: no guard)."""
    idempotency_key: str | None = None
    not_before: float | None = None
    send_window: SendWindow | None = None

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
    replayed: bool = False
    """The first result of a ``send`` with the same idempotency key, sent nothing now."""
    detected: Detected | None = None
    """What was found out about the input file (encoding, delimiter, phone column, sheet);
    None when no file was read."""

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
        # The namespace of idempotency keys: the ledger's and the provider's (never a
        # profile's name, nor credentials: one key, whichever profile or environment sends).
        self.identity = o.driver.name
        self.text: Segmentation | None = None
        self.warnings: list[str] = []
        self.fingerprint: str | None = None
        self.legacy: str | None = None
        self.exclusions: frozenset[str] = frozenset()
        self.detected: Detected | None = None
        if isinstance(o.input, SendInput):
            self.detected = o.input.detected
            self.message, self.text, self.warnings = check_text(o.input.text, self.rules)
            flag = caps.turkish_mode and turkish_flag(
                self.text.encoding, self.message, self.rules.turkish
            )
            self.text = self.text._replace(turkish=flag)
        else:
            self._bulk(o.input)
        from smscli.guards import check_deadline

        check_deadline(o)

    def _bulk(self, given: BulkInput) -> None:
        from smscli.csvfile import scan
        from smscli.plan import read_exclusions

        o = self.options
        if given.template is not None:
            check_decodable(given.template, "the template")
        self.scanned = scan(given.path, given.name, given.encoding)
        _check_sheet_flags(given, self.scanned.encoding)
        digest = None
        if given.exclude is not None:
            self.exclusions, digest = read_exclusions(given.exclude, o.region)
        self.spec = Spec(
            self.scanned.sha256, self.scanned.encoding, given.delimiter, given.phone_column,
            given.template, given.message_column, self.sender, o.turkish, o.ascii_only, digest,
            o.region, given.sheet,
        )  # fmt: skip
        self.fingerprint = self.spec.fingerprint(o.driver.name)
        # of runs before a run's identity stopped depending on the account's key
        self.legacy = self.spec.fingerprint(legacy_account_id(o.account, o.driver.capabilities))

    @contextmanager
    def source(self) -> Iterator[Source]:
        given = self.options.input
        if isinstance(given, SendInput):
            yield send_source(given.entries, self.message)
            return
        from smscli.bulkinput import open_source

        encoding = self.scanned.encoding
        with open_source(given.path, given.name, encoding, self.spec, given.given()) as source:
            self.detected = source.detected
            yield source

    def detection(self) -> Detected | None:
        """What was found out about the input: read from its header when the run was found
        again rather than planned now (the file was scanned, not read as rows)."""
        if self.detected is None and isinstance(self.options.input, BulkInput):
            with self.source():
                pass
        return self.detected

    def find(self, store: Store) -> RunRecord | None:
        """The run this bulk command continues (found by its fingerprint, or by the one runs
        had before a run's identity stopped depending on the account's key)."""
        if self.fingerprint is None:
            return None
        found = store.find_run(self.fingerprint)
        if found is None and self.legacy is not None:
            found = store.find_run(self.legacy)
        return found

    def screen(self, ledger: Store | None) -> Screen:
        from smscli.guards import ignored_optouts, screen

        o = self.options
        if o.ignore_optout and isinstance(o.input, SendInput):
            n = ignored_optouts(o.input, o.region, ledger)
            self.warnings.append(
                "--ignore-optout: the opt-out list is not consulted (a transactional message)"
                + (f"; {plural(n, 'recipient')} on it get this message" if n else "")
            )
        return screen(o, self.exclusions, ledger)

    def into(self, store: Store, screen: Screen) -> str:
        """A new run, planned into ``store``; raises (leaving nothing) on any input error."""
        import json

        o = self.options
        given = o.input
        origin = given.name if isinstance(given, BulkInput) else None
        run_id = store.create_run(
            command=o.command, provider=o.driver.name, profile=o.profile, account=self.account,
            sender=self.sender, source=origin, fingerprint=self.fingerprint,
            options=json.dumps({"ignore_optout": True}) if o.ignore_optout else None,
            offline=not o.driver.capabilities.network,
        )  # fmt: skip
        try:
            with self.source() as source:
                prepare(
                    store, run_id, source, provider=o.driver.name,
                    capabilities=o.driver.capabilities, rules=self.rules, region=o.region,
                    screen=screen,
                )  # fmt: skip
        except BaseException:  # an input error, a signal (exit 8): nothing of it is kept
            store.delete_run(run_id)
            raise
        totals = store.totals(run_id)
        if o.command == "send" and not totals.pending and not totals.skipped:
            invalid = list(store.messages(run_id, ("invalid",), SHOWN_INVALID))
            store.delete_run(run_id)
            detail = "; ".join(f"{m.raw!r} ({m.source}): {_reason(m)}" for m in invalid)
            raise InputError("no valid recipient" + (f": {detail}" if detail else ""))
        return run_id

    def _screened(self, t: Totals) -> list[str]:
        """What the screen skipped, said before the results."""
        from smscli.timing import human_duration

        said = []
        if t.opted_out:
            said.append(f"{plural(t.opted_out, 'recipient')} on the opt-out list: skipped")
        if t.repeat:
            window = human_duration(self.options.repeat_window)
            said.append(
                f"{t.repeat:,} would repeat a message sent in the last {window}: skipped "
                "(--allow-repeat sends them)"
            )
        return said

    def keyed(self, store: Store, key: str) -> tuple[str, bool] | None:
        """The run of the ``send`` that used this idempotency key first, and whether it
        finished (a run whose process died before it finished is resumed, not replayed);
        None when the key is new."""
        from smscli.guards import mismatch, request_digest

        o = self.options
        found = store.find_key(self.identity, key)
        if found is None or not isinstance(o.input, SendInput):
            return None
        request, run_id = found
        if request != request_digest(o.input, o.region):
            raise mismatch(key, run_id)
        run = store.run(run_id)
        return run_id, run is None or run.exit_code is not None

    def view(
        self,
        store: Store,
        run_id: str,
        *,
        resumed: bool = False,
        dry_run: bool = False,
        totals: Totals | None = None,
        replayed: bool = False,
    ) -> RunView:
        run = store.run(run_id)
        assert run is not None
        totals = totals or store.totals(run_id)  # a count of a whole run: once where it can
        notices = list(self.warnings)
        if not resumed and not replayed:
            notices += self._screened(totals)
        return RunView(
            store, run, totals, resumed, dry_run, self.text, notices, replayed, self.detection()
        )


def _check_sheet_flags(given: BulkInput, kind: str) -> None:
    """``--delimiter`` is a CSV's, ``--sheet`` a spreadsheet's."""
    from smscli.errors import UsageError
    from smscli.sheets import KINDS

    if kind in KINDS and given.delimiter is not None:
        raise UsageError(f"--delimiter: {given.name} is a spreadsheet ({kind}), not a CSV")
    if kind not in KINDS and given.sheet is not None:
        raise UsageError(f"--sheet {given.sheet!r}: {given.name} is not a spreadsheet")


def _reason(m: MessageRecord) -> str:
    return (m.error or "").removeprefix("invalid number: ")


@contextmanager
def dry_run(options: RunOptions, ledger: Store | None = None) -> Iterator[RunView]:
    """What the options would send, planned into a scratch store (nothing leaves, the ledger
    is not written), screened against the ledger (opt-outs, repeats) as a send would be. A
    bulk run that exists already, or a send's idempotency key already used, is shown as it
    is in the ledger."""
    from smscli.store.sqlite import SqliteStore

    plan = _Plan(options)
    if ledger is not None:
        key = options.idempotency_key
        keyed = plan.keyed(ledger, key) if key else None
        if keyed is not None:
            run_id, done = keyed
            yield plan.view(ledger, run_id, dry_run=True, resumed=not done, replayed=done)
            return
        run = None if options.again else plan.find(ledger)
        if run is not None and run.state != "preparing":
            yield plan.view(ledger, run.id, resumed=True, dry_run=True)
            return
    with ExitStack() as stack:
        path = None
        if isinstance(options.input, BulkInput):  # a campaign's rows: on disk, not in memory
            import tempfile

            path = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smscli-dry-")))
        scratch = SqliteStore.scratch(path and path / "dry-run.db", ledger)
        stack.callback(scratch.close)
        yield plan.view(scratch, plan.into(scratch, plan.screen(ledger)), dry_run=True)
