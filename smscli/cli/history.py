"""``smscli history`` (recent runs) and ``smscli history show RUN`` (a run's messages)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from smscli.cli.common import Cli, JsonOpt, QuietOpt, command
from smscli.cli.display import plural

if TYPE_CHECKING:
    from smscli.account.history import RunSummary
    from smscli.store import MessageRecord

app = typer.Typer(help="Recent runs from the ledger, or one run's messages.")

FilterProfileOpt = Annotated[
    str | None, typer.Option("--profile", "-p", help="Only runs sent with this profile.")
]
FilterProviderOpt = Annotated[
    str | None, typer.Option("--provider", help="Only runs sent through this provider.")
]


@app.callback(invoke_without_command=True)
def list_runs(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many runs, most recent first.")
    ] = 20,
    profile: FilterProfileOpt = None,
    provider: FilterProviderOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Recent runs with their counts per state, parts and credits used."""
    if ctx.invoked_subcommand is not None:
        return
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.account.history import history
        from smscli.store import open_existing, shown

        _warn_config(cli)
        runs: list[RunSummary] = []
        store = open_existing(cli.ledger)
        if store is not None:
            with store:
                runs = history(store, limit=limit, provider=provider, profile=profile)
        where = shown(cli.ledger)
        if cli.json:
            filters = {"provider": provider, "profile": profile}
            cli.emit(filters | {"ledger": where, "runs": [_run_document(r) for r in runs]})
            return
        if cli.quiet:
            return
        _show_runs(cli, runs, where, profile=profile, provider=provider)


def _show_runs(
    cli: Cli, runs: list[RunSummary], path: str, *, profile: str | None, provider: str | None
) -> None:
    """The runs as a table, or which filter found none."""
    out = cli.out
    if not runs:
        given = [f"{k} {v!r}" for k, v in (("profile", profile), ("provider", provider)) if v]
        which = f" of {' and '.join(given)}" if given else ""
        out.print(f"No runs{which} in the ledger {path}")
        return
    from rich.table import Table

    from smscli.cli.display import print_table

    # Run ids start with their UTC time (20261123-073945-...): no separate time column.
    columns = ["Run", "Command", "Provider", "Profile", "Source", "Messages"]
    if not any(r.run.profile for r in runs):
        columns.remove("Profile")
    if not any(r.run.source for r in runs):
        columns.remove("Source")
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in columns:
        wraps = col in ("Source", "Messages")
        table.add_column(col, no_wrap=not wraps, min_width=12 if wraps else None)
    table.add_column("Parts", justify="right", no_wrap=True)
    table.add_column("Credits", justify="right", no_wrap=True)
    for r in runs:
        cells = {
            "Run": r.run.id,
            "Command": r.run.command + ("" if r.run.state == "complete" else f" ({r.run.state})"),
            "Provider": r.run.provider,
            "Profile": r.run.profile or "",
            "Source": r.run.source or "",
            "Messages": _counts(r),
        }
        table.add_row(*(cells[c] for c in columns), str(r.parts), str(r.credits_used))
    print_table(out, table, optional=("Source", "Profile", "Parts", "Provider"))
    out.print(f"{plural(len(runs), 'run')} · ledger {path}")


@app.command("show")
def show(
    run: Annotated[str, typer.Argument(help="Run id (or an unambiguous start of one).")],
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """One run and its messages: number, state, parts, provider id, error or report."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.account.history import run_messages
        from smscli.errors import InputError
        from smscli.store import open_existing, shown

        _warn_config(cli)
        store = open_existing(cli.ledger)
        if store is None:
            raise InputError(f"no run {run!r}: the ledger {shown(cli.ledger)} does not exist yet")
        with store:
            summary, messages = run_messages(store, run)
        if cli.json:
            cli.emit(
                {
                    "run": _run_document(summary),
                    "messages": [_message_document(m) for m in messages],
                }
            )
            return
        if cli.quiet:
            return
        _print_run(cli, summary, messages)


def _print_run(cli: Cli, run: RunSummary, messages: list[MessageRecord]) -> None:
    """A run's heading line, its messages as a table, and its totals."""
    from rich.table import Table
    from rich.text import Text

    from smscli.cli.display import local_time, print_table
    from smscli.cli.render import STYLES

    out = cli.out
    out.print(
        f"Run {run.run.id} · {run.run.command} · {run.run.provider}"
        + (f" (profile {run.run.profile})" if run.run.profile else "")
        + f" · {local_time(run.run.created_at)}"
        + (f" · sender {run.run.sender}" if run.run.sender else "")
        + (f" · source {run.run.source}" if run.run.source else "")
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("#", "To", "Status", "Parts", "Message ID", "Error / report"):
        table.add_column(col, no_wrap=col in ("#", "To", "Status", "Message ID"))
    for m in messages:
        table.add_row(
            str(m.seq + 1),
            m.recipient or m.raw or "",
            Text(m.state, style=STYLES.get(m.state, "")),
            str(m.segments or ""),
            m.provider_message_id or "",
            m.report_detail or m.error or "",
        )
    print_table(out, table, optional=("Parts", "Message ID"))
    line = f"{run.messages} message{'s' * (run.messages != 1)}: {_counts(run)}"
    line += f" · {plural(run.parts, 'part')} · {plural(run.credits_used, 'credit')} used"
    if run.run.credits_remaining is not None:
        line += f" · {run.run.credits_remaining:g} credits remaining after the run"
    out.print(line)


def _counts(run: RunSummary) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(run.counts.items())) or "none"


def _run_document(run: RunSummary) -> dict[str, Any]:
    from smscli.cli.documents import number

    return {
        "run_id": run.run.id,
        "created_at": run.run.created_at,
        "finished_at": run.run.finished_at,
        "command": run.run.command,
        "provider": run.run.provider,
        "profile": run.run.profile,
        "sender": run.run.sender,
        "source": run.run.source,
        "status": run.run.state,
        "total": run.messages,
        "counts": run.counts,
        "parts": run.parts,
        "credits_used": run.credits_used,
        "credits_remaining": number(run.run.credits_remaining),
    }


def _message_document(m: MessageRecord) -> dict[str, Any]:
    return {
        "seq": m.seq,
        "to": m.recipient,
        "input": m.raw,
        "source": m.source,
        "status": m.state,
        "segments": m.segments or 0,
        "encoding": m.encoding,
        "message_id": m.provider_message_id,
        "batch_id": m.batch_id,
        "error": m.error,
        "report": m.report_detail,
        "reported_at": m.reported_at,
        "updated_at": m.updated_at,
        "text": m.text,
    }


def _warn_config(cli: Cli) -> None:
    """The warning every command gives about a config file others can read, without needing a
    configured provider (the history is the ledger's alone)."""
    from smscli.errors import ConfigError

    try:
        config = cli.config_file
    except ConfigError:
        return
    for warning in config.warnings:
        cli.warn(warning)
