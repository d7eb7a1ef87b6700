"""``smscli balance``, ``report`` and ``headers``."""

from __future__ import annotations

import typer


def balance() -> None:
    """Remaining credit (not implemented yet)."""
    raise typer.Exit(2)


def report() -> None:
    """Delivery reports (not implemented yet)."""
    raise typer.Exit(2)


def headers() -> None:
    """Sender headers (not implemented yet)."""
    raise typer.Exit(2)
