"""Remaining credit, and checking credentials through a call that costs nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from smscli.account import SIMULATED, Source, is_simulated, now
from smscli.errors import NotSent, ProviderError, RateLimited, UnsupportedOperation
from smscli.providers.base import finite_number, is_no_such_send

if TYPE_CHECKING:
    from smscli.providers.base import Provider
    from smscli.store import Store


class BalanceReport(NamedTuple):
    provider: str
    credits: float | None
    raw: str | None
    source: Source
    label: str
    as_of: str
    """ISO time (UTC) the value is from: now for a live call, the send's time from the ledger."""


def balance(driver: Provider, store: Store, account: str) -> BalanceReport:
    """The remaining credit: live where the provider has a call, else the last value it
    reported with a send (recorded in the ledger), else the driver's UnsupportedOperation."""
    name = driver.name
    try:
        found = driver.balance()
    except UnsupportedOperation as exc:
        stored = store.get_state(account, "credits_remaining")
        if stored is None:
            raise UnsupportedOperation(
                exc.message,
                hint="no send through this account has reported remaining credits yet",
            ) from None
        value, updated_at = stored
        credits = finite_number(value)
        # A value we cannot read (an older smscli stored ``repr(nan)``) is shown as unknown.
        raw = value if credits is None else f"{credits:g}"
        return BalanceReport(name, credits, raw, "ledger", f"last reported by {name}", updated_at)
    if is_simulated(driver):
        return BalanceReport(name, found.credits, found.raw, "simulated", SIMULATED, now())
    return BalanceReport(name, found.credits, found.raw, "provider", f"{name} balance call", now())


PROBE_ID = "0"
PROBE_NUMBER = "+905000000000"


class CredentialCheck(NamedTuple):
    checked: bool
    """Whether a call was made; False where the provider has no harmless call."""
    how: str
    detail: str
    credits: float | None = None
    """The balance the check read, where it read one."""


def check_credentials(driver: Provider) -> CredentialCheck:
    """Check the credentials live through a call that costs nothing and changes nothing.

    The balance call where there is one: a balance read means the credentials work. Else a
    report on a send id that does not exist (``0``): a rejected key is an :class:`AuthError`;
    the provider's own clear "no such send" (``base.no_such_send``) or a report means the key
    was not rejected. Anything else (a 404 or an HTML page from a wrong ``base_url``, a reply we
    cannot read, another refusal, no reply at all) checks nothing: its error is raised, for
    the caller to say the credentials could not be checked. A provider with neither call
    cannot be checked without sending, which costs credit.
    """
    name = driver.name
    caps = driver.capabilities
    if caps.balance:
        found = driver.balance()
        return CredentialCheck(True, f"{name} balance call", "", found.credits)
    if caps.report:
        how = f"{name} report call for send id {PROBE_ID}, which does not exist"
        try:
            driver.report(PROBE_ID, [PROBE_NUMBER])
        except ProviderError as exc:
            if not is_no_such_send(exc) or isinstance(exc, NotSent | RateLimited):
                raise
            return CredentialCheck(True, how, f"credentials not rejected ({exc.message})")
        return CredentialCheck(True, how, "credentials not rejected")
    return CredentialCheck(
        False,
        "",
        f"{name} offers no call that checks credentials without sending (a send costs "
        "credit); the profile was saved untested",
    )
