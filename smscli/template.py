"""Mail-merge templates: ``{column}`` placeholders filled per row, ``{{`` and ``}}`` for
literal braces. Column names are matched exactly as written in the header (Turkish letters and
spaces included), after trimming surrounding whitespace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from smscli.errors import InputError


class Template(NamedTuple):
    source: str
    parts: tuple[str | int, ...]
    """Literal text, or the index of a placeholder in ``placeholders``."""
    placeholders: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, where: str = "template") -> Template:
        parts: list[str | int] = []
        names: list[str] = []
        literal: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "{" and text.startswith("{{", i):
                literal.append("{")
                i += 2
            elif ch == "}" and text.startswith("}}", i):
                literal.append("}")
                i += 2
            elif ch == "{":
                end = text.find("}", i + 1)
                inner = text[i + 1 : end] if end != -1 else ""
                if end == -1 or "{" in inner:
                    raise InputError(
                        f"{where}: '{{' at character {i + 1} is not closed",
                        hint="write {{ for a literal brace",
                    )
                name = inner.strip()
                if not name:
                    raise InputError(f"{where}: empty placeholder {{}} at character {i + 1}")
                if literal:
                    parts.append("".join(literal))
                    literal = []
                if name not in names:
                    names.append(name)
                parts.append(names.index(name))
                i = end + 1
            elif ch == "}":
                raise InputError(
                    f"{where}: '}}' at character {i + 1} has no opening brace",
                    hint="write }} for a literal brace",
                )
            else:
                literal.append(ch)
                i += 1
        if literal:
            parts.append("".join(literal))
        return cls(text, tuple(parts), tuple(names))

    def bind(self, headers: Sequence[str], where: str = "template") -> BoundTemplate:
        """Resolve placeholders to column positions; unknown ones are an error."""
        index = {h: i for i, h in reversed(list(enumerate(headers)))}
        unknown = [n for n in self.placeholders if n not in index]
        if unknown:
            raise InputError(
                f"{where}: unknown placeholder{'s' * (len(unknown) > 1)} "
                + ", ".join(f"{{{n}}}" for n in unknown),
                hint="columns: " + ", ".join(headers),
            )
        return BoundTemplate(self, tuple(index[n] for n in self.placeholders))


@dataclass(frozen=True)
class BoundTemplate:
    template: Template
    columns: tuple[int, ...]
    pattern: str = field(init=False, repr=False)
    """The template as a ``str.format`` pattern over the placeholder values (C speed)."""

    def __post_init__(self) -> None:
        pattern = "".join(
            p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else f"{{{p}}}"
            for p in self.template.parts
        )
        object.__setattr__(self, "pattern", pattern)

    def render(self, row: Sequence[str]) -> tuple[str | None, str | None]:
        """``(text, None)``, or ``(None, name of the first empty column)``."""
        values = [row[col].strip() for col in self.columns]
        if not all(values):
            return None, self.template.placeholders[values.index("")]
        return self.pattern.format(*values), None
