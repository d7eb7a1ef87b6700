"""``smscli balance``, ``report`` and ``headers``: parse, call :mod:`smscli.account`, render."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smscli.cli.common import (
    Cli,
    DebugOpt,
    JsonOpt,
    ProfileOpt,
    ProviderOpt,
    QuietOpt,
    account_state,
    check_account,
    command,
    open_driver,
    rate_limits,
)
from smscli.cli.documents import number
from smscli.cli.output import error_document
from smscli.words import plural

if TYPE_CHECKING:
    from smscli.account.balance import BalanceReport
    from smscli.account.headers import HeaderList
    from smscli.account.reports import DeliveryReport
    from smscli.providers.base import Account, Provider
    from smscli.redact import Redactor

REPORT_AGAIN = "run the report again after {time}; what was reported so far is stored"
PROGRESS_FROM = 20
"""A report asking about more messages than this shows a progress bar on a terminal."""


def balance(
    profile: ProfileOpt = None,
    provider: ProviderOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Remaining credit: from the provider, else the last value it reported (labelled)."""
    cli = Cli(json=json, quiet=quiet, debug=debug, profile=profile)
    cli.flags = {"provider": provider}
    with command(cli):
        from smscli.account.balance import balance as core_balance
        from smscli.accounts import account_id
        from smscli.store import open_store

        cls, account = _account(cli)
        with (
            open_store(cli.ledger) as store,
            open_driver(cli, cls, account, account_state(store, cls, account)) as d,
        ):
            result = core_balance(d, store, account_id(account, cls.capabilities))
        _render_balance(cli, result)


def report(
    message_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Provider message ids (as shown by send).", show_default=False),
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="Report on every message of a run.")
    ] = None,
    last: Annotated[
        bool, typer.Option("--last", help="Report on the account's last run (the default).")
    ] = False,
    max_wait: Annotated[
        float, typer.Option("--max-wait", min=0, help="Most seconds to wait out rate limits.")
    ] = 600.0,
    profile: ProfileOpt = None,
    provider: ProviderOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Delivery reports from the provider, stored in the ledger; else what the ledger knows."""
    cli = Cli(json=json, quiet=quiet, debug=debug, profile=profile)
    cli.flags = {"provider": provider}
    with command(cli):
        from smscli.account import reports as core
        from smscli.account.selection import select
        from smscli.accounts import account_id
        from smscli.ratelimit import Gate
        from smscli.store import open_store

        cls, account = _account(cli)
        with open_store(cli.ledger) as store:
            aid = account_id(account, cls.capabilities)
            selection = select(store, aid, message_ids=message_ids or (), run_id=run, last=last)
            limits = None
            if cls.capabilities.network and cls.capabilities.report:
                gate = Gate(max_wait=max_wait, what="the report", again=REPORT_AGAIN)
                limits = (gate, store.permits(aid, rate_limits(cli, cls)))
            with (
                open_driver(
                    cli, cls, account, account_state(store, cls, account),
                    core.pacer(limits[1], limits[0]) if limits else None,
                ) as driver,
                _progress(cli, core.targets(selection)) as advance,
            ):  # fmt: skip
                result = core.report(driver, store, selection, limits=limits, on_progress=advance)
        _render_report(cli, result)
        if result.error is not None:
            raise result.error


def headers(
    profile: ProfileOpt = None,
    provider: ProviderOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Sender headers (başlık) usable with the profile, labelled with where they come from."""
    cli = Cli(json=json, quiet=quiet, debug=debug, profile=profile)
    cli.flags = {"provider": provider}
    with command(cli):
        from smscli.account.headers import list_headers
        from smscli.store import open_store

        settings = cli.settings
        cls, account = _account(cli)
        hint = (
            "list the headers approved for your account in the profile, for example "
            f'senders = ["ACME", "ACME INFO"] under [profiles.{settings.profile or "NAME"}] '
            f"in {settings.config.path}"
        )
        with (
            open_store(cli.ledger) as store,
            open_driver(cli, cls, account, account_state(store, cls, account)) as d,
        ):
            result = list_headers(
                d,
                senders=list(settings.get("senders") or ()),
                sender=settings.get("sender"),
                configure_hint=hint,
            )
        _render_headers(cli, result)


# --- plumbing ---------------------------------------------------------------------------------


def _account(cli: Cli) -> tuple[type[Provider], Account]:
    from smscli import providers

    cls = providers.get(cli.settings.provider)
    return cls, check_account(cli, cls)


@contextmanager
def _progress(cli: Cli, total: int) -> Iterator[Callable[[int], None] | None]:
    console = cli.err
    if cli.quiet or total <= PROGRESS_FROM or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("asking for delivery reports", total=total)
        yield lambda n: bar.advance(task, n)


def _table(*columns: str, no_wrap: tuple[str, ...] = ()) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col, no_wrap=col in no_wrap)
    return table


def _styled(state: str | None) -> Any:
    from rich.text import Text

    from smscli.cli.render import STYLES

    return Text(state or "", style=STYLES.get(state or "", ""))


# --- rendering --------------------------------------------------------------------------------


def _render_balance(cli: Cli, result: BalanceReport) -> None:
    from smscli.cli.display import ago, credits_text, local_time

    label = result.label
    if result.source == "ledger":
        label += f" at {local_time(result.as_of)} ({ago(result.as_of)})"
    if cli.json:
        cli.emit(
            {
                "provider": result.provider,
                "profile": cli.settings.profile,
                "credits": number(result.credits),
                "raw": result.raw,
                "source": result.source,
                "label": label,
                "as_of": result.as_of,
            }
        )
        return
    if cli.quiet:
        return
    table = _table("Provider", "Credits", "Source", no_wrap=("Credits",))
    table.add_row(result.provider, credits_text(result.credits), label)
    cli.out.print(table)


def _render_report(cli: Cli, result: DeliveryReport) -> None:
    redact = cli.redactor
    for warning in result.warnings:
        cli.warn(warning)
    if cli.json:
        e = result.error
        code, error = (e.exit_code, error_document(e.code, e.message, e.hint)) if e else (0, None)
        cli.emit(_report_document(result, cli.settings.profile, redact), code, error)
        return
    if cli.quiet:
        return
    out = cli.out
    from smscli.cli.display import print_table

    print_table(out, _report_table(result, redact), optional=("Run", "Message ID"))
    out.print(_report_summary(result))


def _report_document(
    result: DeliveryReport, profile: str | None, redact: Redactor
) -> dict[str, Any]:
    """The ``--json`` document of a report, every provider's text redacted."""
    return {
        "provider": result.provider,
        "profile": profile,
        "source": result.source,
        "label": result.label,
        "runs": result.runs,
        "total": len(result.lines),
        "counts": result.counts(),
        "reported": result.reported(),
        "not_found": result.not_found,
        "results": [
            {
                "run_id": line.run_id,
                "seq": line.seq,
                "to": line.to,
                "input": line.raw,
                "message_id": line.message_id,
                "status": line.state,
                "reported": line.reported,
                "detail": redact(line.detail) if line.detail else None,
                "reported_at": line.reported_at,
                "note": redact(line.note) if line.note else None,
            }
            for line in result.lines
        ],
    }


def _report_table(result: DeliveryReport, redact: Redactor) -> Any:
    """One row a message; a run column only when the report spans several runs."""
    several = len(result.runs) > 1
    columns = ("Run",) * several + ("#", "To", "Message ID", "Status", "Report")
    table = _table(*columns, no_wrap=("Run", "To", "Message ID"))
    for line in result.lines:
        state = _styled(line.state)
        if line.reported in ("pending", "unknown") and line.reported != line.state:
            state.append(f" ({line.reported})")
        cells = [
            str(line.seq + 1),
            line.to or line.raw or "",
            line.message_id or "",
            state,
            redact(line.detail or line.note or ""),
        ]
        table.add_row(*([line.run_id] if several else []), *cells)
    return table


def _report_summary(result: DeliveryReport) -> str:
    """The line under the table: counts per state, where they come from, which runs."""
    n = len(result.lines)
    counts = ", ".join(f"{c} {s}" for s, c in sorted(result.counts().items()))
    pending = result.reported().get("pending", 0)
    summary = f"{n} message{'s' * (n != 1)}: {counts or 'none'}"
    if pending:
        summary += f" ({pending} pending)"
    summary += f" · {result.label}"
    if result.runs:
        summary += f" · run{'s' * (len(result.runs) > 1)} {', '.join(result.runs)}"
    return summary


def _render_headers(cli: Cli, result: HeaderList) -> None:
    redact = cli.redactor
    if result.note:
        cli.warn(result.note)
    for warning in result.warnings:
        cli.warn(warning)
    if cli.json:
        cli.emit(
            {
                "provider": result.provider,
                "profile": cli.settings.profile,
                "source": result.source,
                "label": result.label,
                "note": redact(result.note) if result.note else None,
                "sender": result.sender,
                "sender_listed": result.sender_listed,
                "headers": [
                    {
                        "name": h.name,
                        "source": h.source,
                        "valid": h.problem is None,
                        "problem": h.problem,
                    }
                    for h in result.headers
                ],
            }
        )
    if cli.json or cli.quiet:
        return
    out = cli.out
    if result.headers:
        table = _table("Header", "Source", "Shape", no_wrap=("Header",))
        for h in result.headers:
            table.add_row(h.name, h.source, h.problem or "ok")
        out.print(table)
    n = len(result.headers)
    summary = f"{plural(n, 'header')} · {result.label} · {result.provider}"
    if result.sender_listed is not None:
        summary += f" · profile sender {result.sender}" + (
            " listed" if result.sender_listed else " NOT listed"
        )
    out.print(summary)
