"""The account surface as a library: balance (:mod:`.balance`), sender headers
(:mod:`.headers`), delivery reports (:mod:`.selection`, :mod:`.reports`) and the history
of runs in the ledger. No typer, no rich: the commands in :mod:`smscli.cli.account` and
:mod:`smscli.cli.history` parse arguments, call one function here and render what it returns.

Where a provider offers no call for something, what it does instead is decided here, once:

- balance: the last ``credits_remaining`` the provider reported with a send (kept in the ledger
  by the sending engine), labelled with its time; nothing recorded is the driver's own
  :class:`UnsupportedOperation` (exit 2).
- headers: the profile's ``senders``, labelled "configured in profile"; when the provider's call
  fails (masgsm's legacy ``apiNo=3``) the same, with a note saying why.
- reports: what the ledger knows, labelled "from the ledger".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from smscli.providers.base import Provider

Source = Literal["provider", "ledger", "profile", "simulated"]

SIMULATED = "sandbox (simulated)"


def is_simulated(driver: Provider) -> bool:
    return not driver.capabilities.network


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
