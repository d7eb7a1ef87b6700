"""``profiles add --test``: the live credential check and how its outcome is told.

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
    from smscli.providers.base import Provider
    from smscli.redact import Redactor

COULD_NOT_CHECK = "could not check the credentials"


def run_check(
    cli: Cli, cls: type[Provider], values: dict[str, Any]
) -> tuple[CredentialCheck, SmscliError | None]:
    """The live check; an error is returned (the profile is saved either way)."""
    from smscli.account.balance import CredentialCheck, check_credentials
    from smscli.cli.common import open_driver
    from smscli.config import make_account
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
