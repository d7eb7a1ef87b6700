"""``smscli doctor``: the configuration checked before anything is sent (the checks are in
:mod:`smscli.doctor`); exit 0 when nothing is wrong, 4 with every problem named."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from smscli.cli.common import Cli, DebugOpt, JsonOpt, QuietOpt, command
from smscli.errors import ExitCode

if TYPE_CHECKING:
    from smscli.doctor import Check

OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Make no network call: no credentials test.")
]
LABELS = {"ok": "ok", "warning": "warning", "problem": "PROBLEM", "skipped": "skipped"}
STYLES = {"ok": "green", "warning": "yellow", "problem": "bold red", "skipped": "dim"}


def doctor(
    offline: OfflineOpt = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check the config file, every profile, the .env in effect, the ledger and (unless
    --offline) each profile's credentials through a call that costs nothing."""
    cli = Cli(json=json, quiet=quiet, debug=debug)
    with command(cli):
        from smscli.cli.output import error_document
        from smscli.doctor import diagnose, secrets
        from smscli.redact import Redactor

        env = cli.env
        cli.redactor = Redactor(secrets(env))
        checks = diagnose(env, None if offline else lambda name, values: _test(cli, name, values))
        checks = [c._replace(message=cli.redactor(c.message)) for c in checks]
        problems = sum(c.status == "problem" for c in checks)
        code = ExitCode.CONFIG if problems else ExitCode.OK
        if cli.json:
            error = None
            if problems:
                what = f"doctor found {problems} problem{'s' if problems != 1 else ''}"
                error = error_document("config", what, "fix each check whose status is problem")
            cli.emit(_document(checks), code, error)
        else:
            _show(cli, checks)
    raise typer.Exit(int(code))


def _document(checks: list[Check]) -> dict[str, Any]:
    counts = {status: sum(c.status == status for c in checks) for status in LABELS}
    return {
        "profile": None,
        "provider": None,
        "checks": [
            {"check": c.check, "profile": c.profile, "key": c.key, "status": c.status,
             "message": c.message, "hint": c.hint}
            for c in checks
        ],
        "counts": counts,
    }  # fmt: skip


def _show(cli: Cli, checks: list[Check]) -> None:
    """One line per check (with --quiet, per problem): status, what, where, and the fix."""
    from rich.text import Text

    out = cli.out
    for c in checks:
        if cli.quiet and c.status != "problem":
            continue
        subject = f"profile {c.profile}" if c.profile else ""
        if c.check == "credentials":
            subject = f"credentials of profile {c.profile}"
        where = f"{subject}, {c.key}" if subject and c.key else subject or c.key or ""
        line = Text.assemble((f"{LABELS[c.status]:<8}", STYLES[c.status]), " ")
        line.append(f"{where}: {c.message}" if where else c.message)
        if c.hint and c.status in ("problem", "warning"):
            line.append(f"; fix: {c.hint}")
        out.print(line, soft_wrap=True)
    problems = sum(c.status == "problem" for c in checks)
    warnings = sum(c.status == "warning" for c in checks)
    if not cli.quiet:
        said = f"{problems} problem{'s' if problems != 1 else ''}, {warnings} warning"
        out.print(said + ("s" if warnings != 1 else "") if problems or warnings else "All good.")


def _test(cli: Cli, name: str | None, values: Mapping[str, Any]) -> Check:
    """The live, free credentials test of one profile (as ``profiles add --test``)."""
    from smscli import providers
    from smscli.cli.credcheck import COULD_NOT_CHECK, detail, run_check
    from smscli.doctor import Check

    cls = providers.get(values["provider"])
    caps = cls.capabilities
    if not caps.network:
        return Check("credentials", "skipped", f"{cls.name} needs none", None, name)
    if not (caps.balance or caps.report):
        what = f"not tested: {cls.name} offers no call that checks them without sending"
        return Check("credentials", "skipped", what, None, name)
    check, failure = run_check(cli, cls, dict(values))
    said = cli.redactor(detail(check))
    if failure is None:
        return Check("credentials", "ok", f"{check.how}: {said}", None, name)
    hint = failure.hint or "check api_key, username and password in the profile"
    if check.checked:  # rejected
        return Check("credentials", "problem", failure.message, hint, name)
    said = said.removeprefix(f"{COULD_NOT_CHECK}: ")
    return Check("credentials", "warning", f"{COULD_NOT_CHECK}: {said}", hint, name)
