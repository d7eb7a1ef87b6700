"""Which messages a delivery report is about: message ids, a run, or the account's last run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from smscli.errors import InputError, UsageError

if TYPE_CHECKING:
    from smscli.store import MessageRecord, RunRecord, Store


@dataclass
class Selection:
    messages: list[MessageRecord]
    """In the order of their runs (oldest first), then of their input."""
    runs: list[str]
    not_found: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def find_run(store: Store, run_id: str) -> str:
    """A run id from an exact id or an unambiguous prefix of one."""
    if store.run(run_id) is not None:
        return run_id
    found = store.runs_like(run_id, 6)
    if not found:
        raise InputError(
            f"no run {run_id!r} in the ledger {store.location}", hint="`smscli history` lists runs"
        )
    if len(found) > 1:
        more = ", ..." if len(found) > 5 else ""
        raise UsageError(f"run {run_id!r} is ambiguous: it matches {', '.join(found[:5])}{more}")
    return found[0]


def _run(store: Store, run_id: str) -> RunRecord:
    run = store.run(run_id)
    assert run is not None
    return run


def _through(run: RunRecord) -> str:
    return f"sent through {run.provider}" + (f" (profile {run.profile})" if run.profile else "")


def select(
    store: Store,
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
        return _select_ids(store, account, list(dict.fromkeys(message_ids)))
    if run_id is not None:
        run = _run(store, find_run(store, run_id))
        if run.account != account:
            raise UsageError(
                f"run {run.id} was {_through(run)}, another account than the selected profile's",
                hint="select its profile with -p (or its provider with --provider)",
            )
        return Selection(list(store.messages(run.id)), [run.id])
    found = store.last_run(account)
    if found is None:
        raise InputError(
            "no run through this account in the ledger yet",
            hint="send something first, or pass --run RUN or message ids",
        )
    return Selection(list(store.messages(found)), [found])


def _select_ids(store: Store, account: str, ids: list[str]) -> Selection:
    rows = store.messages_by_provider_id(ids)
    runs = {r: _run(store, r) for r in dict.fromkeys(m.run_id for m in rows)}
    rows.sort(key=lambda m: (runs[m.run_id].created_at, m.run_id, m.seq))
    mine = [m for m in rows if runs[m.run_id].account == account]
    mine_ids = {m.provider_message_id for m in mine}
    elsewhere = {
        m.provider_message_id: m
        for m in rows
        if runs[m.run_id].account != account and m.provider_message_id not in mine_ids
    }
    known = {m.provider_message_id for m in rows}
    not_found = [i for i in ids if i not in known]
    warnings = [
        f"message id {i} belongs to run {m.run_id}, {_through(runs[m.run_id])}"
        "; select that profile to report on it"
        for i, m in elsewhere.items()
    ]
    if not mine:
        if elsewhere:
            raise UsageError(
                "; ".join(warnings),
                hint="select the profile with -p or the provider with --provider",
            )
        raise InputError(
            f"no message with id {', '.join(not_found)} in the ledger {store.location}",
            hint="`smscli history show RUN` lists the message ids of a run",
        )
    if not_found:
        warnings.append(f"not in the ledger: {', '.join(not_found)}")
    return Selection(mine, list(dict.fromkeys(m.run_id for m in mine)), not_found, warnings)
