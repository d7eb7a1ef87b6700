"""The README keeps its promises to a reader.

- The two quick-start commands are there word for word: CI and reviewers run them.
- Every ```json block is an example of real output: an HTML comment right before it names the
  schema it validates against (``<!-- schema: run.json -->``), and a ```sh block right before
  that holds the one ``smscli`` command that printed it. Run one after the other in an empty
  home (files come from the README's blocks marked ``<!-- file: NAME [ENCODING] -->``), each
  command prints today a document of the example's shape: the same keys at every level, the
  same kinds of values, the same exit code.

When a document's shape changes, rewrite the examples from real output (a scratch home, the
sandbox; arrays cut to their first items, every key kept):

    .venv/bin/python -m tests.test_readme --write
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.test_schemas import validator

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SCHEMAS = ROOT / "schemas"
QUICK_START = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install . && "
    'smscli send "0532 123 45 67" -m "Merhaba" --provider sandbox',
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
    "python -m pytest -q",
)
KEPT_ITEMS = 2
"""How many items of an array ``--write`` keeps in an example."""

_FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_SCHEMA = re.compile(r"<!-- schema: ([a-z-]+\.json) -->")
_FILE = re.compile(r"<!-- file: (\S+)(?: (\S+))? -->")


class Block(NamedTuple):
    lang: str
    body: str
    line: int
    before: str
    """The text between the previous block (or the file's start) and this one, stripped."""
    start: int
    end: int
    """Offsets of the body in the README."""


class Example(NamedTuple):
    line: int
    schema: str | None
    command: str | None
    block: Block


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    last = 0
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[last : match.start()].strip()
        found.append(Block(match[1], match[2], line, before, match.start(2), match.end(2)))
        last = match.end()
    return found


def examples(text: str) -> list[Example]:
    """Every ```json block, with the schema and the command right before it (None if not)."""
    found = []
    every = blocks(text)
    for i, block in enumerate(every):
        if block.lang != "json":
            continue
        named = _SCHEMA.fullmatch(block.before)
        command = None
        if named and i > 0 and every[i - 1].lang == "sh":
            lines = every[i - 1].body.strip().splitlines()
            if len(lines) == 1 and lines[0].startswith("smscli "):
                command = lines[0]
        found.append(Example(block.line, named and named[1], command, block))
    return found


def files(text: str) -> dict[str, bytes]:
    """The blocks the README marks as files, encoded as marked (UTF-8 unless said)."""
    found = {}
    for block in blocks(text):
        if marked := _FILE.fullmatch(block.before.splitlines()[-1] if block.before else ""):
            found[marked[1]] = block.body.encode(marked[2] or "utf-8")
    return found


def shape_differences(example: Any, real: Any, where: str = "$") -> list[str]:
    """Where ``example`` is not of ``real``'s shape: other keys, other kinds of values, or an
    array with more items (or none where there are some)."""
    if isinstance(example, dict) and isinstance(real, dict):
        out = [f"{where}.{k}: {'only in the README' if k in example else 'missing'}"
               for k in sorted(example.keys() ^ real.keys())]  # fmt: skip
        for key in (k for k in example if k in real):  # in the README's order
            out += shape_differences(example[key], real[key], f"{where}.{key}")
        return out
    if isinstance(example, list) and isinstance(real, list):
        if len(example) > len(real) or (real and not example):
            return [f"{where}: {len(example)} items in the README, {len(real)} printed"]
        pairs = zip(example, real, strict=False)
        return [
            d for i, (e, r) in enumerate(pairs) for d in shape_differences(e, r, f"{where}[{i}]")
        ]
    if _kind(example) != _kind(real):
        return [f"{where}: {_kind(example)} in the README, {_kind(real)} printed"]
    return []


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value) if value is None else "boolean"
    return "number" if isinstance(value, int | float) else type(value).__name__


TEXT = README.read_text(encoding="utf-8")
EXAMPLES = examples(TEXT)


def test_quick_start_is_word_for_word() -> None:
    section = TEXT.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    commands = [b.body.strip() for b in blocks(section) if b.lang == "sh"]
    assert commands == list(QUICK_START)


def test_every_schema_is_linked() -> None:
    text = README.read_text(encoding="utf-8")
    for path in SCHEMAS.glob("*.json"):
        assert f"(schemas/{path.name})" in text, f"README does not link {path.name}"


def test_every_json_example_names_its_schema_and_command() -> None:
    assert len(EXAMPLES) >= 5, "the README's examples were not found"
    published = {p.name for p in SCHEMAS.glob("*.json")}
    for example in EXAMPLES:
        assert example.schema, f"README.md line {example.line}: no <!-- schema: NAME --> before"
        assert example.schema in published, f"line {example.line}: no schemas/{example.schema}"
        assert example.command, f"README.md line {example.line}: no smscli command above it"


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"line{e.line}" for e in EXAMPLES])
def test_example_validates_against_its_schema(example: Example) -> None:
    assert example.schema, "see test_every_json_example_names_its_schema_and_command"
    document = json.loads(example.block.body)
    errors = sorted(validator(example.schema).iter_errors(document), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    if document["error"] is not None:
        assert not list(validator("error.json").iter_errors(document))


def test_examples_are_what_the_commands_print(cli: Any, home: Any) -> None:
    for name, content in files(TEXT).items():
        (home.cwd / name).write_bytes(content)
    for example in EXAMPLES:
        assert example.command, "see test_every_json_example_names_its_schema_and_command"
        out = cli(*shlex.split(example.command)[1:])
        printed = json.loads(out.stdout)
        shown = json.loads(example.block.body)
        where = f"README.md line {example.line}: {example.command}"
        assert shown["exit_code"] == printed["exit_code"] == out.exit_code, where
        assert shown["command"] == printed["command"], where
        assert not shape_differences(shown, printed), (where, shape_differences(shown, printed))


def test_shape_differences_finds_what_drifted() -> None:
    real = {"a": 1, "b": [{"x": None, "y": "s"}, {"x": None, "y": "t"}], "c": True}
    assert shape_differences({"a": 2, "b": [{"x": None, "y": "u"}], "c": False}, real) == []
    assert shape_differences({"a": 2, "b": [], "c": False}, real) == [
        "$.b: 0 items in the README, 2 printed"
    ]
    drifted = {"a": "2", "b": [{"x": 1, "z": "u"}], "d": True}
    assert shape_differences(drifted, real) == [
        "$.c: missing",
        "$.d: only in the README",
        "$.a: str in the README, number printed",
        "$.b[0].y: missing",
        "$.b[0].z: only in the README",
        "$.b[0].x: number in the README, None printed",
    ]


def _cut(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v) for v in value[:KEPT_ITEMS]]
    return value


def write_examples() -> None:
    """Run every example's command, one after the other, in a scratch home with the README's
    files, and put what it printed (cut, indented by 2) in its block."""
    text = TEXT
    scratch = Path(tempfile.gettempdir()) / "smscli-readme"  # one name: diffs show only ids
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSCLI_", "XDG_"))}
    env.update(HOME=str(scratch), SMSCLI_LEDGER=str(scratch / "ledger.db"), NO_COLOR="1")
    for name, content in files(text).items():
        (scratch / name).write_bytes(content)
    done = []
    for example in EXAMPLES:
        assert example.command, f"README.md line {example.line}: no smscli command above it"
        argv = [sys.executable, "-m", "smscli", *shlex.split(example.command)[1:]]
        out = subprocess.run(argv, cwd=scratch, env=env, capture_output=True, text=True)
        document = _cut(json.loads(out.stdout))
        done.append((example.block, json.dumps(document, indent=2, ensure_ascii=False) + "\n"))
    for block, body in reversed(done):
        text = text[: block.start] + body + text[block.end :]
    README.write_text(text, encoding="utf-8")
    print(f"{len(done)} examples rewritten from {scratch}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_readme --write")
    write_examples()
