"""The explicit registry of provider drivers.

Built-in drivers are listed here by name; third-party drivers may add themselves through the
``smscli.providers`` entry-point group. Modules are imported only when a driver is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from smscli.errors import UsageError

if TYPE_CHECKING:
    from smscli.providers.base import Provider

BUILTIN: dict[str, str] = {
    "customersms": "smscli.providers.customersms:CustomerSms",
    "vairosms": "smscli.providers.vairosms:VairoSms",
    "masgsm": "smscli.providers.masgsm:MasGsm",
    "sandbox": "smscli.providers.sandbox:Sandbox",
}


def _entry_points() -> dict[str, str]:
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group="smscli.providers")}


def names() -> list[str]:
    return sorted(BUILTIN | _entry_points())


def get(name: str, where: str = "") -> type[Provider]:
    """The driver named ``name``; an unknown name is a usage error (exit 2) wherever it was
    given (a flag, the environment, the config file: ``where`` says which), with the closest
    known name."""
    target = BUILTIN.get(name) or _entry_points().get(name)
    if target is None:
        raise unknown(name, where)
    module, _, attr = target.partition(":")
    cls: type[Provider] = getattr(importlib.import_module(module), attr)
    return cls


def unknown(name: str, where: str = "") -> UsageError:
    from smscli.config import did_you_mean

    known = names()
    at = f" (from {where})" if where else ""
    return UsageError(
        f"unknown provider {name!r}{at}",
        hint=did_you_mean(name, known) + f"choose one of: {', '.join(known)}",
    )
