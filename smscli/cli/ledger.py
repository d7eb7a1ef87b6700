"""``smscli ledger info|check|copy``: where the ledger is and what it holds, whether it is
intact (and which runs it can still read when it is not), and moving it to another backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from smscli.cli.common import Cli, JsonOpt, QuietOpt, command
from smscli.cli.display import plural
from smscli.cli.output import error_document
from smscli.errors import ExitCode

if TYPE_CHECKING:
    from smscli.store.check import LedgerHealth
    from smscli.store.transfer import Copied, LedgerInfo

app = typer.Typer(help="The ledger itself: where it is, whether it is intact, moving it.")

MergeOpt = Annotated[
    bool,
    typer.Option(
        "--merge",
        help="Copy into a destination that already holds runs or opt-outs: runs it has already "
        "are skipped (with their messages), its opt-outs and idempotency keys kept, and of two "
        "provider states the newer one.",
    ),
]


@app.command("check")
def check(json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Run SQLite's integrity check on the ledger and say which runs can still be read."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.store.check import check_ledger

        health = _plainly(check_ledger(cli.ledger))
        code = ExitCode.OK if health.intact or not health.exists else ExitCode.CONFIG
        if cli.json:
            error = None
            if code:
                problems = "; ".join(health.problems) or "damaged"
                message = f"the ledger {health.location} is not intact: {problems}"
                error = error_document("ledger_damaged", message, None)
                cli.error(message)  # for the log, as every failing command says it
            cli.emit(_document(health), code, error)
        else:
            _show(cli, health)
    raise typer.Exit(int(code))


def _plainly(health: LedgerHealth) -> LedgerHealth:
    """``health`` said for the user: sqlite3's error for a text that is not UTF-8 (which quotes
    the damaged bytes) in words, and a run that cannot be read a problem of the ledger even
    where SQLite's integrity check found nothing (a bit flipped inside a record)."""
    from dataclasses import replace

    from smscli.store.problems import NOT_UTF8, not_utf8

    def said(error: str) -> str:
        return NOT_UTF8 if not_utf8(error) else error

    runs = [replace(r, error=said(r.error)) if r.error else r for r in health.runs]
    problems = list(dict.fromkeys(said(p) for p in health.problems))
    unreadable = [r.run_id for r in runs if not r.readable]
    if unreadable and not problems:
        more = f" and {len(unreadable) - 5:,} more" if len(unreadable) > 5 else ""
        listed = ", ".join(unreadable[:5]) + more
        problems.append(f"{plural(len(unreadable), 'run')} cannot be read: {listed}")
    return replace(health, problems=problems, runs=runs)


def _document(health: LedgerHealth) -> dict[str, object]:
    return {
        "ledger": health.location,
        "backend": health.backend,
        "exists": health.exists,
        "bytes": health.size,
        "schema": health.schema,
        "intact": health.intact,
        "problems": health.problems + ([health.runs_error] if health.runs_error else []),
        "runs": [
            {
                "run_id": r.run_id,
                "readable": r.readable,
                "messages": r.messages,
                "counts": r.states,
                "error": r.error,
            }
            for r in health.runs
        ],
    }


def _show(cli: Cli, health: LedgerHealth) -> None:
    out = cli.out
    if not health.exists:
        out.print(f"No ledger at {health.location} yet: nothing was recorded there.")
        return
    out.print(f"Ledger {health.location} ({health.size:,} bytes, schema {health.schema})")
    if health.intact:
        count = sum(r.messages for r in health.runs)
        checked = (
            "SQLite's integrity check found nothing wrong"
            if health.backend == "sqlite"
            else "the server read every message of every run"
        )
        out.print(
            f"intact: {checked}; {plural(len(health.runs), 'run')}, {plural(count, 'message')}"
        )
        return
    cli.error(f"the ledger {health.location} is damaged; nothing is sent from it")
    for problem in health.problems:
        out.print(f"  {problem}")
    if health.runs_error:
        out.print(f"  the list of runs cannot be read: {health.runs_error}")
    for r in health.runs:
        if r.readable:
            states = ", ".join(f"{n:,} {s}" for s, n in sorted(r.states.items()))
            out.print(f"  run {r.run_id}: readable, {plural(r.messages, 'message')} ({states})")
        else:
            out.print(f"  run {r.run_id}: NOT readable ({r.error})")
    out.print(
        f"To start a new, empty ledger, move this one aside (mv {health.location} "
        f"{health.location}.damaged); `smscli history show RUN` against a copy, or sqlite3's "
        "`.recover`, can still read the runs listed as readable."
    )


@app.command("info")
def info(json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Where the ledger is (backend, location, schema, size) and what it holds."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.store.transfer import ledger_info

        found = ledger_info(cli.ledger)
        if cli.json:
            cli.emit(_info_document(found))
        elif not cli.quiet:
            _show_info(cli, found)


def _info_document(found: LedgerInfo) -> dict[str, object]:
    return {
        "backend": found.backend,
        "ledger": found.location,
        "exists": found.exists,
        "schema": found.schema,
        "bytes": found.size,
        "runs": found.rows["runs"],
        "messages": sum(found.messages.values()),
        "counts": found.messages,
        "optouts": found.rows["optouts"],
        "idempotency_keys": found.rows["idempotency_keys"],
        "provider_state": found.rows["provider_state"],
    }


def _show_info(cli: Cli, found: LedgerInfo) -> None:
    out = cli.out
    kind = "SQLite" if found.backend == "sqlite" else "PostgreSQL"
    if not found.exists:
        out.print(f"No ledger at {found.location} ({kind}) yet: nothing was recorded there.")
        return
    where = "bytes" if found.backend == "sqlite" else "bytes on the server"
    out.print(f"Ledger {found.location}")
    out.print(f"  backend: {kind}, schema {found.schema}, {found.size or 0:,} {where}")
    n = found.rows
    out.print(f"  runs: {n['runs']:,}")
    states = ", ".join(f"{n:,} {s}" for s, n in sorted(found.messages.items()))
    total = sum(found.messages.values())
    out.print(f"  messages: {total:,}" + (f" ({states})" if states else ""))
    out.print(f"  opt-outs: {n['optouts']:,}")
    out.print(f"  idempotency keys: {n['idempotency_keys']:,}")
    out.print(f"  provider state: {plural(n['provider_state'], 'row')}")


@app.command("copy")
def copy(
    source: Annotated[
        str,
        typer.Argument(metavar="SRC", help="The ledger to copy: a path or a postgresql:// URL."),
    ],
    destination: Annotated[
        str,
        typer.Argument(
            metavar="DST", help="Where to copy it: a path or a postgresql:// URL (created)."
        ),
    ],
    merge: MergeOpt = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Copy a ledger (SQLite to PostgreSQL and back) with its runs, messages, opt-outs,
    idempotency keys and provider state, in one transaction (all or nothing). A destination
    that holds runs or opt-outs is refused unless --merge. Rate-limit permits are not copied:
    they expire within the rate windows. Stop every smscli process using SRC first."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.redact import Redactor
        from smscli.store import shown
        from smscli.store.pg_db import url_secrets
        from smscli.store.problems import NOT_UTF8, LedgerDamaged
        from smscli.store.transfer import copy_ledger, location

        cli.redactor = Redactor(url_secrets(source) + url_secrets(destination))
        try:
            copied = copy_ledger(location(source), location(destination), merge=merge)
        except LedgerDamaged as exc:
            if exc.detail != NOT_UTF8:
                raise
            # The copy decodes the source's texts only; the destination's store, closed
            # first, named itself.
            raise LedgerDamaged(shown(source), NOT_UTF8) from None
        if cli.json:
            cli.emit(_copy_document(copied))
        elif not cli.quiet:
            _show_copy(cli, copied)


def _copy_document(copied: Copied) -> dict[str, object]:
    from smscli.store.transfer import NOT_COPIED

    return {
        "source": copied.source,
        "destination": copied.destination,
        "merge": copied.merge,
        "copied": copied.rows,
        "skipped_runs": copied.skipped_runs,
        "not_copied": list(NOT_COPIED),
    }


def _show_copy(cli: Cli, copied: Copied) -> None:
    out, say = cli.out, cli.redactor
    # Locations on lines of their own, never folded: to be pasted as they are.
    out.print(say(f"Copied {copied.source}"), soft_wrap=True)
    out.print(say(f"    to {copied.destination}:"), soft_wrap=True)
    n = copied.rows
    out.print(
        f"  {plural(n['runs'], 'run')}, {plural(n['messages'], 'message')}, "
        f"{plural(n['optouts'], 'opt-out')}, {plural(n['idempotency_keys'], 'idempotency key')}, "
        f"{plural(n['provider_state'], 'provider state')}"
    )
    if copied.skipped_runs:
        skipped = copied.skipped_runs
        listed = ", ".join(skipped[:10]) + (
            f" and {len(skipped) - 10:,} more" if len(skipped) > 10 else ""
        )
        out.print(f"  skipped {plural(len(skipped), 'run')} the destination already had: {listed}")
    out.print("  not copied: rate-limit permits (they expire within the rate windows)")
    out.print(
        "To use the copy, stop every smscli process using the source, and point SMSCLI_LEDGER "
        '(or `ledger = "..."` in the config file) at the destination:',
        soft_wrap=True,
    )
    out.print(say(f"  {copied.destination}"), soft_wrap=True)
