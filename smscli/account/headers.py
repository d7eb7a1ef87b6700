"""Sender headers (başlık) usable with an account, labelled with where the list came from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from smscli.account import SIMULATED, Source, is_simulated
from smscli.errors import ProviderError, UnsupportedOperation
from smscli.senders import check_sender

if TYPE_CHECKING:
    from smscli.providers.base import Provider


class HeaderRow(NamedTuple):
    name: str
    source: str
    problem: str | None
    """Why the header's shape would be refused before any send (3 to 11 characters, no
    Turkish letters), or None."""


@dataclass(frozen=True)
class HeaderList:
    provider: str
    source: Source
    label: str
    headers: list[HeaderRow]
    sender: str | None
    """The profile's sender."""
    note: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def sender_listed(self) -> bool | None:
        if not self.sender or not self.headers:
            return None
        return self.sender in {h.name for h in self.headers}


CONFIGURED = "configured in profile"


def list_headers(
    driver: Provider,
    *,
    senders: Sequence[str],
    sender: str | None,
    configure_hint: str,
) -> HeaderList:
    """The sender headers usable with the account, with where they came from.

    ``senders`` and ``sender`` are the profile's; ``configure_hint`` says how to set ``senders``
    (named in the error when there is nothing to show).
    """
    name = driver.name
    note = None
    source: Source
    try:
        found = driver.headers()
    except UnsupportedOperation as exc:
        if not senders:
            raise UnsupportedOperation(exc.message, hint=configure_hint) from None
        rows, source, label = _configured(senders), "profile", CONFIGURED
    except ProviderError as exc:
        # AuthError is a ConfigError, not a ProviderError: wrong credentials are not papered over.
        if not senders:
            raise ProviderError(exc.message, hint=configure_hint) from None
        note = f"{exc.message}; showing the profile's senders instead"
        rows, source, label = _configured(senders), "profile", CONFIGURED
    else:
        simulated = is_simulated(driver)
        source = "simulated" if simulated else "provider"
        label = found[0].source if found else (SIMULATED if simulated else f"{name} header list")
        rows = [HeaderRow(h.name, h.source, check_sender(h.name)) for h in found]
    result = HeaderList(name, source, label, rows, sender, note)
    if source == "profile" and not driver.capabilities.sender:
        result.warnings.append(f"{name} takes no sender header; these are only what is configured")
    for row in rows:
        if row.problem:
            result.warnings.append(f"{row.problem}; smscli refuses it before sending")
    if sender and driver.capabilities.sender:
        problem = check_sender(sender)
        if problem:
            result.warnings.append(f"the profile's {problem}")
        if result.sender_listed is False:
            result.warnings.append(
                f"the profile's sender {sender!r} is not among these headers; {name} may refuse it"
            )
    return result


def _configured(senders: Iterable[str]) -> list[HeaderRow]:
    return [HeaderRow(s, CONFIGURED, check_sender(s)) for s in dict.fromkeys(senders)]
