"""The explicit registry of provider drivers.

Built-in drivers are listed here by name; third-party drivers may add themselves through the
``smscli.providers`` entry-point group. Modules are imported only when a driver is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from smscli.errors import ConfigError

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


def get(name: str) -> type[Provider]:
    target = BUILTIN.get(name) or _entry_points().get(name)
    if target is None:
        raise ConfigError(
            f"unknown provider {name!r}",
            hint=f"choose one of: {', '.join(names())}",
        )
    module, _, attr = target.partition(":")
    cls: type[Provider] = getattr(importlib.import_module(module), attr)
    return cls
