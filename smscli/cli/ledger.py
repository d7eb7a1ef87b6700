"""``smscli ledger check``: whether the ledger's file is intact, and which runs it can still
read when it is not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from smscli.cli.common import Cli, JsonOpt, QuietOpt, command, print_json
from smscli.errors import ExitCode

if TYPE_CHECKING:
    from smscli.store.check import LedgerHealth

app = typer.Typer(help="The ledger itself: whether it is intact.")


@app.command("check")
def check(json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """Run SQLite's integrity check on the ledger and say which runs can still be read."""
    cli = Cli(json=json, quiet=quiet)
    with command(cli):
        from smscli.store.check import check_ledger

        health = check_ledger(cli.env.ledger_path)
        code = ExitCode.OK if health.intact or not health.exists else ExitCode.CONFIG
        if cli.json:
            print_json(_document(health, code))
        else:
            _show(cli, health)
    raise typer.Exit(int(code))


def _document(health: LedgerHealth, code: ExitCode) -> dict[str, object]:
    return {
        "command": "ledger check",
        "ledger": health.location,
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
                "states": r.states,
                "error": r.error,
            }
            for r in health.runs
        ],
        "exit_code": int(code),
    }


def _show(cli: Cli, health: LedgerHealth) -> None:
    out = cli.out
    if not health.exists:
        out.print(f"No ledger at {health.location} yet: nothing was recorded there.")
        return
    out.print(f"Ledger {health.location} ({health.size:,} bytes, schema {health.schema})")
    if health.intact:
        count = sum(r.messages for r in health.runs)
        out.print(
            f"intact: SQLite's integrity check found nothing wrong; {len(health.runs):,} "
            f"run(s), {count:,} message(s)"
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
            out.print(f"  run {r.run_id}: readable, {r.messages:,} message(s) ({states})")
        else:
            out.print(f"  run {r.run_id}: NOT readable ({r.error})")
    out.print(
        f"To start a new, empty ledger, move this one aside (mv {health.location} "
        f"{health.location}.damaged); `smscli history show RUN` against a copy, or sqlite3's "
        "`.recover`, can still read the runs listed as readable."
    )
