"""A ledger on a disk that fails: damaged, emptied, full, read-only. Always a clear error naming
the ledger and an exit code of the contract, never "internal error", and nothing sent from a
ledger that fails its integrity check."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.emulator import Emulator

ROWS = 200
PAGE = 4096


def campaign(home) -> list[str]:
    lines = "".join(f"0532{i:07d};Kişi {i}\n" for i in range(ROWS))
    (home.cwd / "k.csv").write_text(f"telefon;ad\n{lines}", encoding="utf-8")
    return ["bulk", "k.csv", "-m", "Sayın {ad}, kodunuz hazır.", "--yes", "--batch-size", "10"]


def env(emulator: Emulator) -> dict[str, str]:
    return {
        "SMSCLI_PROVIDER": "vairosms",
        "SMSCLI_API_KEY": Emulator.VAIROSMS_KEY,
        "SMSCLI_SENDER": "ACME",
        "SMSCLI_BASE_URL": emulator.base_url("vairosms"),
    }


@pytest.fixture(scope="module")
def half_sent(tmp_path_factory, _emulator) -> Path:
    """A ledger in which a 200-row campaign was half sent (``--limit 100``), checkpointed
    into its one file."""
    import subprocess
    import sys

    from tests.conftest import Home

    base = tmp_path_factory.mktemp("half")
    (base / "work").mkdir()
    home = Home(base / "work", base / "config.toml", base / "ledger.db")
    _emulator.reset()
    done = subprocess.run(
        [sys.executable, "-m", "smscli", *campaign(home), "--limit", "100"],
        cwd=home.cwd, env=home.env(**env(_emulator)), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(home.ledger) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _emulator.reset()
    return home.ledger


def install(ledger: Path, home, damage) -> None:
    home.ledger.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ledger, home.ledger)
    data = bytearray(home.ledger.read_bytes())
    damage(data)
    home.ledger.write_bytes(bytes(data))


def quick_check(path: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    except (sqlite3.DatabaseError, UnicodeDecodeError):  # its report quotes damaged bytes
        return False


def flips(seed: int):
    def damage(data: bytearray) -> None:
        rng = random.Random(seed)
        for _ in range(20):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)

    return damage


def page_overwritten(seed: int):
    def damage(data: bytearray) -> None:
        rng = random.Random(seed)
        page = rng.randrange(1, len(data) // PAGE)
        data[page * PAGE : (page + 1) * PAGE] = rng.randbytes(PAGE)

    return damage


# 20 seeds, and those of a wider run (200 seeds) that once escaped as internal errors: a flip
# in a table's definition (58, 142, 155, 174, 199) or in a text SQLite reads back (131).
SEEDS = (*range(20), 58, 131, 142, 155, 174, 199)
DAMAGES = [("flips", s, flips(s)) for s in SEEDS] + [
    ("page", s, page_overwritten(s)) for s in range(10)
]


@pytest.mark.parametrize(
    ("kind", "seed", "damage"), DAMAGES, ids=[f"{k}{s}" for k, s, _ in DAMAGES]
)
def test_a_damaged_ledger_is_never_sent_from(proc, home, emulator, half_sent, kind, seed, damage):
    install(half_sent, home, damage)
    sound = quick_check(home.ledger)
    out = proc(*campaign(home), **env(emulator))
    assert out.exit_code != 70, out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr
    if not sound:
        assert out.exit_code == 4, out.stderr
        assert f"the ledger {home.ledger.resolve()} is damaged" in " ".join(out.stderr.split())
        assert "smscli ledger check" in out.stderr
        assert emulator.requests == []
    assert emulator.duplicates() == {}


def test_ledger_check_names_what_it_can_still_read(proc, home, half_sent):
    install(half_sent, home, lambda data: None)
    out = proc("ledger", "check")
    assert out.exit_code == 0, out.stderr
    assert "intact" in out.stdout and "1 run, 200 messages" in out.stdout

    def middle_page(data: bytearray) -> None:  # messages, not the runs table (pages 2-4)
        page = len(data) // PAGE // 2
        data[page * PAGE : (page + 1) * PAGE] = random.Random(1).randbytes(PAGE)

    install(half_sent, home, middle_page)
    out = proc("ledger", "check", "--json")
    assert out.exit_code == 4, out.stderr
    health = out.json()
    assert health["intact"] is False and health["problems"]
    (run,) = health["runs"]
    assert set(run) >= {"run_id", "readable", "messages", "error"}
    out = proc("ledger", "check")
    assert out.exit_code == 4
    assert f"run {run['run_id']}: " in out.stdout
    assert "is damaged" in out.stderr


def test_an_emptied_ledger_is_refused_not_started_afresh(proc, home, emulator, half_sent):
    install(half_sent, home, lambda data: data.clear())
    out = proc(*campaign(home), **env(emulator))
    assert out.exit_code == 4, out.stderr
    said = " ".join(out.stderr.split())
    assert f"the ledger {home.ledger.resolve()} is an empty file (0 bytes)" in said
    assert f"rm {home.ledger.resolve()}" in said  # how to start a new one on purpose
    assert emulator.requests == []
    assert home.ledger.stat().st_size == 0  # left as it was found
    for command in (("history",), ("send", "05321234567", "-m", "x", "--dry-run")):
        assert proc(*command, **env(emulator)).exit_code == 4
    assert proc("ledger", "check").exit_code == 4


def test_a_state_no_smscli_writes_is_a_damaged_ledger_not_a_crash(proc, home, emulator, half_sent):
    """A flipped byte inside a record (SQLite's checks cannot see it) in a message's state."""
    install(half_sent, home, lambda data: None)
    with sqlite3.connect(home.ledger) as db:
        db.execute("UPDATE messages SET state = 'nding20' WHERE id = 150")
    out = proc(*campaign(home), **env(emulator))
    assert out.exit_code == 4, out.stderr
    assert "is damaged" in out.stderr and "'nding20'" in out.stderr
    assert emulator.requests == []


def limited(max_bytes: int):
    """A child whose files cannot grow past ``max_bytes`` (a full disk, for that process: a
    write past the limit fails with EFBIG, or writes what fits, which SQLite calls full)."""
    import resource
    import signal

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def run_limited(home, emulator, args, max_bytes):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "smscli", *args], cwd=home.cwd, env=home.env(**env(emulator)),
        capture_output=True, text=True, check=False, preexec_fn=limited(max_bytes),
    )  # fmt: skip


def test_a_disk_that_fails_while_sending_exits_8_and_the_same_command_resumes(
    proc, home, emulator, half_sent
):
    """Writes past 48 KiB fail (EFBIG: SQLite says "disk I/O error", where a full disk is
    "database or disk is full", which the next test meets on a real full file system)."""
    install(half_sent, home, lambda data: None)
    args = campaign(home)
    done = run_limited(home, emulator, args, 48 * 1024)
    said = " ".join(done.stderr.split())
    assert done.returncode == 8, done.stderr
    assert f"the ledger {home.ledger.resolve()} could not be read or written" in said
    assert "run the same command again" in said
    assert "internal error" not in said
    assert len(emulator.received) < 100  # it stopped part of the way
    out = proc(*args, **env(emulator))
    assert out.exit_code in (0, 7), out.stderr
    assert emulator.duplicates() == {}
    with sqlite3.connect(home.ledger) as db:
        states = dict(db.execute("SELECT state, count(*) FROM messages GROUP BY 1").fetchall())
    assert set(states) <= {"accepted", "unknown"} and sum(states.values()) == ROWS
    assert len(emulator.received) + states.get("unknown", 0) >= 100  # none lost


SMALL_DISK = 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"'
READ_ONLY = 'mount --bind "$2" "$2" && mount -o remount,ro,bind "$2" && shift 2 && exec "$@"'


def namespace() -> list[str] | None:
    """How to run a command in a mount namespace of its own: as any user where user
    namespaces are on, else as root with the right to mount; None where neither works."""
    import subprocess

    for prefix in (["unshare", "-r", "-m"], ["unshare", "-m"]):
        if (
            shutil.which("unshare")
            and not subprocess.run(
                [*prefix, "mount", "-t", "tmpfs", "tmpfs", "/mnt"], capture_output=True, check=False
            ).returncode
        ):
            return prefix
    return None


def mounted(home, emulator, args: list[str], script: str, size: str = ""):
    """``smscli ARGS`` with the ledger's folder mounted by ``script`` (a small tmpfs, or
    read-only) in a mount namespace of its own, seen by no other process."""
    import subprocess
    import sys

    prefix = namespace()
    assert prefix is not None
    folder = home.ledger.parent
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [*prefix, "sh", "-c", script, "sh", size, str(folder), sys.executable, "-m", "smscli",
         *args],
        cwd=home.cwd, env=home.env(**env(emulator)), capture_output=True, text=True,
        check=False,
    )  # fmt: skip


def test_a_full_disk_while_a_run_is_prepared_exits_8_naming_the_ledger(proc, home, emulator):
    rows = "".join(f"0532{i:07d};Kişi {i}\n" for i in range(5000))
    (home.cwd / "big.csv").write_text(f"telefon;ad\n{rows}", encoding="utf-8")
    args = ["bulk", "big.csv", "-m", "Sayın {ad}", "--yes"]
    if namespace() is not None:  # a real full file system: ENOSPC, "database or disk is full"
        done = mounted(home, emulator, args, SMALL_DISK, "256k")
        said = "is full"
    else:  # a file size limit for the process instead: EFBIG, "disk I/O error"
        assert proc("optout", "list").exit_code == 0  # the ledger, small, before the limit
        done = run_limited(home, emulator, args, 96 * 1024)
        said = "could not be read or written"
    shown = " ".join(done.stderr.split())
    assert done.returncode == 8, done.stderr
    assert str(home.ledger.resolve()) in shown and said in shown
    assert "run the same command again" in shown
    assert emulator.requests == []


def test_a_read_only_ledger_is_exit_4_before_anything_is_sent(home, emulator, half_sent):
    import os

    install(half_sent, home, lambda data: None)
    if namespace() is not None:
        done = mounted(home, emulator, campaign(home), READ_ONLY)
    elif os.geteuid() != 0:  # permissions bind all but root
        home.ledger.parent.chmod(0o555)
        home.ledger.chmod(0o444)
        done = run_limited(home, emulator, campaign(home), 1 << 40)
        home.ledger.parent.chmod(0o755)
    else:
        pytest.skip("root without the right to mount: nothing can be made read-only for it")
    said = " ".join(done.stderr.split())
    assert done.returncode == 4, done.stderr
    assert f"the ledger {home.ledger.resolve()} cannot be written" in said
    assert "point SMSCLI_LEDGER at a writable place" in said
    assert emulator.requests == []


def test_a_ledger_locked_longer_than_the_wait_is_named(tmp_path):
    from smscli.errors import ExitCode
    from smscli.store.problems import storage_error

    path = tmp_path / "ledger.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    waiter = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as raised:
        waiter.execute("INSERT INTO t VALUES (1)")
    said = storage_error(raised.value, str(path))
    assert said is not None and said.exit_code == ExitCode.UNFINISHED
    assert f"the ledger {path} stayed locked by another process" in said.message
    holder.execute("ROLLBACK")
    holder.close()
    waiter.close()


def test_an_os_error_about_another_file_is_not_blamed_on_the_ledger(tmp_path):
    import errno

    from smscli.store.problems import storage_error

    ledger = tmp_path / "data" / "ledger.db"
    mine = OSError(errno.ENOSPC, "No space left on device", str(ledger.parent / "locks" / "x"))
    said = storage_error(mine, str(ledger))
    assert said is not None and f"the disk holding the ledger {ledger} is full" in said.message
    other = OSError(errno.EACCES, "Permission denied", str(tmp_path / "out" / "failed.csv"))
    assert storage_error(other, str(ledger)) is None


NOT_UTF8 = "CAST(x'fffe' AS TEXT)"
"""Bytes no UTF-8 text holds: a bit flipped inside a record, which SQLite's checks cannot see."""


@pytest.mark.parametrize(
    ("where", "column"),
    [
        ("pending", "text"),
        ("sent", "text"),
        ("pending", "recipient"),
        ("sent", "error"),
        ("pending", "state"),
    ],
)
def test_a_text_that_is_not_utf8_is_a_damaged_ledger_and_nothing_is_sent(
    proc, home, emulator, half_sent, where, column
):
    install(half_sent, home, lambda data: None)
    message = 150 if where == "pending" else 50
    with sqlite3.connect(home.ledger) as db:
        db.execute(f"UPDATE messages SET {column} = {NOT_UTF8} WHERE id = ?", (message,))
        (run,) = db.execute("SELECT DISTINCT run_id FROM messages").fetchone()
    commands = [
        campaign(home),
        ["history"],
        ["history", "show", run],
        ["ledger", "info"],
        ["ledger", "copy", str(home.ledger), str(home.cwd / "copy.db")],
    ]
    for command in commands:
        for json in ([], ["--json"]):
            out = proc(*command, *json, **env(emulator))
            said = " ".join(out.stderr.split())
            assert "internal error" not in said and "Traceback" not in said, said
            if out.exit_code == 0 and command[0] != "bulk":  # it did not read the damaged cell
                continue
            if command[0] == "bulk" and where == "sent" and out.exit_code in (0, 2):
                continue  # the resumed run reads only its pending messages (2: done already)
            assert out.exit_code == 4, (command, said)
            assert f"the ledger {home.ledger.resolve()} is damaged" in said, said
            assert "not valid UTF-8" in said and "smscli ledger check" in said
            if json:
                assert out.json()["error"]["code"] == "ledger_damaged"
            if command[0] == "bulk":
                assert emulator.requests == []  # nothing sent from it
    out = proc("ledger", "check")
    assert out.exit_code == 4, out.stdout + out.stderr
    assert f"run {run}: " in out.stdout and "not valid UTF-8" in out.stdout
    health = proc("ledger", "check", "--json").json()
    assert health["intact"] is False and health["exit_code"] == 4


@pytest.mark.parametrize("table,column", [("runs", "source"), ("optouts", "reason")])
def test_ledger_check_reads_every_table_whole(proc, home, emulator, table, column):
    """A text that is not UTF-8 outside the messages (a run's source, an opt-out's reason) is
    damage that ``ledger check`` reports too."""
    home.write_config(emulator.profiles())
    assert proc("optout", "add", "05321112233", "--reason", "asked").exit_code == 0
    assert proc("send", "05321234567", "-m", "Merhaba", "-p", "vs").exit_code == 0
    home.query(f"UPDATE {table} SET {column} = CAST(x'fffe41' AS TEXT)")
    out = proc("ledger", "check")
    assert out.exit_code == 4, out.stdout + out.stderr
    assert f"the table {table} cannot be read whole" in out.stdout + out.stderr
    assert "not valid UTF-8" in out.stdout + out.stderr
