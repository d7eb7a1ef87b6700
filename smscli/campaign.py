"""A run opened for sending: found again (resumed, or replayed for an idempotency key) or
planned into the store, held by this process, checked (the hours, the balance) and sent by
the engine. See :mod:`smscli.runs` for what identifies a run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

from smscli.errors import CreditError, ExitCode, SmscliError, UsageError
from smscli.guards import Deadline
from smscli.runs import STALE_AFTER, BulkInput, RunOptions, RunResult, SendInput, _Plan
from smscli.words import plural

if TYPE_CHECKING:
    from smscli.providers.base import Provider
    from smscli.sendstats import SendStats
    from smscli.store import Store, Totals


class Campaign:
    """A run opened for sending, held by this process (no other works on it meanwhile)."""

    def __init__(
        self, store: Store, plan: _Plan, run_id: str, *, fresh: bool, replayed: bool = False
    ) -> None:
        self.store, self.plan, self.run_id, self.fresh = store, plan, run_id, fresh
        self.replayed = replayed
        self.view = plan.view(store, run_id, resumed=not fresh, replayed=replayed)
        self.deadline = Deadline(None, "--not-after")

    @classmethod
    @contextmanager
    def open(cls, store: Store, options: RunOptions) -> Iterator[Campaign]:
        """The run to send: found again (resumed, or replayed for an idempotency key) or
        planned into the store, held by this process meanwhile."""
        from smscli.guards import key_lock

        # First, before this process writes; the check runs while the run is prepared.
        verdict = store.verify()
        plan = _Plan(options)
        key = options.idempotency_key
        with store.hold(plan.fingerprint or (key and key_lock(plan.identity, key))):
            notices: list[str] = []
            keyed = plan.keyed(store, key) if key else None
            if keyed is not None and keyed[1]:
                verdict()
                yield cls(store, plan, keyed[0], fresh=False, replayed=True)
                return
            if keyed is not None:  # its process ended before it finished; we hold its key
                found: str | None = keyed[0]
                cls._settle(store, keyed[0], notices)
            else:
                found = cls._resume(store, plan, notices)
            run_id = plan.into(store, plan.screen(store)) if found is None else found
            campaign = cls(store, plan, run_id, fresh=found is None)
            verdict()  # nothing is shown, nor sent, from a damaged ledger
            campaign.view.notices[:0] = notices
            yield campaign

    @staticmethod
    def _settle(store: Store, run_id: str, notices: list[str]) -> None:
        """What an ended process left ``sending`` in the run becomes ``unknown``."""
        settled = store.settle(
            run_id, ["sending"], "unknown", "the sending process ended while the request was "
            "on the wire",
        )  # fmt: skip
        if settled:
            notices.append(
                f"{plural(settled, 'message')} {'was' if settled == 1 else 'were'} on the wire "
                "when an earlier process ended: marked unknown, not re-sent (--retry-unknown "
                "re-sends them)"
            )

    @staticmethod
    def _resume(store: Store, plan: _Plan, notices: list[str]) -> str | None:
        """The run this bulk command continues, settled and requeued as asked; None for a new
        one."""
        o = plan.options
        run = plan.find(store)
        if run is not None and run.state == "preparing":
            store.delete_run(run.id)  # a preparation that died; nothing was sent
            run = None
        if run is None:
            return None
        store.keep_holding(run.id)  # refuses while a live process on another path holds it
        Campaign._settle(store, run.id, notices)
        states = [s for s, on in (("unknown", o.retry_unknown), ("failed", o.retry_failed)) if on]
        requeued = store.requeue(run.id, states)
        opted_out = store.skip_optouts(run.id)
        if opted_out:
            notices.append(
                f"{plural(opted_out, 'recipient')} opted out since the run started: skipped"
            )
        if run.account != plan.account:
            notices.append(
                f"the account's credentials changed since run {run.id} started (a new key, "
                "password or base_url): resuming it; nothing already sent is sent again"
            )
        if run.state == "complete" and not requeued:
            if not o.again:
                t = store.totals(run.id)
                raise UsageError(
                    f"this campaign was already sent: run {run.id} of "
                    f"{run.created_at[:16].replace('T', ' ')} UTC ({t.sent_ok} accepted, "
                    f"{t.failed} failed, {t.unknown} unknown); nothing sent",
                    hint="--again sends it once more (--again --allow-repeat within the repeat "
                    "window); --retry-failed / --retry-unknown "
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

    def check_ready(self, driver: Provider) -> None:
        """Whether anything may leave now: the hours (``--not-before``, ``--not-after``, the
        send window) and the provider's balance against the parts this invocation will send
        (where the provider reports one, unless ``--force``); raises, nothing sent, if not."""
        from smscli.guards import sending_deadline

        o = self.plan.options
        try:
            self.deadline = sending_deadline(o)
        except SmscliError as exc:
            raise self.refused(exc) from None
        if o.force or not driver.capabilities.balance:
            return
        needed = self.store.pending_parts(self.run_id, o.limit)
        if not needed:  # everyone skipped (opted out, a repeat): nothing to pay for
            return
        from smscli.ratelimit import Gate

        permits = self.store.permits(self.plan.account, o.rates)
        try:
            # A request like the sends: it takes a permit of the account's limits.
            Gate(max_wait=o.max_wait, what="the balance check").take_one(permits)
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
            self.store.finish(self.run_id, None, int(error.exit_code))
        return error

    def replay(self) -> RunResult:
        """The first result of this idempotency key, as it was: nothing sent now."""
        code = self.view.run.exit_code
        return RunResult(self.view, None, ExitCode(code if code is not None else 0))

    def send(self, driver: Provider, progress: Callable[[int], None] | None = None) -> RunResult:
        from smscli.engine import Engine
        from smscli.ratelimit import JITTER_SECONDS, Gate

        o, store = self.plan.options, self.store
        if o.idempotency_key is not None and self.fresh and isinstance(o.input, SendInput):
            from smscli.guards import request_digest

            # Kept when something is about to leave: a send refused before (the hours, the
            # balance, not confirmed) sent nothing, and the same key may send it later.
            digest = request_digest(o.input, o.region)
            store.keep_key(self.plan.identity, o.idempotency_key, digest, self.run_id)
        send = o.command == "send"
        gate = Gate(
            max_wait=o.max_wait, not_after=self.deadline.at, what="this " + o.command,
            again="send the rest after {time}" if send else Gate.AGAIN,
            deadline=self.deadline.what,
        )  # fmt: skip
        engine = Engine(
            driver, store, store.permits(self.plan.account, o.rates, covered_delay=JITTER_SECONDS),
            gate, self.plan.account, batch_size=o.batch_size or driver.capabilities.max_batch,
            concurrency=o.concurrency, limit=o.limit, sender=self.plan.sender, progress=progress,
            turkish=self.plan.rules.turkish, repeat_window=o.repeat_window or None,
            optouts=not o.ignore_optout,
        )  # fmt: skip
        stats = engine.run(self.run_id)
        if stats.screened:
            self.view.notices.append(_screened_at_claim(store, self.run_id, stats.screened))
        if send and o.idempotency_key is not None and self.fresh and not stats.reached:
            # Nothing left (a rate wait past --max-wait, a signal while waiting, a refusal
            # that processed nothing): the key is free, and the same command sends later.
            store.forget_key(self.plan.identity, o.idempotency_key)
        return self.finish(stats)

    def finish(self, stats: SendStats | None) -> RunResult:
        """The run's outcome: a send settles what it did not send; the failed-rows CSV."""
        from smscli.sendstats import exit_code

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
        store.finish(self.run_id, stats.credits_remaining if stats else None, int(code))
        written, given = None, o.input
        failed_csv = given.failed_csv if isinstance(given, BulkInput) else None
        if isinstance(given, BulkInput) and failed_csv is not None:
            from smscli.bulkinput import write_failed_csv

            written = write_failed_csv(
                store, self.run_id, given.path, given.name, self.plan.scanned.encoding,
                self.plan.spec, failed_csv, unknown=given.failed_csv_unknown,
            )  # fmt: skip
        view = self.plan.view(store, self.run_id, resumed=not self.fresh, totals=totals)
        return RunResult(view._replace(notices=self.view.notices), stats, code, written, failed_csv)


def _screened_at_claim(store: Store, run_id: str, count: int) -> str:
    """What the claim's guard skipped, said after the results: the plan could not know."""
    return (
        f"{plural(count, 'message')} skipped as {'it was' if count == 1 else 'they were'} "
        "about to leave: opted out, or the same text reached the number from another run "
        f"meanwhile (`smscli history show {run_id}` says which)"
    )
