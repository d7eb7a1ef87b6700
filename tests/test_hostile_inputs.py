"""Issue 26: what a user's machine can hand smscli, each a clear error with an exit code of the
contract, never "internal error", never a secret: a damaged .xlsx (a bad CRC, a zip offset out
of the file), a rate no counter can hold, a PostgreSQL ledger URL whose password holds
characters a URL reserves, an emptied ledger file."""

from __future__ import annotations

import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Home, Outcome
from tests.xlsx import write_xlsx

DRY = ("-m", "hi", "--provider", "sandbox", "--dry-run")
ROWS = [["ad", "telefon"], ["Ali", "05321112234"], ["Veli", "05321112235"]]


def flat(out: Outcome) -> str:
    """stdout and stderr, each line's folds undone."""
    return " ".join((out.stdout + "\n" + out.stderr).split())


def sane(out: Outcome) -> None:
    assert out.exit_code != 70, out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr


# --- a damaged .xlsx ---------------------------------------------------------------------------


def _stored(path: Path) -> bytearray:
    """The .xlsx at ``path`` rewritten without compression (its XML as it is in the zip)."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return bytearray(path.read_bytes())


def bad_crc_in_sheet(data: bytearray) -> None:
    """A byte changed in the sheet (still well-formed XML): its CRC no longer matches."""
    at = data.index(b'r="B3"')
    data[at + 3] = ord("C")


def bad_crc_in_strings(data: bytearray) -> None:
    at = data.index(b"05321112235")
    data[at + 10] = ord("9")


def offset_out_of_the_file(data: bytearray) -> None:
    """The central directory's offset moved past where it is: each member's offset becomes
    negative, and seeking there fails (EINVAL on a file, ValueError on bytes)."""
    end = data.rindex(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<I", data, end + 16)
    struct.pack_into("<I", data, end + 16, offset + 100_000)


DAMAGES: dict[str, Callable[[bytearray], None]] = {
    "crc-sheet": bad_crc_in_sheet,
    "crc-strings": bad_crc_in_strings,
    "offset": offset_out_of_the_file,
}
READERS: dict[str, tuple[str, ...]] = {
    "bulk": ("bulk", "l.xlsx", *DRY),
    "send": ("send", "--file", "l.xlsx", *DRY),
    "optout": ("optout", "import", "l.xlsx"),
    "exclude": ("bulk", "ok.xlsx", *DRY, "--exclude", "l.xlsx"),
}


def damaged_xlsx(home: Home, damage: Callable[[bytearray], None]) -> Path:
    write_xlsx(home.cwd / "ok.xlsx", {"S": ROWS})
    path = write_xlsx(home.cwd / "l.xlsx", {"S": ROWS})
    data = _stored(path)
    damage(data)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_xlsx_is_bad_input_that_says_so(
    proc: Any, home: Home, damage: str, reader: str
) -> None:
    damaged_xlsx(home, DAMAGES[damage])
    out = proc(*READERS[reader])
    sane(out)
    assert out.exit_code == 3, out.stderr
    said = flat(out)
    assert "l.xlsx is damaged" in said
    assert "save it again" in said
    assert not home.ledger.exists() or reader != "optout"  # nothing written from it


@pytest.mark.parametrize("seed", range(12))
def test_bytes_flipped_anywhere_in_an_xlsx_never_crash_the_reader(home: Home, seed: int) -> None:
    """In process (a subprocess each would take minutes): whatever the flips, the rows, or
    the user's error for a file (InputError), nothing else."""
    from smscli.errors import InputError
    from smscli.sheets import open_sheet

    path = write_xlsx(home.cwd / "l.xlsx", {"S": ROWS * 30})
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for _ in range(4):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    for source in (bytes(data), path):
        path.write_bytes(bytes(data))
        try:
            with open_sheet(source, "l.xlsx") as table:
                for _ in table.rows:
                    pass
        except InputError:
            pass


# --- a rate no counter can hold ----------------------------------------------------------------


@pytest.mark.parametrize(
    "rate", ["99999999999999999999/second", "1000000001/minute", "1/99999999999999999999d"]
)
def test_a_rate_out_of_range_is_a_configuration_error_naming_it(
    proc: Any, home: Home, rate: str
) -> None:
    home.write_config(f'[profiles.a]\nprovider = "sandbox"\nrate_limits = ["{rate}"]\n')
    for args in (
        ("send", "05321112233", "-m", "hi"),
        ("send", "05321112233", "-m", "hi", "--json"),
    ):
        out = proc(*args)
        sane(out)
        assert out.exit_code == 4, out.stderr
        said = flat(out)
        assert rate in said and "1,000,000,000" in said
    if isinstance(home.ledger, Path) and home.ledger.exists():
        assert home.query("SELECT count(*) FROM messages") == [(0,)]
    out = proc("doctor", "--offline")
    assert out.exit_code == 4, out.stdout + out.stderr
    problem = next(line for line in out.stdout.splitlines() if line.startswith("PROBLEM"))
    assert "profile a, rate_limits:" in problem and rate in problem


# --- a ledger URL's password, whatever it holds ------------------------------------------------

PIECES = ("Kq7T", "Zx9P", "Vb2R", "Wm5S")
"""The pieces of the canary passwords: none may show, whole or alone."""
PASSWORDS = [
    "Kq7T?Zx9P#Vb2R/Wm5S",
    "Kq7T#Zx9P",
    "Kq7T?Zx9P",
    "Kq7T/Zx9P",
    "Kq7T@Zx9P:Vb2R",
    "Kq7T%Zx9P",
    "Kq7T Zx9P&Vb2R",
]
LEDGER_COMMANDS = [
    ("ledger", "info"),
    ("history",),
    ("history", "show", "20240101-000000-abcdef"),
    ("doctor",),
    ("ledger", "check"),
    ("send", "05321112233", "-m", "hi", "--provider", "sandbox"),
]


def leaked(out: Outcome) -> list[str]:
    shown = out.stdout + out.stderr
    return [piece for piece in PIECES if piece in shown]


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_ledger_urls_password_never_shows_whatever_it_holds(
    proc: Any, home: Home, password: str
) -> None:
    url = f"postgresql://smscli:{password}@127.0.0.1:1/smscli"
    for command in LEDGER_COMMANDS:
        for json in ((), ("--json",)):
            out = proc(*command, *json, SMSCLI_LEDGER=url)
            sane(out)
            assert out.exit_code in (4, 8), (command, out.stdout + out.stderr)
            assert leaked(out) == [], (command, json, out.stdout + out.stderr)
            assert "postgresql://smscli:***@127.0.0.1:1/smscli" in flat(out), out.stderr
    out = proc("ledger", "copy", url, str(home.cwd / "copy.db"))
    sane(out)
    assert leaked(out) == [], out.stdout + out.stderr


def test_masked_hides_all_of_the_user_info_after_the_user() -> None:
    from smscli.store.pg_db import masked, url_secrets

    for password in PASSWORDS:
        url = f"postgresql://u:{password}@h:5432/db?sslmode=require"
        assert masked(url) == "postgresql://u:***@h:5432/db?sslmode=require"
        assert password in url_secrets(url)
    url = "postgresql://u@h/db?sslmode=require&password=Kq7T#Zx9P&Vb2R&application_name=x"
    assert masked(url) == "postgresql://u@h/db?sslmode=require&password=***&application_name=x"
    assert "Kq7T#Zx9P&Vb2R" in url_secrets(url)


def test_a_password_with_a_hash_reaches_the_real_server_and_never_shows(
    proc: Any, home: Home, postgres_ledger: str
) -> None:
    """libpq takes a ``#`` in the user-info as part of the password (the test server trusts
    the user, whatever the password)."""
    url = postgres_ledger.replace("://smscli@", "://smscli:Kq7T#Zx9P@", 1)
    assert "Kq7T#Zx9P" in url
    for command in (("ledger", "info"), ("history",), ("doctor",), ("ledger", "check")):
        for json in ((), ("--json",)):
            out = proc(*command, *json, SMSCLI_LEDGER=url)
            sane(out)
            assert leaked(out) == [], (command, json, out.stdout + out.stderr)
    out = proc("ledger", "info", SMSCLI_LEDGER=url)
    assert out.exit_code == 0, out.stderr
    assert "postgresql://smscli:***@127.0.0.1" in out.stdout


# --- an emptied ledger file --------------------------------------------------------------------


def test_doctor_says_an_empty_ledger_file_is_a_problem(proc: Any, home: Home) -> None:
    assert isinstance(home.ledger, Path)
    home.write_config('[profiles.a]\nprovider = "sandbox"\n')
    home.ledger.parent.mkdir(parents=True)
    home.ledger.write_bytes(b"")
    out = proc("doctor", "--offline")
    assert out.exit_code == 4, out.stdout + out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("PROBLEM"))
    assert "empty file (0 bytes)" in line and f"rm {home.ledger}" in line
    doc = proc("doctor", "--offline", "--json").json()
    (ledger,) = [c for c in doc["checks"] if c["check"] == "ledger"]
    assert ledger["status"] == "problem" and ledger["hint"]
    assert doc["exit_code"] == 4
    assert home.ledger.stat().st_size == 0  # left as it was found
