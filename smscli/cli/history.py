"""``smscli history``: runs from the ledger."""

from __future__ import annotations

import typer

app = typer.Typer(help="Recent runs from the ledger (not implemented yet).")
