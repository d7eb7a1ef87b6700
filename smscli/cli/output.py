"""What the commands write, whatever the command: JSON text, the envelope's error member,
the running command's name, and the console that never lets data drive the terminal."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.segment import Segment


def json_text(document: Any) -> str:
    """``document`` as JSON text (UTF-8 letters as they are). JSON has no NaN or infinity
    (``json.dumps`` would write ``NaN``, which no JSON reader takes): a non-finite float is
    written as null."""
    import json

    try:
        return json.dumps(document, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(document), ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±infinity) replaced by None."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def command_path(ctx: Any = None) -> str:
    """The command's name as typed after ``smscli`` (``ledger copy``), from click's context
    ``ctx`` (default: the running one); ``""`` outside one."""
    if ctx is None:
        # typer re-exports click's (which it vendors since 0.25) but does not declare it.
        from typer.main import get_current_context  # type: ignore[attr-defined]

        ctx = get_current_context(silent=True)
    if ctx is None:
        return ""
    root: str = ctx.find_root().info_name or ""
    path: str = ctx.command_path
    return path.removeprefix(root).strip()


def error_document(code: str, message: str, hint: str | None) -> dict[str, Any]:
    """The ``error`` member of the envelope."""
    return {"code": code, "message": message, "hint": hint}


@cache
def console_class() -> type[Console]:
    """rich's Console, writing every control character of the text it is given as an escape:
    a CSV cell, a provider's error or a file name holding ESC sequences must not recolour,
    retitle or rewrite the user's terminal (or cron mail). rich's own control codes (colours,
    the progress bar's cursor moves) are styles and control segments, left alone."""
    from rich.console import Console
    from rich.segment import Segment

    from smscli.cli.display import escaped

    class SafeConsole(Console):
        def _render_buffer(self, buffer: Iterable[Segment]) -> str:
            safe = (s if s.control else Segment(escaped(s.text), s.style) for s in buffer)
            return super()._render_buffer(safe)

    return SafeConsole
