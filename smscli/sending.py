"""The sending engine for ``send``: validate everything, record it, then send batch by batch.

Order of work, which is what makes a message impossible to double-send by accident:
1. every recipient is normalised and every check is made before anything leaves;
2. the run and all its messages are committed to the ledger (``pending``; invalid ones
   ``failed``);
3. per batch, the messages are committed as ``sending`` *before* the request leaves, and their
   outcome is committed as soon as the reply arrives;
4. a request that may have been processed but gave no usable answer leaves its messages
   ``unknown``, and they are never retried automatically.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from smscli.encoding import Segmentation, analyse, transliterate, unsupported_chars
from smscli.errors import (
    ConfigError,
    ExitCode,
    InputError,
    OutcomeUnknown,
    RateLimited,
    SmscliError,
    UnsupportedOperation,
)
from smscli.ledger import Ledger, NewMessage, credits_state
from smscli.providers.base import Batch, BatchResult, Capabilities, Message, Outcome
from smscli.recipients import Recipient, RecipientSet

if TYPE_CHECKING:
    import sqlite3

    from smscli.providers.base import Account, Provider

TURKISH_LETTERS = frozenset("çğıİşŞĞÇÖÜöü")


def account_id(account: Account) -> str:
    """A stable, secret-free name for a provider account (rate limits, balances, runs).

    API keys are represented by a truncated SHA-256, never by the key itself.
    """
    if account.provider == "sandbox":
        return "sandbox"
    who = account.username or ""
    if account.api_key:
        import hashlib  # not on the dry run's path: ~5 ms to load OpenSSL

        who = "key-" + hashlib.sha256(account.api_key.encode()).hexdigest()[:12]
    return f"{account.provider}:{who}@{account.base_url.rstrip('/')}"


def check_sender(sender: str) -> str | None:
    """Why a sender header (başlık) is malformed, or None. 3 to 11 characters, no Turkish."""
    if not 3 <= len(sender) <= 11:
        return f"sender {sender!r} must be 3 to 11 characters long (it has {len(sender)})"
    bad = sorted({c for c in sender if c in TURKISH_LETTERS or not c.isascii()})
    if bad:
        return f"sender {sender!r} must not contain Turkish or non-ASCII letters ({''.join(bad)})"
    return None


def resolve_sender(provider: str, capabilities: Capabilities, sender: str | None) -> str | None:
    """The sender header to send with: required and checked where the provider takes one,
    dropped where it takes none."""
    if not capabilities.sender:
        return None
    if not sender:
        raise ConfigError(
            f"{provider} needs a sender header (başlık)",
            hint="set sender in the profile, SMSCLI_SENDER, or pass --sender",
        )
    problem = check_sender(sender)
    if problem:
        raise ConfigError(problem)
    return sender


def check_turkish_mode(provider: str, capabilities: Capabilities, turkish: bool | None) -> None:
    """``--tr`` asks for a mode the provider must have."""
    if turkish and not capabilities.turkish_mode:
        raise UnsupportedOperation(
            f"{provider} has no Turkish-character mode; drop --tr (the text is sent as UCS-2 "
            "when it needs Turkish letters) or use --ascii"
        )


class Draft(NamedTuple):
    """What ``send`` will do, fully validated. A dry run stops here."""

    provider: str
    profile: str | None
    sender: str | None
    text: str
    segmentation: Segmentation
    recipients: RecipientSet
    warnings: tuple[str, ...] = ()

    @property
    def credits_needed(self) -> int:
        return self.segmentation.parts * len(self.recipients.valid)


def prepare(
    *,
    provider: str,
    profile: str | None,
    capabilities: Capabilities,
    check_recipient: Callable[[str], str | None],
    text: str,
    recipients: RecipientSet,
    sender: str | None,
    sender_from_flag: bool = False,
    turkish: bool | None = None,
    ascii_only: bool = False,
) -> Draft:
    """Validate a send completely; raise before anything could leave."""
    warnings: list[str] = []
    text = unicodedata.normalize("NFC", text)
    if ascii_only:
        text = transliterate(text)
    if not text.strip():
        raise InputError("the message is empty")
    check_turkish_mode(provider, capabilities, turkish)
    if turkish is None:
        turkish = None if capabilities.turkish_mode else False
    seg = analyse(text, turkish)
    if seg.encoding == "UCS-2":
        odd = "".join(unsupported_chars(text, seg.turkish or bool(turkish)))
        warnings.append(
            f"the text needs UCS-2 because of {odd!r}: {seg.parts} part(s) of up to 67/70 "
            "characters" + ("; --ascii transliterates Turkish letters" if any(
                c in TURKISH_LETTERS for c in odd) else "")
        )  # fmt: skip
    if not capabilities.sender and sender and sender_from_flag:
        warnings.append(f"{provider} takes no sender header; --sender is ignored")
    sender = resolve_sender(provider, capabilities, sender)
    checked = RecipientSet(duplicates=recipients.duplicates, invalid=list(recipients.invalid))
    for r in recipients.valid:
        assert r.e164 is not None
        reason = check_recipient(r.e164)
        if reason:
            checked.invalid.append(Recipient(r.raw, r.source, r.e164, reason))
        else:
            checked.valid.append(r)
    if not checked.valid:
        detail = "; ".join(f"{r.raw!r} ({r.source}): {r.error}" for r in checked.invalid[:5])
        raise InputError("no valid recipient" + (f": {detail}" if detail else ""))
    return Draft(provider, profile, sender, text, seg, checked, tuple(warnings))


class Result(NamedTuple):
    to: str | None
    raw: str
    source: str
    status: str
    message_id: str | None
    segments: int
    error: str | None


@dataclass
class Report:
    run_id: str | None
    provider: str
    profile: str | None
    dry_run: bool
    results: list[Result]
    credits_remaining: float | None = None
    errors: list[SmscliError] = field(default_factory=list)
    """Whole-request failures, in the order they happened."""
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self)


def exit_code(report: Report) -> ExitCode:
    """The contract's exit code for a finished send."""
    statuses = {r.status for r in report.results}
    if report.dry_run:
        return ExitCode.BAD_INPUT if "invalid" in statuses else ExitCode.OK
    if "unknown" in statuses:
        return ExitCode.UNKNOWN
    if not statuses & {"failed", "invalid"}:
        return ExitCode.OK
    if "accepted" in statuses:
        return ExitCode.PARTIAL
    if "failed" not in statuses:
        return ExitCode.BAD_INPUT
    for code in (ExitCode.CONFIG, ExitCode.CREDIT, ExitCode.BAD_INPUT, ExitCode.PROVIDER):
        if any(e.exit_code == code for e in report.errors):
            return code
    return ExitCode.PROVIDER


def dry_run_report(draft: Draft) -> Report:
    results = [
        Result(r.e164, r.raw, r.source, "valid", None, draft.segmentation.parts, None)
        for r in draft.recipients.valid
    ] + [
        Result(r.e164, r.raw, r.source, "invalid", None, 0, r.error)
        for r in draft.recipients.invalid
    ]
    return Report(None, draft.provider, draft.profile, True, results, warnings=list(draft.warnings))


def batches(
    rows: Sequence[sqlite3.Row], capabilities: Capabilities, size: int
) -> Iterator[list[sqlite3.Row]]:
    """Group messages into requests: by text where the provider takes one text per request."""
    groups: dict[str, list[sqlite3.Row]] = {}
    for row in rows:
        groups.setdefault("" if capabilities.per_recipient_text else row["text"], []).append(row)
    for group in groups.values():
        for start in range(0, len(group), size):
            yield group[start : start + size]


@dataclass
class Engine:
    """Sends a validated draft through one driver, recording everything in the ledger."""

    driver: Provider
    ledger: Ledger
    account: str
    batch_size: int | None = None
    max_wait: float = 600.0
    sleep: Callable[[float], None] = time.sleep
    on_batch: Callable[[int], None] | None = None

    def send(self, draft: Draft, *, command: str = "send", source: str | None = None) -> Report:
        seg = draft.segmentation
        valid = [
            NewMessage(i, r.source, r.raw, r.e164, draft.text, seg.encoding, seg.parts)
            for i, r in enumerate(draft.recipients.valid)
        ]
        invalid = [
            NewMessage(len(valid) + i, r.source, r.raw, r.e164, draft.text, seg.encoding, 0,
                       "invalid", f"invalid number: {r.error}")
            for i, r in enumerate(draft.recipients.invalid)
        ]  # fmt: skip
        run_id = self.ledger.create_run(
            command=command,
            provider=draft.provider,
            profile=draft.profile,
            account=self.account,
            sender=draft.sender,
            source=source,
            messages=valid + invalid,
        )
        report = Report(
            run_id, draft.provider, draft.profile, False, [], warnings=list(draft.warnings)
        )
        caps = self.driver.capabilities
        size = max(1, min(self.batch_size or caps.max_batch, caps.max_batch))
        pending = self.ledger.messages(run_id, ["pending"])
        try:
            for rows in batches(pending, caps, size):
                self._send_batch(rows, draft, report)
                if self.on_batch:
                    self.on_batch(len(rows))
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            self._settle_interrupted(run_id)
            self.ledger.finish_run(run_id, report.credits_remaining)
        report.results = [
            Result(m["recipient"], m["raw"], m["source"], m["state"], m["provider_message_id"],
                   m["segments"], m["error"])
            for m in self.ledger.messages(run_id)
        ]  # fmt: skip
        return report

    def _settle_interrupted(self, run_id: str) -> None:
        """After Ctrl-C: in-flight messages are in doubt, the rest were never sent."""
        rows = self.ledger.messages(run_id, ["sending", "pending"])
        if rows:
            self.ledger.record(
                (
                    (r["id"], "unknown", None, "interrupted while the request was on the wire")
                    if r["state"] == "sending"
                    else (r["id"], "failed", None, "interrupted before sending; not sent")
                    for r in rows
                ),
                None,
            )

    def _send_batch(self, rows: list[sqlite3.Row], draft: Draft, report: Report) -> None:
        ids = {str(r["id"]): r["id"] for r in rows}
        batch = Batch(
            tuple(Message(str(r["id"]), r["recipient"], r["text"]) for r in rows),
            sender=draft.sender,
            turkish=draft.segmentation.turkish,
        )
        self.ledger.claim([list(ids.values())])
        try:
            result = self._request(batch)
        except OutcomeUnknown as exc:
            report.errors.append(exc)
            result = BatchResult(tuple(Outcome(k, "unknown", None, exc.message) for k in ids))
        except SmscliError as exc:
            report.errors.append(exc)
            result = BatchResult(tuple(Outcome(k, "failed", None, exc.message) for k in ids))
        except BaseException:
            # A bug or an interrupt mid-request: the request may have left.
            self.ledger.record(
                ((i, "unknown", None, "interrupted while the request was on the wire")
                 for i in ids.values()),
                None,
            )  # fmt: skip
            raise
        credits = result.credits_remaining
        if credits is not None:
            report.credits_remaining = credits
        self.ledger.record(
            result.ledger_rows(ids),
            result.batch_id,
            account_state=credits_state(self.account, credits),
        )

    def _request(self, batch: Batch) -> BatchResult:
        """One batch; 429 / 503+Retry-After (not processed) are waited out and retried."""
        waited = 0.0
        delay = 1.0
        while True:
            try:
                return self.driver.send(batch)
            except RateLimited as exc:
                pause = exc.retry_after if exc.retry_after is not None else delay
                delay = min(delay * 2, 60.0)
                if waited + pause > self.max_wait:
                    raise RateLimited(
                        f"{exc.message}; gave up after waiting {waited:.0f}s "
                        f"(--max-wait {self.max_wait:.0f}s); not sent",
                        retry_after=exc.retry_after,
                    ) from None
                self.sleep(pause)
                waited += pause
