"""What ``profiles add`` says: the profile written, and its ``--test``, the live credential
check (``doctor`` runs the same check), and how its outcome is told.

Three outcomes, never confused:

- OK: the provider read the credentials and did not reject them (a balance read, or a report
  call answered with the provider's own clear "no such send").
- Failed (exit 4): the provider rejected them (or the profile lacks them).
- Could not check (exit 6): any other answer: a 404 or an HTML page (a wrong ``base_url``), a
  reply we cannot read, another refusal, no connection. "could not check the credentials:
  <why>", never OK.

The profile is saved in every case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smscli.cli.common import Cli, warn_if_plain_http

if TYPE_CHECKING:
    from smscli.account.balance import CredentialCheck
    from smscli.errors import SmscliError
    from smscli.profile_writer import Written
    from smscli.providers.base import Provider
    from smscli.redact import Redactor

COULD_NOT_CHECK = "could not check the credentials"


def run_check(
    cli: Cli, cls: type[Provider], values: dict[str, Any]
) -> tuple[CredentialCheck, SmscliError | None]:
    """The live check; an error is returned (the profile is saved either way)."""
    from smscli.account.balance import CredentialCheck, check_credentials
    from smscli.accounts import make_account
    from smscli.cli.common import open_driver
    from smscli.errors import ConfigError, ProviderError, SmscliError

    if not cls.capabilities.network:
        return CredentialCheck(
            True, f"{cls.name} (simulated)", f"the {cls.name} needs no credentials"
        ), None
    account = make_account(cls.name, values.get, cls.default_base_url)
    warn_if_plain_http(cli, account)
    try:
        with open_driver(cli, cls, account) as driver:
            return check_credentials(driver), None
    except ConfigError as exc:  # rejected (AuthError), or missing: the test failed
        return CredentialCheck(True, cls.name, f"failed: {exc.message}"), exc
    except SmscliError as exc:  # any other answer, or none: nothing was checked
        why = f"{COULD_NOT_CHECK}: {exc.message}"
        hint = exc.hint or "check base_url in the profile and run `smscli profiles add` again"
        return CredentialCheck(False, cls.name, why), ProviderError(why, hint=hint)


def check_line(check: CredentialCheck, failure: SmscliError | None, redact: Redactor) -> str:
    """The line a person reads about the check."""
    if failure is not None and not check.checked:
        why = detail(check).removeprefix(f"{COULD_NOT_CHECK}: ")
        return f"Could not check the credentials (the profile is saved): {redact(why)}"
    if not check.checked:
        return f"Credentials not tested: {redact(detail(check))}"
    if failure is None:
        return f"Credentials OK: {check.how}: {redact(detail(check))}"
    return "Credentials test failed (the profile is saved; fix it with profiles add)"


def check_document(
    check: CredentialCheck | None, failure: SmscliError | None, redact: Redactor
) -> dict[str, Any] | None:
    """The ``test`` member of the ``--json`` document: None when there was no --test.
    ``ok`` is null when nothing was checked (no harmless call, or no readable answer)."""
    if check is None:
        return None
    return {
        "checked": check.checked,
        "ok": failure is None if check.checked else None,
        "how": check.how,
        "detail": redact(detail(check)),
    }


def detail(check: CredentialCheck) -> str:
    from smscli.cli.display import credits_text

    if check.credits is not None and not check.detail:
        return f"{credits_text(check.credits)} credits"
    return check.detail


def table(*columns: str, **column_options: Any) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col, **column_options)
    return table


def masked(setting: str, value: Any) -> Any:
    """A setting's value as shown: secrets masked."""
    from smscli.config import SECRET_FIELDS
    from smscli.redact import mask

    return mask(str(value)) if setting in SECRET_FIELDS else value


def text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def render_added(
    cli: Cli,
    name: str,
    written: Written,
    check: CredentialCheck | None,
    failure: SmscliError | None,
) -> None:
    redact = cli.redactor
    settings = [{"setting": k, "value": masked(k, v)} for k, v in written.values.items()]
    action = "added" if written.created_profile else "updated"
    if cli.json:
        cli.emit(
            {
                "profile": name,
                "provider": written.values.get("provider"),
                "config": str(written.path),
                "created_file": written.created_file,
                "action": action,
                "default": written.default,
                "settings": settings,
                "test": check_document(check, failure, redact),
            }
        )
        return
    if cli.quiet:
        return
    out = cli.out
    out.print(
        f"Profile {name} {action} in {written.path}"
        + (" (new file)" if written.created_file else "")
        + ", mode 0600"
        + ("; it is the default profile" if written.default else "")
    )
    shown = table("Setting", "Value", overflow="fold")
    for row in settings:
        shown.add_row(str(row["setting"]), text(row["value"]))
    out.print(shown)
    if check is not None:
        out.print(check_line(check, failure, redact))
