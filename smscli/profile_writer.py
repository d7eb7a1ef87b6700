"""Writing one profile into the TOML config file without disturbing the rest of it.

The standard library reads TOML but does not write it, and a general TOML writer would throw
away the user's comments and layout. So the table ``[profiles.NAME]`` is edited as text: in an
existing table each ``key = value`` line that changes is replaced (keeping its trailing
comment), keys that are new are added after the table's last key, and every other line of the
file stays byte for byte; a new profile is appended as a table of its own. The new text is
parsed back and must hold exactly the expected values, else nothing is written.

Writes are atomic: a temporary file in the same directory, ``fsync``, ``os.replace``. The file
is always left with mode 0600; directories smscli creates get mode 0700.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from smscli.errors import ConfigError, UsageError

KEY_ORDER = (
    "provider",
    "api_key",
    "username",
    "password",
    "sender",
    "senders",
    "region",
    "base_url",
    "timeout",
    "rate_limits",
    "batch_size",
    "concurrency",
)
"""The order of the keys in a table smscli writes."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


class Written(NamedTuple):
    path: Path
    created_file: bool
    created_profile: bool
    default: bool
    """Whether the profile is now ``default_profile``."""
    values: dict[str, Any]


# --- TOML values ------------------------------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest as is."""
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        elif 0xD800 <= ord(c) <= 0xDFFF:
            raise UsageError(f"{text.encode('utf-8', 'replace')!r} is not valid text (UTF-8)")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


# --- reading ----------------------------------------------------------------------------------


def read(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and its parsed content ("" and {} when it does not exist)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return "", {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 (byte {exc.start})") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid TOML: {exc}", hint="fix the file by hand; nothing was written"
        ) from None


def existing_profile(path: Path, name: str) -> dict[str, Any] | None:
    profiles = read(path)[1].get("profiles")
    found = profiles.get(name) if isinstance(profiles, dict) else None
    return dict(found) if isinstance(found, dict) else None


def merge(existing: Mapping[str, Any] | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """The profile after an update: the existing values with the given ones on top. A profile
    that changes provider starts afresh (the old credentials mean nothing to the new one)."""
    if existing is None or existing.get("provider") != given.get("provider"):
        return dict(given)
    return {**existing, **given}


# --- the text of the file ---------------------------------------------------------------------


class _Unreadable(Exception):
    pass


@dataclass
class _Statement:
    key: str
    value: Any
    start: int
    end: int
    """Lines ``start`` to ``end`` (exclusive): a value may span lines (arrays, strings)."""
    comment: str
    """A one-line statement's trailing comment, with the blanks before it."""


@dataclass
class _Table:
    path: list[str] | None
    """The table's key path (``["profiles", "acme"]``), None for an array of tables."""
    header: int
    statements: list[_Statement]
    end: int


def _statements(lines: list[str], start: int) -> tuple[list[_Statement], int]:
    """The key/value statements from line ``start`` up to the next table header."""
    found = []
    i = start
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        if stripped.startswith("["):
            break
        j = i + 1
        while True:
            try:
                doc = tomllib.loads("".join(lines[i:j]))
                break
            except tomllib.TOMLDecodeError:
                if j >= len(lines):
                    raise _Unreadable from None
                j += 1
        if len(doc) != 1:
            raise _Unreadable
        ((key, value),) = doc.items()
        found.append(_Statement(key, value, i, j, _comment(lines[i]) if j == i + 1 else ""))
        i = j
    return found, i


def _comment(line: str) -> str:
    body = line.rstrip("\r\n")
    whole = tomllib.loads(body)
    for at in (i for i, c in enumerate(body) if c == "#"):
        try:
            if tomllib.loads(body[:at]) != whole:
                continue
        except tomllib.TOMLDecodeError:
            continue
        start = at
        while start > 0 and body[start - 1] in " \t":
            start -= 1
        return body[start:]
    return ""


def _header_path(line: str) -> list[str] | None:
    if line.strip().startswith("[["):
        return None
    try:
        doc: Any = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        raise _Unreadable from None
    path = []
    while isinstance(doc, dict) and len(doc) == 1:
        key, doc = next(iter(doc.items()))
        path.append(key)
    return path


def _layout(lines: list[str]) -> tuple[list[_Statement], list[_Table]]:
    top, i = _statements(lines, 0)
    tables = []
    while i < len(lines):
        statements, end = _statements(lines, i + 1)
        tables.append(_Table(_header_path(lines[i]), i, statements, end))
        i = end
    return top, tables


def _line(key: str, value: Any, comment: str, nl: str) -> str:
    return f"{toml_key(key)} = {toml_value(value)}{comment}{nl}"


def _ordered(values: Mapping[str, Any]) -> list[str]:
    return sorted(values, key=lambda k: KEY_ORDER.index(k) if k in KEY_ORDER else len(KEY_ORDER))


def _edit(
    lines: list[str], statements: list[_Statement], values: Mapping[str, Any], after: int, nl: str
) -> list[str]:
    """``lines`` with ``statements`` set to ``values``: changed lines replaced, keys not in
    ``values`` removed, new keys inserted after line ``after``."""
    out = list(lines)
    present = {s.key for s in statements}
    new = [_line(k, values[k], "", nl) for k in _ordered(values) if k not in present]
    out[after:after] = new
    for s in sorted(statements, key=lambda s: s.start, reverse=True):
        if s.key not in values:
            del out[s.start : s.end]
        elif s.value != values[s.key] or type(s.value) is not type(values[s.key]):
            out[s.start : s.end] = [_line(s.key, values[s.key], s.comment, nl)]
    return out


def render(text: str, name: str, values: Mapping[str, Any], *, make_default: bool) -> str:
    """The file's new text: ``[profiles.NAME]`` holding exactly ``values``, and
    ``default_profile = NAME`` if asked; everything else unchanged."""
    nl = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += nl
    if make_default:
        top, tables = _layout_or_refuse(lines)
        existing = next((s for s in top if s.key == "default_profile"), None)
        if existing is not None:
            lines = _edit(lines, [existing], {"default_profile": name}, existing.end, nl)
        else:
            at = tables[0].header if tables else len(lines)
            while at > 0 and lines[at - 1].lstrip().startswith("#"):
                at -= 1
            blank = [nl] if at < len(lines) and lines[at].strip() else []
            lines[at:at] = [_line("default_profile", name, "", nl), *blank]
    top, tables = _layout_or_refuse(lines)
    table = next((t for t in tables if t.path == ["profiles", name]), None)
    if table is not None:
        after = table.statements[-1].end if table.statements else table.header + 1
        lines = _edit(lines, table.statements, values, after, nl)
    else:
        if lines and lines[-1].strip():
            lines.append(nl)
        lines.append(f"[profiles.{toml_key(name)}]{nl}")
        lines += [_line(k, values[k], "", nl) for k in _ordered(values)]
    return "".join(lines)


def _layout_or_refuse(lines: list[str]) -> tuple[list[_Statement], list[_Table]]:
    try:
        return _layout(lines)
    except _Unreadable:
        raise ConfigError(
            "cannot find my way around the config file to update it safely",
            hint="edit it by hand; nothing was written",
        ) from None


# --- writing ----------------------------------------------------------------------------------


def write_profile(
    path: Path, name: str, values: Mapping[str, Any], *, make_default: bool = False
) -> Written:
    """Write ``[profiles.NAME]`` with exactly ``values`` into the config file at ``path``.

    A new file also gets ``default_profile = NAME``. Refuses (ConfigError, nothing written)
    when the profile exists in a form other than a ``[profiles.NAME]`` table, or when the result
    would not read back as intended.
    """
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    text, data = read(path)
    created_file = not path.exists()
    profiles = data.get("profiles", {})
    created_profile = not (isinstance(profiles, dict) and name in profiles)
    make_default = make_default or created_file
    new_text = render(text, name, values, make_default=make_default)
    expected = dict(data)
    expected["profiles"] = {**(profiles if isinstance(profiles, dict) else {}), name: dict(values)}
    if make_default:
        expected["default_profile"] = name
    try:
        ok = tomllib.loads(new_text) == expected
    except tomllib.TOMLDecodeError:
        ok = False
    if not ok:
        raise ConfigError(
            f"cannot update profile {name!r} in {path} safely: the edited file would not read "
            f"back as intended (is the profile written other than as a "
            f"[profiles.{toml_key(name)}] table?)",
            hint="edit the file by hand; nothing was written",
        )
    _atomic_write(path, new_text.encode("utf-8"))
    default = data.get("default_profile") == name or make_default
    return Written(path, created_file, created_profile, default, dict(values))


def _private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parent with mode 0700 (whatever the umask)."""
    missing = []
    for folder in (directory, *directory.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        _private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if os.name == "posix":
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
