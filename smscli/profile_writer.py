"""Writing one profile into the TOML config file without disturbing the rest of it.

The file is edited with tomlkit, which keeps comments, layout and inline tables: in an existing
profile each value that changes is replaced (keeping its trailing comment), keys that are new
are added after the profile's last key, keys no longer wanted are removed, and everything else
stays byte for byte; a new profile is added as a table of its own (or as an inline table when
the profiles are written inline). The new text is parsed back with :mod:`tomllib` and must hold
exactly the expected values, else nothing is written.

Writes are atomic: a temporary file in the same directory, ``fsync``, ``os.replace``. The file
is always left with mode 0600; directories smscli creates get mode 0700.

tomlkit is imported inside the functions that need it: the rest of smscli never pays for it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from smscli.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from tomlkit.items import InlineTable, Item, Key, Table
    from tomlkit.toml_document import TOMLDocument

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
"""The order of the keys smscli adds to a table."""


class Written(NamedTuple):
    path: Path
    created_file: bool
    created_profile: bool
    default: bool
    """Whether the profile is now ``default_profile``."""
    values: dict[str, Any]


class _Unsafe(Exception):
    """The file has a shape this module does not edit."""


# --- TOML values ------------------------------------------------------------------------------


def _check_text(value: Any) -> None:
    """Refuse strings that cannot be written as UTF-8 (lone surrogates from undecodable input)."""
    if isinstance(value, Mapping):
        value = [*value, *value.values()]
    if isinstance(value, list | tuple):
        for v in value:
            _check_text(v)
    elif isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            text = value.encode("utf-8", "replace")
            raise UsageError(f"{text!r} is not valid text (UTF-8)") from None


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped, the rest as is."""
    import tomlkit

    _check_text(text)
    return tomlkit.string(text).as_string()


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


def _ordered(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: KEY_ORDER.index(k) if k in KEY_ORDER else len(KEY_ORDER))


def render(text: str, name: str, values: Mapping[str, Any], *, make_default: bool) -> str:
    """The file's new text: ``[profiles.NAME]`` holding exactly ``values``, and
    ``default_profile = NAME`` if asked; everything else unchanged. ConfigError when tomlkit
    cannot edit the file (or would not give its text back unchanged)."""
    _check_text([name, values])

    def edit(doc: TOMLDocument) -> None:
        _set_profile(doc, name, values)
        if make_default:
            _set_default(doc, name)

    return _edited(text, edit)


def _has_header(key: Key | None, item: Item) -> bool:
    """Whether ``item`` is a table (or array of tables) under a ``[header]`` of its own."""
    from tomlkit.items import AoT, Table

    return isinstance(item, Table | AoT) and key is not None and not key.is_dotted()


def _set_default(doc: TOMLDocument, name: str) -> None:
    """``default_profile = NAME``: the value replaced in place, or a new line before the first
    table (and the comment lines right above it), followed by a blank line."""
    import tomlkit
    from tomlkit.items import Comment, Whitespace

    if "default_profile" in doc:
        doc["default_profile"] = name
        return
    body = doc.body
    tables = [i for i, (k, v) in enumerate(body) if _has_header(k, v)]
    at = tables[0] if tables else len(body)
    while at > 0 and isinstance(body[at - 1][1], Comment):
        at -= 1
    if at == len(body):
        doc.append("default_profile", name)
        return
    following = body[at][1]
    item = tomlkit.item(name)
    blank = isinstance(following, Whitespace) or "\n" in following.trivia.indent
    item.trivia.trail = "\n" if blank else "\n\n"
    doc._insert_at(at, "default_profile", item)  # private, like in _add_keys


def _set_profile(doc: TOMLDocument, name: str, values: Mapping[str, Any]) -> None:
    """``[profiles.NAME]`` set to ``values``: edited where it is, or added at the end of the file
    (inside ``profiles = {...}`` when the profiles are written as an inline table)."""
    import tomlkit
    from tomlkit.container import OutOfOrderTableProxy
    from tomlkit.items import InlineTable, Table

    profiles = doc.get("profiles")
    if not isinstance(profiles, Table | InlineTable | OutOfOrderTableProxy | None):
        raise _Unsafe
    if profiles is None or name not in profiles:
        new = tomlkit.inline_table() if isinstance(profiles, InlineTable) else tomlkit.table()
        new.update({key: values[key] for key in _ordered(values)})
        if isinstance(profiles, InlineTable):
            profiles[name] = new
        else:
            doc.append("profiles", tomlkit.table(is_super_table=True).append(name, new))
        return
    table = profiles[name]
    if not isinstance(table, Table | InlineTable):
        raise _Unsafe
    existing = table.unwrap()
    for key in existing:
        if key not in values:
            del table[key]
        elif type(existing[key]) is not type(values[key]) or existing[key] != values[key]:
            table[key] = values[key]  # tomlkit keeps the comment and blanks of the line
    added = {key: values[key] for key in _ordered(values) if key not in existing}
    if isinstance(table, InlineTable):
        _add_inline(table, added)
    else:
        _add_keys(table, added)


def _add_keys(table: Table, values: Mapping[str, Any]) -> None:
    """Add ``values`` right after the last key of ``table``, in its indentation: before the
    blank lines and comments that end it (they belong to what follows) and any sub-table."""
    import tomlkit

    body = table.value.body
    keys = [i for i, (k, v) in enumerate(body) if k is not None and not _has_header(k, v)]
    at = keys[-1] + 1 if keys else 0
    indent = body[keys[-1]][1].trivia.indent if keys else ""
    for key, value in values.items():
        item = tomlkit.item(value)
        item.trivia.indent = indent
        if at < len(body):
            # No public call inserts at a position; the read-back check guards this private one.
            table.value._insert_at(at, key, item)
        else:
            table.raw_append(key, item)
        at += 1


def _add_inline(table: InlineTable, values: Mapping[str, Any]) -> None:
    """Add ``values`` at the end of an inline table, keeping the blanks before its ``}``."""
    import tomlkit
    from tomlkit.items import Whitespace

    body = table.value.body
    closing = body[-1][1] if body and isinstance(body[-1][1], Whitespace) else None
    item = None
    for key, value in values.items():
        first = item is None
        item = tomlkit.item(value)
        table.append(key, item)  # not table[key] = value: append puts a blank before the key
        if first and closing is not None:
            item.trivia.indent = ""  # the blank that stood before "}" now stands before it
    if item is not None and closing is not None:
        item.trivia.trail = closing.s


# --- writing ----------------------------------------------------------------------------------


def write_profile(
    path: Path, name: str, values: Mapping[str, Any], *, make_default: bool = False
) -> Written:
    """Write ``[profiles.NAME]`` with exactly ``values`` into the config file at ``path``.

    A new file also gets ``default_profile = NAME``. Refuses (ConfigError, nothing written)
    when the profile cannot be edited in the form it has, or when the result would not read
    back as intended.
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
    _commit(path, new_text, expected, f"update profile {name!r} in {path}")
    default = data.get("default_profile") == name or make_default
    return Written(path, created_file, created_profile, default, dict(values))


def remove_profile(path: Path, name: str) -> bool:
    """Remove ``[profiles.NAME]`` (its secrets with it), and ``default_profile`` when it names
    it; comments and the other profiles stay as they are. Whether it was the default."""
    path = Path(os.path.realpath(path)) if path.is_symlink() else path
    text, data = read(path)
    was_default = data.get("default_profile") == name

    def edit(doc: TOMLDocument) -> None:
        del doc["profiles"][name]
        if was_default:
            del doc["default_profile"]

    expected = {k: v for k, v in data.items() if not (was_default and k == "default_profile")}
    expected["profiles"] = {k: v for k, v in data.get("profiles", {}).items() if k != name}
    _commit(path, _edited(text, edit), expected, f"remove profile {name!r} from {path}")
    return was_default


def set_default(path: Path, name: str) -> str | None:
    """``default_profile = NAME`` in the file; the default it replaces."""
    path = Path(os.path.realpath(path)) if path.is_symlink() else path
    text, data = read(path)
    previous = data.get("default_profile")
    new_text = _edited(text, lambda doc: _set_default(doc, name))
    _commit(path, new_text, {**data, "default_profile": name}, f"set the default in {path}")
    return previous if isinstance(previous, str) else None


def _edited(text: str, edit: Callable[[TOMLDocument], None]) -> str:
    """``text`` edited by ``edit`` through tomlkit (CRLF kept); ConfigError when tomlkit
    cannot find its way around it."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    # tomlkit writes "\n" in what it adds: a file of CRLF lines is edited as LF and turned back.
    crlf = "\r\n" in text and "\n" not in text.replace("\r\n", "")
    text = text.replace("\r\n", "\n") if crlf else text
    if text and not text.endswith("\n"):
        text += "\n"
    try:
        doc = tomlkit.parse(text)
        if doc.as_string() != text:
            raise _Unsafe
        edit(doc)
        new = doc.as_string()
    except (_Unsafe, TOMLKitError, ValueError, TypeError, KeyError, AttributeError):
        raise ConfigError(
            "cannot find my way around the config file to update it safely",
            hint="edit it by hand; nothing was written",
        ) from None
    return new.replace("\n", "\r\n") if crlf else new


def _commit(path: Path, new_text: str, expected: Mapping[str, Any], what: str) -> None:
    """Write ``new_text`` if it reads back as ``expected`` (no ``profiles`` = none), else a
    ConfigError and nothing written."""
    try:
        got = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        got = None
    if got is not None:
        got.setdefault("profiles", {})
    if got != {"profiles": {}, **expected}:
        raise ConfigError(
            f"cannot {what} safely: the edited file would not read back as intended",
            hint="edit the file by hand; nothing was written",
        )
    _atomic_write(path, new_text.encode("utf-8"))


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
